"""Trust a bundle's X.509 signing certificate through the verifier's own anchors.

OMS certificate bundles (model_signing ``sign certificate``) carry the leaf and the
intermediates; the verifier supplies the certificates it trusts (``--certificate-chain``).
As in model_signing, every certificate the verifier passes is a trust anchor, the chain is
evaluated at the leaf's notBefore (bundles carry no signing time, so expiry after signing
does not invalidate a model) and the leaf must allow digital signatures or code signing.
The path is built and checked by pyca/cryptography's X.509 verifier (Web PKI rules for the
CAs; the leaf's extensions are the two checks above, since model_signing accepts leaves
such as the vectors' one that carries ``cA=TRUE``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pqml.primitives.base import VerifyingKey
from pqml.primitives.errors import KeyFormatError
from pqml.signing import model_tree
from pqml.signing.errors import SignatureVerificationError

MAX_CERTIFICATE_CHAIN_SIZE = 16 << 20  # far above any real CA bundle; bounds a hostile path


def load_anchors(paths: Sequence[str | Path]) -> list[Any]:
    """Every PEM certificate in the given files (a file may hold several). Only regular
    files are read, each up to MAX_CERTIFICATE_CHAIN_SIZE (a FIFO or device is refused)."""
    from cryptography import x509

    anchors: list[Any] = []
    for path in paths:
        data = model_tree.read_regular(Path(path), MAX_CERTIFICATE_CHAIN_SIZE,
                                       "certificate chain")
        if len(data) > MAX_CERTIFICATE_CHAIN_SIZE:
            raise KeyFormatError(f"{path}: more than {MAX_CERTIFICATE_CHAIN_SIZE} bytes is too "
                                 "large for a certificate chain")
        try:
            anchors.extend(x509.load_pem_x509_certificates(data))
        except ValueError as exc:
            raise KeyFormatError(f"{path}: not a PEM certificate file ({exc})") from None
    return anchors


def leaf_key(chain_der: Sequence[bytes], anchors: Sequence[Any]) -> tuple[VerifyingKey, str]:
    """Validate the bundle's chain against ``anchors``; return the leaf key and subject."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.x509 import verification

    from pqml.formats import keyfile

    try:
        leaf = x509.load_der_x509_certificate(chain_der[0])
        intermediates = [x509.load_der_x509_certificate(c) for c in chain_der[1:]]
    except ValueError as exc:
        raise SignatureVerificationError(f"bundle certificate is malformed: {exc}") from None
    subject = leaf.subject.rfc4514_string() or "(empty subject)"
    policy = verification.ExtensionPolicy
    verifier = (
        verification.PolicyBuilder()
        .store(verification.Store(list(anchors)))
        .time(leaf.not_valid_before_utc)
        .extension_policies(ca_policy=policy.webpki_defaults_ca(), ee_policy=policy.permit_all())
        .build_client_verifier()
    )
    try:
        verifier.verify(leaf, intermediates)
    except verification.VerificationError as exc:
        raise SignatureVerificationError(
            f"certificate {subject} does not chain to a trusted certificate: {exc}"
        ) from None
    if not _may_sign(leaf):
        raise SignatureVerificationError(
            f"certificate {subject} allows neither digitalSignature nor codeSigning"
        )
    spki = leaf.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        key = keyfile.load_public_key(spki)
    except KeyFormatError as exc:
        raise SignatureVerificationError(f"certificate {subject}: {exc}") from None
    if not isinstance(key, VerifyingKey):
        raise SignatureVerificationError(f"certificate {subject}: not a signature key")
    return key, subject


def _may_sign(cert: Any) -> bool:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    try:
        if cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CODE_SIGNING in eku

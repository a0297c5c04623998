"""X.509 through pyca/cryptography: encode names and extension values, parse certificates
and CRLs into plain facts, and verify the classical signatures pyca implements.

pqml's CA assembles certificates itself (:mod:`pqml.formats.x509`) because pyca cannot
sign with SLH-DSA or composite ML-DSA; pyca still does what it does well: RFC 4514 names
and extension values encoded exactly, strict DER parsing of whatever a bundle carries, and
RSA / ECDSA / Ed25519 / ML-DSA signature checks for chains made elsewhere (model_signing's
vectors use RSA CAs). Post-quantum signatures are checked through the registry's schemes
by the caller, from the bytes :class:`CertificateFacts` exposes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID

from pqml.primitives.errors import InvalidSignatureError, KeyFormatError

CODE_SIGNING = ExtendedKeyUsageOID.CODE_SIGNING.dotted_string  # 1.3.6.1.5.5.7.3.3
# Extensions pqml understands; any other marked critical makes a certificate unusable.
_KNOWN = {ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE,
          ExtensionOID.EXTENDED_KEY_USAGE, ExtensionOID.SUBJECT_KEY_IDENTIFIER,
          ExtensionOID.AUTHORITY_KEY_IDENTIFIER, ExtensionOID.SUBJECT_ALTERNATIVE_NAME}


# ---- encoding -------------------------------------------------------------------------------


def encode_name(text: str) -> bytes:
    """The DER Name for an RFC 4514 string such as ``CN=release-bot,O=Example``."""
    try:
        name = x509.Name.from_rfc4514_string(text)
    except ValueError as exc:
        raise ValueError(f"name {text!r} is not an RFC 4514 distinguished name: {exc}") from None
    if not len(name):
        raise ValueError("a certificate name must not be empty")
    return name.public_bytes()


def basic_constraints(ca: bool, path_length: int | None) -> tuple[str, bytes]:
    return (ExtensionOID.BASIC_CONSTRAINTS.dotted_string,
            x509.BasicConstraints(ca=ca, path_length=path_length if ca else None).public_bytes())


def key_usage(*, ca: bool) -> tuple[str, bytes]:
    """keyCertSign + cRLSign for a CA, digitalSignature alone for a signing certificate."""
    usage = x509.KeyUsage(digital_signature=not ca, content_commitment=False,
                          key_encipherment=False, data_encipherment=False, key_agreement=False,
                          key_cert_sign=ca, crl_sign=ca, encipher_only=False,
                          decipher_only=False)
    return ExtensionOID.KEY_USAGE.dotted_string, usage.public_bytes()


def code_signing_eku() -> tuple[str, bytes]:
    return (ExtensionOID.EXTENDED_KEY_USAGE.dotted_string,
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]).public_bytes())


def subject_key_identifier(key_id: bytes) -> tuple[str, bytes]:
    return (ExtensionOID.SUBJECT_KEY_IDENTIFIER.dotted_string,
            x509.SubjectKeyIdentifier(key_id).public_bytes())


def authority_key_identifier(key_id: bytes) -> tuple[str, bytes]:
    return (ExtensionOID.AUTHORITY_KEY_IDENTIFIER.dotted_string,
            x509.AuthorityKeyIdentifier(key_id, None, None).public_bytes())


def subject_alt_names(entries: Sequence[str]) -> tuple[str, bytes]:
    """``email:a@b``, ``uri:https://…`` or ``dns:host`` entries as a SubjectAltName."""
    names: list[x509.GeneralName] = []
    for entry in entries:
        kind, sep, value = entry.partition(":")
        kind = kind.lower()
        if not sep or not value:
            raise ValueError(f"SAN {entry!r}: expected email:, uri: or dns: and a value")
        if kind == "email":
            names.append(x509.RFC822Name(value))
        elif kind == "uri":
            names.append(x509.UniformResourceIdentifier(value))
        elif kind == "dns":
            names.append(x509.DNSName(value))
        else:
            raise ValueError(f"SAN {entry!r}: kind must be email, uri or dns")
    return (ExtensionOID.SUBJECT_ALTERNATIVE_NAME.dotted_string,
            x509.SubjectAlternativeName(names).public_bytes())


# ---- parsing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateFacts:
    """What path validation needs from one certificate, in plain types."""

    der: bytes
    subject: str  # RFC 4514, for messages
    subject_der: bytes
    issuer: str
    issuer_der: bytes
    serial: int
    not_before: dt.datetime
    not_after: dt.datetime
    signature_oid: str
    key_oid: str
    is_ca: bool | None  # None: no basicConstraints
    path_length: int | None
    digital_signature: bool | None  # None: no keyUsage (any use allowed)
    key_cert_sign: bool | None
    crl_sign: bool | None
    extended_key_usage: tuple[str, ...] | None  # None: no EKU (any purpose)
    subject_key_id: bytes | None
    authority_key_id: bytes | None
    san: tuple[str, ...]
    unknown_critical: tuple[str, ...]

    @property
    def label(self) -> str:
        """How messages name it: subject and serial (hex, as openssl prints it)."""
        return f"{self.subject or '(empty subject)'} (serial {self.serial:#x})"

    @property
    def self_issued(self) -> bool:
        return self.subject_der == self.issuer_der


def _ext(cert: Any, cls: type) -> Any:
    try:
        return cert.extensions.get_extension_for_class(cls).value
    except x509.ExtensionNotFound:
        return None


def parse_certificate(der: bytes) -> CertificateFacts:
    """Parse one DER certificate strictly; KeyFormatError if pyca rejects it (its
    extensions included), whatever its key or signature algorithm."""
    try:
        cert = x509.load_der_x509_certificate(der)
        exts = cert.extensions  # parsed eagerly so a malformed extension fails here
        bc = _ext(cert, x509.BasicConstraints)
        ku = _ext(cert, x509.KeyUsage)
        eku = _ext(cert, x509.ExtendedKeyUsage)
        ski = _ext(cert, x509.SubjectKeyIdentifier)
        aki = _ext(cert, x509.AuthorityKeyIdentifier)
        san = _ext(cert, x509.SubjectAlternativeName)
        facts = CertificateFacts(
            der=bytes(der),
            subject=cert.subject.rfc4514_string(),
            subject_der=cert.subject.public_bytes(),
            issuer=cert.issuer.rfc4514_string(),
            issuer_der=cert.issuer.public_bytes(),
            serial=cert.serial_number,
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            signature_oid=cert.signature_algorithm_oid.dotted_string,
            key_oid=cert.public_key_algorithm_oid.dotted_string,
            is_ca=None if bc is None else bc.ca,
            path_length=None if bc is None else bc.path_length,
            digital_signature=None if ku is None else ku.digital_signature,
            key_cert_sign=None if ku is None else ku.key_cert_sign,
            crl_sign=None if ku is None else ku.crl_sign,
            extended_key_usage=None if eku is None else tuple(o.dotted_string for o in eku),
            subject_key_id=None if ski is None else ski.digest,
            authority_key_id=None if aki is None else aki.key_identifier,
            san=() if san is None else tuple(_general_name(n) for n in san),
            unknown_critical=tuple(e.oid.dotted_string for e in exts
                                   if e.critical and e.oid not in _KNOWN),
        )
    except ValueError as exc:
        raise KeyFormatError(f"malformed certificate: {exc}") from None
    if cert.version != x509.Version.v3:
        raise KeyFormatError(f"certificate {facts.label} is not X.509 v3")
    return facts


def _general_name(name: Any) -> str:
    kinds = {x509.RFC822Name: "email", x509.UniformResourceIdentifier: "uri",
             x509.DNSName: "dns"}
    return f"{kinds.get(type(name), type(name).__name__)}:{name.value}"


@dataclass(frozen=True)
class CRLFacts:
    der: bytes
    issuer: str
    issuer_der: bytes
    this_update: dt.datetime
    next_update: dt.datetime | None
    signature_oid: str
    tbs: bytes
    signature: bytes
    authority_key_id: bytes | None
    crl_number: int | None
    revoked: dict[int, tuple[dt.datetime, str | None]]  # serial -> (date, reason name)


def parse_crl(der: bytes) -> CRLFacts:
    """Parse one DER CRL strictly; KeyFormatError if pyca rejects it."""
    try:
        crl = x509.load_der_x509_crl(der)
        aki = number = None
        for ext in crl.extensions:
            if isinstance(ext.value, x509.AuthorityKeyIdentifier):
                aki = ext.value.key_identifier
            elif isinstance(ext.value, x509.CRLNumber):
                number = ext.value.crl_number
            elif ext.critical:
                raise ValueError(f"unknown critical CRL extension {ext.oid.dotted_string}")
        revoked: dict[int, tuple[dt.datetime, str | None]] = {}
        for entry in crl:
            reason = None
            for ext in entry.extensions:
                if isinstance(ext.value, x509.CRLReason):
                    reason = ext.value.reason.name
            revoked[entry.serial_number] = (entry.revocation_date_utc, reason)
        return CRLFacts(
            der=bytes(der), issuer=crl.issuer.rfc4514_string(),
            issuer_der=crl.issuer.public_bytes(), this_update=crl.last_update_utc,
            next_update=crl.next_update_utc,
            signature_oid=crl.signature_algorithm_oid.dotted_string,
            tbs=crl.tbs_certlist_bytes, signature=crl.signature, authority_key_id=aki,
            crl_number=number, revoked=revoked,
        )
    except ValueError as exc:
        raise KeyFormatError(f"malformed CRL: {exc}") from None


def load_pem_der(data: bytes, label: str) -> list[bytes]:
    """DER of every PEM block of ``label`` ('CERTIFICATE', 'X509 CRL'), or of ``data``
    itself when it is DER."""
    if data.lstrip().startswith(b"-----BEGIN"):
        from cryptography.hazmat.primitives.serialization import Encoding

        try:
            if label == "CERTIFICATE":
                return [c.public_bytes(Encoding.DER) for c in
                        x509.load_pem_x509_certificates(data)]
            return [x509.load_pem_x509_crl(data).public_bytes(Encoding.DER)]
        except ValueError as exc:
            raise KeyFormatError(f"not a PEM {label} file ({exc})") from None
    return [bytes(data)]


# ---- classical signatures (pyca) ------------------------------------------------------------


def verify_classical(child_der: bytes, issuer_der: bytes, *, crl: bool = False) -> None:
    """Check a certificate's (or CRL's) signature with its issuer certificate's key, for
    the algorithms pyca verifies (RSA PKCS#1 v1.5 and PSS, ECDSA, Ed25519, ML-DSA).
    InvalidSignatureError if it does not verify or pyca cannot check the algorithm."""
    try:
        issuer = x509.load_der_x509_certificate(issuer_der)
        if crl:
            if not x509.load_der_x509_crl(child_der).is_signature_valid(issuer.public_key()):
                raise InvalidSignature()
        else:
            x509.load_der_x509_certificate(child_der).verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        raise InvalidSignatureError("signature does not verify") from None
    except UnsupportedAlgorithm as exc:
        raise InvalidSignatureError(f"unsupported signature algorithm ({exc})") from None

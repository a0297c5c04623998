"""Certificate-method OMS bundles: sign with a CA-issued certificate, validate its chain.

Signing (:func:`prepare`): the signing key must be the certificate's, the certificate must
be valid now and allow code signing; the bundle carries the leaf and the intermediates
(``verificationMaterial.x509CertificateChain``, leaf first, as model_signing writes it;
self-signed roots are left out, the verifier brings its own) and the statement records
the signing time (predicate key ``pqml_signed_at``, covered by the signature).

Verifying (:func:`validate_chain`): RFC 5280 path validation in the subset a code-signing
PKI uses, for every algorithm pqml knows, so an SLH-DSA root or a composite intermediate
validates as an ECDSA one does: issuer names and key identifiers link the path; every
signature is checked (post-quantum ones through the registry, classical ones through
pyca); each certificate must be valid at the signing time (the recorded one, else the
leaf's notBefore as model_signing does); CAs must be CAs (basicConstraints, keyCertSign,
path length); the leaf must allow digitalSignature and codeSigning; unknown critical
extensions are refused; and every CRL given must be signed by a CA of the path, be
current, and not list any certificate of it. Each failure is one line naming the
certificate (subject and serial) and the reason.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from pqml.formats import oms
from pqml.primitives.errors import KeyFormatError, PqmlError
from pqml.signing.errors import CertificateChainError

SIGNED_AT_KEY = "pqml_signed_at"
MAX_DEPTH = 8
MAX_BUNDLE_CERTIFICATES = 16
ANY_EKU = "2.5.29.37.0"
MAX_CRL_SIZE = 64 << 20


def _iso(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _facts(der: bytes, where: str) -> Any:
    from pqml.primitives import x509

    try:
        return x509.parse_certificate(der)
    except KeyFormatError as exc:
        raise CertificateChainError(f"{where}: {exc}") from None


# ---- signing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateMaterial:
    """What :func:`pqml.signing.signing.sign_model` puts in a certificate bundle."""

    certificates: tuple[bytes, ...]  # leaf first, then intermediates
    signed_at: dt.datetime

    def add_time(self, statement: oms.Statement) -> oms.Statement:
        return replace(statement, extensions={**statement.extensions,
                                              SIGNED_AT_KEY: _iso(self.signed_at)})


def _read_certificates(path: str | Path, what: str) -> list[bytes]:
    from pqml.primitives import x509
    from pqml.signing import certificates, model_tree

    data = model_tree.read_regular(Path(path), certificates.MAX_CERTIFICATE_CHAIN_SIZE, what)
    try:
        return x509.load_pem_der(data, "CERTIFICATE")
    except KeyFormatError as exc:
        raise KeyFormatError(f"{path}: {exc}") from None


def prepare(key: Any, certificate: str | Path, chain: Sequence[str | Path] = (), *,
            now: dt.datetime | None = None) -> CertificateMaterial:
    """Check that ``key`` (the first signing key) may sign under ``certificate`` now, and
    collect the bundle's certificates: the leaf, then the non-self-signed ones of ``chain``."""
    from pqml.formats import keyfile
    from pqml.formats import x509 as x509f

    when = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    leaf_der = _read_certificates(certificate, "certificate")
    if len(leaf_der) != 1:
        raise KeyFormatError(f"{certificate}: expected one certificate, found {len(leaf_der)}")
    leaf = _facts(leaf_der[0], str(certificate))
    spki = x509f.subject_public_key_info(x509f.split_signed(leaf.der).tbs)
    if keyfile.public_key_to_der(key.public_key()) != spki:
        raise CertificateChainError(f"{certificate}: certificate {leaf.label} is not for the "
                                    f"signing key ({key.algorithm}); give its own key first")
    _check_time(leaf, when, "now")
    _check_leaf_usage(leaf)
    extra: list[bytes] = []
    for path in chain:
        for der in _read_certificates(path, "certificate chain"):
            facts = _facts(der, str(path))
            if not facts.self_issued and der not in extra and der != leaf.der:
                extra.append(der)
    return CertificateMaterial((leaf.der, *extra), when)


# ---- verifying ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ChainReport:
    """A validated path, leaf first and the trust anchor last, and how it was checked."""

    path: tuple[Any, ...]
    signing_time: dt.datetime
    time_source: str  # "signed" (recorded in the statement) or "leaf notBefore"
    revocation: tuple[str, ...] = field(default=())

    @property
    def leaf(self) -> Any:
        return self.path[0]

    def describe(self) -> str:
        names = " <- ".join(c.label for c in self.path)
        checked = "; ".join(self.revocation) or "revocation not checked (no --crl)"
        return (f"chain {names}; valid at {_iso(self.signing_time)} ({self.time_source}); "
                f"{checked}")


def signing_time(statement: oms.Statement) -> dt.datetime | None:
    """The signing time the signer recorded, or None (model_signing bundles)."""
    value = statement.extensions.get(SIGNED_AT_KEY)
    if value is None:
        return None
    try:
        return dt.datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(
            tzinfo=dt.UTC)
    except ValueError:
        raise CertificateChainError(f"bundle: {SIGNED_AT_KEY} {value!r} is not a UTC time "
                                    "(YYYY-MM-DDTHH:MM:SSZ)") from None


def load_crls(paths: Sequence[str | Path]) -> list[tuple[str, Any]]:
    """(file name, parsed CRL) for every CRL file (PEM or DER)."""
    from pqml.primitives import x509
    from pqml.signing import model_tree

    out = []
    for path in paths:
        data = model_tree.read_regular(Path(path), MAX_CRL_SIZE, "CRL")
        if len(data) > MAX_CRL_SIZE:
            raise KeyFormatError(f"{path}: more than {MAX_CRL_SIZE} bytes is too large for a CRL")
        try:
            out.append((str(path), x509.parse_crl(x509.load_pem_der(data, "X509 CRL")[0])))
        except KeyFormatError as exc:
            raise KeyFormatError(f"{path}: {exc}") from None
    return out


def validate_chain(chain_der: Sequence[bytes], anchors_der: Sequence[bytes], *,
                   signed_at: dt.datetime | None = None,
                   crls: Sequence[tuple[str, Any]] = (),
                   now: dt.datetime | None = None) -> ChainReport:
    """Validate the bundle's chain (leaf first) against ``anchors_der``; raise
    CertificateChainError naming the certificate and the reason."""
    if not chain_der:
        raise CertificateChainError("bundle: no certificate")
    if len(chain_der) > MAX_BUNDLE_CERTIFICATES:  # bounds the work a hostile bundle asks for
        raise CertificateChainError(f"bundle: {len(chain_der)} certificates, more than "
                                    f"{MAX_BUNDLE_CERTIFICATES}")
    leaf = _facts(chain_der[0], "bundle certificate 1")
    pool = [_facts(d, f"bundle certificate {i + 2}") for i, d in enumerate(chain_der[1:])]
    anchors = [_facts(d, "trusted certificate") for d in anchors_der]
    when = signed_at or leaf.not_before
    source = "signed" if signed_at else "leaf notBefore"
    path = _build_path(leaf, pool, anchors)
    for cert in path:
        _check_time(cert, when, "the signing time")
        if cert.unknown_critical:
            raise CertificateChainError(f"certificate {cert.label}: unknown critical extension "
                                        f"{cert.unknown_critical[0]}")
    _check_leaf_usage(leaf)
    for below, cert in enumerate(path[1:]):
        if cert.is_ca is not True:
            raise CertificateChainError(f"certificate {cert.label} issued "
                                        f"{path[below].label} but is not a CA")
        if cert.key_cert_sign is False:
            raise CertificateChainError(f"certificate {cert.label}: key usage does not allow "
                                        "keyCertSign")
        if cert.path_length is not None and below > cert.path_length:
            raise CertificateChainError(f"certificate {cert.label}: path length "
                                        f"{cert.path_length} exceeded by {below} intermediate(s)")
    notes = _check_revocation(path, crls, now or dt.datetime.now(dt.UTC))
    return ChainReport(tuple(path), when, source, tuple(notes))


def _build_path(leaf: Any, pool: list[Any], anchors: list[Any]) -> list[Any]:
    if any(a.der == leaf.der for a in anchors):
        return [leaf]
    path = [leaf]
    current = leaf
    while len(path) <= MAX_DEPTH:
        failure = None
        for candidate, trusted in [(a, True) for a in anchors] + [(p, False) for p in pool]:
            if candidate.subject_der != current.issuer_der or candidate in path:
                continue
            if current.authority_key_id and candidate.subject_key_id and \
                    current.authority_key_id != candidate.subject_key_id:
                continue
            try:
                verify_issued(current.der, candidate)
            except PqmlError as exc:
                failure = (f"certificate {current.label}: signature by {candidate.label} "
                           f"does not verify ({exc})")
                continue
            path.append(candidate)
            if trusted:
                return path
            current = candidate
            break
        else:
            if failure:
                raise CertificateChainError(failure)
            raise CertificateChainError(
                f"certificate {current.label} does not chain to a trusted certificate: its "
                f"issuer {current.issuer or '(empty)'} is neither trusted nor in the bundle")
    raise CertificateChainError(f"certificate {leaf.label}: chain longer than {MAX_DEPTH}")


def verify_issued(child_der: bytes, issuer: Any, *, crl: bool = False) -> None:
    """Check a certificate's or CRL's signature under ``issuer``'s key: post-quantum
    algorithms through the registry (the key's OID must be the signature's), classical
    ones through pyca. Raises a PqmlError if it does not verify."""
    from pqml.formats import x509 as x509f
    from pqml.primitives import registry, x509

    parts = x509f.split_signed(child_der, "CRL" if crl else "certificate")
    entry = registry.by_oid(parts.signature_oid)
    if entry is None or entry.family != "signature" or entry.quantum_vulnerable:
        x509.verify_classical(child_der, issuer.der, crl=crl)
        return
    key_oid, raw = x509f.spki_parts(
        x509f.subject_public_key_info(x509f.split_signed(issuer.der).tbs))
    if key_oid != parts.signature_oid or parts.signature_parameters is not None:
        raise KeyFormatError(f"signed with {entry.name}, but the issuer key is {key_oid}")
    entry.scheme().public_from_bytes(raw).verify(parts.signature, parts.tbs)


def _check_time(cert: Any, when: dt.datetime, what: str) -> None:
    if when < cert.not_before:
        raise CertificateChainError(f"certificate {cert.label} is not yet valid at {what} "
                                    f"{_iso(when)} (valid from {_iso(cert.not_before)})")
    if when > cert.not_after:
        raise CertificateChainError(f"certificate {cert.label} expired at "
                                    f"{_iso(cert.not_after)}, before {what} {_iso(when)}")


def _check_leaf_usage(leaf: Any) -> None:
    if leaf.digital_signature is False:
        raise CertificateChainError(f"certificate {leaf.label}: key usage does not allow "
                                    "digitalSignature")
    eku = leaf.extended_key_usage
    from pqml.primitives.x509 import CODE_SIGNING

    if eku is not None and CODE_SIGNING not in eku and ANY_EKU not in eku:
        raise CertificateChainError(f"certificate {leaf.label}: extended key usage lacks "
                                    "codeSigning (1.3.6.1.5.5.7.3.3)")
    if eku is None and leaf.digital_signature is None:
        raise CertificateChainError(f"certificate {leaf.label} allows neither "
                                    "digitalSignature nor codeSigning")


def _check_revocation(path: list[Any], crls: Sequence[tuple[str, Any]],
                      now: dt.datetime) -> list[str]:
    notes = []
    for name, crl in crls:
        issuer = next((c for c in path[1:] if c.subject_der == crl.issuer_der), None)
        if issuer is None:
            raise CertificateChainError(f"CRL {name}: issued by {crl.issuer}, which is not a "
                                        "CA of this certificate's chain")
        try:
            verify_issued(crl.der, issuer, crl=True)
        except PqmlError as exc:
            raise CertificateChainError(f"CRL {name}: not signed by {issuer.label} ({exc})") \
                from None
        if issuer.crl_sign is False:
            raise CertificateChainError(f"CRL {name}: {issuer.label} may not sign CRLs")
        if crl.next_update is not None and crl.next_update < now:
            raise CertificateChainError(f"CRL {name} from {issuer.label} is out of date (next "
                                        f"update was {_iso(crl.next_update)})")
        index = path.index(issuer)
        subject = path[index - 1]
        if subject.serial in crl.revoked:
            date, reason = crl.revoked[subject.serial]
            because = f", {reason}" if reason else ""
            raise CertificateChainError(f"certificate {subject.label} is revoked since "
                                        f"{_iso(date)}{because} (CRL {name})")
        notes.append(f"{subject.label} not revoked (CRL {crl.crl_number} of {issuer.label})")
    return notes


def trusted_leaf(bundle: oms.Bundle, trust: Any) -> tuple[Any, str, ChainReport]:
    """The bundle's leaf key once its chain validated against ``trust`` (its
    ``certificate_chain`` anchors and ``crls``), with the leaf's subject and the report."""
    from pqml.formats import keyfile
    from pqml.formats import x509 as x509f
    from pqml.primitives.base import VerifyingKey

    material = bundle.verification_material.content
    chain = (material.certificates if isinstance(material, oms.CertificateChain)
             else (material.raw_bytes,))  # type: ignore[union-attr]
    anchors = [der for path in trust.certificate_chain
               for der in _read_certificates(path, "certificate chain")]
    report = validate_chain(chain, anchors, signed_at=signing_time(bundle.statement()),
                            crls=load_crls(trust.crls))
    leaf = report.leaf
    try:
        key = keyfile.load_public_key(x509f.subject_public_key_info(
            x509f.split_signed(leaf.der).tbs))
    except KeyFormatError as exc:
        raise CertificateChainError(f"certificate {leaf.label}: {exc}") from None
    if not isinstance(key, VerifyingKey):
        raise CertificateChainError(f"certificate {leaf.label}: not a signature key")
    return key, leaf.subject or "(empty subject)", report

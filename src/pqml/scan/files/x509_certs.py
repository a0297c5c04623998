"""X.509 certificates and CSRs: key algorithm and size, signature algorithm, expiry.

A certificate carries two algorithms: its subject's key (what the holder will sign or
exchange with until ``notAfter``) and the issuer's signature over it. The finding names
the key algorithm; the signature algorithm, validity and names go into ``details`` and
the CBOM links the certificate to both algorithm components. Expiry matters for the
deadlines: an RSA-2048 certificate valid past 2030 outlives NIST's deprecation date.

Certificates are parsed with pyca ``x509``; the key is described from the SPKI bytes
directly so post-quantum certificates (ML-DSA, composite) are understood too.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
from typing import Any

from pqml.scan.files.key_material import describe_spki, signature_algorithm, spki_from_tbs


def describe_certificate(der_bytes: bytes, now: dt.datetime | None = None) -> dict[str, Any] | None:
    """Facts about one DER certificate, or None if it is not one pyca can parse."""
    from cryptography import x509
    from cryptography.x509.oid import ExtensionOID

    try:
        cert = x509.load_der_x509_certificate(der_bytes)
        tbs = cert.tbs_certificate_bytes
        sig_oid = cert.signature_algorithm_oid.dotted_string
        not_before = cert.not_valid_before_utc
        not_after = cert.not_valid_after_utc
        subject = cert.subject.rfc4514_string()
        issuer = cert.issuer.rfc4514_string()
        serial = format(cert.serial_number, "x")
    except Exception:  # malformed or unsupported (invalid version, odd names): not reported
        return None
    spki = spki_from_tbs(tbs, 5)
    key = describe_spki(spki) if spki else None
    is_ca = False
    # a certificate with an extension pyca cannot represent still has a key and a signature
    with contextlib.suppress(Exception):
        is_ca = bool(cert.extensions.get_extension_for_oid(
            ExtensionOID.BASIC_CONSTRAINTS).value.ca)  # type: ignore[attr-defined]
    sig = signature_algorithm(sig_oid)
    sig_name = getattr(cert.signature_algorithm_oid, "_name", sig_oid)
    now = now or dt.datetime.now(dt.UTC)
    return {
        "subject": subject,
        "issuer": issuer,
        "serial": serial,
        "not_before": not_before.isoformat(),
        "not_after": not_after.isoformat(),
        "not_after_year": not_after.year,
        "expired": not_after < now,
        "self_signed": subject == issuer,
        "is_ca": is_ca,
        "key_algorithm": key.algorithm if key else None,
        "key_parameter": key.parameter if key else None,
        "key_fingerprint": key.fingerprint if key else None,
        "signature_algorithm": {
            "name": sig_name,
            "oid": sig_oid,
            "algorithm": sig[0] if sig else None,
            "hash": sig[1] if sig else None,
        },
        "fingerprint_sha256": hashlib.sha256(der_bytes).hexdigest(),
    }


def describe_csr(der_bytes: bytes) -> dict[str, Any] | None:
    from cryptography import x509

    try:
        csr = x509.load_der_x509_csr(der_bytes)
        info = csr.tbs_certrequest_bytes
        sig_oid = csr.signature_algorithm_oid.dotted_string
        subject = csr.subject.rfc4514_string()
    except Exception:  # malformed or unsupported: not reported
        return None
    spki = spki_from_tbs(info, 2)
    key = describe_spki(spki) if spki else None
    sig = signature_algorithm(sig_oid)
    return {
        "csr": True,
        "subject": subject,
        "key_algorithm": key.algorithm if key else None,
        "key_parameter": key.parameter if key else None,
        "signature_algorithm": {
            "name": getattr(csr.signature_algorithm_oid, "_name", sig_oid),
            "oid": sig_oid,
            "algorithm": sig[0] if sig else None,
            "hash": sig[1] if sig else None,
        },
        "fingerprint_sha256": hashlib.sha256(der_bytes).hexdigest(),
    }


def looks_like_der_certificate(head: bytes) -> bool:
    """A DER SEQUENCE with a long-form length, then a SEQUENCE: how every certificate starts."""
    if len(head) < 8 or head[0] != 0x30 or head[1] not in (0x81, 0x82, 0x83):
        return False
    return head[2 + (head[1] & 0x7F)] == 0x30

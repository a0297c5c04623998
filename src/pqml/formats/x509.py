"""X.509 v3 certificates and CRLs (RFC 5280) assembled from their parts: pure DER encoding.

pyca/cryptography can sign a certificate only with keys it implements (ML-DSA, ECDSA, …),
not with SLH-DSA (pqcrypto) or composite ML-DSA (pqml's composition), so pqml's CA encodes
the to-be-signed structure itself and has the signer sign those bytes. Encoding is all that
happens here: names and extension values arrive already DER-encoded (pyca encodes them in
:mod:`pqml.primitives.x509`), the signature arrives from the caller's signer.

Signature AlgorithmIdentifiers follow the algorithm's standard: ML-DSA (RFC 9881), SLH-DSA
(RFC 9909) and composite ML-DSA (draft-ietf-lamps-pq-composite-sigs) carry the key's OID
with parameters absent; ECDSA ``ecdsa-with-SHA256/384/512`` (RFC 5758); Ed25519 (RFC 8410).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from pqml.formats import der
from pqml.formats.errors import DERError

BOOLEAN = 0x01
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
ENUMERATED = 0x0A

# Signature algorithms whose OID differs from the key's (the curve fixes the hash in pqml).
_CLASSICAL_SIGNATURE_OIDS = {
    "ECDSA-P256": "1.2.840.10045.4.3.2",
    "ECDSA-P384": "1.2.840.10045.4.3.3",
    "ECDSA-P521": "1.2.840.10045.4.3.4",
    "Ed25519": "1.3.101.112",
}

ID_CE_CRL_NUMBER = "2.5.29.20"
ID_CE_REASON_CODE = "2.5.29.21"
ID_CE_AUTHORITY_KEY_IDENTIFIER = "2.5.29.35"


def signature_oid(algorithm: str) -> str:
    """The signatureAlgorithm OID a key of registry algorithm ``algorithm`` signs under."""
    from pqml.primitives import registry

    if algorithm in _CLASSICAL_SIGNATURE_OIDS:
        return _CLASSICAL_SIGNATURE_OIDS[algorithm]
    entry = registry.get(algorithm)
    if entry.family != "signature" or entry.quantum_vulnerable or not entry.oids \
            or entry.name.startswith("Falcon"):
        raise ValueError(f"{entry.name} cannot sign X.509 certificates in pqml (use ML-DSA, "
                         "SLH-DSA, composite ML-DSA, ECDSA or Ed25519)")
    return entry.oids[0]


def encode_time(when: dt.datetime) -> bytes:
    """UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5), whole seconds."""
    when = when.astimezone(dt.UTC)
    if when.year < 2050:
        return der.tlv(UTC_TIME, when.strftime("%y%m%d%H%M%SZ").encode("ascii"))
    return der.tlv(GENERALIZED_TIME, when.strftime("%Y%m%d%H%M%SZ").encode("ascii"))


@dataclass(frozen=True)
class Extension:
    """One extension: ``value`` is the DER of the extension's own type (extnValue's content)."""

    oid: str
    value: bytes
    critical: bool = False

    def encode(self) -> bytes:
        critical = der.tlv(BOOLEAN, b"\xff") if self.critical else b""  # DEFAULT FALSE
        return der.sequence(der.oid(self.oid), critical, der.octet_string(self.value))


def _extensions(tag: int, extensions: Sequence[Extension]) -> bytes:
    if not extensions:
        return b""
    seen = [e.oid for e in extensions]
    if len(set(seen)) != len(seen):
        raise ValueError("an extension appears twice")  # RFC 5280 §4.2
    return der.tlv(der.context(tag, constructed=True),
                   der.sequence(*(e.encode() for e in extensions)))


@dataclass(frozen=True)
class TBSCertificate:
    """The fields of a v3 TBSCertificate; names and the SPKI are DER already."""

    serial: int
    signature_oid: str
    issuer: bytes
    not_before: dt.datetime
    not_after: dt.datetime
    subject: bytes
    subject_public_key_info: bytes
    extensions: tuple[Extension, ...]

    def encode(self) -> bytes:
        if not 0 < self.serial < 1 << 159:  # positive, at most 20 octets (§4.1.2.2)
            raise ValueError("serial number must be positive and at most 20 octets")
        if self.not_after <= self.not_before:
            raise ValueError("notAfter must be later than notBefore")
        return der.sequence(
            der.tlv(der.context(0, constructed=True), der.integer(2)),  # v3
            der.integer(self.serial),
            der.algorithm_identifier(self.signature_oid),
            self.issuer,
            der.sequence(encode_time(self.not_before), encode_time(self.not_after)),
            self.subject,
            self.subject_public_key_info,
            _extensions(3, self.extensions),
        )


def signed(tbs: bytes, signature_algorithm_oid: str, signature: bytes) -> bytes:
    """Certificate or CertificateList: SEQUENCE { tbs, signatureAlgorithm, signature }."""
    return der.sequence(tbs, der.algorithm_identifier(signature_algorithm_oid),
                        der.bit_string(signature))


@dataclass(frozen=True)
class RevokedEntry:
    serial: int
    revoked_at: dt.datetime
    reason: int | None = None  # CRLReason code (RFC 5280 §5.3.1); None: unspecified, omitted


@dataclass(frozen=True)
class TBSCertList:
    """A v2 TBSCertList with the CRL number and authority key identifier (§5.2)."""

    signature_oid: str
    issuer: bytes
    this_update: dt.datetime
    next_update: dt.datetime
    revoked: tuple[RevokedEntry, ...]
    crl_number: int
    authority_key_identifier: bytes

    def encode(self) -> bytes:
        entries = []
        for entry in self.revoked:
            ext = b""
            if entry.reason is not None:
                reason = der.tlv(ENUMERATED, bytes([entry.reason]))
                ext = der.sequence(der.sequence(der.oid(ID_CE_REASON_CODE),
                                                der.octet_string(reason)))
            entries.append(der.sequence(der.integer(entry.serial),
                                        encode_time(entry.revoked_at), ext))
        aki = der.sequence(der.tlv(der.context(0, constructed=False),
                                   self.authority_key_identifier))
        return der.sequence(
            der.integer(1),  # v2
            der.algorithm_identifier(self.signature_oid),
            self.issuer,
            encode_time(self.this_update),
            encode_time(self.next_update),
            der.sequence(*entries) if entries else b"",  # absent when empty (§5.1.2.6)
            _extensions(0, (Extension(ID_CE_AUTHORITY_KEY_IDENTIFIER, aki),
                            Extension(ID_CE_CRL_NUMBER, der.integer(self.crl_number)))),
        )


@dataclass(frozen=True)
class SignedParts:
    """A Certificate or CertificateList split into what its signature covers and the
    signature, so any verifier (pyca's or the registry's) can check it."""

    tbs: bytes
    signature_oid: str
    signature_parameters: bytes | None
    signature: bytes


def split_signed(data: bytes, what: str = "certificate") -> SignedParts:
    """The three parts of a signed X.509 structure; DERError if it is not one."""
    try:
        body = der.parse_one(data, der.SEQUENCE, what)
        items = der.parse_children(body)
        if len(items) != 3 or items[0][0] != der.SEQUENCE or items[2][0] != der.BIT_STRING:
            raise DERError(f"{what}: not a signed X.509 structure")
        tbs_end = der.read_tlv(body, 0)[2]
        oid, params = der.parse_algorithm_identifier(items[1][1])
        signature = der.decode_bit_string(items[2][1], f"{what} signature")
    except DERError as exc:
        raise DERError(f"{what}: {exc}") from None
    return SignedParts(body[:tbs_end], oid, params, signature)


def subject_public_key_info(tbs: bytes) -> bytes:
    """The SPKI DER of a TBSCertificate (its seventh field, after the explicit version)."""
    items = der.parse_children(der.parse_one(tbs, der.SEQUENCE, "TBSCertificate"))
    offset = 1 if items and items[0][0] == der.context(0, constructed=True) else 0
    if len(items) < offset + 6:
        raise DERError("TBSCertificate is truncated")
    return der.sequence(items[offset + 5][1])


def spki_parts(spki: bytes) -> tuple[str, bytes]:
    """(algorithm OID, raw public key) of a SubjectPublicKeyInfo."""
    items = der.parse_children(der.parse_one(spki, der.SEQUENCE, "SubjectPublicKeyInfo"))
    if len(items) != 2 or items[0][0] != der.SEQUENCE or items[1][0] != der.BIT_STRING:
        raise DERError("SubjectPublicKeyInfo: malformed")
    oid, _ = der.parse_algorithm_identifier(items[0][1])
    return oid, der.decode_bit_string(items[1][1], "subjectPublicKey")

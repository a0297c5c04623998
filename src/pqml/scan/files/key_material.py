"""Algorithm and size of a key from its DER encoding, without loading it.

Reading the AlgorithmIdentifier and the modulus or curve straight from DER (SPKI, PKCS#8,
PKCS#1, SEC1, DSA, DH parameters) means the scanner never builds a private-key object from
a file it found, works for post-quantum keys pyca cannot load (SLH-DSA, composite, X-Wing,
via the registry's OIDs), and does not pay RSA private-key validation per key.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from pqml.formats import der

# Named curves by OID (SEC 2, RFC 5480, RFC 5639).
CURVE_OIDS = {
    "1.2.840.10045.3.1.1": "P-192", "1.3.132.0.33": "P-224", "1.2.840.10045.3.1.7": "P-256",
    "1.3.132.0.34": "P-384", "1.3.132.0.35": "P-521", "1.3.132.0.10": "secp256k1",
    "1.3.36.3.3.2.8.1.1.7": "brainpoolP256r1", "1.3.36.3.3.2.8.1.1.11": "brainpoolP384r1",
    "1.3.36.3.3.2.8.1.1.13": "brainpoolP512r1",
}

_KEY_OIDS = {
    "1.2.840.113549.1.1.1": "RSA", "1.2.840.113549.1.1.10": "RSA-PSS",
    "1.2.840.113549.1.1.7": "RSA-OAEP", "1.2.840.10045.2.1": "ECDSA", "1.3.132.1.12": "ECDH",
    "1.2.840.10040.4.1": "DSA", "1.2.840.10046.2.1": "DH", "1.2.840.113549.1.3.1": "DH",
    "1.3.101.110": "X25519", "1.3.101.111": "X448", "1.3.101.112": "Ed25519",
    "1.3.101.113": "Ed448",
}

# Signature algorithm OIDs (RFC 3279, 4055, 5758, 8410; FIPS 204 via the registry).
SIGNATURE_OIDS: dict[str, tuple[str, str | None]] = {
    "1.2.840.113549.1.1.4": ("RSA", "MD5"), "1.2.840.113549.1.1.5": ("RSA", "SHA-1"),
    "1.2.840.113549.1.1.14": ("RSA", "SHA-224"), "1.2.840.113549.1.1.11": ("RSA", "SHA-256"),
    "1.2.840.113549.1.1.12": ("RSA", "SHA-384"), "1.2.840.113549.1.1.13": ("RSA", "SHA-512"),
    "1.2.840.113549.1.1.10": ("RSA-PSS", None),
    "1.2.840.10045.4.1": ("ECDSA", "SHA-1"), "1.2.840.10045.4.3.1": ("ECDSA", "SHA-224"),
    "1.2.840.10045.4.3.2": ("ECDSA", "SHA-256"), "1.2.840.10045.4.3.3": ("ECDSA", "SHA-384"),
    "1.2.840.10045.4.3.4": ("ECDSA", "SHA-512"),
    "1.2.840.10040.4.3": ("DSA", "SHA-1"), "2.16.840.1.101.3.4.3.1": ("DSA", "SHA-224"),
    "2.16.840.1.101.3.4.3.2": ("DSA", "SHA-256"),
    "1.3.101.112": ("Ed25519", None), "1.3.101.113": ("Ed448", None),
}


@dataclass(frozen=True, slots=True)
class KeyInfo:
    algorithm: str
    parameter: str | None
    private: bool
    fingerprint: str            # SHA-256 of the DER, first 16 bytes hex: groups repeats


def _fp(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:32]


def _int_bits(value: bytes) -> int:
    return int.from_bytes(value, "big").bit_length()


def oid_algorithm(oid: str, params: bytes | None) -> tuple[str, str | None] | None:
    """(algorithm, parameter) for a key AlgorithmIdentifier."""
    name = _KEY_OIDS.get(oid)
    if name in ("ECDSA", "ECDH"):
        curve = None
        if params:
            try:
                tag, value, _ = der.read_tlv(params)
                if tag == der.OBJECT_IDENTIFIER:
                    curve = CURVE_OIDS.get(der.decode_oid(value), der.decode_oid(value))
            except der.DERError:
                pass
        return name, curve
    if name in ("DSA", "DH") and params:
        try:
            items = der.parse_children(der.parse_one(params, der.SEQUENCE, "params"))
            return name, str(_int_bits(items[0][1]))
        except (der.DERError, IndexError):
            return name, None
    if name is not None:
        return name, None
    from pqml.primitives import registry

    entry = registry.by_oid(oid)
    return (entry.name, None) if entry is not None else None


def signature_algorithm(oid: str) -> tuple[str, str | None] | None:
    if oid in SIGNATURE_OIDS:
        return SIGNATURE_OIDS[oid]
    from pqml.primitives import registry

    entry = registry.by_oid(oid)
    return (entry.name, None) if entry is not None and entry.family == "signature" else None


def _rsa_modulus_bits(rsa_public_key: bytes) -> str | None:
    try:
        items = der.parse_children(der.parse_one(rsa_public_key, der.SEQUENCE, "RSAPublicKey"))
        return str(_int_bits(items[0][1]))
    except (der.DERError, IndexError):
        return None


def _rsa_private_bits(rsa_private_key: bytes) -> str:
    """Modulus size of a PKCS#1 RSAPrivateKey (raises DERError / IndexError)."""
    items = der.parse_children(der.parse_one(rsa_private_key, der.SEQUENCE, "RSAPrivateKey"))
    return str(_int_bits(items[1][1]))


def _describe(data: bytes, private: bool) -> KeyInfo | None:
    """SPKI or PKCS#8: the algorithm from the AlgorithmIdentifier, the size or curve from
    the key itself where the identifier does not carry it."""
    try:
        items = der.parse_children(
            der.parse_one(data, der.SEQUENCE, "PKCS#8" if private else "SPKI"))
        at = 1 if private else 0  # PKCS#8 starts with a version
        oid, params = der.parse_algorithm_identifier(items[at][1])
        found = oid_algorithm(oid, params)
        if found is None:
            return None
        algorithm, param = found
        if algorithm.startswith("RSA"):
            param = (_rsa_private_bits(items[2][1]) if private
                     else _rsa_modulus_bits(der.decode_bit_string(items[1][1])))
        elif private and algorithm in ("ECDSA", "ECDH") and param is None:
            param = _sec1_curve(items[2][1])
        return KeyInfo(algorithm, param, private, _fp(data))
    except (der.DERError, IndexError):
        return None


def describe_spki(data: bytes) -> KeyInfo | None:
    """SubjectPublicKeyInfo: SEQUENCE { AlgorithmIdentifier, BIT STRING }."""
    return _describe(data, private=False)


def describe_pkcs8(data: bytes) -> KeyInfo | None:
    """PrivateKeyInfo / OneAsymmetricKey: SEQUENCE { version, AlgorithmIdentifier, key }."""
    return _describe(data, private=True)


def _sec1_curve(data: bytes) -> str | None:
    items = der.parse_children(der.parse_one(data, der.SEQUENCE, "ECPrivateKey"))
    for tag, value in items:
        if tag == der.context(0, constructed=True):
            _t, oid_value, _ = der.read_tlv(value)
            oid = der.decode_oid(oid_value)
            return CURVE_OIDS.get(oid, oid)
    return None


def describe_traditional(label: str, data: bytes) -> KeyInfo | None:
    """OpenSSL's traditional PEM bodies: PKCS#1, SEC1, DSA, DH and EC parameters."""
    try:
        if label == "RSA PRIVATE KEY":
            return KeyInfo("RSA", _rsa_private_bits(data), True, _fp(data))
        if label == "RSA PUBLIC KEY":
            return KeyInfo("RSA", _rsa_modulus_bits(data), False, _fp(data))
        if label == "EC PRIVATE KEY":
            return KeyInfo("ECDSA", _sec1_curve(data), True, _fp(data))
        if label == "DSA PRIVATE KEY":
            items = der.parse_children(der.parse_one(data, der.SEQUENCE, "DSAPrivateKey"))
            return KeyInfo("DSA", str(_int_bits(items[1][1])), True, _fp(data))
        if label in ("DH PARAMETERS", "X9.42 DH PARAMETERS"):
            items = der.parse_children(der.parse_one(data, der.SEQUENCE, "DHParameter"))
            return KeyInfo("DH", str(_int_bits(items[0][1])), False, _fp(data))
        if label == "EC PARAMETERS":
            tag, value, _ = der.read_tlv(data)
            if tag == der.OBJECT_IDENTIFIER:
                oid = der.decode_oid(value)
                return KeyInfo("ECDSA", CURVE_OIDS.get(oid, oid), False, _fp(data))
    except (der.DERError, IndexError):
        return None
    return None


def spki_from_tbs(tbs: bytes, index_after_version: int) -> bytes | None:
    """The SubjectPublicKeyInfo TLV inside a TBSCertificate or CertificationRequestInfo.

    ``index_after_version`` is the SPKI's position counting from the first field after the
    optional ``[0] version`` (5 in a TBSCertificate: serial, signature, issuer, validity,
    subject; 2 in a CSR: version, subject).
    """
    try:
        body = der.parse_one(tbs, der.SEQUENCE, "TBS")
        pos = 0
        fields: list[tuple[int, int]] = []
        while pos < len(body):
            start = pos
            _tag, _value, pos = der.read_tlv(body, pos)
            fields.append((start, pos))
        if fields and body[fields[0][0]] == der.context(0, constructed=True):
            fields = fields[1:]
        start, end = fields[index_after_version]
        return body[start:end]
    except (der.DERError, IndexError):
        return None

"""One spelling per algorithm: hash, curve, JOSE, SSH and key-size names seen in the wild.

Every detector funnels names through here, so "sha1", "SHA1", "SHA-1" and
``hashes.SHA1()`` all become ``SHA-1`` and "prime256v1", "secp256r1", "NIST256p" and
``ec.SECP256R1()`` all become ``P-256``. Consistent names are what make one CBOM component
per distinct algorithm possible.
"""

from __future__ import annotations

import re

# ---- hashes ----------------------------------------------------------------------------

_HASHES = {
    "md2": "MD2", "md4": "MD4", "md5": "MD5",
    "sha": "SHA-1", "sha1": "SHA-1", "sha-1": "SHA-1",
    "sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512",
    "sha512_224": "SHA-512/224", "sha512_256": "SHA-512/256",
    "sha512224": "SHA-512/224", "sha512256": "SHA-512/256",
    "sha3_224": "SHA3-224", "sha3_256": "SHA3-256", "sha3_384": "SHA3-384",
    "sha3_512": "SHA3-512",
    "sha3224": "SHA3-224", "sha3256": "SHA3-256", "sha3384": "SHA3-384", "sha3512": "SHA3-512",
    "shake_128": "SHAKE128", "shake_256": "SHAKE256", "shake128": "SHAKE128",
    "shake256": "SHAKE256",
    "blake2b": "BLAKE2b", "blake2s": "BLAKE2s", "blake2b512": "BLAKE2b", "blake2s256": "BLAKE2s",
    "blake3": "BLAKE3",
    "ripemd160": "RIPEMD-160", "ripemd": "RIPEMD-160", "rmd160": "RIPEMD-160", "sm3": "SM3",
}


def hash_name(raw: str) -> str | None:
    """Canonical hash name for ``sha256``, ``SHA-256``, ``SHA256``, ``sha3_256`` ...; None if
    ``raw`` names no hash."""
    key = raw.strip().lower().replace("-", "").replace("/", "_")
    if key in _HASHES:
        return _HASHES[key]
    return _HASHES.get(key.replace("_", ""))


# ---- elliptic curves ---------------------------------------------------------------------

_CURVES = {
    "p192": "P-192", "secp192r1": "P-192", "prime192v1": "P-192", "nist192p": "P-192",
    "p224": "P-224", "secp224r1": "P-224", "nist224p": "P-224",
    "p256": "P-256", "secp256r1": "P-256", "prime256v1": "P-256", "nist256p": "P-256",
    "nistp256": "P-256",
    "p384": "P-384", "secp384r1": "P-384", "nist384p": "P-384", "nistp384": "P-384",
    "p521": "P-521", "secp521r1": "P-521", "nist521p": "P-521", "nistp521": "P-521",
    "secp256k1": "secp256k1",
    "brainpoolp256r1": "brainpoolP256r1", "brainpoolp384r1": "brainpoolP384r1",
    "brainpoolp512r1": "brainpoolP512r1",
    "sect283k1": "sect283k1", "sect409k1": "sect409k1", "sect571k1": "sect571k1",
    "sect233r1": "sect233r1", "sect283r1": "sect283r1", "sect409r1": "sect409r1",
    "sect571r1": "sect571r1", "sect163k1": "sect163k1",
    "curve25519": "Curve25519", "x25519": "Curve25519", "ed25519": "Ed25519",
    "curve448": "Curve448", "x448": "Curve448", "ed448": "Ed448",
}

_CURVE_BITS = {
    "P-192": 192, "P-224": 224, "P-256": 256, "P-384": 384, "P-521": 521, "secp256k1": 256,
    "brainpoolP256r1": 256, "brainpoolP384r1": 384, "brainpoolP512r1": 512,
    "Curve25519": 255, "Ed25519": 255, "Curve448": 448, "Ed448": 448,
    "sect163k1": 163, "sect233r1": 233, "sect283k1": 283, "sect283r1": 283,
    "sect409k1": 409, "sect409r1": 409, "sect571k1": 571, "sect571r1": 571,
}


def curve_name(raw: str) -> str | None:
    """Canonical curve name for ``secp256r1``, ``P-256``, ``NIST256p``, ``SECP256R1`` ..."""
    key = raw.strip().lower().replace("-", "").replace("_", "")
    return _CURVES.get(key)


def curve_bits(curve: str | None) -> int | None:
    return _CURVE_BITS.get(curve) if curve else None


# ---- JOSE (JWS / JWE) algorithm identifiers -----------------------------------------------
# name -> (algorithm, parameter, usage). Usage is what the identifier does, JWS: sign.

JOSE_ALGS: dict[str, tuple[str, str | None, str]] = {
    "HS256": ("HMAC-SHA-256", None, "mac"), "HS384": ("HMAC-SHA-384", None, "mac"),
    "HS512": ("HMAC-SHA-512", None, "mac"),
    "RS256": ("RSA", None, "sign"), "RS384": ("RSA", None, "sign"),
    "RS512": ("RSA", None, "sign"), "RS1": ("RSA", None, "sign"),
    "PS256": ("RSA-PSS", None, "sign"), "PS384": ("RSA-PSS", None, "sign"),
    "PS512": ("RSA-PSS", None, "sign"),
    "ES256": ("ECDSA", "P-256", "sign"), "ES384": ("ECDSA", "P-384", "sign"),
    "ES512": ("ECDSA", "P-521", "sign"), "ES256K": ("ECDSA", "secp256k1", "sign"),
    "EdDSA": ("Ed25519", None, "sign"), "Ed25519": ("Ed25519", None, "sign"),
    "Ed448": ("Ed448", None, "sign"),
    "ML-DSA-44": ("ML-DSA-44", None, "sign"), "ML-DSA-65": ("ML-DSA-65", None, "sign"),
    "ML-DSA-87": ("ML-DSA-87", None, "sign"),
    "RSA1_5": ("RSA", None, "encrypt"), "RSA-OAEP": ("RSA-OAEP", None, "encrypt"),
    "RSA-OAEP-256": ("RSA-OAEP", None, "encrypt"),
    "ECDH-ES": ("ECDH", None, "key-exchange"), "ECDH-ES+A128KW": ("ECDH", None, "key-exchange"),
    "ECDH-ES+A192KW": ("ECDH", None, "key-exchange"),
    "ECDH-ES+A256KW": ("ECDH", None, "key-exchange"),
    "A128KW": ("AES-128-KW", None, "encrypt"), "A192KW": ("AES-192-KW", None, "encrypt"),
    "A256KW": ("AES-256-KW", None, "encrypt"),
    "A128GCM": ("AES-128-GCM", None, "encrypt"), "A192GCM": ("AES-192-GCM", None, "encrypt"),
    "A256GCM": ("AES-256-GCM", None, "encrypt"),
    "A128CBC-HS256": ("AES-128-CBC", None, "encrypt"),
    "A256CBC-HS512": ("AES-256-CBC", None, "encrypt"),
}

#: The JWS names that are unambiguous enough to be recognised as bare strings in settings.
JWS_NAMES = frozenset(
    n for n, (_a, _p, u) in JOSE_ALGS.items() if u in ("sign", "mac") and not n.startswith("Ed")
) | {"EdDSA"}

# ---- key sizes and security strength (NIST SP 800-57 Part 1, Table 2) ----------------------


# (smallest modulus or group size, strength in bits), strongest first.
_FFC_IFC_STRENGTH = ((15360, 256), (7680, 192), (3072, 128), (2048, 112), (1024, 80))
_ECC_STRENGTH = ((512, 256), (384, 192), (255, 128), (224, 112), (160, 80))


def _strength(size: int, table: tuple[tuple[int, int], ...]) -> int:
    return next((strength for least, strength in table if size >= least), 0)


def ffc_ifc_strength(bits: int) -> int:
    """Classical security strength of RSA / finite-field DH / DSA with a ``bits`` modulus."""
    return _strength(bits, _FFC_IFC_STRENGTH)


def ecc_strength(curve_size: int) -> int:
    """Classical security strength of an elliptic-curve scheme over an ``n``-bit group."""
    return _strength(curve_size, _ECC_STRENGTH)


_INT = re.compile(r"\d+")


def int_parameter(parameter: str | None) -> int | None:
    """The key size in a parameter such as ``2048`` or ``group14 (2048)``."""
    if not parameter:
        return None
    m = _INT.search(parameter)
    return int(m.group()) if m else None

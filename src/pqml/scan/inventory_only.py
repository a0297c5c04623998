"""Facts about algorithms the scanner reports but pqml does not implement.

The registry (``pqml.primitives.registry``) is the source of truth for every algorithm pqml
implements. A crypto inventory must also name what other code uses -- DSA, finite-field DH,
ECDH, 3DES, RC4, AES in CBC mode, HMAC, KDFs, protocols -- and those have no business in the
registry (nothing here can run them). They live in this one table, kept apart so a reader
can see which facts come from where. :mod:`pqml.scan.facts` asks the registry
first and falls back to this table.

OIDs are listed only where the standard assigns exactly one to the algorithm as named.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class InventoryFact:
    primitive: str                  # CycloneDX 1.6 primitive
    quantum_vulnerable: bool        # broken by Shor's algorithm on a CRQC
    status: str                     # recommended | supported | legacy | weak | broken
    nist_quantum_level: int | None  # CycloneDX nistQuantumSecurityLevel (0 = none)
    oid: str | None = None
    note: str = ""


_PK = "legacy"

FACTS: dict[str, InventoryFact] = {
    # ---- classical public-key: all broken by Shor's algorithm ----------------------------
    "RSA": InventoryFact("pke", True, _PK, 0, "1.2.840.113549.1.1.1"),
    "ECDSA": InventoryFact("signature", True, _PK, 0, "1.2.840.10045.2.1"),
    "ECDH": InventoryFact("key-agree", True, _PK, 0, "1.3.132.1.12"),
    "DH": InventoryFact("key-agree", True, _PK, 0, "1.2.840.10046.2.1"),
    "DSA": InventoryFact("signature", True, "broken", 0, "1.2.840.10040.4.1",
                         "FIPS 186-5 no longer approves DSA signature generation"),
    "Ed448": InventoryFact("signature", True, _PK, 0, "1.3.101.113"),
    "X448": InventoryFact("key-agree", True, _PK, 0, "1.3.101.111"),
    "ElGamal": InventoryFact("pke", True, "broken", 0),
    # ---- hybrid / post-quantum key exchange pqml does not implement -----------------------
    "ML-KEM-512": InventoryFact("kem", False, "supported", 1, "2.16.840.1.101.3.4.4.1"),
    "X25519MLKEM768": InventoryFact("kem", False, "recommended", 3, None,
                                    "TLS/SSH hybrid group: ML-KEM-768 + X25519"),
    "SecP256r1MLKEM768": InventoryFact("kem", False, "supported", 3, None,
                                       "TLS hybrid group: ML-KEM-768 + ECDH P-256"),
    "SecP384r1MLKEM1024": InventoryFact("kem", False, "supported", 5, None,
                                        "TLS hybrid group: ML-KEM-1024 + ECDH P-384"),
    "sntrup761x25519": InventoryFact("kem", False, "supported", 1, None,
                                     "OpenSSH hybrid: Streamlined NTRU Prime + X25519"),
    # ---- symmetric ciphers -----------------------------------------------------------------
    "3DES": InventoryFact("block-cipher", False, "broken", 0, "1.2.840.113549.3.7",
                          "TDEA: disallowed for encryption after 2023 (SP 800-131A Rev. 2)"),
    "DES": InventoryFact("block-cipher", False, "broken", 0, "1.3.14.3.2.7"),
    "RC4": InventoryFact("stream-cipher", False, "broken", 0, "1.2.840.113549.3.4"),
    "RC2": InventoryFact("block-cipher", False, "broken", 0, "1.2.840.113549.3.2"),
    "Blowfish": InventoryFact("block-cipher", False, "weak", None, None, "64-bit block"),
    "CAST5": InventoryFact("block-cipher", False, "weak", None, None, "64-bit block"),
    "IDEA": InventoryFact("block-cipher", False, "weak", None, None, "64-bit block"),
    "SEED": InventoryFact("block-cipher", False, "legacy", None),
    "Camellia": InventoryFact("block-cipher", False, "supported", None),
    "SM4": InventoryFact("block-cipher", False, "supported", None),
    "ChaCha20": InventoryFact("stream-cipher", False, "supported", 5),
    "Salsa20": InventoryFact("stream-cipher", False, "supported", 5),
    "XSalsa20-Poly1305": InventoryFact("ae", False, "supported", 5, None, "NaCl secretbox"),
    "XChaCha20-Poly1305": InventoryFact("ae", False, "supported", 5),
    # ---- hashes ---------------------------------------------------------------------------
    "SHA-224": InventoryFact("hash", False, "legacy", 1, "2.16.840.1.101.3.4.2.4"),
    "SHA-512/224": InventoryFact("hash", False, "legacy", 1, "2.16.840.1.101.3.4.2.5"),
    "SHA-512/256": InventoryFact("hash", False, "supported", 2, "2.16.840.1.101.3.4.2.6"),
    "SHA3-224": InventoryFact("hash", False, "legacy", 1, "2.16.840.1.101.3.4.2.7"),
    "SHAKE128": InventoryFact("xof", False, "supported", 2, "2.16.840.1.101.3.4.2.11"),
    "SHAKE256": InventoryFact("xof", False, "supported", 5, "2.16.840.1.101.3.4.2.12"),
    "BLAKE2b": InventoryFact("hash", False, "supported", None),
    "BLAKE2s": InventoryFact("hash", False, "supported", None),
    "MD4": InventoryFact("hash", False, "broken", 0, "1.2.840.113549.2.4"),
    "MD2": InventoryFact("hash", False, "broken", 0, "1.2.840.113549.2.2"),
    "RIPEMD-160": InventoryFact("hash", False, "legacy", None, "1.3.36.3.2.1"),
    "SM3": InventoryFact("hash", False, "supported", None),
    # ---- MACs -----------------------------------------------------------------------------
    "HMAC-MD5": InventoryFact("mac", False, "weak", None, "1.3.6.1.5.5.8.1.1"),
    "HMAC-SHA-1": InventoryFact("mac", False, "legacy", None, "1.2.840.113549.2.7"),
    "HMAC-SHA-224": InventoryFact("mac", False, "supported", None, "1.2.840.113549.2.8"),
    "HMAC-SHA-256": InventoryFact("mac", False, "supported", None, "1.2.840.113549.2.9"),
    "HMAC-SHA-384": InventoryFact("mac", False, "supported", None, "1.2.840.113549.2.10"),
    "HMAC-SHA-512": InventoryFact("mac", False, "supported", None, "1.2.840.113549.2.11"),
    "Poly1305": InventoryFact("mac", False, "supported", None),
    "AES-CMAC": InventoryFact("mac", False, "supported", None),
    # ---- KDFs and password hashing ---------------------------------------------------------
    "PBKDF2": InventoryFact("kdf", False, "supported", None, "1.2.840.113549.1.5.12"),
    "HKDF": InventoryFact("kdf", False, "supported", None),
    "scrypt": InventoryFact("kdf", False, "supported", None, "1.3.6.1.4.1.11591.4.11"),
    "Argon2id": InventoryFact("kdf", False, "recommended", None),
    "Argon2i": InventoryFact("kdf", False, "supported", None),
    "bcrypt": InventoryFact("kdf", False, "supported", None),
    "ConcatKDF": InventoryFact("kdf", False, "supported", None),
    "X963KDF": InventoryFact("kdf", False, "supported", None),
    "KBKDF": InventoryFact("kdf", False, "supported", None),
    # ---- protocols (key exchange assumed classical unless a PQ group is configured) -------
    "TLS": InventoryFact("other", True, "supported", None, None,
                         "classical (EC)DHE key exchange unless a hybrid PQ group is set"),
    "SSH": InventoryFact("other", True, "supported", None, None,
                         "classical key exchange unless a hybrid PQ KEX is set"),
}

# AES: modes x key sizes, with the NIST arc 2.16.840.1.101.3.4.1.<n> where one exists.
_AES_MODE_ARC = {"ECB": 1, "CBC": 2, "OFB": 3, "CFB": 4, "KW": 5, "GCM": 6, "CCM": 7}
_AES_BLOCK_MODES = ("ECB", "CBC", "CTR", "CFB", "OFB", "XTS", "KW")
_AES_AE_MODES = ("GCM", "CCM", "OCB", "SIV", "GCM-SIV", "EAX")
for _bits, _base, _level in ((128, 0, 1), (192, 20, 3), (256, 40, 5), (None, None, None)):
    for _mode in (*_AES_BLOCK_MODES, *_AES_AE_MODES):
        _name = f"AES-{_bits}-{_mode}" if _bits else f"AES-{_mode}"
        _arc = _AES_MODE_ARC.get(_mode)
        _oid = f"2.16.840.1.101.3.4.1.{_base + _arc}" if _bits and _arc else None
        FACTS[_name] = InventoryFact(
            "ae" if _mode in _AES_AE_MODES else "block-cipher", False,
            "weak" if _mode == "ECB" else "supported", _level, _oid,
            "ECB leaks plaintext patterns" if _mode == "ECB" else "",
        )
    FACTS[f"AES-{_bits}" if _bits else "AES"] = InventoryFact("block-cipher", False, "supported",
                                                              _level)

"""Cloud KMS algorithm identifiers (AWS KMS, Google Cloud KMS) written in code and config.

Platforms wrap dataset keys and sign model manifests with managed keys, so the algorithm
appears only as an identifier string: ``EncryptionAlgorithm="RSAES_OAEP_SHA_256"``,
``SigningAlgorithm="ECDSA_SHA_384"``, ``KeySpec="RSA_3072"``, or Google's
``EC_SIGN_P256_SHA256``. These identifiers have fixed, distinctive spellings, so matching
them exactly (as values of ``*Algorithm*`` / ``*alg*`` arguments and settings) cannot
mistake prose for cryptography.
"""

from __future__ import annotations

import re
from functools import cache

_ECDSA_CURVE = {"256": "P-256", "384": "P-384", "512": "P-521"}

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # AWS KMS
    (re.compile(r"RSAES_OAEP_SHA_(?:1|256)"), "aws-oaep"),
    (re.compile(r"RSASSA_PSS_SHA_(?:256|384|512)"), "aws-pss"),
    (re.compile(r"RSASSA_PKCS1_V1_5_SHA_(?:256|384|512)"), "aws-pkcs1"),
    (re.compile(r"ECDSA_SHA_(256|384|512)"), "aws-ecdsa"),
    (re.compile(r"RSA_(2048|3072|4096)"), "aws-rsa-spec"),
    (re.compile(r"ECC_NIST_P(256|384|521)"), "aws-ec-spec"),
    (re.compile(r"ECC_SECG_P256K1"), "aws-k1-spec"),
    (re.compile(r"ML_DSA_(44|65|87)"), "aws-mldsa"),
    (re.compile(r"SYMMETRIC_DEFAULT"), "aes256gcm"),
    # Google Cloud KMS
    (re.compile(r"RSA_SIGN_PSS_(2048|3072|4096)_SHA(?:256|512)"), "gcp-pss"),
    (re.compile(r"RSA_SIGN_PKCS1_(2048|3072|4096)_SHA(?:256|512)"), "gcp-pkcs1"),
    (re.compile(r"RSA_DECRYPT_OAEP_(2048|3072|4096)_SHA(?:1|256|512)"), "gcp-oaep"),
    (re.compile(r"EC_SIGN_P(256|384)_SHA(?:256|384)"), "gcp-ecdsa"),
    (re.compile(r"EC_SIGN_SECP256K1_SHA256"), "gcp-k1"),
    (re.compile(r"PQ_SIGN_ML_DSA_(44|65|87)"), "gcp-mldsa"),
    (re.compile(r"GOOGLE_SYMMETRIC_ENCRYPTION"), "aes256gcm"),
]


@cache
def kms_algorithm(value: str) -> tuple[str, str | None, str] | None:
    """(algorithm, parameter, usage) for a KMS algorithm identifier, else None."""
    for pattern, kind in _PATTERNS:
        m = pattern.fullmatch(value)
        if m is None:
            continue
        g = m.group(1) if m.groups() else None
        return {
            "aws-oaep": ("RSA-OAEP", None, "encrypt"),
            "aws-pss": ("RSA-PSS", None, "sign"),
            "aws-pkcs1": ("RSA", None, "sign"),
            "aws-ecdsa": ("ECDSA", _ECDSA_CURVE.get(g or ""), "sign"),
            "aws-rsa-spec": ("RSA", g, "keygen"),
            "aws-ec-spec": ("ECDSA", f"P-{g}", "keygen"),
            "aws-k1-spec": ("ECDSA", "secp256k1", "keygen"),
            "aws-mldsa": (f"ML-DSA-{g}", None, "sign"),
            "aes256gcm": ("AES-256-GCM", None, "encrypt"),
            "gcp-pss": ("RSA-PSS", g, "sign"),
            "gcp-pkcs1": ("RSA", g, "sign"),
            "gcp-oaep": ("RSA-OAEP", g, "decrypt"),
            "gcp-ecdsa": ("ECDSA", f"P-{g}", "sign"),
            "gcp-k1": ("ECDSA", "secp256k1", "sign"),
            "gcp-mldsa": (f"ML-DSA-{g}", None, "sign"),
        }[kind]
    return None

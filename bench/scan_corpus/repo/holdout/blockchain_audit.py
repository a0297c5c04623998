"""Anchor model hashes on a public ledger (secp256k1 with the ecdsa package)."""

import hashlib

from ecdsa import NIST384p, SECP256k1, SigningKey, VerifyingKey
from ecdsa.util import sigencode_der


def anchor_key(secret_exponent: int) -> SigningKey:
    return SigningKey.from_secret_exponent(secret_exponent, curve=SECP256k1)


def sign_anchor(key: SigningKey, model_hash: bytes) -> bytes:
    return key.sign_digest(model_hash, sigencode=sigencode_der)


def model_hash(weights: bytes) -> bytes:
    return hashlib.sha256(weights).digest()


def auditor_key(raw: bytes) -> VerifyingKey:
    return VerifyingKey.from_string(raw, curve=NIST384p)

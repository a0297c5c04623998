"""Odd import styles seen in vendored code: aliases, attribute chains, re-exports."""

import hashlib as hl
import hmac as _hmac
from hashlib import sha1 as _sha1

import cryptography.hazmat.primitives.hashes
from cryptography.hazmat.primitives.asymmetric import ec as curves
from cryptography.hazmat.primitives.asymmetric import ed25519 as _ed

DIGEST = hl.md5
DEFAULT_CURVE = curves.SECP521R1


def git_blob_id(data: bytes) -> str:
    return _sha1(b"blob %d\0" % len(data) + data).hexdigest()


def cache_key(*parts: str) -> str:
    return DIGEST("|".join(parts).encode()).hexdigest()


def full_chain_hash(data: bytes) -> bytes:
    h = cryptography.hazmat.primitives.hashes.Hash(cryptography.hazmat.primitives.hashes.SHA1())
    h.update(data)
    return h.finalize()


def mac(key: bytes, data: bytes) -> bytes:
    return _hmac.new(key, data, hl.sha3_256).digest()


def node_key():
    return curves.generate_private_key(DEFAULT_CURVE())


def release_key() -> _ed.Ed25519PrivateKey:
    return _ed.Ed25519PrivateKey.generate()


def sign_release(key: _ed.Ed25519PrivateKey, blob: bytes) -> bytes:
    return key.sign(blob)

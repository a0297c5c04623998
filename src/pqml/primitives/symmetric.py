"""Symmetric building blocks over pyca/cryptography: HKDF-SHA-256, HMAC-SHA-256,
ChaCha20-Poly1305 and scrypt.

Formats above this layer (age v1, the pqml/v1 header MAC) need exactly these, and only
this layer may import a backend, so they are thin, exact wrappers with pqml's errors:
nothing here adds a construction of its own.
"""

from __future__ import annotations

import hmac as _hmac
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from pqml.errors import DecryptionError

Buffer = bytes | bytearray | memoryview


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 HKDF-Extract(salt, ikm) then HKDF-Expand(info, length) with SHA-256."""
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """RFC 2104 HMAC-SHA-256."""
    mac = HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac.finalize()


def hmac_sha256_verify(key: bytes, data: bytes, tag: bytes) -> bool:
    """True iff ``tag`` is the HMAC-SHA-256 of ``data``; the comparison is constant time."""
    return _hmac.compare_digest(hmac_sha256(key, data), tag)


class ChaCha20Poly1305Key:
    """One RFC 8439 ChaCha20-Poly1305 key, set up once and reused for many messages
    (a STREAM payload seals thousands of chunks under one key)."""

    key_size = 32
    nonce_size = 12
    tag_size = 16

    def __init__(self, key: bytes) -> None:
        if len(key) != self.key_size:
            raise ValueError(f"ChaCha20-Poly1305 key must be 32 bytes, got {len(key)}")
        self._aead: Any = ChaCha20Poly1305(bytes(key))

    def seal(self, nonce: bytes, plaintext: Buffer, aad: bytes | None = None) -> bytes:
        return bytes(self._aead.encrypt(nonce, plaintext, aad))

    def open(self, nonce: bytes, ciphertext: Buffer, aad: bytes | None = None) -> bytes:
        """Decrypt and authenticate; raise DecryptionError (no detail: tags leak nothing)."""
        try:
            return bytes(self._aead.decrypt(nonce, ciphertext, aad))
        except InvalidTag:
            raise DecryptionError("ChaCha20-Poly1305 authentication failed") from None

    def __repr__(self) -> str:  # never show key material
        return "<ChaCha20-Poly1305 key>"


def scrypt(password: bytes, salt: bytes, log_n: int, r: int = 8, p: int = 1,
           length: int = 32) -> bytes:
    """RFC 7914 scrypt with N = 2**log_n."""
    if not 1 <= log_n < 64:
        raise ValueError(f"scrypt log2(N) must be in 1..63, got {log_n}")
    return Scrypt(salt=salt, length=length, n=1 << log_n, r=r, p=p).derive(password)

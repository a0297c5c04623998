"""Symmetric building blocks over pyca/cryptography: HKDF-SHA-256/384, HMAC-SHA-256,
ChaCha20-Poly1305, AES-256-GCM, scrypt and Argon2id.

Formats above this layer (age v1, the pqml/v1 header and stanzas) need exactly these, and
only this layer may import a backend, so they are thin, exact wrappers with pqml's errors:
nothing here adds a construction of its own. The chunked payload AEAD lives in
``pqml.primitives.chunked``.
"""

from __future__ import annotations

import hmac as _hmac
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from pqml.primitives.errors import DecryptionError

Buffer = bytes | bytearray | memoryview


def hkdf_sha256(ikm: bytes, salt: bytes, info: bytes, length: int = 32) -> bytes:
    """RFC 5869 HKDF-Extract(salt, ikm) then HKDF-Expand(info, length) with SHA-256."""
    return HKDF(hashes.SHA256(), length, salt, info).derive(ikm)


def hkdf_sha384(ikm: bytes, salt: bytes, info: bytes, length: int = 48) -> bytes:
    """RFC 5869 HKDF-Extract(salt, ikm) then HKDF-Expand(info, length) with SHA-384 (the
    CNSA 2.0 hash, paired with ML-KEM-1024 and AES-256)."""
    return HKDF(hashes.SHA384(), length, salt, info).derive(ikm)


_HKDF_HASHES = {"SHA-256": hashes.SHA256, "SHA-384": hashes.SHA384}


def hkdf_outputs(hash_name: str, ikm: bytes, salt: bytes,
                 outputs: Sequence[tuple[bytes, int]]) -> list[bytes]:
    """RFC 5869 HKDF of one ``ikm`` and ``salt`` for several ``(info, length)``: equal to
    one full HKDF per output, with the Extract done once (a schedule deriving a key and a
    nonce from the same secret pays for one HMAC fewer)."""
    algorithm = _HKDF_HASHES[hash_name]()
    prk = HKDF.extract(algorithm, salt, ikm)
    return [HKDFExpand(algorithm, length, info).derive(prk) for info, length in outputs]


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """RFC 2104 HMAC-SHA-256."""
    mac = HMAC(key, hashes.SHA256())
    mac.update(data)
    return mac.finalize()


def hmac_sha256_verify(key: bytes, data: bytes, tag: bytes) -> bool:
    """True iff ``tag`` is the HMAC-SHA-256 of ``data``; the comparison is constant time."""
    return _hmac.compare_digest(hmac_sha256(key, data), tag)


class _AEADKey:
    """One AEAD key (12-byte nonce, 16-byte tag) set up once and reused for many messages:
    a payload seals thousands of chunks under one key. Subclasses name the cipher."""

    name = ""
    key_size = 32
    nonce_size = 12
    tag_size = 16
    _backend: Any = None

    def __init__(self, key: bytes) -> None:
        if len(key) != self.key_size:
            raise ValueError(f"{self.name} key must be {self.key_size} bytes, got {len(key)}")
        self._aead: Any = type(self)._backend(bytes(key))

    def seal(self, nonce: bytes, plaintext: Buffer, aad: bytes | None = None) -> bytes:
        return bytes(self._aead.encrypt(nonce, plaintext, aad))

    def open(self, nonce: bytes, ciphertext: Buffer, aad: bytes | None = None) -> bytes:
        """Decrypt and authenticate; raise DecryptionError (no detail: tags leak nothing)."""
        try:
            return bytes(self._aead.decrypt(nonce, ciphertext, aad))
        except InvalidTag:
            raise DecryptionError(f"{self.name} authentication failed") from None

    def seal_into(self, nonce: bytes, plaintext: Buffer, out: Buffer) -> None:
        """Seal into ``out`` (exactly ``len(plaintext) + 16`` bytes): no allocation, which
        for thousands of 64 KiB chunks is page faults saved (bench/encryption.py)."""
        self._aead.encrypt_into(nonce, plaintext, None, out)

    def open_into(self, nonce: bytes, ciphertext: Buffer, out: Buffer) -> None:
        """Open into ``out`` (exactly ``len(ciphertext) - 16`` bytes); DecryptionError on a
        bad tag (``out`` then holds no plaintext the caller may use)."""
        try:
            self._aead.decrypt_into(nonce, ciphertext, None, out)
        except InvalidTag:
            raise DecryptionError(f"{self.name} authentication failed") from None

    def __repr__(self) -> str:  # never show key material
        return f"<{self.name} key>"


class ChaCha20Poly1305Key(_AEADKey):
    """RFC 8439 ChaCha20-Poly1305: age's STREAM payload and stanzas."""

    name = "ChaCha20-Poly1305"
    _backend = ChaCha20Poly1305


def scrypt(password: bytes, salt: bytes, log_n: int, r: int = 8, p: int = 1,
           length: int = 32) -> bytes:
    """RFC 7914 scrypt with N = 2**log_n."""
    if not 1 <= log_n < 64:
        raise ValueError(f"scrypt log2(N) must be in 1..63, got {log_n}")
    return Scrypt(salt=salt, length=length, n=1 << log_n, r=r, p=p).derive(password)


class AES256GCMKey(_AEADKey):
    """AES-256-GCM (NIST SP 800-38D): pqml/v1 passphrase stanzas seal with it, and random
    access opens payload chunks with it under the key C2SP chunked encryption derives."""

    name = "AES-256-GCM"
    _backend = AESGCM


def argon2id(password: bytes, salt: bytes, iterations: int, memory_kib: int, lanes: int,
             length: int = 32) -> bytes:
    """RFC 9106 Argon2id (version 0x13) with no secret and no associated data."""
    return Argon2id(salt=salt, length=length, iterations=iterations, lanes=lanes,
                    memory_cost=memory_kib).derive(password)

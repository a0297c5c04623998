"""Encrypt checkpoints before they are copied to the shared bucket (2021 design)."""

from __future__ import annotations

import hmac
import os
from hashlib import sha256

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

KEY_BYTES = 16


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encrypt_checkpoint(key: bytes, mac_key: bytes, data: bytes) -> bytes:
    nonce = os.urandom(16)
    enc = Cipher(algorithms.AES(key), modes.CTR(nonce)).encryptor()
    body = enc.update(data) + enc.finalize()
    tag = hmac.new(mac_key, nonce + body, sha256).digest()
    return nonce + body + tag


def decrypt_checkpoint(key: bytes, mac_key: bytes, blob: bytes) -> bytes:
    nonce, body, tag = blob[:16], blob[16:-32], blob[-32:]
    expected = hmac.new(mac_key, nonce + body, sha256).digest()
    if not hmac.compare_digest(tag, expected):
        raise ValueError("bad tag")
    dec = Cipher(algorithms.AES(key), modes.CTR(nonce)).decryptor()
    return dec.update(body) + dec.finalize()


def wrap_for_archive(key: bytes, data: bytes) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.ECB())
    enc = cipher.encryptor()
    return enc.update(data) + enc.finalize()

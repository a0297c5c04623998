"""Client-side encryption for the secrets vault (PyCryptodome)."""

from __future__ import annotations

from Crypto.Cipher import AES
from Crypto.Hash import SHA256, SHA512
from Crypto.Protocol.KDF import PBKDF2, scrypt
from Crypto.Random import get_random_bytes


def master_key(passphrase: str, salt: bytes) -> bytes:
    return PBKDF2(passphrase, salt, 32, count=200_000, hmac_hash_module=SHA256)


def unlock_key(passphrase: str, salt: bytes) -> bytes:
    return scrypt(passphrase, salt, key_len=32, N=2**17, r=8, p=1)


def seal(key: bytes, secret: bytes) -> tuple[bytes, bytes, bytes]:
    cipher = AES.new(key, AES.MODE_GCM)
    ciphertext, tag = cipher.encrypt_and_digest(secret)
    return cipher.nonce, ciphertext, tag


def new_item_key() -> bytes:
    return get_random_bytes(32)


def seal_item(secret: bytes) -> tuple[bytes, bytes]:
    item_key = get_random_bytes(32)
    cipher = AES.new(item_key, AES.MODE_GCM)
    return item_key, cipher.encrypt(secret)


def audit_hash(entry: bytes) -> str:
    return SHA512.new(entry).hexdigest()

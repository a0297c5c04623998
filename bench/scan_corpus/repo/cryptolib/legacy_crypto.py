"""Compatibility layer for artifacts produced by the 2019 pipeline (PyCryptodome)."""

from Crypto.Cipher import AES, DES3, PKCS1_OAEP
from Crypto.Hash import HMAC, SHA1, SHA256
from Crypto.Protocol.KDF import PBKDF2
from Crypto.PublicKey import RSA
from Crypto.Random import get_random_bytes
from Crypto.Signature import pkcs1_15
from Crypto.Util.Padding import pad, unpad

BLOCK = 16


def legacy_key(password: bytes, salt: bytes) -> bytes:
    return PBKDF2(password, salt, dkLen=32, count=10_000)


def encrypt_cbc(key: bytes, data: bytes) -> bytes:
    iv = get_random_bytes(BLOCK)
    cipher = AES.new(key, AES.MODE_CBC, iv)
    return iv + cipher.encrypt(pad(data, BLOCK))


def decrypt_cbc(key: bytes, blob: bytes) -> bytes:
    cipher = AES.new(key, AES.MODE_CBC, blob[:BLOCK])
    return unpad(cipher.decrypt(blob[BLOCK:]), BLOCK)


def decrypt_3des(key: bytes, blob: bytes) -> bytes:
    cipher = DES3.new(key, DES3.MODE_CBC, blob[:8])
    return cipher.decrypt(blob[8:])


def rsa_unwrap(private_pem: bytes, wrapped: bytes) -> bytes:
    key = RSA.import_key(private_pem)
    return PKCS1_OAEP.new(key).decrypt(wrapped)


def sign_manifest(private_pem: bytes, manifest: bytes) -> bytes:
    key = RSA.import_key(private_pem)
    digest = SHA256.new(manifest)
    return pkcs1_15.new(key).sign(digest)


def fingerprint(blob: bytes) -> str:
    return SHA1.new(blob).hexdigest()


def tag(key: bytes, blob: bytes) -> bytes:
    # digestmod omitted: PyCryptodome falls back to MD5
    return HMAC.new(key, blob).digest()


def new_keypair():
    return RSA.generate(2048)

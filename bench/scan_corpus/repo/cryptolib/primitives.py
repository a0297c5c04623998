"""Thin wrappers over pyca/cryptography used across the platform."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

PSS = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.MAX_LENGTH)
OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(),
                    label=None)


class Signer:
    KEY_SIZE = 3072

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(65537, self.KEY_SIZE)

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data, PSS, hashes.SHA256())

    def verify(self, signature: bytes, data: bytes) -> None:
        self.key.public_key().verify(signature, data, PSS, hashes.SHA256())

    def export(self) -> bytes:
        return self.key.private_bytes(serialization.Encoding.PEM,
                                      serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption())


def wrap_key(public_key: rsa.RSAPublicKey, data_key: bytes) -> bytes:
    return public_key.encrypt(data_key, OAEP)


def unwrap_key(private_key: rsa.RSAPrivateKey, wrapped: bytes) -> bytes:
    return private_key.decrypt(wrapped, OAEP)


def seal(key: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA384(), length=32, salt=None, info=info).derive(secret)


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=256)

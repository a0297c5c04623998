"""Envelope encryption for datasets: RSA-OAEP wrapped AES-256-GCM data keys."""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM


class Envelope:
    KEY_BITS = 4096

    def __init__(self) -> None:
        self.kek = rsa.generate_private_key(public_exponent=65537, key_size=self.KEY_BITS)

    def encrypt(self, data: bytes) -> tuple[bytes, bytes, bytes]:
        dek = os.urandom(32)
        nonce = os.urandom(12)
        ct = AESGCM(dek).encrypt(nonce, data, None)
        wrapped = self.kek.public_key().encrypt(
            dek,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None),
        )
        return wrapped, nonce, ct

    def decrypt(self, wrapped: bytes, nonce: bytes, ct: bytes) -> bytes:
        dek = self.kek.decrypt(
            wrapped,
            padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None),
        )
        return AESGCM(dek).decrypt(nonce, ct, None)

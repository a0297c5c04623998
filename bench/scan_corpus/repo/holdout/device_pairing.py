"""Pair edge devices with the fleet manager (X25519 + Ed25519)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class Device:
    def __init__(self, seed: bytes) -> None:
        self.identity = Ed25519PrivateKey.from_private_bytes(seed)
        self.dh = X25519PrivateKey.generate()

    def hello(self) -> tuple[bytes, bytes]:
        pub = self.dh.public_key().public_bytes(serialization.Encoding.Raw,
                                                serialization.PublicFormat.Raw)
        return pub, self.identity.sign(pub)

    def session_key(self, manager_pub: bytes) -> bytes:
        shared = self.dh.exchange(X25519PublicKey.from_public_bytes(manager_pub))
        return HKDF(algorithm=hashes.SHA512(), length=32, salt=None,
                    info=b"pairing").derive(shared)

"""Model registry: sign uploaded weights, verify before serving."""

from __future__ import annotations

import hashlib
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)


def weights_digest(path: Path) -> bytes:
    sha = hashlib.sha384()
    with path.open("rb") as f:
        while chunk := f.read(1 << 22):
            sha.update(chunk)
    return sha.digest()


class Registry:
    def __init__(self, signing_seed: bytes) -> None:
        self._signer = Ed25519PrivateKey.from_private_bytes(signing_seed)
        self.public = self._signer.public_key()

    def publish(self, path: Path) -> bytes:
        return self._signer.sign(weights_digest(path))

    @staticmethod
    def verify(public_raw: bytes, path: Path, signature: bytes) -> bool:
        pub = Ed25519PublicKey.from_public_bytes(public_raw)
        try:
            pub.verify(signature, weights_digest(path))
        except InvalidSignature:
            return False
        return True

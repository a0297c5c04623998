"""ML-KEM-768 / ML-KEM-1024 (FIPS 203) on pyca/cryptography; private keys are 64-byte seeds."""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import mlkem

from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, KEMScheme
from pqml.primitives.errors import DecryptionError, KeyFormatError

SEED_SIZE = 64


class MLKEMPublicKey(KEMPublicKey):
    def __init__(self, algorithm: str, key: Any) -> None:
        self.algorithm = algorithm
        self._key = key

    def public_bytes(self) -> bytes:
        return self._key.public_bytes_raw()

    def encapsulate(self) -> tuple[bytes, bytes]:
        return self._key.encapsulate()

    @property
    def backend_key(self) -> Any:
        return self._key


class MLKEMPrivateKey(KEMPrivateKey):
    def __init__(self, algorithm: str, key: Any, ct_size: int) -> None:
        self.algorithm = algorithm
        self._key = key
        self._ct_size = ct_size

    def public_key(self) -> MLKEMPublicKey:
        return MLKEMPublicKey(self.algorithm, self._key.public_key())

    def private_bytes(self) -> bytes:
        return self._key.private_bytes_raw()

    def decapsulate(self, ciphertext: bytes) -> bytes:
        if len(ciphertext) != self._ct_size:
            raise DecryptionError(
                f"{self.algorithm} ciphertext must be {self._ct_size} bytes, got {len(ciphertext)}"
            )
        return self._key.decapsulate(ciphertext)

    @property
    def backend_key(self) -> Any:
        return self._key


class MLKEMScheme(KEMScheme):
    def __init__(self, algorithm: str, private_cls: Any, public_cls: Any, pk: int, ct: int):
        self.algorithm = algorithm
        self._private_cls = private_cls
        self._public_cls = public_cls
        self._pk_size = pk
        self._ct_size = ct

    def generate(self) -> MLKEMPrivateKey:
        return MLKEMPrivateKey(self.algorithm, self._private_cls.generate(), self._ct_size)

    def private_from_bytes(self, data: bytes) -> MLKEMPrivateKey:
        if len(data) != SEED_SIZE:
            raise KeyFormatError(
                f"{self.algorithm} private key must be a {SEED_SIZE}-byte seed, got {len(data)}"
            )
        key = self._private_cls.from_seed_bytes(bytes(data))
        return MLKEMPrivateKey(self.algorithm, key, self._ct_size)

    def public_from_bytes(self, data: bytes) -> MLKEMPublicKey:
        if len(data) != self._pk_size:
            raise KeyFormatError(
                f"{self.algorithm} public key must be {self._pk_size} bytes, got {len(data)}"
            )
        try:
            key = self._public_cls.from_public_bytes(bytes(data))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"invalid {self.algorithm} public key: {exc}") from None
        return MLKEMPublicKey(self.algorithm, key)

    def wrap_private(self, key: Any) -> MLKEMPrivateKey:
        """Adopt a pyca key object (e.g. one loaded from PEM by cryptography)."""
        return MLKEMPrivateKey(self.algorithm, key, self._ct_size)

    def wrap_public(self, key: Any) -> MLKEMPublicKey:
        return MLKEMPublicKey(self.algorithm, key)


MLKEM768 = MLKEMScheme(
    "ML-KEM-768", mlkem.MLKEM768PrivateKey, mlkem.MLKEM768PublicKey, 1184, 1088
)
MLKEM1024 = MLKEMScheme(
    "ML-KEM-1024", mlkem.MLKEM1024PrivateKey, mlkem.MLKEM1024PublicKey, 1568, 1568
)

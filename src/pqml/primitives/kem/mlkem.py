"""ML-KEM-768 / ML-KEM-1024 (FIPS 203) on pyca/cryptography; private keys are 64-byte seeds."""

from __future__ import annotations

from typing import Any

from cryptography.hazmat.primitives.asymmetric import mlkem

from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, KEMScheme, require_size
from pqml.primitives.errors import DecryptionError
from pqml.primitives.pyca_keys import PycaPrivateKey, PycaPublicKey, RawKeys

SEED_SIZE = 64


class MLKEMPublicKey(PycaPublicKey, KEMPublicKey):
    def encapsulate(self) -> tuple[bytes, bytes]:
        return self._key.encapsulate()


class MLKEMPrivateKey(PycaPrivateKey, KEMPrivateKey):
    _scheme: MLKEMScheme

    def decapsulate(self, ciphertext: bytes) -> bytes:
        what, size = f"{self.algorithm} ciphertext", self._scheme.ciphertext_size
        ciphertext = require_size(ciphertext, size, what, DecryptionError)
        return self._key.decapsulate(ciphertext)


class MLKEMScheme(RawKeys, KEMScheme):
    public_key_class = MLKEMPublicKey
    private_key_class = MLKEMPrivateKey

    def __init__(self, algorithm: str, private_cls: Any, public_cls: Any, pk: int, ct: int):
        super().__init__(algorithm, private_cls, public_cls, pk, SEED_SIZE, seed=True)
        self.ciphertext_size = ct


MLKEM768 = MLKEMScheme(
    "ML-KEM-768", mlkem.MLKEM768PrivateKey, mlkem.MLKEM768PublicKey, 1184, 1088
)
MLKEM1024 = MLKEMScheme(
    "ML-KEM-1024", mlkem.MLKEM1024PrivateKey, mlkem.MLKEM1024PublicKey, 1568, 1568
)

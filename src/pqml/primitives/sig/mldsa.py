"""ML-DSA-44 / 65 / 87 (FIPS 204, pure mode) on pyca/cryptography.

Private keys are stored as the 32-byte seed xi (RFC 9881 seed form): the expanded key is
re-derived on load, so a stored key can never disagree with its public key. Signing is
hedged (cryptography draws fresh randomness), which FIPS 204 recommends over deterministic.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import mldsa

from pqml.primitives.base import SignatureScheme, SigningKey, VerifyingKey
from pqml.primitives.errors import (
    InvalidSignatureError,
    KeyFormatError,
    PqmlError,
    WrongKeyTypeError,
)

SEED_SIZE = 32
MAX_CONTEXT = 255


def check_context(algorithm: str, context: bytes) -> None:
    """FIPS 204/205 encode len(ctx) in one byte; longer contexts are a caller error."""
    if len(context) > MAX_CONTEXT:
        raise PqmlError(
            f"{algorithm} context string is {len(context)} bytes; at most {MAX_CONTEXT} allowed"
        )


class MLDSAPublicKey(VerifyingKey):
    supports_context = True

    def __init__(self, algorithm: str, key: Any, sig_size: int) -> None:
        self.algorithm = algorithm
        self._key = key
        self._sig_size = sig_size

    def public_bytes(self) -> bytes:
        return self._key.public_bytes_raw()

    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        check_context(self.algorithm, context)
        if len(signature) != self._sig_size:
            raise InvalidSignatureError(
                f"{self.algorithm} signature must be {self._sig_size} bytes, got {len(signature)}"
            )
        try:
            self._key.verify(bytes(signature), bytes(message), bytes(context))
        except InvalidSignature:
            raise InvalidSignatureError(f"{self.algorithm} signature is invalid") from None

    @property
    def backend_key(self) -> Any:
        return self._key


class MLDSAPrivateKey(SigningKey):
    supports_context = True

    def __init__(self, algorithm: str, key: Any, sig_size: int) -> None:
        self.algorithm = algorithm
        self._key = key
        self._sig_size = sig_size

    def public_key(self) -> MLDSAPublicKey:
        return MLDSAPublicKey(self.algorithm, self._key.public_key(), self._sig_size)

    def private_bytes(self) -> bytes:
        return self._key.private_bytes_raw()

    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        check_context(self.algorithm, context)
        return self._key.sign(bytes(message), bytes(context))

    @property
    def backend_key(self) -> Any:
        return self._key


class MLDSAScheme(SignatureScheme):
    def __init__(
        self, algorithm: str, private_cls: Any, public_cls: Any, pk_size: int, sig_size: int
    ) -> None:
        self.algorithm = algorithm
        self._private_cls = private_cls
        self._public_cls = public_cls
        self.public_key_size = pk_size
        self.private_key_size = SEED_SIZE
        self.signature_size = sig_size

    def generate(self) -> MLDSAPrivateKey:
        return MLDSAPrivateKey(self.algorithm, self._private_cls.generate(), self.signature_size)

    def private_from_bytes(self, data: bytes) -> MLDSAPrivateKey:
        if len(data) != SEED_SIZE:
            raise KeyFormatError(
                f"{self.algorithm} private key must be a {SEED_SIZE}-byte seed, got {len(data)}"
            )
        try:
            key = self._private_cls.from_seed_bytes(bytes(data))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"invalid {self.algorithm} private key: {exc}") from None
        return MLDSAPrivateKey(self.algorithm, key, self.signature_size)

    def public_from_bytes(self, data: bytes) -> MLDSAPublicKey:
        if len(data) != self.public_key_size:
            raise KeyFormatError(
                f"{self.algorithm} public key must be {self.public_key_size} bytes, got {len(data)}"
            )
        try:
            key = self._public_cls.from_public_bytes(bytes(data))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"invalid {self.algorithm} public key: {exc}") from None
        return MLDSAPublicKey(self.algorithm, key, self.signature_size)

    def wrap_private(self, key: Any) -> MLDSAPrivateKey:
        """Adopt a pyca key object (e.g. one cryptography loaded from PKCS#8)."""
        if not isinstance(key, self._private_cls):
            raise WrongKeyTypeError(f"not an {self.algorithm} private key: {type(key).__name__}")
        return MLDSAPrivateKey(self.algorithm, key, self.signature_size)

    def wrap_public(self, key: Any) -> MLDSAPublicKey:
        if not isinstance(key, self._public_cls):
            raise WrongKeyTypeError(f"not an {self.algorithm} public key: {type(key).__name__}")
        return MLDSAPublicKey(self.algorithm, key, self.signature_size)


MLDSA44 = MLDSAScheme("ML-DSA-44", mldsa.MLDSA44PrivateKey, mldsa.MLDSA44PublicKey, 1312, 2420)
MLDSA65 = MLDSAScheme("ML-DSA-65", mldsa.MLDSA65PrivateKey, mldsa.MLDSA65PublicKey, 1952, 3309)
MLDSA87 = MLDSAScheme("ML-DSA-87", mldsa.MLDSA87PrivateKey, mldsa.MLDSA87PublicKey, 2592, 4627)

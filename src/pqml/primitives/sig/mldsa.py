"""ML-DSA-44 / 65 / 87 (FIPS 204, pure mode) on pyca/cryptography.

Private keys are stored as the 32-byte seed xi (RFC 9881 seed form): the expanded key is
re-derived on load, so a stored key can never disagree with its public key. Signing is
hedged (cryptography draws fresh randomness), which FIPS 204 recommends over deterministic.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import mldsa

from pqml.primitives.base import SignatureScheme, SigningKey, VerifyingKey, require_size
from pqml.primitives.errors import InvalidSignatureError, PqmlError
from pqml.primitives.pyca_keys import PycaPrivateKey, PycaPublicKey, RawKeys

SEED_SIZE = 32
MAX_CONTEXT = 255


def check_context(algorithm: str, context: bytes) -> None:
    """FIPS 204/205 encode len(ctx) in one byte; longer contexts are a caller error."""
    if len(context) > MAX_CONTEXT:
        raise PqmlError(
            f"{algorithm} context string is {len(context)} bytes; at most {MAX_CONTEXT} allowed"
        )


class MLDSAPublicKey(PycaPublicKey, VerifyingKey):
    supports_context = True
    _scheme: MLDSAScheme

    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        check_context(self.algorithm, context)
        what, size = f"{self.algorithm} signature", self._scheme.signature_size
        signature = require_size(signature, size, what, InvalidSignatureError)
        try:
            self._key.verify(signature, bytes(message), bytes(context))
        except InvalidSignature:
            raise InvalidSignatureError(f"{self.algorithm} signature is invalid") from None


class MLDSAPrivateKey(PycaPrivateKey, SigningKey):
    supports_context = True

    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        check_context(self.algorithm, context)
        return self._key.sign(bytes(message), bytes(context))


class MLDSAScheme(RawKeys, SignatureScheme):
    public_key_class = MLDSAPublicKey
    private_key_class = MLDSAPrivateKey

    def __init__(
        self, algorithm: str, private_cls: Any, public_cls: Any, pk_size: int, sig_size: int
    ) -> None:
        super().__init__(algorithm, private_cls, public_cls, pk_size, SEED_SIZE, seed=True)
        self.signature_size = sig_size


MLDSA44 = MLDSAScheme("ML-DSA-44", mldsa.MLDSA44PrivateKey, mldsa.MLDSA44PublicKey, 1312, 2420)
MLDSA65 = MLDSAScheme("ML-DSA-65", mldsa.MLDSA65PrivateKey, mldsa.MLDSA65PublicKey, 1952, 3309)
MLDSA87 = MLDSAScheme("ML-DSA-87", mldsa.MLDSA87PrivateKey, mldsa.MLDSA87PublicKey, 2592, 4627)

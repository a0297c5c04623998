"""Ed25519 (RFC 8032) on pyca/cryptography: legacy, quantum-vulnerable, kept for verification.

Keys are the raw 32-byte RFC 8032 encodings; Ed25519 has no context input here (pure Ed25519,
not Ed25519ctx), so a non-empty context is refused.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519

from pqml.primitives.base import (
    SignatureScheme,
    SigningKey,
    VerifyingKey,
    reject_context,
    require_size,
)
from pqml.primitives.errors import InvalidSignatureError
from pqml.primitives.pyca_keys import PycaPrivateKey, PycaPublicKey, RawKeys

ALGORITHM = "Ed25519"
KEY_SIZE = 32
SIGNATURE_SIZE = 64


class Ed25519PublicKey(PycaPublicKey, VerifyingKey):
    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        reject_context(self.algorithm, context)
        signature = require_size(
            signature, SIGNATURE_SIZE, "Ed25519 signature", InvalidSignatureError
        )
        try:
            self._key.verify(signature, bytes(message))
        except InvalidSignature:
            raise InvalidSignatureError("Ed25519 signature is invalid") from None


class Ed25519PrivateKey(PycaPrivateKey, SigningKey):
    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        reject_context(self.algorithm, context)
        return self._key.sign(bytes(message))


class Ed25519Scheme(RawKeys, SignatureScheme):
    public_key_class = Ed25519PublicKey
    private_key_class = Ed25519PrivateKey
    signature_size = SIGNATURE_SIZE


SCHEME = Ed25519Scheme(
    ALGORITHM, ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey, KEY_SIZE, KEY_SIZE
)

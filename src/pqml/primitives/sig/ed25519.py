"""Ed25519 (RFC 8032) on pyca/cryptography: legacy, quantum-vulnerable, kept for verification.

Keys are the raw 32-byte RFC 8032 encodings; Ed25519 has no context input here (pure Ed25519,
not Ed25519ctx), so a non-empty context is refused.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ed25519

from pqml.primitives.base import SignatureScheme, SigningKey, VerifyingKey, reject_context
from pqml.primitives.errors import InvalidSignatureError, KeyFormatError, WrongKeyTypeError

ALGORITHM = "Ed25519"
KEY_SIZE = 32
SIGNATURE_SIZE = 64


class Ed25519PublicKey(VerifyingKey):
    algorithm = ALGORITHM

    def __init__(self, key: ed25519.Ed25519PublicKey) -> None:
        self._key = key

    def public_bytes(self) -> bytes:
        return self._key.public_bytes_raw()

    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        reject_context(self.algorithm, context)
        if len(signature) != SIGNATURE_SIZE:
            raise InvalidSignatureError(
                f"Ed25519 signature must be {SIGNATURE_SIZE} bytes, got {len(signature)}"
            )
        try:
            self._key.verify(bytes(signature), bytes(message))
        except InvalidSignature:
            raise InvalidSignatureError("Ed25519 signature is invalid") from None

    @property
    def backend_key(self) -> Any:
        return self._key


class Ed25519PrivateKey(SigningKey):
    algorithm = ALGORITHM

    def __init__(self, key: ed25519.Ed25519PrivateKey) -> None:
        self._key = key

    def public_key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey(self._key.public_key())

    def private_bytes(self) -> bytes:
        return self._key.private_bytes_raw()

    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        reject_context(self.algorithm, context)
        return self._key.sign(bytes(message))

    @property
    def backend_key(self) -> Any:
        return self._key


class Ed25519Scheme(SignatureScheme):
    algorithm = ALGORITHM
    public_key_size = KEY_SIZE
    private_key_size = KEY_SIZE
    signature_size = SIGNATURE_SIZE

    def generate(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey(ed25519.Ed25519PrivateKey.generate())

    def private_from_bytes(self, data: bytes) -> Ed25519PrivateKey:
        if len(data) != KEY_SIZE:
            raise KeyFormatError(f"Ed25519 private key must be {KEY_SIZE} bytes, got {len(data)}")
        try:
            return Ed25519PrivateKey(ed25519.Ed25519PrivateKey.from_private_bytes(bytes(data)))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"invalid Ed25519 private key: {exc}") from None

    def public_from_bytes(self, data: bytes) -> Ed25519PublicKey:
        if len(data) != KEY_SIZE:
            raise KeyFormatError(f"Ed25519 public key must be {KEY_SIZE} bytes, got {len(data)}")
        try:
            return Ed25519PublicKey(ed25519.Ed25519PublicKey.from_public_bytes(bytes(data)))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"invalid Ed25519 public key: {exc}") from None

    def wrap_private(self, key: Any) -> Ed25519PrivateKey:
        """Adopt a pyca key object (e.g. one loaded from PEM by cryptography)."""
        if not isinstance(key, ed25519.Ed25519PrivateKey):
            raise WrongKeyTypeError(f"not an Ed25519 private key: {type(key).__name__}")
        return Ed25519PrivateKey(key)

    def wrap_public(self, key: Any) -> Ed25519PublicKey:
        if not isinstance(key, ed25519.Ed25519PublicKey):
            raise WrongKeyTypeError(f"not an Ed25519 public key: {type(key).__name__}")
        return Ed25519PublicKey(key)


SCHEME = Ed25519Scheme()

"""Uniform key interfaces that every KEM and signature module implements.

Formats and features above this layer see only these types, so swapping a backend
or adding a scheme never touches them (crypto agility).
"""

from __future__ import annotations

import hmac
from abc import ABC, abstractmethod


class PublicKey(ABC):
    """A public key of some registered algorithm."""

    algorithm: str  # canonical registry name

    @abstractmethod
    def public_bytes(self) -> bytes:
        """The raw public key as the algorithm's standard encodes it."""

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return self.algorithm == other.algorithm and hmac.compare_digest(
            self.public_bytes(), other.public_bytes()
        )

    def __hash__(self) -> int:
        return hash((self.algorithm, self.public_bytes()))

    def __repr__(self) -> str:
        return f"<{self.algorithm} public key>"


class PrivateKey(ABC):
    """A private key; ``private_bytes`` is the stored form (a seed where the standard allows)."""

    algorithm: str

    @abstractmethod
    def public_key(self) -> PublicKey: ...

    @abstractmethod
    def private_bytes(self) -> bytes: ...

    def __repr__(self) -> str:  # never show secret material
        return f"<{self.algorithm} private key>"


class KEMPublicKey(PublicKey):
    @abstractmethod
    def encapsulate(self) -> tuple[bytes, bytes]:
        """Return ``(shared_secret, ciphertext)``, the order pyca uses."""


class KEMPrivateKey(PrivateKey):
    @abstractmethod
    def public_key(self) -> KEMPublicKey: ...

    @abstractmethod
    def decapsulate(self, ciphertext: bytes) -> bytes:
        """Return the shared secret; raise DecryptionError on malformed input."""


class VerifyingKey(PublicKey):
    supports_context: bool = False

    @abstractmethod
    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        """Return None or raise :class:`pqml.errors.InvalidSignatureError`."""


class SigningKey(PrivateKey):
    supports_context: bool = False

    @abstractmethod
    def public_key(self) -> VerifyingKey: ...

    @abstractmethod
    def sign(self, message: bytes, context: bytes = b"") -> bytes: ...


class Scheme(ABC):
    """Factory for one algorithm's keys; a module exposes exactly one per algorithm."""

    algorithm: str

    @abstractmethod
    def generate(self) -> PrivateKey: ...

    @abstractmethod
    def private_from_bytes(self, data: bytes) -> PrivateKey:
        """Load the stored form; raise KeyFormatError on wrong length or content."""

    @abstractmethod
    def public_from_bytes(self, data: bytes) -> PublicKey:
        """Load the raw public key; raise KeyFormatError on wrong length or content."""


class KEMScheme(Scheme):
    @abstractmethod
    def generate(self) -> KEMPrivateKey: ...

    @abstractmethod
    def private_from_bytes(self, data: bytes) -> KEMPrivateKey: ...

    @abstractmethod
    def public_from_bytes(self, data: bytes) -> KEMPublicKey: ...


class SignatureScheme(Scheme):
    @abstractmethod
    def generate(self) -> SigningKey: ...

    @abstractmethod
    def private_from_bytes(self, data: bytes) -> SigningKey: ...

    @abstractmethod
    def public_from_bytes(self, data: bytes) -> VerifyingKey: ...


def reject_context(algorithm: str, context: bytes) -> None:
    """Schemes without a context input must not silently drop one."""
    if context:
        from pqml.primitives.errors import PqmlError

        raise PqmlError(f"{algorithm} does not support a signature context string")

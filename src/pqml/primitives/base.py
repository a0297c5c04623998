"""Uniform key interfaces that every KEM and signature module implements.

Formats and features above this layer see only these types, so swapping a backend
or adding a scheme never touches them (crypto agility). Below them are the backend-free
pieces the kem/ and sig/ modules share (size checks, keys held as byte strings);
pyca_keys.py holds the ones for pyca/cryptography key objects.
"""

from __future__ import annotations

import hmac
from abc import ABC, abstractmethod
from typing import Any, Generic, TypeVar

from pqml.primitives.errors import InvalidSignatureError, KeyFormatError, PqmlError


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


PrivT = TypeVar("PrivT", bound=PrivateKey, covariant=True)
PubT = TypeVar("PubT", bound=PublicKey, covariant=True)


class Scheme(ABC, Generic[PrivT, PubT]):
    """Factory for one algorithm's keys; a module exposes exactly one per algorithm."""

    algorithm: str

    @abstractmethod
    def generate(self) -> PrivT: ...

    @abstractmethod
    def private_from_bytes(self, data: bytes) -> PrivT:
        """Load the stored form; raise KeyFormatError on wrong length or content."""

    @abstractmethod
    def public_from_bytes(self, data: bytes) -> PubT:
        """Load the raw public key; raise KeyFormatError on wrong length or content."""


class KEMScheme(Scheme[KEMPrivateKey, KEMPublicKey]):
    """Factory for a KEM's keys."""


class SignatureScheme(Scheme[SigningKey, VerifyingKey]):
    """Factory for a signature scheme's keys."""


# ---- helpers the kem/ and sig/ modules share ---------------------------------------------


def require_size(
    data: bytes,
    size: int,
    what: str,
    error: type[PqmlError] = KeyFormatError,
    form: str = "",
) -> bytes:
    """``bytes(data)`` if it is ``size`` bytes long, else ``error``: "<what> must be <size>
    bytes" or, with ``form``, "<what> must be a <size>-byte <form>", then ", got <length>".

    Backends are handed only inputs of their exact size (pypqc passes buffers to C unchecked).
    """
    if len(data) != size:
        expected = f"a {size}-byte {form}" if form else f"{size} bytes"
        raise error(f"{what} must be {expected}, got {len(data)}")
    return bytes(data)


def reject_context(algorithm: str, context: bytes) -> None:
    """Schemes without a context input must not silently drop one."""
    if context:
        raise PqmlError(f"{algorithm} does not support a signature context string")


# ---- keys held as byte strings (pqcrypto's SLH-DSA, pypqc's Falcon) ------------------------


class EncodedPublicKey(PublicKey):
    """A public key held as its encoding, for backends that take byte strings."""

    def __init__(self, scheme: Any, data: bytes) -> None:
        self.algorithm = scheme.algorithm
        self._scheme = scheme
        self._pk = data

    def public_bytes(self) -> bytes:
        return self._pk


class EncodedSigningKey(SigningKey):
    """A private key held as its stored form, which ends with the public key (SLH-DSA's
    FIPS 205 layout; pqml's Falcon form, PQClean sk ‖ pk).

    These backends sign with whatever public half the key holds, never checking it against
    the secret half, so :meth:`_checked` verifies each signature under the stored public key
    before it is returned; that also catches faults during signing.
    """

    def __init__(self, scheme: Any, data: bytes) -> None:
        self.algorithm = scheme.algorithm
        self._scheme = scheme
        self._sk = data

    def public_key(self) -> Any:
        scheme = self._scheme
        return scheme.public_key_class(scheme, self._sk[len(self._sk) - scheme.public_key_size :])

    def private_bytes(self) -> bytes:
        return self._sk

    def _checked(self, signature: bytes, message: bytes, context: bytes, halves: str) -> bytes:
        try:
            self.public_key().verify(signature, message, context)
        except InvalidSignatureError:
            raise KeyFormatError(
                f"{self.algorithm} private key is inconsistent: {halves}"
            ) from None
        return signature

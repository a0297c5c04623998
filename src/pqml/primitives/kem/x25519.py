"""X25519 as a KEM (ephemeral-static ECDH); classical, kept for age v1 and migration.

The shared secret is the raw X25519 output: protocols above (HPKE's DHKEM, age's
stanza) apply their own KDF, so this module stays a thin, exact wrapper.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import x25519

from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, KEMScheme
from pqml.primitives.errors import DecryptionError, KeyFormatError, WrongKeyTypeError

ALGORITHM = "X25519"


class X25519PublicKey(KEMPublicKey):
    algorithm = ALGORITHM

    def __init__(self, key: x25519.X25519PublicKey) -> None:
        self._key = key

    def public_bytes(self) -> bytes:
        return self._key.public_bytes_raw()

    def encapsulate(self) -> tuple[bytes, bytes]:
        eph = x25519.X25519PrivateKey.generate()
        return eph.exchange(self._key), eph.public_key().public_bytes_raw()

    @property
    def backend_key(self) -> x25519.X25519PublicKey:
        return self._key


class X25519PrivateKey(KEMPrivateKey):
    algorithm = ALGORITHM

    def __init__(self, key: x25519.X25519PrivateKey) -> None:
        self._key = key

    def public_key(self) -> X25519PublicKey:
        return X25519PublicKey(self._key.public_key())

    def private_bytes(self) -> bytes:
        return self._key.private_bytes_raw()

    def decapsulate(self, ciphertext: bytes) -> bytes:
        if len(ciphertext) != 32:
            raise DecryptionError(f"X25519 share must be 32 bytes, got {len(ciphertext)}")
        try:
            return self._key.exchange(x25519.X25519PublicKey.from_public_bytes(ciphertext))
        except ValueError:
            raise DecryptionError("X25519 share is a low-order point") from None

    @property
    def backend_key(self) -> x25519.X25519PrivateKey:
        return self._key


class X25519Scheme(KEMScheme):
    algorithm = ALGORITHM

    def generate(self) -> X25519PrivateKey:
        return X25519PrivateKey(x25519.X25519PrivateKey.generate())

    def private_from_bytes(self, data: bytes) -> X25519PrivateKey:
        if len(data) != 32:
            raise KeyFormatError(f"X25519 private key must be 32 bytes, got {len(data)}")
        return X25519PrivateKey(x25519.X25519PrivateKey.from_private_bytes(bytes(data)))

    def public_from_bytes(self, data: bytes) -> X25519PublicKey:
        if len(data) != 32:
            raise KeyFormatError(f"X25519 public key must be 32 bytes, got {len(data)}")
        return X25519PublicKey(x25519.X25519PublicKey.from_public_bytes(bytes(data)))

    def wrap_private(self, key: x25519.X25519PrivateKey) -> X25519PrivateKey:
        """Adopt a pyca key object (e.g. one loaded from PEM by cryptography)."""
        if not isinstance(key, x25519.X25519PrivateKey):
            raise WrongKeyTypeError(f"expected an X25519 private key, got {type(key).__name__}")
        return X25519PrivateKey(key)

    def wrap_public(self, key: x25519.X25519PublicKey) -> X25519PublicKey:
        if not isinstance(key, x25519.X25519PublicKey):
            raise WrongKeyTypeError(f"expected an X25519 public key, got {type(key).__name__}")
        return X25519PublicKey(key)


SCHEME = X25519Scheme()

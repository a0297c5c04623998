"""Elliptic-curve Diffie-Hellman as a KEM: X25519, X448, P-256, P-384, P-521, in one place.

Every pqml use of ECDH goes through these key classes: the X25519 registry entry (age v1
recipients, kem/x25519.py), HPKE's DHKEMs (hpke.py) and the DH halves of X-Wing and
MLKEM1024-P384. ``encapsulate`` is raw ephemeral-static DH: it returns (DH output, ephemeral
public key) and applies no KDF, because every protocol above applies its own.

Encodings are RFC 9180 §7.1.1's SerializePublicKey / SerializePrivateKey (pyca_keys.py holds
them): the raw RFC 7748 bytes for X25519 and X448; for the NIST curves the uncompressed SEC1
point (a compressed one is refused) and the private scalar big-endian at curve size. A DH
output pyca refuses, the all-zero result of a low-order X25519/X448 point, is an error here,
never a zero secret.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec, x448, x25519

from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, KEMScheme
from pqml.primitives.errors import DecryptionError, KeyFormatError, PqmlError
from pqml.primitives.pyca_keys import PycaPrivateKey, PycaPublicKey, PycaScheme, RawKeys, SEC1Keys


class ECDHPublicKey(PycaPublicKey, KEMPublicKey):
    _scheme: ECDHScheme

    def encapsulate(self) -> tuple[bytes, bytes]:
        """Raw ephemeral-static DH: (DH output, ephemeral public key); no KDF applied."""
        eph = self._scheme.generate()
        dh = self._scheme.exchange(eph.backend_key, self._key, KeyFormatError, "public key")
        return dh, eph.public_key().public_bytes()


class ECDHPrivateKey(PycaPrivateKey, KEMPrivateKey):
    _scheme: ECDHScheme

    def decapsulate(self, ciphertext: bytes) -> bytes:
        """DH with the peer's (ephemeral) public key ``ciphertext``; DecryptionError if unusable."""
        peer = self._scheme.load_public(ciphertext, DecryptionError, "share")
        return self._scheme.exchange(self._key, peer, DecryptionError, "share")


class ECDHScheme(PycaScheme, KEMScheme):
    """One curve's ECDH; :class:`MontgomeryScheme` or :class:`NISTScheme` give the encoding."""

    public_key_class = ECDHPublicKey
    private_key_class = ECDHPrivateKey

    @abstractmethod
    def _exchange(self, private: Any, public: Any) -> bytes:
        """The DH output; ValueError where pyca refuses it (low-order point)."""

    def exchange(self, private: Any, public: Any, error: type[PqmlError], what: str) -> bytes:
        try:
            return bytes(self._exchange(private, public))
        except ValueError:  # pyca refuses an all-zero result: the peer is a low-order point
            raise error(f"{self.algorithm} {what} is a low-order point") from None


class MontgomeryScheme(RawKeys, ECDHScheme):
    """X25519 / X448 (RFC 7748): any byte string of the right length is a key."""

    def __init__(self, algorithm: str, private_cls: Any, public_cls: Any, size: int) -> None:
        super().__init__(algorithm, private_cls, public_cls, size, size)

    def _exchange(self, private: Any, public: Any) -> bytes:
        return private.exchange(public)


class NISTScheme(SEC1Keys, ECDHScheme):
    """P-256 / P-384 / P-521; ``order`` and ``from_scalar`` serve DeriveKeyPair/RandomScalar."""

    def _exchange(self, private: Any, public: Any) -> bytes:
        return private.exchange(ec.ECDH(), public)


X25519 = MontgomeryScheme("X25519", x25519.X25519PrivateKey, x25519.X25519PublicKey, 32)
X448 = MontgomeryScheme("X448", x448.X448PrivateKey, x448.X448PublicKey, 56)
ECDH_P256 = NISTScheme("ECDH-P256", ec.SECP256R1())
ECDH_P384 = NISTScheme("ECDH-P384", ec.SECP384R1())
ECDH_P521 = NISTScheme("ECDH-P521", ec.SECP521R1())

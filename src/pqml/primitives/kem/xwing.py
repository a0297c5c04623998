"""X-Wing (draft-connolly-cfrg-xwing-kem): ML-KEM-768 + X25519 with a SHA3-256 combiner.

pyca/cryptography has no X-Wing object, so this composes its ML-KEM-768 and X25519
exactly as the draft says: the 32-byte seed expands with SHAKE256 into the ML-KEM seed
(d ‖ z) and the X25519 scalar.
"""

from __future__ import annotations

import hashlib

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519

from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, KEMScheme
from pqml.primitives.errors import DecryptionError, KeyFormatError

ALGORITHM = "X-Wing"
SEED_SIZE = 32
PUBLIC_KEY_SIZE = 1216
CIPHERTEXT_SIZE = 1120
_MLKEM_PK = 1184
_MLKEM_CT = 1088
LABEL = b"\\.//^\\"  # 5c2e2f2f5e5c, the draft's XWingLabel


def combiner(ss_m: bytes, ss_x: bytes, ct_x: bytes, pk_x: bytes) -> bytes:
    return hashlib.sha3_256(ss_m + ss_x + ct_x + pk_x + LABEL).digest()


def expand_seed(seed: bytes) -> tuple[bytes, bytes]:
    """Return (ML-KEM-768 seed d‖z, X25519 private scalar) for an X-Wing seed."""
    expanded = hashlib.shake_256(seed).digest(96)
    return expanded[:64], expanded[64:96]


class XWingPublicKey(KEMPublicKey):
    algorithm = ALGORITHM

    def __init__(self, pk_m: mlkem.MLKEM768PublicKey, pk_x: x25519.X25519PublicKey) -> None:
        self._pk_m = pk_m
        self._pk_x = pk_x
        self._pk_x_bytes = pk_x.public_bytes_raw()

    def public_bytes(self) -> bytes:
        return self._pk_m.public_bytes_raw() + self._pk_x_bytes

    def encapsulate(self) -> tuple[bytes, bytes]:
        ek_x = x25519.X25519PrivateKey.generate()
        ct_x = ek_x.public_key().public_bytes_raw()
        ss_x = ek_x.exchange(self._pk_x)
        ss_m, ct_m = self._pk_m.encapsulate()
        return combiner(ss_m, ss_x, ct_x, self._pk_x_bytes), ct_m + ct_x

    @property
    def components(self) -> tuple[mlkem.MLKEM768PublicKey, x25519.X25519PublicKey]:
        return self._pk_m, self._pk_x

    @property
    def backend_key(self) -> hpke.MLKEM768X25519PublicKey:
        """pyca's HPKE key object for KEM.MLKEM768_X25519 (what ``hpke.Suite`` accepts)."""
        return hpke.MLKEM768X25519PublicKey(self._pk_m, self._pk_x)


class XWingPrivateKey(KEMPrivateKey):
    algorithm = ALGORITHM

    def __init__(self, seed: bytes) -> None:
        self._seed = bytes(seed)
        d_z, sk_x = expand_seed(self._seed)
        self._sk_m = mlkem.MLKEM768PrivateKey.from_seed_bytes(d_z)
        self._sk_x = x25519.X25519PrivateKey.from_private_bytes(sk_x)
        self._public: XWingPublicKey | None = None
        self._pk_x_bytes = self._sk_x.public_key().public_bytes_raw()

    def public_key(self) -> XWingPublicKey:
        if self._public is None:  # derived on demand: keygen-then-save need not pay twice
            self._public = XWingPublicKey(self._sk_m.public_key(), self._sk_x.public_key())
        return self._public

    def private_bytes(self) -> bytes:
        return self._seed

    def decapsulate(self, ciphertext: bytes) -> bytes:
        if len(ciphertext) != CIPHERTEXT_SIZE:
            raise DecryptionError(
                f"X-Wing ciphertext must be {CIPHERTEXT_SIZE} bytes, got {len(ciphertext)}"
            )
        ct_m, ct_x = ciphertext[:_MLKEM_CT], ciphertext[_MLKEM_CT:]
        ss_m = self._sk_m.decapsulate(ct_m)
        try:
            ss_x = self._sk_x.exchange(x25519.X25519PublicKey.from_public_bytes(ct_x))
        except ValueError:  # pyca refuses an all-zero (low-order) X25519 result
            raise DecryptionError("X-Wing ciphertext has a low-order X25519 share") from None
        return combiner(ss_m, ss_x, ct_x, self._pk_x_bytes)

    @property
    def components(self) -> tuple[mlkem.MLKEM768PrivateKey, x25519.X25519PrivateKey]:
        return self._sk_m, self._sk_x

    @property
    def backend_key(self) -> hpke.MLKEM768X25519PrivateKey:
        """pyca's HPKE key object for KEM.MLKEM768_X25519 (what ``hpke.Suite`` accepts)."""
        return hpke.MLKEM768X25519PrivateKey(self._sk_m, self._sk_x)


class XWingScheme(KEMScheme):
    algorithm = ALGORITHM

    def generate(self) -> XWingPrivateKey:
        import os

        return XWingPrivateKey(os.urandom(SEED_SIZE))

    def private_from_bytes(self, data: bytes) -> XWingPrivateKey:
        if len(data) != SEED_SIZE:
            raise KeyFormatError(f"X-Wing private key must be a 32-byte seed, got {len(data)}")
        return XWingPrivateKey(data)

    def public_from_bytes(self, data: bytes) -> XWingPublicKey:
        if len(data) != PUBLIC_KEY_SIZE:
            raise KeyFormatError(
                f"X-Wing public key must be {PUBLIC_KEY_SIZE} bytes, got {len(data)}"
            )
        try:
            pk_m = mlkem.MLKEM768PublicKey.from_public_bytes(bytes(data[:_MLKEM_PK]))
            pk_x = x25519.X25519PublicKey.from_public_bytes(bytes(data[_MLKEM_PK:]))
        except ValueError as exc:
            raise KeyFormatError(f"invalid X-Wing public key: {exc}") from None
        return XWingPublicKey(pk_m, pk_x)


SCHEME = XWingScheme()

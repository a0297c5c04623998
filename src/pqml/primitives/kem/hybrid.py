"""ML-KEM + ECDH hybrid KEMs with a SHA3-256 combiner: X-Wing, MLKEM1024-P384, MLKEM768-P256.

All three are the "QSF" construction of draft-irtf-cfrg-concrete-hybrid-kems (X-Wing is
also draft-connolly-cfrg-xwing-kem), composed from pyca/cryptography's ML-KEM and the ECDH keys
of kem/ecdh.py; they differ only in parameters (xwing.py, mlkem1024_p384.py):

- the private key is a 32-byte seed; SHAKE256(seed) gives the 64-byte ML-KEM seed (d ‖ z)
  followed by Group.Nseed bytes, from which Group.RandomScalar takes the ECDH private key
  (X25519: the 32 bytes as they are; a NIST curve: the first big-endian Nscalar-byte chunk in
  [1, n-1]);
- public key and ciphertext are the ML-KEM part followed by the ECDH part (X25519 bytes or an
  uncompressed SEC1 point);
- ss = SHA3-256(ss_M ‖ ss_T ‖ ct_T ‖ ek_T ‖ label), ss_T the ECDH output.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm

from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, KEMScheme, require_size
from pqml.primitives.errors import DecryptionError, KeyFormatError, UnavailableAlgorithmError
from pqml.primitives.kem import ecdh

SEED_SIZE = 32
_MLKEM_SEED = 64


class _HybridKey:
    _scheme: HybridScheme
    _m: Any  # the ML-KEM half, a pyca key
    _t: Any  # the ECDH half, an ecdh.ECDHPublicKey / ECDHPrivateKey
    _private: bool

    @property
    def components(self) -> tuple[Any, Any]:
        """The ML-KEM key and the ECDH key, both pyca objects."""
        return self._m, self._t.backend_key

    @property
    def backend_key(self) -> Any:
        """pyca's HPKE key object for this KEM (what ``hpke.Suite`` accepts)."""
        return self._scheme.pyca_class(self._private)(*self.components)


class HybridPublicKey(_HybridKey, KEMPublicKey):
    _private = False

    def __init__(self, scheme: HybridScheme, pk_m: Any, pk_t: ecdh.ECDHPublicKey) -> None:
        self.algorithm = scheme.algorithm
        self._scheme = scheme
        self._m = pk_m
        self._t = pk_t

    def public_bytes(self) -> bytes:
        return self._m.public_bytes_raw() + self._t.public_bytes()

    def encapsulate(self) -> tuple[bytes, bytes]:
        ss_m, ct_m = self._m.encapsulate()
        ss_t, ct_t = self._t.encapsulate()  # a uniform ephemeral key, as RandomScalar gives
        return self._scheme.combiner(ss_m, ss_t, ct_t, self._t.public_bytes()), ct_m + ct_t


class HybridPrivateKey(_HybridKey, KEMPrivateKey):
    _private = True

    def __init__(self, scheme: HybridScheme, seed: bytes) -> None:
        self.algorithm = scheme.algorithm
        self._scheme = scheme
        self._seed = bytes(seed)
        d_z, self._t = scheme.expand_seed(self._seed)
        self._m = scheme.mlkem_private.from_seed_bytes(d_z)

    def public_key(self) -> HybridPublicKey:
        return self._public

    @cached_property
    def _public(self) -> HybridPublicKey:  # on demand: keygen-then-save need not pay twice
        return self._scheme.public_key_class(
            self._scheme, self._m.public_key(), self._t.public_key()
        )

    def private_bytes(self) -> bytes:
        return self._seed

    def decapsulate(self, ciphertext: bytes) -> bytes:
        s = self._scheme
        what = f"{self.algorithm} ciphertext"
        ciphertext = require_size(ciphertext, s.ciphertext_size, what, DecryptionError)
        ct_m, ct_t = ciphertext[: s.mlkem_ct_size], ciphertext[s.mlkem_ct_size :]
        ss_m = self._m.decapsulate(ct_m)
        try:  # ecdh refuses an invalid point and an all-zero (low-order) X25519 result
            ss_t = self._t.decapsulate(ct_t)
        except DecryptionError as exc:
            raise DecryptionError(f"{what}: {exc}") from None
        return s.combiner(ss_m, ss_t, ct_t, self._t.public_key().public_bytes())


class HybridScheme(KEMScheme):
    """One ML-KEM + ECDH parameter set."""

    public_key_class = HybridPublicKey
    private_key_class = HybridPrivateKey

    def __init__(
        self,
        algorithm: str,
        label: bytes,
        mlkem_private: Any,
        mlkem_public: Any,
        mlkem_pk_size: int,
        mlkem_ct_size: int,
        group: ecdh.ECDHScheme,
        group_seed_size: int,
        pyca_hpke: tuple[str, str] | None = None,
    ) -> None:
        self.algorithm = algorithm
        self.label = label
        self.mlkem_private = mlkem_private
        self._mlkem_public = mlkem_public
        self.mlkem_pk_size = mlkem_pk_size
        self.mlkem_ct_size = mlkem_ct_size
        self.group = group
        self.group_seed_size = group_seed_size
        self.public_key_size = mlkem_pk_size + group.public_key_size
        self.ciphertext_size = mlkem_ct_size + group.public_key_size
        self._pyca_hpke = pyca_hpke  # names of pyca's hpke (private, public) classes, if any

    # ---- the draft's building blocks, public so tests can run EncapsDerand --------------

    def combiner(self, ss_m: bytes, ss_t: bytes, ct_t: bytes, ek_t: bytes) -> bytes:
        return hashlib.sha3_256(ss_m + ss_t + ct_t + ek_t + self.label).digest()

    def random_scalar(self, seed: bytes) -> int:
        """NIST Group.RandomScalar: the first Nscalar-byte chunk that is a valid nonzero scalar."""
        group = self.group
        assert isinstance(group, ecdh.NISTScheme)
        n = group.private_key_size
        for start in range(0, len(seed) - n + 1, n):
            value = int.from_bytes(seed[start : start + n], "big")
            if 0 < value < group.order:
                return value
        raise KeyFormatError(f"{self.algorithm}: scalar rejection sampling failed")

    def expand_seed(self, seed: bytes) -> tuple[bytes, ecdh.ECDHPrivateKey]:
        """Return (ML-KEM seed d‖z, ECDH private key) for a 32-byte hybrid seed."""
        full = hashlib.shake_256(seed).digest(_MLKEM_SEED + self.group_seed_size)
        d_z, seed_t = full[:_MLKEM_SEED], full[_MLKEM_SEED:]
        if isinstance(self.group, ecdh.NISTScheme):
            return d_z, self.group.from_scalar(self.random_scalar(seed_t))
        return d_z, self.group.private_from_bytes(seed_t)  # X25519: RandomScalar(seed) = seed

    def pyca_class(self, private: bool) -> Any:
        if self._pyca_hpke is None:
            raise UnavailableAlgorithmError(
                f"cryptography has no HPKE key object for {self.algorithm}"
            )
        from cryptography.hazmat.primitives import hpke

        return getattr(hpke, self._pyca_hpke[0 if private else 1])

    # ---- Scheme interface ----------------------------------------------------------------

    def generate(self) -> HybridPrivateKey:
        return self.private_key_class(self, os.urandom(SEED_SIZE))

    def private_from_bytes(self, data: bytes) -> HybridPrivateKey:
        data = require_size(data, SEED_SIZE, f"{self.algorithm} private key", form="seed")
        return self.private_key_class(self, data)

    def public_from_bytes(self, data: bytes) -> HybridPublicKey:
        data = require_size(data, self.public_key_size, f"{self.algorithm} public key")
        try:
            pk_m = self._mlkem_public.from_public_bytes(data[: self.mlkem_pk_size])
            pk_t = self.group.public_from_bytes(data[self.mlkem_pk_size :])
        except (ValueError, UnsupportedAlgorithm) as exc:  # KeyFormatError is a ValueError
            raise KeyFormatError(f"invalid {self.algorithm} public key: {exc}") from None
        return self.public_key_class(self, pk_m, pk_t)

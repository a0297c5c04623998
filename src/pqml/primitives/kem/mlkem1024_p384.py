"""MLKEM1024-P384 (HPKE KEM 0x0051): ML-KEM-1024 + ECDH P-384 with a SHA3-256 combiner.

Composed from pyca/cryptography's ML-KEM and ECDH exactly as draft-irtf-cfrg-concrete-hybrid-kems
and draft-ietf-hpke-pq define it, so keys and ciphertexts interoperate with
``cryptography.hazmat.primitives.hpke.KEM.MLKEM1024_P384`` and Go's crypto/hpke:

- the private key is a 32-byte seed; SHAKE256(seed) gives the 64-byte ML-KEM seed (d ‖ z)
  followed by Group.Nseed bytes, cut into big-endian scalars and rejection-sampled
  (first one in [1, n-1] wins);
- public key and ciphertext are the ML-KEM part followed by an uncompressed SEC1 point;
- ss = SHA3-256(ss_PQ ‖ ss_T ‖ ct_T ‖ ek_T ‖ label), ss_T the ECDH x-coordinate.

The same construction with ML-KEM-768 and P-256 (MLKEM768-P256, HPKE KEM 0x0050) costs one
more parameter set, so it lives here too as ``MLKEM768_P256``; it has no registry entry.
"""

from __future__ import annotations

import hashlib
import os
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec, mlkem
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, KEMScheme
from pqml.primitives.errors import DecryptionError, KeyFormatError, UnavailableAlgorithmError

SEED_SIZE = 32
_MLKEM_SEED = 64

# Group orders (SP 800-186 §3.2.1), needed for RandomScalar's rejection test.
_P256_N = int("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16)
_P384_N = int(
    "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
    "581a0db248b0a77aecec196accc52973",
    16,
)


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


class HybridScheme(KEMScheme):
    """One ML-KEM + NIST-curve hybrid parameter set (the draft's "QSF" construction)."""

    def __init__(
        self,
        algorithm: str,
        label: bytes,
        mlkem_private: Any,
        mlkem_public: Any,
        mlkem_pk_size: int,
        mlkem_ct_size: int,
        curve: ec.EllipticCurve,
        order: int,
        group_seed_size: int,
        pyca_hpke: tuple[str, str] | None = None,
    ) -> None:
        self.algorithm = algorithm
        self.label = label
        self._mlkem_private = mlkem_private
        self._mlkem_public = mlkem_public
        self.mlkem_pk_size = mlkem_pk_size
        self.mlkem_ct_size = mlkem_ct_size
        self.curve = curve
        self.order = order
        self.scalar_size = (curve.key_size + 7) // 8
        self.point_size = 1 + 2 * self.scalar_size
        self.group_seed_size = group_seed_size
        self.public_key_size = mlkem_pk_size + self.point_size
        self.ciphertext_size = mlkem_ct_size + self.point_size
        self._pyca_hpke = pyca_hpke  # names of pyca's hpke (private, public) classes, if any

    # ---- the draft's building blocks, public so tests can run EncapsDerand --------------

    def combiner(self, ss_pq: bytes, ss_t: bytes, ct_t: bytes, ek_t: bytes) -> bytes:
        return hashlib.sha3_256(ss_pq + ss_t + ct_t + ek_t + self.label).digest()

    def random_scalar(self, seed: bytes) -> int:
        """Group.RandomScalar: the first Nscalar-byte chunk that is a valid nonzero scalar."""
        n = self.scalar_size
        for start in range(0, len(seed) - n + 1, n):
            value = int.from_bytes(seed[start : start + n], "big")
            if 0 < value < self.order:
                return value
        raise KeyFormatError(f"{self.algorithm}: scalar rejection sampling failed")

    def expand_seed(self, seed: bytes) -> tuple[bytes, int]:
        """Return (ML-KEM seed d‖z, curve private scalar) for a 32-byte hybrid seed."""
        full = hashlib.shake_256(seed).digest(_MLKEM_SEED + self.group_seed_size)
        return full[:_MLKEM_SEED], self.random_scalar(full[_MLKEM_SEED:])

    def pyca_class(self, private: bool) -> Any:
        if self._pyca_hpke is None:
            raise UnavailableAlgorithmError(
                f"cryptography has no HPKE key object for {self.algorithm}"
            )
        from cryptography.hazmat.primitives import hpke

        return getattr(hpke, self._pyca_hpke[0 if private else 1])

    # ---- Scheme interface ----------------------------------------------------------------

    def generate(self) -> HybridPrivateKey:
        return HybridPrivateKey(self, os.urandom(SEED_SIZE))

    def private_from_bytes(self, data: bytes) -> HybridPrivateKey:
        if len(data) != SEED_SIZE:
            raise KeyFormatError(
                f"{self.algorithm} private key must be a {SEED_SIZE}-byte seed, got {len(data)}"
            )
        return HybridPrivateKey(self, bytes(data))

    def public_from_bytes(self, data: bytes) -> HybridPublicKey:
        if len(data) != self.public_key_size:
            raise KeyFormatError(
                f"{self.algorithm} public key must be {self.public_key_size} bytes, got {len(data)}"
            )
        data = bytes(data)
        try:
            pk_m = self._mlkem_public.from_public_bytes(data[: self.mlkem_pk_size])
            pk_t = self.load_point(data[self.mlkem_pk_size :])
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"invalid {self.algorithm} public key: {exc}") from None
        return HybridPublicKey(self, pk_m, pk_t)

    def load_point(self, data: bytes) -> ec.EllipticCurvePublicKey:
        """Octet-String-to-Elliptic-Curve-Point, uncompressed form only (ValueError otherwise)."""
        if len(data) != self.point_size or data[0] != 0x04:
            raise ValueError("not an uncompressed point of the right size")
        return ec.EllipticCurvePublicKey.from_encoded_point(self.curve, data)


class HybridPublicKey(KEMPublicKey):
    def __init__(self, scheme: HybridScheme, pk_m: Any, pk_t: ec.EllipticCurvePublicKey) -> None:
        self.algorithm = scheme.algorithm
        self._scheme = scheme
        self._pk_m = pk_m
        self._pk_t = pk_t
        self._pk_t_bytes = _point(pk_t)

    def public_bytes(self) -> bytes:
        return self._pk_m.public_bytes_raw() + self._pk_t_bytes

    def encapsulate(self) -> tuple[bytes, bytes]:
        s = self._scheme
        ss_m, ct_m = self._pk_m.encapsulate()
        ek = ec.generate_private_key(s.curve)  # uniform scalar, as RandomScalar gives
        ct_t = _point(ek.public_key())
        ss_t = ek.exchange(ec.ECDH(), self._pk_t)
        return s.combiner(ss_m, ss_t, ct_t, self._pk_t_bytes), ct_m + ct_t

    @property
    def components(self) -> tuple[Any, ec.EllipticCurvePublicKey]:
        return self._pk_m, self._pk_t

    @property
    def backend_key(self) -> Any:
        """pyca's HPKE public key object (what ``hpke.Suite.encrypt`` accepts)."""
        return self._scheme.pyca_class(private=False)(self._pk_m, self._pk_t)


class HybridPrivateKey(KEMPrivateKey):
    def __init__(self, scheme: HybridScheme, seed: bytes) -> None:
        self.algorithm = scheme.algorithm
        self._scheme = scheme
        self._seed = seed
        d_z, scalar = scheme.expand_seed(seed)
        self._sk_m = scheme._mlkem_private.from_seed_bytes(d_z)
        self._sk_t = ec.derive_private_key(scalar, scheme.curve)
        self._public = HybridPublicKey(scheme, self._sk_m.public_key(), self._sk_t.public_key())

    def public_key(self) -> HybridPublicKey:
        return self._public

    def private_bytes(self) -> bytes:
        return self._seed

    def decapsulate(self, ciphertext: bytes) -> bytes:
        s = self._scheme
        if len(ciphertext) != s.ciphertext_size:
            raise DecryptionError(
                f"{self.algorithm} ciphertext must be {s.ciphertext_size} bytes, "
                f"got {len(ciphertext)}"
            )
        ciphertext = bytes(ciphertext)
        ct_m, ct_t = ciphertext[: s.mlkem_ct_size], ciphertext[s.mlkem_ct_size :]
        ss_m = self._sk_m.decapsulate(ct_m)
        try:
            ss_t = self._sk_t.exchange(ec.ECDH(), s.load_point(ct_t))
        except ValueError:
            raise DecryptionError(
                f"{self.algorithm} ciphertext has an invalid {s.curve.name} point"
            ) from None
        return s.combiner(ss_m, ss_t, ct_t, self._public._pk_t_bytes)

    @property
    def components(self) -> tuple[Any, ec.EllipticCurvePrivateKey]:
        return self._sk_m, self._sk_t

    @property
    def backend_key(self) -> Any:
        """pyca's HPKE private key object (what ``hpke.Suite.decrypt`` accepts)."""
        return self._scheme.pyca_class(private=True)(self._sk_m, self._sk_t)


SCHEME = HybridScheme(
    "MLKEM1024-P384",
    b"MLKEM1024-P384",
    mlkem.MLKEM1024PrivateKey,
    mlkem.MLKEM1024PublicKey,
    1568,
    1568,
    ec.SECP384R1(),
    _P384_N,
    group_seed_size=48,
    pyca_hpke=("MLKEM1024P384PrivateKey", "MLKEM1024P384PublicKey"),
)

MLKEM768_P256 = HybridScheme(
    "MLKEM768-P256",
    b"MLKEM768-P256",
    mlkem.MLKEM768PrivateKey,
    mlkem.MLKEM768PublicKey,
    1184,
    1088,
    ec.SECP256R1(),
    _P256_N,
    group_seed_size=128,
)

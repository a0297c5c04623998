"""pqml keys over pyca/cryptography key objects: what the kem/ and sig/ modules share.

Most schemes keep one pyca key object per pqml key. :class:`PycaPublicKey` and
:class:`PycaPrivateKey` hold it (``backend_key`` hands it back, for PKCS#8 export and pyca's
HPKE) and ask their scheme to encode it, so a scheme module adds only its operation
(encapsulate, decapsulate, sign, verify). :class:`PycaScheme` loads the stored forms with
exact-size checks and typed errors and adopts pyca objects (``wrap_private`` /
``wrap_public``), over one of two encodings:

- :class:`RawKeys`: pyca's raw encodings (X25519, X448, Ed25519), or the seed where the
  standard stores one (ML-KEM, ML-DSA: ``from_seed_bytes``);
- :class:`SEC1Keys`: NIST curves, the uncompressed SEC1 point and the big-endian scalar
  (ECDH in kem/ecdh.py, ECDSA in sig/ecdsa.py).

RSA keys use the two key classes with rsa_keys.py's DER encodings.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from functools import cached_property
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives.asymmetric import ec

from pqml.primitives.base import PrivateKey, PublicKey, Scheme, require_size
from pqml.primitives.errors import KeyFormatError, PqmlError, WrongKeyTypeError


class _PycaKey:
    """Its scheme gives ``algorithm``, ``encode_public`` / ``encode_private`` and
    ``public_key_class``: a :class:`PycaScheme` or, for RSA, rsa_keys.RSAKeys."""

    def __init__(self, scheme: Any, key: Any) -> None:
        self.algorithm = scheme.algorithm
        self._scheme = scheme
        self._key = key

    @property
    def backend_key(self) -> Any:
        """The pyca key object."""
        return self._key


class PycaPublicKey(_PycaKey, PublicKey):
    def public_bytes(self) -> bytes:
        return self._scheme.encode_public(self._key)


class PycaPrivateKey(_PycaKey, PrivateKey):
    def public_key(self) -> Any:
        return self._public

    @cached_property
    def _public(self) -> PycaPublicKey:
        return self._scheme.public_key_class(self._scheme, self._key.public_key())

    def private_bytes(self) -> bytes:
        return self._scheme.encode_private(self._key)


class PycaScheme(Scheme):
    """One algorithm's pyca keys: load, generate, adopt; subclasses give the encoding."""

    public_key_class: type[PycaPublicKey]
    private_key_class: type[PycaPrivateKey]
    public_key_size: int
    private_key_size: int
    private_form = ""  # what size errors call the private form: "a 64-byte seed"

    # ---- the encoding ---------------------------------------------------------------------

    @abstractmethod
    def _generate(self) -> Any: ...

    @abstractmethod
    def _load_private(self, data: bytes) -> Any:
        """The pyca key for ``private_key_size`` bytes; ValueError if they are not one."""

    @abstractmethod
    def _load_public(self, data: bytes) -> Any:
        """The pyca key for ``public_key_size`` bytes; ValueError if they are not one."""

    @abstractmethod
    def _backend_class(self, private: bool) -> Any:
        """The pyca class ``wrap_private`` / ``wrap_public`` accept."""

    @abstractmethod
    def encode_public(self, key: Any) -> bytes: ...

    @abstractmethod
    def encode_private(self, key: Any) -> bytes: ...

    def _same_parameters(self, key: Any) -> bool:
        """For ``wrap_*``: the pyca object, of the right class, has this scheme's parameters."""
        return True

    # ---- Scheme interface -----------------------------------------------------------------

    def generate(self) -> Any:
        return self.private_key_class(self, self._generate())

    def private_from_bytes(self, data: bytes) -> Any:
        what = f"{self.algorithm} private key"
        data = require_size(data, self.private_key_size, what, form=self.private_form)
        return self.private_key_class(self, _parse(self._load_private, data, what))

    def public_from_bytes(self, data: bytes) -> Any:
        return self.public_key_class(self, self.load_public(data))

    def load_public(
        self, data: bytes, error: type[PqmlError] = KeyFormatError, what: str = "public key"
    ) -> Any:
        """The pyca public key for ``data``, or ``error`` naming ``what``."""
        what = f"{self.algorithm} {what}"
        data = require_size(data, self.public_key_size, what, error)
        return _parse(self._load_public, data, what, error)

    def wrap_private(self, key: Any) -> Any:
        """Adopt a pyca key object (e.g. one loaded from PEM by cryptography)."""
        return self.private_key_class(self, self._adopt(key, private=True))

    def wrap_public(self, key: Any) -> Any:
        return self.public_key_class(self, self._adopt(key, private=False))

    def _adopt(self, key: Any, private: bool) -> Any:
        if not (isinstance(key, self._backend_class(private)) and self._same_parameters(key)):
            kind = "private" if private else "public"
            raise WrongKeyTypeError(
                f"expected an {self.algorithm} {kind} key, got {type(key).__name__}"
            )
        return key


def _parse(
    load: Callable[[bytes], Any], data: bytes, what: str, error: type[PqmlError] = KeyFormatError
) -> Any:
    try:
        return load(data)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise error(f"invalid {what}: {exc}") from None


class RawKeys(PycaScheme):
    """pyca's raw encodings (``*_bytes_raw``); with ``seed``, the private form is the seed."""

    def __init__(
        self,
        algorithm: str,
        private_cls: Any,
        public_cls: Any,
        public_key_size: int,
        private_key_size: int,
        seed: bool = False,
    ) -> None:
        self.algorithm = algorithm
        self._private_cls = private_cls
        self._public_cls = public_cls
        self.public_key_size = public_key_size
        self.private_key_size = private_key_size
        self.private_form = "seed" if seed else ""
        self._from_private = private_cls.from_seed_bytes if seed else private_cls.from_private_bytes

    def _generate(self) -> Any:
        return self._private_cls.generate()

    def _load_private(self, data: bytes) -> Any:
        return self._from_private(data)

    def _load_public(self, data: bytes) -> Any:
        return self._public_cls.from_public_bytes(data)

    def _backend_class(self, private: bool) -> Any:
        return self._private_cls if private else self._public_cls

    def encode_public(self, key: Any) -> bytes:
        return bytes(key.public_bytes_raw())

    def encode_private(self, key: Any) -> bytes:
        return bytes(key.private_bytes_raw())


# Group orders (SP 800-186 §3.2.1): the private scalar must lie in [1, n-1].
_ORDERS = {
    "secp256r1": int("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551", 16),
    "secp384r1": int(
        "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
        "581a0db248b0a77aecec196accc52973",
        16,
    ),
    "secp521r1": int(
        "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff"
        "fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
        16,
    ),
}


class SEC1Keys(PycaScheme):
    """P-256 / P-384 / P-521: the uncompressed SEC1 point (a compressed one is refused) and the
    private scalar big-endian at curve size (SEC1 2.3.7), in [1, n-1]."""

    private_form = "scalar"

    def __init__(self, algorithm: str, curve: ec.EllipticCurve) -> None:
        self.algorithm = algorithm
        self.curve = curve
        self.order = _ORDERS[curve.name]
        self.private_key_size = (curve.key_size + 7) // 8
        self.public_key_size = 1 + 2 * self.private_key_size

    def from_scalar(self, value: int) -> Any:
        """The private key whose scalar is ``value`` (which must lie in [1, n-1])."""
        return self.private_key_class(self, ec.derive_private_key(value, self.curve))

    def _generate(self) -> Any:
        return ec.generate_private_key(self.curve)

    def _load_private(self, data: bytes) -> Any:
        value = int.from_bytes(data, "big")
        if not 0 < value < self.order:
            raise ValueError("scalar out of range")
        return ec.derive_private_key(value, self.curve)

    def _load_public(self, data: bytes) -> Any:
        if data[0] != 0x04:
            raise ValueError("not an uncompressed SEC1 point")
        return ec.EllipticCurvePublicKey.from_encoded_point(self.curve, data)

    def _backend_class(self, private: bool) -> Any:
        return ec.EllipticCurvePrivateKey if private else ec.EllipticCurvePublicKey

    def _same_parameters(self, key: Any) -> bool:
        return key.curve.name == self.curve.name

    def encode_public(self, key: Any) -> bytes:
        # Imported here: the serialization package costs ~15 ms, and X25519 users need none.
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return bytes(key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint))

    def encode_private(self, key: Any) -> bytes:
        scalar: int = key.private_numbers().private_value
        return scalar.to_bytes(self.private_key_size, "big")

"""Composite ML-DSA (draft-ietf-lamps-pq-composite-sigs) on pyca/cryptography.

A composite signature is valid only if BOTH the ML-DSA and the traditional signature verify,
so it stays unforgeable while either algorithm stands. Both components sign the same message
representative (draft "Prefix, Label, and CTX"):

    M' = Prefix ‖ Label ‖ len(ctx) ‖ ctx ‖ PH(M)

and ML-DSA additionally receives the Label as its own FIPS 204 context. Encodings follow the
draft's "Serialization" section exactly, so keys and signatures interoperate:

* public key  = ML-DSA pk ‖ traditional pk (raw Ed key / uncompressed SEC1 point /
  PKCS#1 RSAPublicKey DER)
* private key = ML-DSA 32-byte seed ‖ traditional sk (raw Ed seed / RFC 5915 ECPrivateKey DER
  without the publicKey field / PKCS#1 RSAPrivateKey DER)
* signature   = ML-DSA signature ‖ traditional signature (Ed / DER Ecdsa-Sig-Value / RSA)

Labels, OIDs and per-algorithm hashes are those of the draft's algParams table (and its
reference generator), which are what its published test vectors use.
"""

from __future__ import annotations

import hashlib
import hmac
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

from pqml.primitives.base import SignatureScheme, SigningKey, VerifyingKey
from pqml.primitives.errors import InvalidSignatureError, KeyFormatError
from pqml.primitives.sig.ecdsa import max_der_signature_size
from pqml.primitives.sig.mldsa import (
    MLDSA44,
    MLDSA65,
    MLDSA87,
    SEED_SIZE,
    MLDSAPrivateKey,
    MLDSAPublicKey,
    MLDSAScheme,
    check_context,
)

PREFIX = b"CompositeAlgorithmSignatures2025"


# ---- traditional components -------------------------------------------------------------


class _Traditional(ABC):
    """One traditional component: its key encodings and its sign/verify over M'."""

    public_key_size: int | None = None
    private_key_size: int | None = None
    signature_size: int | None = None
    max_signature_size: int

    @abstractmethod
    def generate(self) -> Any: ...

    @abstractmethod
    def load_private(self, data: bytes) -> Any:
        """Parse the draft's private encoding; raise ValueError (any kind) if malformed."""

    @abstractmethod
    def load_public(self, data: bytes) -> Any: ...

    @abstractmethod
    def private_bytes(self, key: Any) -> bytes: ...

    @abstractmethod
    def public_bytes(self, key: Any) -> bytes: ...

    @abstractmethod
    def sign(self, key: Any, data: bytes) -> bytes: ...

    @abstractmethod
    def verify(self, key: Any, signature: bytes, data: bytes) -> None:
        """Raise InvalidSignature or ValueError if the signature does not verify."""


class _EdDSA(_Traditional):
    def __init__(self, private_cls: Any, public_cls: Any, key_size: int) -> None:
        self._private_cls = private_cls
        self._public_cls = public_cls
        self.public_key_size = self.private_key_size = key_size
        self.signature_size = self.max_signature_size = 2 * key_size

    def generate(self) -> Any:
        return self._private_cls.generate()

    def load_private(self, data: bytes) -> Any:
        if len(data) != self.private_key_size:
            raise ValueError(f"EdDSA private key must be {self.private_key_size} bytes")
        return self._private_cls.from_private_bytes(data)

    def load_public(self, data: bytes) -> Any:
        if len(data) != self.public_key_size:
            raise ValueError(f"EdDSA public key must be {self.public_key_size} bytes")
        return self._public_cls.from_public_bytes(data)

    def private_bytes(self, key: Any) -> bytes:
        return key.private_bytes_raw()

    def public_bytes(self, key: Any) -> bytes:
        return key.public_bytes_raw()

    def sign(self, key: Any, data: bytes) -> bytes:
        return key.sign(data)

    def verify(self, key: Any, signature: bytes, data: bytes) -> None:
        key.verify(signature, data)


def _der_tlv(tag: int, content: bytes) -> bytes:
    """Short-form DER TLV; every ECPrivateKey part here is under 128 bytes."""
    if len(content) >= 128:
        raise ValueError("content too long for short-form DER length")
    return bytes([tag, len(content)]) + content


class _ECDSA(_Traditional):
    def __init__(self, curve: ec.EllipticCurve, hash_alg: hashes.HashAlgorithm, oid_der: str):
        self._curve = curve
        self._algorithm = ec.ECDSA(hash_alg)
        self._curve_oid_der = bytes.fromhex(oid_der)
        self._scalar_size = (curve.key_size + 7) // 8
        self.public_key_size = 1 + 2 * self._scalar_size
        self.private_key_size = len(self._encode_private(bytes(self._scalar_size)))
        self.max_signature_size = max_der_signature_size(curve)

    def _encode_private(self, scalar: bytes) -> bytes:
        # RFC 5915 ECPrivateKey { version 1, privateKey, [0] namedCurve } without publicKey,
        # as the draft's Serialization section requires; pyca's encoder always adds publicKey.
        body = b"\x02\x01\x01" + _der_tlv(0x04, scalar) + _der_tlv(0xA0, self._curve_oid_der)
        return _der_tlv(0x30, body)

    def generate(self) -> Any:
        return ec.generate_private_key(self._curve)

    def load_private(self, data: bytes) -> Any:
        key = serialization.load_der_private_key(data, password=None)
        if not (isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == self._curve.name):
            raise ValueError(f"not a {self._curve.name} ECPrivateKey")
        return key

    def load_public(self, data: bytes) -> Any:
        if len(data) != self.public_key_size or data[:1] != b"\x04":
            raise ValueError(f"not an uncompressed {self._curve.name} point")
        return ec.EllipticCurvePublicKey.from_encoded_point(self._curve, data)

    def private_bytes(self, key: Any) -> bytes:
        scalar = key.private_numbers().private_value.to_bytes(self._scalar_size, "big")
        return self._encode_private(scalar)

    def public_bytes(self, key: Any) -> bytes:
        return key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def sign(self, key: Any, data: bytes) -> bytes:
        return key.sign(data, self._algorithm)

    def verify(self, key: Any, signature: bytes, data: bytes) -> None:
        key.verify(signature, data, self._algorithm)


class _RSA(_Traditional):
    def __init__(self, bits: int, hash_alg: hashes.HashAlgorithm, pss: bool) -> None:
        self._bits = bits
        self._hash = hash_alg
        self._padding: padding.AsymmetricPadding = (
            padding.PSS(mgf=padding.MGF1(hash_alg), salt_length=hash_alg.digest_size)
            if pss
            else padding.PKCS1v15()
        )
        self.signature_size = self.max_signature_size = bits // 8

    def _check(self, key: Any, kind: type) -> Any:
        if not isinstance(key, kind) or key.key_size != self._bits:
            raise ValueError(f"not an RSA-{self._bits} key")
        return key

    def generate(self) -> Any:
        return rsa.generate_private_key(public_exponent=65537, key_size=self._bits)

    def load_private(self, data: bytes) -> Any:
        return self._check(
            serialization.load_der_private_key(data, password=None), rsa.RSAPrivateKey
        )

    def load_public(self, data: bytes) -> Any:
        return self._check(serialization.load_der_public_key(data), rsa.RSAPublicKey)

    def private_bytes(self, key: Any) -> bytes:
        return key.private_bytes(  # PKCS#1 RSAPrivateKey, as the draft requires
            serialization.Encoding.DER,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )

    def public_bytes(self, key: Any) -> bytes:
        return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.PKCS1)

    def sign(self, key: Any, data: bytes) -> bytes:
        return key.sign(data, self._padding, self._hash)

    def verify(self, key: Any, signature: bytes, data: bytes) -> None:
        key.verify(signature, data, self._padding, self._hash)


_KEY_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm)


# ---- composite keys ----------------------------------------------------------------------


class _CompositeKey:
    supports_context = True

    def __init__(self, scheme: CompositeScheme, mldsa_key: Any, trad_key: Any) -> None:
        self.algorithm = scheme.algorithm
        self._scheme = scheme
        self._mldsa = mldsa_key
        self._trad = trad_key

    @property
    def components(self) -> tuple[Any, Any]:
        """The ML-DSA key (pqml object) and the traditional key (pyca object)."""
        return self._mldsa, self._trad


class CompositePublicKey(_CompositeKey, VerifyingKey):
    _mldsa: MLDSAPublicKey

    def public_bytes(self) -> bytes:
        return self._mldsa.public_bytes() + self._scheme.traditional.public_bytes(self._trad)

    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        s = self._scheme
        m_prime = s.message_representative(message, context)
        split = s.mldsa.signature_size
        trad_sig = bytes(signature[split:])
        if not 0 < len(trad_sig) <= s.traditional.max_signature_size or (
            s.traditional.signature_size is not None
            and len(trad_sig) != s.traditional.signature_size
        ):
            raise InvalidSignatureError(
                f"{self.algorithm} signature length {len(signature)} is out of range"
            )
        # Both components must verify; the ML-DSA check raises InvalidSignatureError itself.
        self._mldsa.verify(bytes(signature[:split]), m_prime, s.label)
        try:
            s.traditional.verify(self._trad, trad_sig, m_prime)
        except (InvalidSignature, ValueError):
            raise InvalidSignatureError(f"{self.algorithm} signature is invalid") from None


class CompositePrivateKey(_CompositeKey, SigningKey):
    _mldsa: MLDSAPrivateKey

    def public_key(self) -> CompositePublicKey:
        return CompositePublicKey(self._scheme, self._mldsa.public_key(), self._trad.public_key())

    def private_bytes(self) -> bytes:
        return self._mldsa.private_bytes() + self._scheme.traditional.private_bytes(self._trad)

    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        s = self._scheme
        m_prime = s.message_representative(message, context)
        return self._mldsa.sign(m_prime, s.label) + s.traditional.sign(self._trad, m_prime)


class CompositeScheme(SignatureScheme):
    def __init__(
        self,
        algorithm: str,
        oid: str,
        mldsa: MLDSAScheme,
        traditional: _Traditional,
        prehash: Callable[[bytes], bytes],
        label: str | None = None,
    ) -> None:
        self.algorithm = algorithm
        self.oid = oid
        self.label = (label or f"COMPSIG-{algorithm}").encode("ascii")
        self.mldsa = mldsa
        self.traditional = traditional
        self._prehash = prehash
        t = traditional
        self.public_key_size = (
            mldsa.public_key_size + t.public_key_size if t.public_key_size else None
        )
        self.private_key_size = SEED_SIZE + t.private_key_size if t.private_key_size else None
        self.signature_size = mldsa.signature_size + t.signature_size if t.signature_size else None
        self.max_signature_size = mldsa.signature_size + t.max_signature_size

    def message_representative(self, message: bytes, context: bytes = b"") -> bytes:
        """M' = Prefix ‖ Label ‖ len(ctx) ‖ ctx ‖ PH(M), signed by both components."""
        check_context(self.algorithm, context)
        return (
            PREFIX
            + self.label
            + bytes([len(context)])
            + bytes(context)
            + self._prehash(bytes(message))
        )

    def generate(self) -> CompositePrivateKey:
        # Fresh keys for both components, never reused elsewhere (draft "Key Generation").
        return CompositePrivateKey(self, self.mldsa.generate(), self.traditional.generate())

    def private_from_bytes(self, data: bytes) -> CompositePrivateKey:
        t = self.traditional
        parts = self._split(data, "private", SEED_SIZE, self.private_key_size,
                            self.mldsa.private_from_bytes, t.load_private, t.private_bytes)
        return CompositePrivateKey(self, *parts)

    def public_from_bytes(self, data: bytes) -> CompositePublicKey:
        t = self.traditional
        parts = self._split(data, "public", self.mldsa.public_key_size, self.public_key_size,
                            self.mldsa.public_from_bytes, t.load_public, t.public_bytes)
        return CompositePublicKey(self, *parts)

    def _split(
        self,
        data: bytes,
        kind: str,
        split: int,
        size: int | None,
        load_mldsa: Callable[[bytes], Any],
        load_trad: Callable[[bytes], Any],
        encode_trad: Callable[[Any], bytes],
    ) -> tuple[Any, Any]:
        """The draft's ``ML-DSA part ‖ traditional part``, each loaded, as (ML-DSA, trad)."""
        data = bytes(data)
        if len(data) <= split or (size is not None and len(data) != size):
            raise KeyFormatError(
                f"{self.algorithm} {kind} key has a wrong length ({len(data)} bytes)"
            )
        mldsa_key = load_mldsa(data[:split])
        try:
            trad_key = load_trad(data[split:])
        except _KEY_ERRORS as exc:
            raise KeyFormatError(
                f"invalid {self.algorithm} {kind} key (traditional part): {exc}"
            ) from None
        # One encoding per key: refuse e.g. PKCS#8 wrapping or an ECPrivateKey with publicKey.
        if not hmac.compare_digest(encode_trad(trad_key), data[split:]):
            raise KeyFormatError(
                f"{self.algorithm} {kind} key is not in the draft's encoding (traditional part)"
            )
        return mldsa_key, trad_key


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _sha512(data: bytes) -> bytes:
    return hashlib.sha512(data).digest()


def _shake256_64(data: bytes) -> bytes:
    return hashlib.shake_256(data).digest(64)


_ED25519 = _EdDSA(ed25519.Ed25519PrivateKey, ed25519.Ed25519PublicKey, 32)
_ED448 = _EdDSA(ed448.Ed448PrivateKey, ed448.Ed448PublicKey, 57)
_P256 = _ECDSA(ec.SECP256R1(), hashes.SHA256(), "06082a8648ce3d030107")
_P384 = _ECDSA(ec.SECP384R1(), hashes.SHA384(), "06052b81040022")
_P521 = _ECDSA(ec.SECP521R1(), hashes.SHA512(), "06052b81040023")
_BP256 = _ECDSA(ec.BrainpoolP256R1(), hashes.SHA256(), "06092b2403030208010107")
_BP384 = _ECDSA(ec.BrainpoolP384R1(), hashes.SHA384(), "06092b240303020801010b")
_RSA2048_PSS = _RSA(2048, hashes.SHA256(), pss=True)
_RSA2048_PKCS15 = _RSA(2048, hashes.SHA256(), pss=False)
_RSA3072_PSS = _RSA(3072, hashes.SHA256(), pss=True)
_RSA3072_PKCS15 = _RSA(3072, hashes.SHA256(), pss=False)
_RSA4096_PSS = _RSA(4096, hashes.SHA384(), pss=True)
_RSA4096_PKCS15 = _RSA(4096, hashes.SHA384(), pss=False)
_ARC = "1.3.6.1.5.5.7.6."

# The draft's "Algorithm Identifiers and Parameters": name, OID arc (IANA-assigned, under
# _ARC), ML-DSA, traditional component, pre-hash, and the label where it is not COMPSIG-name.
# The RSA, brainpool and Ed448 combinations are there to read and verify what peers produce.
_TABLE: tuple[tuple[Any, ...], ...] = (
    ("MLDSA44-RSA2048-PSS-SHA256", 37, MLDSA44, _RSA2048_PSS, _sha256),
    ("MLDSA44-RSA2048-PKCS15-SHA256", 38, MLDSA44, _RSA2048_PKCS15, _sha256),
    ("MLDSA44-Ed25519-SHA512", 39, MLDSA44, _ED25519, _sha512),
    ("MLDSA44-ECDSA-P256-SHA256", 40, MLDSA44, _P256, _sha256),
    ("MLDSA65-RSA3072-PSS-SHA512", 41, MLDSA65, _RSA3072_PSS, _sha512),
    ("MLDSA65-RSA3072-PKCS15-SHA512", 42, MLDSA65, _RSA3072_PKCS15, _sha512),
    ("MLDSA65-RSA4096-PSS-SHA512", 43, MLDSA65, _RSA4096_PSS, _sha512),
    ("MLDSA65-RSA4096-PKCS15-SHA512", 44, MLDSA65, _RSA4096_PKCS15, _sha512),
    ("MLDSA65-ECDSA-P256-SHA512", 45, MLDSA65, _P256, _sha512),
    ("MLDSA65-ECDSA-P384-SHA512", 46, MLDSA65, _P384, _sha512),
    ("MLDSA65-ECDSA-brainpoolP256r1-SHA512", 47, MLDSA65, _BP256, _sha512,
     "COMPSIG-MLDSA65-ECDSA-BP256-SHA512"),
    ("MLDSA65-Ed25519-SHA512", 48, MLDSA65, _ED25519, _sha512),
    ("MLDSA87-ECDSA-P384-SHA512", 49, MLDSA87, _P384, _sha512),
    ("MLDSA87-ECDSA-brainpoolP384r1-SHA512", 50, MLDSA87, _BP384, _sha512,
     "COMPSIG-MLDSA87-ECDSA-BP384-SHA512"),
    ("MLDSA87-Ed448-SHAKE256", 51, MLDSA87, _ED448, _shake256_64),
    ("MLDSA87-RSA3072-PSS-SHA512", 52, MLDSA87, _RSA3072_PSS, _sha512),
    ("MLDSA87-RSA4096-PSS-SHA512", 53, MLDSA87, _RSA4096_PSS, _sha512),
    ("MLDSA87-ECDSA-P521-SHA512", 54, MLDSA87, _P521, _sha512),
)

SCHEMES: dict[str, CompositeScheme] = {
    name: CompositeScheme(name, f"{_ARC}{arc}", *params) for name, arc, *params in _TABLE
}
"""Every composite of the draft, by name (its identifier without ``id-``)."""


def __getattr__(name: str) -> CompositeScheme:
    """Each composite is also a module attribute, its name with ``_`` for ``-`` (e.g.
    ``MLDSA65_Ed25519_SHA512``): the registry's ``impl`` strings name them so."""
    try:
        return SCHEMES[name.replace("_", "-")]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None

"""ECDSA on P-256 / P-384 / P-521 (FIPS 186-5) on pyca/cryptography: legacy, quantum-vulnerable.

Each curve is fixed to one hash (P-256/SHA-256, P-384/SHA-384, P-521/SHA-512, as in JOSE and
model_signing) so a key never signs under two hashes. Stored forms are the plainest standard
ones: the private scalar big-endian at curve size (SEC1 2.3.7) and the uncompressed SEC1
point; signatures are DER Ecdsa-Sig-Value, what X.509 and OMS bundles carry.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pqml.primitives.base import SignatureScheme, SigningKey, VerifyingKey, reject_context
from pqml.primitives.errors import InvalidSignatureError, KeyFormatError, WrongKeyTypeError


class ECDSAPublicKey(VerifyingKey):
    def __init__(self, scheme: ECDSAScheme, key: ec.EllipticCurvePublicKey) -> None:
        self.algorithm = scheme.algorithm
        self._scheme = scheme
        self._key = key

    def public_bytes(self) -> bytes:
        return self._key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )

    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        reject_context(self.algorithm, context)
        if not 0 < len(signature) <= self._scheme.max_signature_size:
            raise InvalidSignatureError(
                f"{self.algorithm} signature length {len(signature)} is out of range"
            )
        try:
            self._key.verify(bytes(signature), bytes(message), self._scheme.signature_algorithm)
        except (InvalidSignature, ValueError):
            raise InvalidSignatureError(f"{self.algorithm} signature is invalid") from None

    @property
    def backend_key(self) -> Any:
        return self._key


class ECDSAPrivateKey(SigningKey):
    def __init__(self, scheme: ECDSAScheme, key: ec.EllipticCurvePrivateKey) -> None:
        self.algorithm = scheme.algorithm
        self._scheme = scheme
        self._key = key

    def public_key(self) -> ECDSAPublicKey:
        return ECDSAPublicKey(self._scheme, self._key.public_key())

    def private_bytes(self) -> bytes:
        scalar = self._key.private_numbers().private_value
        return scalar.to_bytes(self._scheme.private_key_size, "big")

    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        reject_context(self.algorithm, context)
        return self._key.sign(bytes(message), self._scheme.signature_algorithm)

    @property
    def backend_key(self) -> Any:
        return self._key


class ECDSAScheme(SignatureScheme):
    def __init__(
        self, algorithm: str, curve: ec.EllipticCurve, hash_alg: hashes.HashAlgorithm
    ) -> None:
        self.algorithm = algorithm
        self.curve = curve
        self.hash_algorithm = hash_alg
        self.signature_algorithm = ec.ECDSA(hash_alg)
        size = (curve.key_size + 7) // 8
        self.private_key_size = size
        self.public_key_size = 1 + 2 * size
        # DER SEQUENCE of two INTEGERs below the group order: bits // 8 + 1 content bytes each.
        body = 2 * (2 + curve.key_size // 8 + 1)
        self.max_signature_size = body + (2 if body < 128 else 3)

    def generate(self) -> ECDSAPrivateKey:
        return ECDSAPrivateKey(self, ec.generate_private_key(self.curve))

    def private_from_bytes(self, data: bytes) -> ECDSAPrivateKey:
        if len(data) != self.private_key_size:
            raise KeyFormatError(
                f"{self.algorithm} private key must be a {self.private_key_size}-byte scalar, "
                f"got {len(data)}"
            )
        try:
            key = ec.derive_private_key(int.from_bytes(data, "big"), self.curve)
        except (ValueError, UnsupportedAlgorithm):
            raise KeyFormatError(
                f"invalid {self.algorithm} private key: scalar out of range"
            ) from None
        return ECDSAPrivateKey(self, key)

    def public_from_bytes(self, data: bytes) -> ECDSAPublicKey:
        if len(data) != self.public_key_size or data[0] != 0x04:
            raise KeyFormatError(
                f"{self.algorithm} public key must be a {self.public_key_size}-byte "
                "uncompressed SEC1 point"
            )
        try:
            key = ec.EllipticCurvePublicKey.from_encoded_point(self.curve, bytes(data))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"invalid {self.algorithm} public key: {exc}") from None
        return ECDSAPublicKey(self, key)

    def wrap_private(self, key: Any) -> ECDSAPrivateKey:
        """Adopt a pyca key object (e.g. one loaded from PEM by cryptography)."""
        if not (isinstance(key, ec.EllipticCurvePrivateKey) and self._same_curve(key.curve)):
            raise WrongKeyTypeError(f"not an {self.algorithm} private key")
        return ECDSAPrivateKey(self, key)

    def wrap_public(self, key: Any) -> ECDSAPublicKey:
        if not (isinstance(key, ec.EllipticCurvePublicKey) and self._same_curve(key.curve)):
            raise WrongKeyTypeError(f"not an {self.algorithm} public key")
        return ECDSAPublicKey(self, key)

    def _same_curve(self, curve: ec.EllipticCurve) -> bool:
        return curve.name == self.curve.name


ECDSA_P256 = ECDSAScheme("ECDSA-P256", ec.SECP256R1(), hashes.SHA256())
ECDSA_P384 = ECDSAScheme("ECDSA-P384", ec.SECP384R1(), hashes.SHA384())
ECDSA_P521 = ECDSAScheme("ECDSA-P521", ec.SECP521R1(), hashes.SHA512())

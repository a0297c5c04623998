"""ECDSA on P-256 / P-384 / P-521 (FIPS 186-5) on pyca/cryptography: legacy, quantum-vulnerable.

Each curve is fixed to one hash (P-256/SHA-256, P-384/SHA-384, P-521/SHA-512, as in JOSE and
model_signing) so a key never signs under two hashes. Stored forms are the plainest standard
ones: the private scalar big-endian at curve size (SEC1 2.3.7) and the uncompressed SEC1
point; signatures are DER Ecdsa-Sig-Value, what X.509 and OMS bundles carry.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from pqml.primitives.base import SignatureScheme, SigningKey, VerifyingKey, reject_context
from pqml.primitives.errors import InvalidSignatureError
from pqml.primitives.pyca_keys import PycaPrivateKey, PycaPublicKey, SEC1Keys


class ECDSAPublicKey(PycaPublicKey, VerifyingKey):
    _scheme: ECDSAScheme

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


class ECDSAPrivateKey(PycaPrivateKey, SigningKey):
    _scheme: ECDSAScheme

    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        reject_context(self.algorithm, context)
        return self._key.sign(bytes(message), self._scheme.signature_algorithm)


class ECDSAScheme(SEC1Keys, SignatureScheme):
    public_key_class = ECDSAPublicKey
    private_key_class = ECDSAPrivateKey

    def __init__(
        self, algorithm: str, curve: ec.EllipticCurve, hash_alg: hashes.HashAlgorithm
    ) -> None:
        super().__init__(algorithm, curve)
        self.hash_algorithm = hash_alg
        self.signature_algorithm = ec.ECDSA(hash_alg)
        self.max_signature_size = max_der_signature_size(curve)


def max_der_signature_size(curve: ec.EllipticCurve) -> int:
    """The longest DER Ecdsa-Sig-Value: a SEQUENCE of two INTEGERs below the group order,
    each at most bits // 8 + 1 content bytes."""
    body = 2 * (2 + curve.key_size // 8 + 1)
    return body + (2 if body < 128 else 3)


ECDSA_P256 = ECDSAScheme("ECDSA-P256", ec.SECP256R1(), hashes.SHA256())
ECDSA_P384 = ECDSAScheme("ECDSA-P384", ec.SECP384R1(), hashes.SHA384())
ECDSA_P521 = ECDSAScheme("ECDSA-P521", ec.SECP521R1(), hashes.SHA512())

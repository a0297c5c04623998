"""RSASSA-PSS (RFC 8017) with SHA-256, MGF1-SHA-256, 32-byte salt on pyca/cryptography.

Legacy and quantum-vulnerable: kept to verify and migrate existing signatures. The parameters
are fixed (the common "PS256" profile) so verification never trusts parameters chosen by an
attacker. Keys travel as PKCS#8 / SPKI DER because RSA has no single raw encoding; new keys
are 3072 bits and keys under 2048 bits are refused.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pqml.primitives import rsa_keys
from pqml.primitives.base import SignatureScheme, SigningKey, VerifyingKey, reject_context
from pqml.primitives.errors import InvalidSignatureError, KeyFormatError

ALGORITHM = "RSA-PSS"
GENERATE_BITS = 3072
MIN_BITS = 2048
PUBLIC_EXPONENT = 65537
SALT_LENGTH = 32

_PADDING = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=SALT_LENGTH)
_HASH = hashes.SHA256()


def _check_size(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> None:
    if key.key_size < MIN_BITS:
        raise KeyFormatError(f"RSA key of {key.key_size} bits refused; at least {MIN_BITS} needed")


class RSAPSSPublicKey(VerifyingKey):
    algorithm = ALGORITHM

    def __init__(self, key: rsa.RSAPublicKey) -> None:
        self._key = key

    def public_bytes(self) -> bytes:
        return rsa_keys.public_der(self._key)

    @property
    def signature_size(self) -> int:
        return (self._key.key_size + 7) // 8

    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        reject_context(self.algorithm, context)
        if len(signature) != self.signature_size:
            raise InvalidSignatureError(
                f"RSA-PSS signature must be {self.signature_size} bytes, got {len(signature)}"
            )
        try:
            self._key.verify(bytes(signature), bytes(message), _PADDING, _HASH)
        except (InvalidSignature, ValueError):
            raise InvalidSignatureError("RSA-PSS signature is invalid") from None

    @property
    def backend_key(self) -> Any:
        return self._key


class RSAPSSPrivateKey(SigningKey):
    algorithm = ALGORITHM

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key

    def public_key(self) -> RSAPSSPublicKey:
        return RSAPSSPublicKey(self._key.public_key())

    def private_bytes(self) -> bytes:
        return rsa_keys.private_der(self._key)

    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        reject_context(self.algorithm, context)
        return self._key.sign(bytes(message), _PADDING, _HASH)

    @property
    def backend_key(self) -> Any:
        return self._key


class RSAPSSScheme(SignatureScheme):
    algorithm = ALGORITHM
    public_key_size = None  # DER, depends on the modulus
    private_key_size = None
    signature_size = None

    def generate(self) -> RSAPSSPrivateKey:
        key = rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=GENERATE_BITS)
        return RSAPSSPrivateKey(key)

    def private_from_bytes(self, data: bytes) -> RSAPSSPrivateKey:
        return self.wrap_private(rsa_keys.load_private_der(data, ALGORITHM))

    def public_from_bytes(self, data: bytes) -> RSAPSSPublicKey:
        return self.wrap_public(rsa_keys.load_public_der(data, ALGORITHM))

    def wrap_private(self, key: Any) -> RSAPSSPrivateKey:
        """Adopt a pyca key object (e.g. one loaded from PEM by cryptography)."""
        key = rsa_keys.require_private(key)
        _check_size(key)
        return RSAPSSPrivateKey(key)

    def wrap_public(self, key: Any) -> RSAPSSPublicKey:
        key = rsa_keys.require_public(key)
        _check_size(key)
        return RSAPSSPublicKey(key)


SCHEME = RSAPSSScheme()

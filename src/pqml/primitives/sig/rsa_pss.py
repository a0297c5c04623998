"""RSASSA-PSS (RFC 8017) with SHA-256, MGF1-SHA-256, 32-byte salt on pyca/cryptography.

Legacy and quantum-vulnerable: kept to verify and migrate existing signatures. The parameters
are fixed (the common "PS256" profile) so verification never trusts parameters chosen by an
attacker. Keys travel as PKCS#8 / SPKI DER because RSA has no single raw encoding; new keys
are 3072 bits and keys under 2048 bits are refused.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pqml.errors import InvalidSignatureError, KeyFormatError, WrongKeyTypeError
from pqml.primitives.base import SignatureScheme, SigningKey, VerifyingKey, reject_context

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
        """SubjectPublicKeyInfo DER (rsaEncryption)."""
        return self._key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

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
        """PKCS#8 DER, unencrypted (file-level protection is the key-file layer's job)."""
        return self._key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

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
        try:
            key = serialization.load_der_private_key(bytes(data), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(
                f"invalid RSA-PSS private key (PKCS#8 DER expected): {exc}"
            ) from None
        return self.wrap_private(key)

    def public_from_bytes(self, data: bytes) -> RSAPSSPublicKey:
        try:
            key = serialization.load_der_public_key(bytes(data))
        except (ValueError, UnsupportedAlgorithm) as exc:
            raise KeyFormatError(f"invalid RSA-PSS public key (SPKI DER expected): {exc}") from None
        return self.wrap_public(key)

    def wrap_private(self, key: Any) -> RSAPSSPrivateKey:
        """Adopt a pyca key object (e.g. one loaded from PEM by cryptography)."""
        if not isinstance(key, rsa.RSAPrivateKey):
            raise WrongKeyTypeError(f"not an RSA private key: {type(key).__name__}")
        _check_size(key)
        return RSAPSSPrivateKey(key)

    def wrap_public(self, key: Any) -> RSAPSSPublicKey:
        if not isinstance(key, rsa.RSAPublicKey):
            raise WrongKeyTypeError(f"not an RSA public key: {type(key).__name__}")
        _check_size(key)
        return RSAPSSPublicKey(key)


SCHEME = RSAPSSScheme()

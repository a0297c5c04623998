"""RSA key encodings shared by the RSA-OAEP KEM and the RSA-PSS signature scheme.

RSA has no raw key form, so both store PKCS#8 DER (private) and SPKI DER (public); the
schemes differ only in padding and in which key sizes they accept. :class:`RSAKeys` is the
part of their schemes that loads, adopts and encodes keys.
"""

from __future__ import annotations

from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from pqml.primitives.errors import KeyFormatError, WrongKeyTypeError


def private_der(key: rsa.RSAPrivateKey) -> bytes:
    """PKCS#8 DER, unencrypted (file-level protection is the key-file layer's job)."""
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_der(key: rsa.RSAPublicKey) -> bytes:
    """SubjectPublicKeyInfo DER (rsaEncryption)."""
    return key.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


def load_private_der(data: bytes, algorithm: str) -> rsa.RSAPrivateKey:
    try:
        key = serialization.load_der_private_key(bytes(data), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"invalid {algorithm} private key (PKCS#8 DER): {exc}") from None
    return require_private(key)


def load_public_der(data: bytes, algorithm: str) -> rsa.RSAPublicKey:
    try:
        key = serialization.load_der_public_key(bytes(data))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise KeyFormatError(f"invalid {algorithm} public key (SPKI DER): {exc}") from None
    return require_public(key)


def require_private(key: object) -> rsa.RSAPrivateKey:
    if not isinstance(key, rsa.RSAPrivateKey):
        raise WrongKeyTypeError(f"expected an RSA private key, got {type(key).__name__}")
    return key


def require_public(key: object) -> rsa.RSAPublicKey:
    if not isinstance(key, rsa.RSAPublicKey):
        raise WrongKeyTypeError(f"expected an RSA public key, got {type(key).__name__}")
    return key


class RSAKeys:
    """Loading, adopting and encoding for an RSA scheme whose key classes take (scheme, key)."""

    algorithm: str
    public_key_class: Any
    private_key_class: Any

    def check_key(self, key: Any) -> None:
        """Refuse keys this scheme does not accept (RSA-PSS: under 2048 bits)."""

    def private_from_bytes(self, data: bytes) -> Any:
        return self.wrap_private(load_private_der(data, self.algorithm))

    def public_from_bytes(self, data: bytes) -> Any:
        return self.wrap_public(load_public_der(data, self.algorithm))

    def wrap_private(self, key: object) -> Any:
        """Adopt a pyca key object (e.g. one loaded from PEM by cryptography)."""
        key = require_private(key)
        self.check_key(key)
        return self.private_key_class(self, key)

    def wrap_public(self, key: object) -> Any:
        key = require_public(key)
        self.check_key(key)
        return self.public_key_class(self, key)

    def encode_public(self, key: rsa.RSAPublicKey) -> bytes:
        return public_der(key)

    def encode_private(self, key: rsa.RSAPrivateKey) -> bytes:
        return private_der(key)

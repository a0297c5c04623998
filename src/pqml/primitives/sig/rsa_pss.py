"""RSASSA-PSS (RFC 8017) with SHA-256, MGF1-SHA-256, 32-byte salt on pyca/cryptography.

Legacy and quantum-vulnerable: kept to verify and migrate existing signatures. The parameters
are fixed (the common "PS256" profile) so verification never trusts parameters chosen by an
attacker. Keys travel as PKCS#8 / SPKI DER because RSA has no single raw encoding; new keys
are 3072 bits and keys under 2048 bits are refused.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pqml.primitives.base import (
    SignatureScheme,
    SigningKey,
    VerifyingKey,
    reject_context,
    require_size,
)
from pqml.primitives.errors import InvalidSignatureError, KeyFormatError
from pqml.primitives.pyca_keys import PycaPrivateKey, PycaPublicKey
from pqml.primitives.rsa_keys import RSAKeys

ALGORITHM = "RSA-PSS"
GENERATE_BITS = 3072
MIN_BITS = 2048
PUBLIC_EXPONENT = 65537
SALT_LENGTH = 32

_PADDING = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=SALT_LENGTH)
_HASH = hashes.SHA256()


class RSAPSSPublicKey(PycaPublicKey, VerifyingKey):
    @property
    def signature_size(self) -> int:
        return (self._key.key_size + 7) // 8

    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        reject_context(self.algorithm, context)
        signature = require_size(
            signature, self.signature_size, "RSA-PSS signature", InvalidSignatureError
        )
        try:
            self._key.verify(signature, bytes(message), _PADDING, _HASH)
        except (InvalidSignature, ValueError):
            raise InvalidSignatureError("RSA-PSS signature is invalid") from None


class RSAPSSPrivateKey(PycaPrivateKey, SigningKey):
    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        reject_context(self.algorithm, context)
        return self._key.sign(bytes(message), _PADDING, _HASH)


class RSAPSSScheme(RSAKeys, SignatureScheme):
    algorithm = ALGORITHM
    public_key_class = RSAPSSPublicKey
    private_key_class = RSAPSSPrivateKey
    public_key_size = None  # DER, depends on the modulus
    private_key_size = None
    signature_size = None

    def generate(self) -> RSAPSSPrivateKey:
        key = rsa.generate_private_key(public_exponent=PUBLIC_EXPONENT, key_size=GENERATE_BITS)
        return RSAPSSPrivateKey(self, key)

    def check_key(self, key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> None:
        if key.key_size < MIN_BITS:
            raise KeyFormatError(
                f"RSA key of {key.key_size} bits refused; at least {MIN_BITS} needed"
            )


SCHEME = RSAPSSScheme()

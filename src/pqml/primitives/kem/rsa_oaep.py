"""RSA-OAEP as a legacy "KEM": key transport of a random 32-byte secret (RFC 8017).

Quantum-vulnerable; kept so old RSA-wrapped keys can be read and migrated. OAEP uses
SHA-256 with MGF1-SHA-256 and an empty label. RSA has no raw key form, so the stored
private key is PKCS#8 DER and the public key SubjectPublicKeyInfo DER.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, KEMScheme, require_size
from pqml.primitives.errors import DecryptionError, KeyFormatError
from pqml.primitives.pyca_keys import PycaPrivateKey, PycaPublicKey
from pqml.primitives.rsa_keys import RSAKeys

ALGORITHM = "RSA-OAEP"
SECRET_SIZE = 32
DEFAULT_BITS = 3072
MIN_BITS = 2048  # for new keys; old smaller keys still load so their data can be migrated


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class RSAOAEPPublicKey(PycaPublicKey, KEMPublicKey):
    def encapsulate(self) -> tuple[bytes, bytes]:
        secret = os.urandom(SECRET_SIZE)
        return secret, self._key.encrypt(secret, _oaep())

    @property
    def key_size(self) -> int:
        return self._key.key_size


class RSAOAEPPrivateKey(PycaPrivateKey, KEMPrivateKey):
    def decapsulate(self, ciphertext: bytes) -> bytes:
        size = (self._key.key_size + 7) // 8
        ciphertext = require_size(ciphertext, size, "RSA-OAEP ciphertext", DecryptionError)
        try:
            secret = self._key.decrypt(ciphertext, _oaep())
        except ValueError:  # pyca gives one opaque error for every OAEP failure
            raise DecryptionError("RSA-OAEP decryption failed (wrong key or corrupted)") from None
        if len(secret) != SECRET_SIZE:
            raise DecryptionError(
                f"RSA-OAEP payload is {len(secret)} bytes, not a {SECRET_SIZE}-byte secret"
            )
        return secret

    @property
    def key_size(self) -> int:
        return self._key.key_size


class RSAOAEPScheme(RSAKeys, KEMScheme):
    algorithm = ALGORITHM
    public_key_class = RSAOAEPPublicKey
    private_key_class = RSAOAEPPrivateKey

    def generate(self, bits: int = DEFAULT_BITS) -> RSAOAEPPrivateKey:
        if bits < MIN_BITS:
            raise KeyFormatError(
                f"refusing to generate an RSA key of {bits} bits (minimum {MIN_BITS})"
            )
        return RSAOAEPPrivateKey(self, rsa.generate_private_key(65537, key_size=bits))


SCHEME = RSAOAEPScheme()

"""RSA-OAEP as a legacy "KEM": key transport of a random 32-byte secret (RFC 8017).

Quantum-vulnerable; kept so old RSA-wrapped keys can be read and migrated. OAEP uses
SHA-256 with MGF1-SHA-256 and an empty label. RSA has no raw key form, so the stored
private key is PKCS#8 DER and the public key SubjectPublicKeyInfo DER.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from pqml.primitives import rsa_keys
from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, KEMScheme
from pqml.primitives.errors import DecryptionError, KeyFormatError

ALGORITHM = "RSA-OAEP"
SECRET_SIZE = 32
DEFAULT_BITS = 3072
MIN_BITS = 2048  # for new keys; old smaller keys still load so their data can be migrated


def _oaep() -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)


class RSAOAEPPublicKey(KEMPublicKey):
    algorithm = ALGORITHM

    def __init__(self, key: rsa.RSAPublicKey) -> None:
        self._key = key

    def public_bytes(self) -> bytes:
        return rsa_keys.public_der(self._key)

    def encapsulate(self) -> tuple[bytes, bytes]:
        secret = os.urandom(SECRET_SIZE)
        return secret, self._key.encrypt(secret, _oaep())

    @property
    def key_size(self) -> int:
        return self._key.key_size

    @property
    def backend_key(self) -> rsa.RSAPublicKey:
        return self._key


class RSAOAEPPrivateKey(KEMPrivateKey):
    algorithm = ALGORITHM

    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key

    def public_key(self) -> RSAOAEPPublicKey:
        return RSAOAEPPublicKey(self._key.public_key())

    def private_bytes(self) -> bytes:
        return rsa_keys.private_der(self._key)

    def decapsulate(self, ciphertext: bytes) -> bytes:
        size = (self._key.key_size + 7) // 8
        if len(ciphertext) != size:
            raise DecryptionError(
                f"RSA-OAEP ciphertext must be {size} bytes for this key, got {len(ciphertext)}"
            )
        try:
            secret = self._key.decrypt(bytes(ciphertext), _oaep())
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

    @property
    def backend_key(self) -> rsa.RSAPrivateKey:
        return self._key


class RSAOAEPScheme(KEMScheme):
    algorithm = ALGORITHM

    def generate(self, bits: int = DEFAULT_BITS) -> RSAOAEPPrivateKey:
        if bits < MIN_BITS:
            raise KeyFormatError(f"refusing to generate a {bits}-bit RSA key (minimum {MIN_BITS})")
        return RSAOAEPPrivateKey(rsa.generate_private_key(public_exponent=65537, key_size=bits))

    def private_from_bytes(self, data: bytes) -> RSAOAEPPrivateKey:
        return RSAOAEPPrivateKey(rsa_keys.load_private_der(data, ALGORITHM))

    def public_from_bytes(self, data: bytes) -> RSAOAEPPublicKey:
        return RSAOAEPPublicKey(rsa_keys.load_public_der(data, ALGORITHM))

    def wrap_private(self, key: object) -> RSAOAEPPrivateKey:
        """Adopt a pyca key object (e.g. one loaded from PEM by cryptography)."""
        return RSAOAEPPrivateKey(rsa_keys.require_private(key))

    def wrap_public(self, key: object) -> RSAOAEPPublicKey:
        return RSAOAEPPublicKey(rsa_keys.require_public(key))


SCHEME = RSAOAEPScheme()

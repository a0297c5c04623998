"""Falcon-512 / Falcon-1024 (round 3, compressed signatures) on pypqc's PQClean build.

Labelled "Falcon (round 3)", not FN-DSA: FIPS 206 is not final. Falcon has no context input,
so a non-empty context is refused rather than silently dropped.

Stored private form: PQClean secret key ‖ public key. PQClean's secret key holds (f, g, F)
but not h = g/f mod q, and pypqc exposes no call that recomputes h; deriving it ourselves
would mean re-implementing Falcon arithmetic. Storing h alongside costs 897/1793 bytes and lets
``public_key()`` work offline. Consistency of the two halves is enforced by verifying every
signature under the stored public key before returning it.

pypqc hands key buffers to C without length checks, so every length is checked here first.
"""

from __future__ import annotations

import os
from types import ModuleType

os.environ.setdefault("LICENSED_FALCON", "1")  # silence pypqc's patent notice on import

from pqc.sign import falcon_512, falcon_1024

from pqml.primitives.base import (
    EncodedPublicKey,
    EncodedSigningKey,
    SignatureScheme,
    VerifyingKey,
    reject_context,
    require_size,
)
from pqml.primitives.errors import InvalidSignatureError, KeyFormatError

NONCE_SIZE = 40


class FalconPublicKey(EncodedPublicKey, VerifyingKey):
    _scheme: FalconScheme

    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        reject_context(self.algorithm, context)
        s = self._scheme
        if not 1 + NONCE_SIZE < len(signature) <= s.signature_size:
            raise InvalidSignatureError(
                f"{self.algorithm} signature length {len(signature)} is out of range"
            )
        if signature[0] != s.signature_header:
            raise InvalidSignatureError(f"{self.algorithm} signature has a wrong header byte")
        try:
            s.backend.verify(bytes(signature), bytes(message), self._pk)
        except (ValueError, RuntimeError):
            raise InvalidSignatureError(f"{self.algorithm} signature is invalid") from None


class FalconPrivateKey(EncodedSigningKey):
    """Stored form: PQClean secret key ‖ public key (see the module docstring)."""

    _scheme: FalconScheme

    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        reject_context(self.algorithm, context)
        secret = self._sk[: self._scheme.secret_key_size]
        signature = self._scheme.backend.sign(bytes(message), secret)
        return self._checked(
            signature, message, b"", "its secret and public halves do not belong together"
        )


class FalconScheme(SignatureScheme):
    public_key_class = FalconPublicKey

    def __init__(self, algorithm: str, backend: ModuleType, logn: int, max_signature: int) -> None:
        self.algorithm = algorithm
        self.backend = backend
        ffi = backend.ffi
        self.public_key_size: int = ffi.sizeof(backend._T_PUBLICKEY)
        self.secret_key_size: int = ffi.sizeof(backend._T_SECRETKEY)
        self.private_key_size = self.secret_key_size + self.public_key_size
        # This PQClean build never emits more than CRYPTO_BYTES (666 / 1280); newer PQClean
        # and liboqs bound the same compressed encoding by 752 / 1462, so accept up to that.
        self.produced_signature_size: int = ffi.sizeof(backend._T_SIGNATURE)
        self.signature_size = max_signature
        # Round-3 encoding headers: pk 0x00+logn, sk 0x50+logn, compressed sig 0x30+logn.
        self.public_header = logn
        self.secret_header = 0x50 + logn
        self.signature_header = 0x30 + logn

    def generate(self) -> FalconPrivateKey:
        pk, sk = self.backend.keypair()
        return FalconPrivateKey(self, bytes(sk) + bytes(pk))

    def private_from_bytes(self, data: bytes) -> FalconPrivateKey:
        data = require_size(
            data,
            self.private_key_size,
            f"{self.algorithm} private key (PQClean secret key ‖ public key)",
        )
        if data[0] != self.secret_header:
            raise KeyFormatError(f"{self.algorithm} private key has a wrong header byte")
        self._check_public(data[self.secret_key_size :])
        return FalconPrivateKey(self, data)

    def public_from_bytes(self, data: bytes) -> FalconPublicKey:
        return FalconPublicKey(self, self._check_public(data))

    def _check_public(self, data: bytes) -> bytes:
        data = require_size(data, self.public_key_size, f"{self.algorithm} public key")
        if data[0] != self.public_header:
            raise KeyFormatError(f"{self.algorithm} public key has a wrong header byte")
        return data


FALCON512 = FalconScheme("Falcon-512", falcon_512, 9, 752)
FALCON1024 = FalconScheme("Falcon-1024", falcon_1024, 10, 1462)

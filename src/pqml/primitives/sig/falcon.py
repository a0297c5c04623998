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
    SignatureScheme,
    SigningKey,
    VerifyingKey,
    reject_context,
)
from pqml.primitives.errors import InvalidSignatureError, KeyFormatError

NONCE_SIZE = 40


class FalconPublicKey(VerifyingKey):
    supports_context = False

    def __init__(self, scheme: FalconScheme, data: bytes) -> None:
        self.algorithm = scheme.algorithm
        self._scheme = scheme
        self._pk = data

    def public_bytes(self) -> bytes:
        return self._pk

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


class FalconPrivateKey(SigningKey):
    supports_context = False

    def __init__(self, scheme: FalconScheme, sk: bytes, pk: bytes) -> None:
        self.algorithm = scheme.algorithm
        self._scheme = scheme
        self._sk = sk
        self._pk = pk

    def public_key(self) -> FalconPublicKey:
        return FalconPublicKey(self._scheme, self._pk)

    def private_bytes(self) -> bytes:
        return self._sk + self._pk

    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        reject_context(self.algorithm, context)
        signature = self._scheme.backend.sign(bytes(message), self._sk)
        try:
            self.public_key().verify(signature, message)
        except InvalidSignatureError:
            raise KeyFormatError(
                f"{self.algorithm} private key is inconsistent: its secret and public "
                "halves do not belong together"
            ) from None
        return signature


class FalconScheme(SignatureScheme):
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
        return FalconPrivateKey(self, bytes(sk), bytes(pk))

    def private_from_bytes(self, data: bytes) -> FalconPrivateKey:
        if len(data) != self.private_key_size:
            raise KeyFormatError(
                f"{self.algorithm} private key must be {self.private_key_size} bytes "
                f"(PQClean secret key ‖ public key), got {len(data)}"
            )
        data = bytes(data)
        sk, pk = data[: self.secret_key_size], data[self.secret_key_size :]
        if sk[0] != self.secret_header:
            raise KeyFormatError(f"{self.algorithm} private key has a wrong header byte")
        self._check_public(pk)
        return FalconPrivateKey(self, sk, pk)

    def public_from_bytes(self, data: bytes) -> FalconPublicKey:
        data = bytes(data)
        self._check_public(data)
        return FalconPublicKey(self, data)

    def _check_public(self, data: bytes) -> None:
        if len(data) != self.public_key_size:
            raise KeyFormatError(
                f"{self.algorithm} public key must be {self.public_key_size} bytes, got {len(data)}"
            )
        if data[0] != self.public_header:
            raise KeyFormatError(f"{self.algorithm} public key has a wrong header byte")


FALCON512 = FalconScheme("Falcon-512", falcon_512, 9, 752)
FALCON1024 = FalconScheme("Falcon-1024", falcon_1024, 10, 1462)

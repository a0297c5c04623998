"""SLH-DSA (FIPS 205, pure mode), all 12 parameter sets, on pqcrypto.

The stored private key is the FIPS 205 encoding SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root, so the
public key is its second half. pqcrypto signs with whatever PK.root the key holds without
checking it against SK.seed, and a full re-derivation costs a whole key generation; instead
every signature is verified under the embedded public key before it is returned (SLH-DSA
verification is ~1000x cheaper than signing), which also catches faults during signing.
pqcrypto signs hedged (fresh opt_rand), as FIPS 205 recommends.
"""

from __future__ import annotations

import hmac
from types import ModuleType

import pqcrypto
from pqcrypto import (
    slh_dsa_sha2_128f,
    slh_dsa_sha2_128s,
    slh_dsa_sha2_192f,
    slh_dsa_sha2_192s,
    slh_dsa_sha2_256f,
    slh_dsa_sha2_256s,
    slh_dsa_shake_128f,
    slh_dsa_shake_128s,
    slh_dsa_shake_192f,
    slh_dsa_shake_192s,
    slh_dsa_shake_256f,
    slh_dsa_shake_256s,
)

from pqml.primitives.base import SignatureScheme, SigningKey, VerifyingKey
from pqml.primitives.errors import InvalidSignatureError, KeyFormatError
from pqml.primitives.sig.mldsa import check_context


class SLHDSAPublicKey(VerifyingKey):
    supports_context = True

    def __init__(self, algorithm: str, backend: ModuleType, data: bytes) -> None:
        self.algorithm = algorithm
        self._backend = backend
        self._pk = data

    def public_bytes(self) -> bytes:
        return self._pk

    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        check_context(self.algorithm, context)
        size = self._backend.SIGNATURE_SIZE
        if len(signature) != size:
            raise InvalidSignatureError(
                f"{self.algorithm} signature must be {size} bytes, got {len(signature)}"
            )
        try:
            self._backend.verify(self._pk, bytes(message), bytes(signature), bytes(context))
        except pqcrypto.InvalidSignatureError:
            raise InvalidSignatureError(f"{self.algorithm} signature is invalid") from None
        except ValueError as exc:  # malformed input the checks above did not foresee
            raise InvalidSignatureError(f"{self.algorithm} signature rejected: {exc}") from None


class SLHDSAPrivateKey(SigningKey):
    supports_context = True

    def __init__(self, algorithm: str, backend: ModuleType, data: bytes) -> None:
        self.algorithm = algorithm
        self._backend = backend
        self._sk = data

    def public_key(self) -> SLHDSAPublicKey:
        return SLHDSAPublicKey(self.algorithm, self._backend, self._sk[len(self._sk) // 2 :])

    def private_bytes(self) -> bytes:
        return self._sk

    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        check_context(self.algorithm, context)
        signature = self._backend.sign(self._sk, bytes(message), bytes(context))
        try:
            self.public_key().verify(signature, message, context)
        except InvalidSignatureError:
            raise KeyFormatError(
                f"{self.algorithm} private key is inconsistent: its PK.root does not match "
                "SK.seed (corrupted key?)"
            ) from None
        return signature


class SLHDSAScheme(SignatureScheme):
    def __init__(self, algorithm: str, backend: ModuleType) -> None:
        self.algorithm = algorithm
        self._backend = backend
        self.public_key_size: int = backend.PUBLIC_KEY_SIZE
        self.private_key_size: int = backend.SECRET_KEY_SIZE
        self.signature_size: int = backend.SIGNATURE_SIZE

    def generate(self) -> SLHDSAPrivateKey:
        pk, sk = self._backend.keygen()
        sk = bytes(sk)
        if not hmac.compare_digest(sk[len(sk) // 2 :], bytes(pk)):  # FIPS 205 layout check
            raise RuntimeError(f"{self.algorithm}: backend key layout is not FIPS 205")
        return SLHDSAPrivateKey(self.algorithm, self._backend, sk)

    def private_from_bytes(self, data: bytes) -> SLHDSAPrivateKey:
        if len(data) != self.private_key_size:
            raise KeyFormatError(
                f"{self.algorithm} private key must be {self.private_key_size} bytes, "
                f"got {len(data)}"
            )
        return SLHDSAPrivateKey(self.algorithm, self._backend, bytes(data))

    def public_from_bytes(self, data: bytes) -> SLHDSAPublicKey:
        if len(data) != self.public_key_size:
            raise KeyFormatError(
                f"{self.algorithm} public key must be {self.public_key_size} bytes, got {len(data)}"
            )
        return SLHDSAPublicKey(self.algorithm, self._backend, bytes(data))


SLH_DSA_SHA2_128S = SLHDSAScheme("SLH-DSA-SHA2-128s", slh_dsa_sha2_128s)
SLH_DSA_SHA2_128F = SLHDSAScheme("SLH-DSA-SHA2-128f", slh_dsa_sha2_128f)
SLH_DSA_SHA2_192S = SLHDSAScheme("SLH-DSA-SHA2-192s", slh_dsa_sha2_192s)
SLH_DSA_SHA2_192F = SLHDSAScheme("SLH-DSA-SHA2-192f", slh_dsa_sha2_192f)
SLH_DSA_SHA2_256S = SLHDSAScheme("SLH-DSA-SHA2-256s", slh_dsa_sha2_256s)
SLH_DSA_SHA2_256F = SLHDSAScheme("SLH-DSA-SHA2-256f", slh_dsa_sha2_256f)
SLH_DSA_SHAKE_128S = SLHDSAScheme("SLH-DSA-SHAKE-128s", slh_dsa_shake_128s)
SLH_DSA_SHAKE_128F = SLHDSAScheme("SLH-DSA-SHAKE-128f", slh_dsa_shake_128f)
SLH_DSA_SHAKE_192S = SLHDSAScheme("SLH-DSA-SHAKE-192s", slh_dsa_shake_192s)
SLH_DSA_SHAKE_192F = SLHDSAScheme("SLH-DSA-SHAKE-192f", slh_dsa_shake_192f)
SLH_DSA_SHAKE_256S = SLHDSAScheme("SLH-DSA-SHAKE-256s", slh_dsa_shake_256s)
SLH_DSA_SHAKE_256F = SLHDSAScheme("SLH-DSA-SHAKE-256f", slh_dsa_shake_256f)

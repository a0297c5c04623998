"""SLH-DSA (FIPS 205, pure mode), all 12 parameter sets, on pqcrypto.

The stored private key is the FIPS 205 encoding SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root, so the
public key is its second half. pqcrypto signs with whatever PK.root the key holds without
checking it against SK.seed, and a full re-derivation costs a whole key generation; instead
every signature is verified under the embedded public key before it is returned (SLH-DSA
verification is ~1000x cheaper than signing; base.EncodedSigningKey), which also catches
faults during signing.
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

from pqml.primitives.base import (
    EncodedPublicKey,
    EncodedSigningKey,
    SignatureScheme,
    VerifyingKey,
    require_size,
)
from pqml.primitives.errors import InvalidSignatureError
from pqml.primitives.sig.mldsa import check_context


class SLHDSAPublicKey(EncodedPublicKey, VerifyingKey):
    supports_context = True
    _scheme: SLHDSAScheme

    def verify(self, signature: bytes, message: bytes, context: bytes = b"") -> None:
        check_context(self.algorithm, context)
        what, size = f"{self.algorithm} signature", self._scheme.signature_size
        signature = require_size(signature, size, what, InvalidSignatureError)
        try:
            self._scheme.backend.verify(self._pk, bytes(message), signature, bytes(context))
        except pqcrypto.InvalidSignatureError:
            raise InvalidSignatureError(f"{self.algorithm} signature is invalid") from None
        except ValueError as exc:  # malformed input the checks above did not foresee
            raise InvalidSignatureError(f"{self.algorithm} signature rejected: {exc}") from None


class SLHDSAPrivateKey(EncodedSigningKey):
    supports_context = True
    _scheme: SLHDSAScheme

    def sign(self, message: bytes, context: bytes = b"") -> bytes:
        check_context(self.algorithm, context)
        signature = self._scheme.backend.sign(self._sk, bytes(message), bytes(context))
        return self._checked(
            signature, message, context, "its PK.root does not match SK.seed (corrupted key?)"
        )


class SLHDSAScheme(SignatureScheme):
    public_key_class = SLHDSAPublicKey

    def __init__(self, algorithm: str, backend: ModuleType) -> None:
        self.algorithm = algorithm
        self.backend = backend
        self.public_key_size: int = backend.PUBLIC_KEY_SIZE
        self.private_key_size: int = backend.SECRET_KEY_SIZE
        self.signature_size: int = backend.SIGNATURE_SIZE

    def generate(self) -> SLHDSAPrivateKey:
        pk, sk = self.backend.keygen()
        sk = bytes(sk)
        if not hmac.compare_digest(sk[len(sk) // 2 :], bytes(pk)):  # FIPS 205 layout check
            raise RuntimeError(f"{self.algorithm}: backend key layout is not FIPS 205")
        return SLHDSAPrivateKey(self, sk)

    def private_from_bytes(self, data: bytes) -> SLHDSAPrivateKey:
        what = f"{self.algorithm} private key"
        return SLHDSAPrivateKey(self, require_size(data, self.private_key_size, what))

    def public_from_bytes(self, data: bytes) -> SLHDSAPublicKey:
        what = f"{self.algorithm} public key"
        return SLHDSAPublicKey(self, require_size(data, self.public_key_size, what))


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

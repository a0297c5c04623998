"""Post-quantum key exchange and signatures for the model gateway (pilot)."""

from __future__ import annotations

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem


def gateway_kem() -> mlkem.MLKEM768PrivateKey:
    return mlkem.MLKEM768PrivateKey.generate()


def client_encapsulate(public: mlkem.MLKEM768PublicKey) -> tuple[bytes, bytes]:
    return public.encapsulate()


def gateway_decapsulate(private: mlkem.MLKEM768PrivateKey, ciphertext: bytes) -> bytes:
    return private.decapsulate(ciphertext)


def release_signer() -> mldsa.MLDSA65PrivateKey:
    return mldsa.MLDSA65PrivateKey.generate()


def sign_release(key: mldsa.MLDSA65PrivateKey, manifest: bytes) -> bytes:
    return key.sign(manifest)


def suite() -> hpke.Suite:
    return hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)

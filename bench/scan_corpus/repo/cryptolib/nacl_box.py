"""Per-tenant sealed storage with libsodium (PyNaCl)."""

import nacl.secret
import nacl.utils
from nacl.public import Box, PrivateKey, PublicKey, SealedBox
from nacl.signing import SigningKey, VerifyKey


def tenant_keys() -> PrivateKey:
    return PrivateKey.generate()


def seal_for(tenant_public: bytes, data: bytes) -> bytes:
    return SealedBox(PublicKey(tenant_public)).encrypt(data)


def pairwise(sk: PrivateKey, peer: PublicKey, data: bytes) -> bytes:
    return Box(sk, peer).encrypt(data)


def secret_box(key: bytes) -> nacl.secret.SecretBox:
    return nacl.secret.SecretBox(key)


def release_signer(seed: bytes) -> SigningKey:
    return SigningKey(seed)


def sign_release(signer: SigningKey, manifest: bytes) -> bytes:
    return signer.sign(manifest).signature


def check_release(public: bytes, signed: bytes) -> bytes:
    return VerifyKey(public).verify(signed)

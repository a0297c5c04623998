"""Model-marketplace payouts: secp256k1 signatures with the ecdsa package."""

import hashlib

import ecdsa
from ecdsa import SECP256k1, SigningKey, VerifyingKey


class PayoutSigner:
    def __init__(self, secret: bytes | None = None) -> None:
        if secret is None:
            self.sk = SigningKey.generate(curve=SECP256k1)
        else:
            self.sk = SigningKey.from_string(secret, curve=SECP256k1)
        self.vk = self.sk.get_verifying_key()

    def sign(self, payout: bytes) -> bytes:
        return self.sk.sign_deterministic(payout, hashfunc=hashlib.sha256)

    def verify(self, payout: bytes, signature: bytes) -> bool:
        return self.vk.verify(signature, payout, hashfunc=hashlib.sha256)


def peer_key(pem: str) -> VerifyingKey:
    return VerifyingKey.from_pem(pem)


def shared_secret(private: SigningKey, peer_public: VerifyingKey) -> bytes:
    ecdh = ecdsa.ECDH(curve=ecdsa.NIST256p)
    ecdh.load_private_key(private)
    ecdh.load_received_public_key(peer_public)
    return ecdh.generate_sharedsecret_bytes()

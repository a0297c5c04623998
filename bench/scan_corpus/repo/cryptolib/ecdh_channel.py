"""Authenticated key agreement between the scheduler and workers."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec as _ec
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

CURVE = _ec.SECP384R1()


class Worker:
    def __init__(self) -> None:
        self.static = _ec.generate_private_key(CURVE)
        self.ephemeral = x25519.X25519PrivateKey.generate()

    def agree(self, peer: _ec.EllipticCurvePublicKey) -> bytes:
        shared = self.static.exchange(_ec.ECDH(), peer)
        return HKDF(hashes.SHA256(), 32, None, b"worker-static").derive(shared)

    def agree_ephemeral(self, peer: x25519.X25519PublicKey) -> bytes:
        shared = self.ephemeral.exchange(peer)
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=b"worker-ephemeral").derive(shared)

    def channel(self, key: bytes) -> ChaCha20Poly1305:
        return ChaCha20Poly1305(key)


def load_peer(raw: bytes) -> x25519.X25519PublicKey:
    return x25519.X25519PublicKey.from_public_bytes(raw)


def signing_key() -> _ec.EllipticCurvePrivateKey:
    return _ec.generate_private_key(_ec.SECP256R1())


def sign_hello(key: _ec.EllipticCurvePrivateKey, hello: bytes) -> bytes:
    return key.sign(hello, _ec.ECDSA(hashes.SHA256()))

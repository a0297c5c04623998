"""Pairwise masking for secure aggregation (Bonawitz et al.), X25519 flavour."""

from __future__ import annotations

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


def keypair() -> X25519PrivateKey:
    return X25519PrivateKey.generate()


def mask(own: X25519PrivateKey, peer: X25519PublicKey, shape: tuple[int, ...]) -> np.ndarray:
    seed = HKDF(hashes.SHA256(), 32, b"mask", b"secagg").derive(own.exchange(peer))
    stream = Cipher(algorithms.ChaCha20(seed, b"\0" * 16), mode=None).encryptor()
    raw = stream.update(b"\0" * (4 * int(np.prod(shape))))
    return np.frombuffer(raw, dtype=np.uint32).reshape(shape)

"""Federated-learning client: authenticated, encrypted model updates."""

from __future__ import annotations

import os
import pickle  # noqa: S403 - updates are pickled numpy arrays (see issue #88)

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF


class SecureClient:
    def __init__(self, client_id: str) -> None:
        self.client_id = client_id
        self.identity = ec.generate_private_key(ec.SECP384R1())
        self.session_key: bytes | None = None

    def handshake(self, server_public: ec.EllipticCurvePublicKey) -> None:
        ephemeral = ec.generate_private_key(ec.SECP384R1())
        secret = ephemeral.exchange(ec.ECDH(), server_public)
        self.session_key = HKDF(hashes.SHA384(), 32, None, b"fl-session").derive(secret)

    def package(self, weights: list[np.ndarray]) -> bytes:
        assert self.session_key is not None
        blob = pickle.dumps(weights)
        nonce = os.urandom(12)
        ciphertext = AESGCM(self.session_key).encrypt(nonce, blob, self.client_id.encode())
        signature = self.identity.sign(nonce + ciphertext, ec.ECDSA(hashes.SHA384()))
        return nonce + ciphertext + signature

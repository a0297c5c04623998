"""Sign dataset manifests with the data-governance RSA key."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa, utils


def load_signer(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TypeError("governance key must be RSA")
    return key


def sign_manifest(key: rsa.RSAPrivateKey, manifest: dict) -> bytes:
    payload = json.dumps(manifest, sort_keys=True).encode()
    return key.sign(
        payload,
        padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
        hashes.SHA256(),
    )


def sign_prehashed(key: rsa.RSAPrivateKey, digest: bytes) -> bytes:
    return key.sign(digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def check(public: rsa.RSAPublicKey, manifest: dict, signature: bytes) -> None:
    payload = json.dumps(manifest, sort_keys=True).encode()
    public.verify(signature, payload,
                  padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                  hashes.SHA256())

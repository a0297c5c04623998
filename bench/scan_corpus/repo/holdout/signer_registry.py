"""Keeps the signing keys of every model publisher."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa


@dataclass
class Publisher:
    name: str
    key: ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def verify_release(pub: Publisher, signature: bytes, digest: bytes) -> None:
    if isinstance(pub.key, ec.EllipticCurvePublicKey):
        pub.key.verify(signature, digest, ec.ECDSA(hashes.SHA384()))
    else:
        pub.key.verify(signature, digest, padding.PKCS1v15(), hashes.SHA384())


def new_publisher_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(curve=ec.SECP384R1())

"""Encrypted service-to-service tokens with python-jose."""

from jose import jwe, jws, jwt
from jose.constants import ALGORITHMS


def sign_service_token(claims: dict, key: str) -> str:
    return jwt.encode(claims, key, algorithm=ALGORITHMS.ES384)


def read_service_token(token: str, key: str) -> dict:
    return jwt.decode(token, key, algorithms=ALGORITHMS.ES384)


def sign_blob(payload: bytes, secret: str) -> str:
    return jws.sign(payload, secret, algorithm="HS512")


def seal(payload: bytes, public_jwk: dict) -> bytes:
    return jwe.encrypt(payload, public_jwk, algorithm="RSA-OAEP-256", encryption="A256GCM")


def legacy_token(claims: dict, secret: str) -> str:
    # python-jose defaults to HS256
    return jwt.encode(claims, secret)

"""Reads API tokens issued by the 2018 system (DES!) until they expire."""

import base64

from Crypto.Cipher import DES, PKCS1_v1_5
from Crypto.Hash import MD5
from Crypto.PublicKey import RSA

TOKEN_KEY = b"8bytekey"


def read_token(token: str) -> bytes:
    raw = base64.b64decode(token)
    return DES.new(TOKEN_KEY, DES.MODE_ECB).decrypt(raw)


def token_checksum(raw: bytes) -> str:
    return MD5.new(raw).hexdigest()


def unwrap_v1(pem: str, blob: bytes) -> bytes:
    key = RSA.importKey(pem)
    return PKCS1_v1_5.new(key).decrypt(blob, None)

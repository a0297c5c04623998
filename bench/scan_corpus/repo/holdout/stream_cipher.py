"""Streaming encryption of feature shards with PyCryptodome."""

from Crypto.Cipher import AES, ChaCha20
from Crypto.Hash import BLAKE2b, SHA3_256
from Crypto.Random import get_random_bytes

SHARD_KEY_BYTES = 24


class ShardWriter:
    def __init__(self) -> None:
        self.key = get_random_bytes(SHARD_KEY_BYTES)
        self.cipher = AES.new(self.key, AES.MODE_EAX)

    def write(self, chunk: bytes) -> bytes:
        return self.cipher.encrypt(chunk)

    def close(self) -> bytes:
        return self.cipher.digest()


def keystream(key: bytes, nonce: bytes):
    return ChaCha20.new(key=key, nonce=nonce)


def shard_id(data: bytes) -> str:
    return BLAKE2b.new(digest_bits=256, data=data).hexdigest()


def manifest_hash(data: bytes) -> str:
    h = SHA3_256.new()
    h.update(data)
    return h.hexdigest()

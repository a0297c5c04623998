"""File and record hashing utilities."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

CHUNK = 1 << 20
DEFAULT_HASH = "sha256"


def file_digest(path: Path, algorithm: str = DEFAULT_HASH) -> str:
    h = hashlib.new(algorithm)
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def quick_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "blake2b").hexdigest()


def record_id(record: dict) -> str:
    # not used for security: dedup key only
    return hashlib.md5(repr(sorted(record.items())).encode(), usedforsecurity=False).hexdigest()


def etag(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()


def strong_id(data: bytes) -> str:
    return hashlib.sha3_512(data).hexdigest()


def content_address(data: bytes) -> str:
    return "b2:" + hashlib.blake2b(data, digest_size=32).hexdigest()


def password_hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 600_000)


def legacy_password_hash(password: str, salt: bytes) -> bytes:
    return hashlib.pbkdf2_hmac(hash_name="sha1", password=password.encode(), salt=salt,
                               iterations=1000)


def memory_hard(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)


HASHERS = {
    "sha256": hashlib.sha256,
    "sha512": hashlib.sha512,
}

digest_for_shards = functools.partial(file_digest, algorithm="sha512")

"""Hash functions by registry name: hashlib for SHA-2/SHA-3, the optional blake3 package."""

from __future__ import annotations

import hashlib
from typing import Any

from pqml.primitives import registry

_HASHLIB = {
    "SHA-256": "sha256", "SHA-384": "sha384", "SHA-512": "sha512",
    "SHA3-256": "sha3_256", "SHA3-384": "sha3_384", "SHA3-512": "sha3_512",
    "SHA-1": "sha1", "MD5": "md5",
}


def new(name: str, data: bytes = b"") -> Any:
    """A hashlib-style object (update/digest/hexdigest) for the named algorithm."""
    alg = registry.get(name)
    if alg.family != "hash":
        raise registry.UnknownAlgorithmError(f"{alg.name} is not a hash function")
    if alg.name == "BLAKE3":
        alg.require_available()
        import blake3

        # max_threads lets the Rust core use every core for large updates.
        return blake3.blake3(data, max_threads=blake3.blake3.AUTO)
    return hashlib.new(_HASHLIB[alg.name], data, usedforsecurity=alg.status != "broken")


def digest(name: str, data: bytes) -> bytes:
    return bytes(new(name, data).digest())

"""Helpers mirroring the Hugging Face Hub's content addressing."""

import hashlib
import os


def git_oid(data: bytes) -> str:
    header = f"blob {len(data)}\0".encode()
    return hashlib.sha1(header + data).hexdigest()


def lfs_oid(path: str) -> str:
    sha = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            sha.update(block)
    return sha.hexdigest()


def cache_dir() -> str:
    return os.environ.get("HF_HOME", os.path.expanduser("~/.cache/huggingface"))

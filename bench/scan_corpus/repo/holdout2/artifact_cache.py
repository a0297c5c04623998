"""Content-addressed cache for downloaded checkpoints."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path


class ArtifactCache:
    hasher = hashlib.sha256

    def __init__(self, root: Path) -> None:
        self.root = root

    def key(self, url: str) -> str:
        return hashlib.blake2s(url.encode()).hexdigest()

    def verify(self, path: Path, expected: str) -> bool:
        h = self.hasher()
        with path.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        return h.hexdigest() == expected

    def put(self, data: bytes) -> Path:
        digest = hashlib.sha256(data).hexdigest()
        target = self.root / digest[:2] / digest
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        os.chmod(target, 0o444)
        return target

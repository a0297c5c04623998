"""Write outputs whole or not at all: a temporary file beside the target, then a rename.

A reader never sees half a signature or half a checkpoint, and a crash or error leaves the
previous file (if any) untouched. Unlike key files, these outputs may replace an existing
file: re-signing a model or re-saving a checkpoint is the normal case.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, mode: int = 0o644) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``target`` (same suffix, so tools that pick a
    format from the extension still do); on success it is fsynced and renamed over it."""
    path = Path(target)
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_atomic(target: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    with atomic_path(target, mode=mode) as tmp:
        tmp.write_bytes(data)

"""``seek`` arithmetic shared by pqml's read-only file objects (a decrypted view of an
encrypted file, a range-reading object in storage): one place that gets ``whence`` right."""

from __future__ import annotations

import io


def new_position(current: int, size: int, offset: int, whence: int) -> int:
    """Where ``seek(offset, whence)`` lands, as io.RawIOBase does; never negative."""
    if whence == io.SEEK_SET:
        pos = offset
    elif whence == io.SEEK_CUR:
        pos = current + offset
    elif whence == io.SEEK_END:
        pos = size + offset
    else:
        raise ValueError(f"invalid whence ({whence})")
    if pos < 0:
        raise ValueError("negative seek position")
    return pos

"""Inputs by path or URL: a seekable, read-only binary file with positional range reads.

:func:`open_input` gives the same object for both, so callers need one code path:
``read``/``readinto``/``seek``/``tell`` (a ``BufferedReader`` over it streams), and
``pread(size, offset)`` for random access that moves nothing. On an object store every
read is one HTTP range request (``GET`` with ``Range``) of exactly the bytes asked, so a
reader that asks for one 16 KiB chunk costs one request for ~16 KiB, not the object;
``requests`` and ``bytes_read`` count them (the proof that random access stays random).

The size is taken once at open. An object replaced while it is read gives bytes of the
new object after that point: authenticated formats (pqml/v1, age, signatures) then fail
closed; nothing silently mixes.
"""

from __future__ import annotations

import io
import os
from typing import Any

from pqml._internal.seeking import new_position
from pqml.storage.errors import StorageError
from pqml.storage.urls import Location, is_url, local_path, locate

STREAM_BUFFER = 8 * 1024 * 1024
"""Buffer of :func:`open_stream` readers: one range request per 8 MiB when streaming."""


def storage_error(exc: BaseException, url: str, doing: str) -> StorageError:
    """An fsspec / backend failure as a one-line StorageError naming ``url``."""
    if isinstance(exc, StorageError):
        return exc
    if isinstance(exc, FileNotFoundError):
        return StorageError(f"{url}: no such object")
    if isinstance(exc, PermissionError):
        return StorageError(f"{url}: permission denied while {doing}")
    text = str(exc).strip()
    reason = getattr(exc, "strerror", None) or (text.splitlines()[0] if text else
                                                type(exc).__name__)
    return StorageError(f"{url}: cannot {doing}: {reason}")


class _Positioned(io.RawIOBase):
    """Sequential reads at a position of its own, each one a ``pread``."""

    size: int

    def __init__(self) -> None:
        super().__init__()
        self._pos = 0

    def pread(self, size: int, offset: int) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._pos = new_position(self._pos, self.size, offset, whence)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        out = memoryview(buffer).cast("B")
        data = self.pread(len(out), self._pos)
        out[:len(data)] = data
        self._pos += len(data)
        return len(data)


class InputFile(_Positioned):
    """A read-only, seekable input (local file or object) with :meth:`pread`."""

    name: str
    requests: int = 0
    """Reads issued to the storage (range requests for objects, pread calls locally)."""
    bytes_read: int = 0

    # subclasses: _fetch(offset, size) -> bytes

    def _fetch(self, offset: int, size: int) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def pread(self, size: int, offset: int) -> bytes:
        """Up to ``size`` bytes at ``offset`` (fewer only at the end); the position is
        unchanged."""
        if offset >= self.size or size <= 0:
            return b""
        size = min(size, self.size - offset)
        data = self._fetch(offset, size)
        self.requests += 1
        self.bytes_read += len(data)
        return data

    def __repr__(self) -> str:
        return f"<pqml input {self.name!r} ({self.size} bytes)>"


class InputView(_Positioned):
    """A read position of its own over a shared :class:`InputFile` (its reads are the
    file's ``pread``); closing it leaves the file open."""

    def __init__(self, raw: InputFile) -> None:
        super().__init__()
        self.raw = raw
        self.size = raw.size

    def pread(self, size: int, offset: int) -> bytes:
        return self.raw.pread(size, offset)


class LocalInput(InputFile):
    """A local regular file (or anything ``open`` reads: a fifo has no size, so it is
    refused up front for random access only by callers that need one)."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__()
        self.name = os.fspath(path)
        self._file = open(path, "rb", buffering=0)  # noqa: SIM115 - closed by close()
        self.size = os.fstat(self._file.fileno()).st_size

    def fileno(self) -> int:
        return self._file.fileno()

    def _fetch(self, offset: int, size: int) -> bytes:
        return os.pread(self._file.fileno(), size, offset)

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()


class ObjectInput(InputFile):
    """An object in an fsspec store, read by range requests."""

    def __init__(self, location: Location) -> None:
        super().__init__()
        self.name = location.url
        self.location = location
        try:
            info = location.fs.info(location.path)
        except Exception as exc:  # every backend raises its own
            raise storage_error(exc, location.url, "read it") from None
        if info.get("type") == "directory":
            raise StorageError(f"{location.url}: is a prefix (directory), not an object")
        self.size = int(info.get("size") or 0)
        self.etag = info.get("ETag") or info.get("etag")

    def _fetch(self, offset: int, size: int) -> bytes:
        loc = self.location
        try:
            data = loc.fs.cat_file(loc.path, start=offset, end=offset + size)
        except Exception as exc:
            raise storage_error(exc, loc.url, "read it") from None
        if len(data) != size:
            raise StorageError(f"{loc.url}: the object changed while it was read "
                               f"(asked {size} bytes at {offset}, got {len(data)})")
        return bytes(data)


def open_input(target: str | os.PathLike[str], **options: Any) -> InputFile:
    """Open a local path or URL for reading: seekable, ``size`` known, ``pread`` for
    random access. Errors name the target (OSError for local paths as ``open`` gives;
    StorageError / MissingExtraError / StorageURLError for URLs)."""
    if is_url(target):
        return ObjectInput(locate(str(target), **options))
    return LocalInput(local_path(target))


def open_stream(target: str | os.PathLike[str], *, buffer_size: int = STREAM_BUFFER,
                **options: Any) -> io.BufferedReader:
    """:func:`open_input` behind a read buffer (``buffer_size`` per request): for
    sequential reads; ``.raw`` is the :class:`InputFile`."""
    return io.BufferedReader(open_input(target, **options), buffer_size=buffer_size)

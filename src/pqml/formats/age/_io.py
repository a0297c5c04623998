"""A small read buffer shared by the header parser, the armor decoder and the payload.

The header is read line by line and the payload starts right after it in the same
stream, so both must read through one buffer (over-reading for a line is then harmless).
Works on any object with ``read(n)``: files, pipes, sockets' makefile(), BytesIO, and
our own armor decoder. Memory stays bounded by the largest single request.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any, Protocol


class Readable(Protocol):
    def read(self, size: int, /) -> bytes | None: ...


_BLOCK = 64 * 1024


class Source:
    """Buffered reader with "read fully" semantics: ``read(n)`` returns fewer than ``n``
    bytes only at end of input (so a short read always means truncation)."""

    def __init__(self, raw: Readable, prefix: bytes = b"") -> None:
        self._raw = raw
        self._buf = bytearray(prefix)
        self._eof = False

    def _fill(self, n: int) -> None:
        """Buffer at least ``n`` bytes unless the input ends first."""
        while len(self._buf) < n and not self._eof:
            # Small requests (header lines) read a block; large ones (payload chunks) read
            # exactly what is missing, so the buffer drains and the fast path resumes.
            data = self._raw.read(max(n - len(self._buf), _BLOCK if n < _BLOCK else 0))
            if not data:
                self._eof = True
            else:
                self._buf += data

    def peek(self, n: int) -> bytes:
        self._fill(n)
        return bytes(self._buf[:n])

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes; fewer only at end of input."""
        if not self._buf:
            # Fast path for payload chunks: read straight from the raw stream.
            parts: list[bytes] = []
            got = 0
            while got < n and not self._eof:
                data = self._raw.read(n - got)
                if not data:
                    self._eof = True
                    break
                parts.append(data)
                got += len(data)
            return parts[0] if len(parts) == 1 else b"".join(parts)
        self._fill(n)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def readinto(self, buf: bytearray | memoryview) -> int:
        """Fill ``buf``; fewer bytes only at end of input. Payload blocks read this way land
        in one reused buffer instead of a fresh multi-MiB ``bytes`` per read."""
        view = memoryview(buf).cast("B")
        got = min(len(self._buf), len(view))
        if got:
            view[:got] = self._buf[:got]
            del self._buf[:got]
        readinto = getattr(self._raw, "readinto", None)
        while got < len(view) and not self._eof:
            if readinto is not None:
                try:
                    n = readinto(view[got:]) or 0
                except (NotImplementedError, io.UnsupportedOperation):
                    readinto = None  # a RawIOBase that implements only read()
                    continue
            else:
                data = self._raw.read(len(view) - got)
                n = len(data) if data else 0
                view[got:got + n] = data or b""
            if not n:
                self._eof = True
                break
            got += n
        return got

    def readline(self, limit: int) -> bytes:
        """One line including its ``\\n``, or at most ``limit`` bytes, or what is left at
        end of input; callers check which it was."""
        start = 0
        while True:
            pos = self._buf.find(b"\n", start, limit)
            if pos >= 0:
                return self.read(pos + 1)
            if len(self._buf) >= limit or self._eof:
                return self.read(min(len(self._buf), limit))
            start = len(self._buf)
            self._fill(len(self._buf) + 1)

    def at_eof(self) -> bool:
        self._fill(1)
        return not self._buf


def output_buffers(dst: Any, size: int) -> tuple[Callable[[], bytearray],
                                                 Callable[[memoryview], object]]:
    """Where a payload writer puts each block of ``size`` bytes at most, and how it hands
    it over: a sink with ``buffer``/``submit`` (pqml._internal.write_behind) lends its own
    buffers and takes them back filled, without a copy (empty views too, so every buffer
    returns to its pool); any other ``dst`` gets one reused buffer and ``write``."""
    take, submit = getattr(dst, "buffer", None), getattr(dst, "submit", None)
    if take is not None and submit is not None:
        return (lambda: take(size)), submit  # type: ignore[no-any-return]
    reused = bytearray(size)
    return (lambda: reused), dst.write

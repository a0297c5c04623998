"""Write-behind: the kernel's copy into the page cache runs beside the encryption.

Encrypting (pyca, GIL held) and ``write()`` (kernel, GIL released) done one after the other
add up; on two threads they overlap. Measured on the project's 2-vCPU VM, 2 GiB pqml/v1
payload in process: serial 1.05-3.55 s, writer thread 0.64-0.91 s; copying each block once
more into a private buffer instead of handing it over cost 0.2 s of that gain, hence the
zero-copy :meth:`WriteBehind.buffer` / :meth:`WriteBehind.submit` pair.

Producers either fill buffers from :meth:`buffer` and hand them over with :meth:`submit`
(pqml/v1 blocks), or :meth:`write` small pieces that are gathered into the current buffer
(age's 64 KiB chunks; one syscall per 4 MiB). Order is kept. A write error in the thread
(disk full) is raised to the producer at its next call and by :meth:`close`; memory stays
bounded at ``depth`` buffers.
"""

from __future__ import annotations

import queue
import threading
from types import TracebackType
from typing import Any

from pqml.formats.pqml_v1.file import Writable

BUFFER_SIZE = 4 * 1024 * 1024
DEPTH = 3  # one being filled, one being written, one spare: more measured no faster
# How data goes to the kernel: in pieces of at most WRITE_PIECE bytes whose ends fall one
# byte past a multiple of it (so never on a page boundary). Measured on this VM (Linux 6.18,
# ext4; bench/write_pattern.py, docs/PERFORMANCE.md): the size is what matters most, since
# 2 GiB in 4 MiB writes took 2.3-4.9 s, in 1 MiB writes 0.4-1.7 s, in 256 KiB writes
# 0.43-0.63 s. The one-byte shift is a smaller and less steady effect: in one interleaved
# A/B of pqml itself, decrypting a 2 GiB age file took 2.3-4.2 s with aligned cuts and
# 0.84-1.08 s shifted; in the benchmark's run, 1.06-1.87 s against 1.02-1.28 s, and plain
# copies were faster shifted while bare writes were faster aligned. Elsewhere the shift
# costs two partial pages per piece.
WRITE_PIECE = 256 * 1024


def pieces(position: int, size: int) -> list[tuple[int, int]]:
    """``(start, end)`` offsets into a write of ``size`` bytes at file ``position``."""
    out = []
    start = 0
    while start < size:
        pos = position + start
        end = min(size, ((pos - 1) // WRITE_PIECE + 1) * WRITE_PIECE + 1 - position)
        out.append((start, end))
        start = end
    return out


class WriteBehind:
    """A write-only file object whose writes to ``dst`` happen on a background thread."""

    def __init__(self, dst: Writable, *, buffer_size: int = BUFFER_SIZE,
                 depth: int = DEPTH) -> None:
        self._dst = dst
        self._size = buffer_size
        self._depth = depth
        self._made = 0
        self._pool: set[int] = set()
        self._free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        self._todo: queue.SimpleQueue[memoryview | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._current: bytearray | None = None
        self._filled = 0
        self._closed = False
        self._written = 0  # bytes written so far: where the next write lands
        self._thread = threading.Thread(target=self._run, name="pqml-write-behind",
                                        daemon=True)
        self._thread.start()

    # ---- producer side ----------------------------------------------------------------

    def buffer(self, size: int = 0) -> bytearray:
        """A buffer of at least ``size`` bytes to fill and :meth:`submit`; blocks while
        ``depth`` buffers are in flight."""
        self._flush_current()
        return self._take(size)

    def submit(self, view: memoryview) -> None:
        """Queue ``view`` (of a :meth:`buffer`, or any bytes the caller won't change) for
        writing; a pool buffer must not be touched after this."""
        self._check()
        self._flush_current()
        self._todo.put(view)

    def write(self, data: Any) -> int:
        """Copy ``data`` into the current buffer; it is written when full or on close."""
        self._check()
        view = memoryview(data).cast("B")
        n = len(view)
        while len(view):
            if self._current is None:
                self._current, self._filled = self._take(0), 0
            room = len(self._current) - self._filled
            take = min(room, len(view))
            self._current[self._filled:self._filled + take] = view[:take]
            self._filled += take
            view = view[take:]
            if self._filled == len(self._current):
                self._flush_current()
        return n

    def flush(self) -> None:
        """Queue the partly filled buffer (the data is written soon, not synchronously)."""
        self._flush_current()

    def writable(self) -> bool:
        return True

    def close(self) -> None:
        """Write everything queued, stop the thread, and raise any write error."""
        if self._closed:
            return
        try:
            if self._error is None:
                self._flush_current()
        finally:
            self._stop()
        self._check()

    def abort(self) -> None:
        """Stop without writing what is still queued (the output is being discarded)."""
        if self._error is None:
            self._error = _Aborted()
        self._stop()

    def __enter__(self) -> WriteBehind:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    # ---- internals --------------------------------------------------------------------

    def _take(self, size: int) -> bytearray:
        self._check()
        if size > self._size:
            self._size = size
        while True:
            if self._made < self._depth:
                try:
                    buf = self._free.get_nowait()
                except queue.Empty:
                    buf = self._new()
            else:
                buf = self._free.get()
                self._check()
            if len(buf) >= self._size:
                return buf
            self._pool.discard(id(buf))  # smaller than now asked for: replace it
            self._made -= 1

    def _new(self) -> bytearray:
        buf = bytearray(self._size)
        self._pool.add(id(buf))
        self._made += 1
        return buf

    def _flush_current(self) -> None:
        if self._current is not None:
            if self._filled:
                self._todo.put(memoryview(self._current)[:self._filled])
            else:
                self._free.put(self._current)
            self._current, self._filled = None, 0

    def _check(self) -> None:
        if self._error is not None and not isinstance(self._error, _Aborted):
            raise self._error

    def _stop(self) -> None:
        self._closed = True
        self._todo.put(None)
        self._thread.join()

    def _run(self) -> None:
        while True:
            view = self._todo.get()
            if view is None:
                return
            if self._error is None:
                try:
                    for start, end in pieces(self._written, len(view)):
                        self._dst.write(view[start:end])
                    self._written += len(view)
                except BaseException as exc:  # handed to the producer
                    self._error = exc
            owner = view.obj
            view.release()
            if isinstance(owner, bytearray) and id(owner) in self._pool:
                self._free.put(owner)


class _Aborted(Exception):
    """Marks a write-behind stopped because the producer failed."""

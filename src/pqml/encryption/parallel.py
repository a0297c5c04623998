"""Multi-process encryption and decryption of large regular files, both formats.

Why processes: pyca's AES-GCM, ChaCha20-Poly1305 and Cobblestone hold the GIL (two
threads give no speed-up, DESIGN.md §5.2), and most of the time goes to the kernel
(page-cache allocation for the output), which processes writing disjoint ranges can
split across cores. Opt-in (``-j N``): bench/encryption.py measures both paths, and on
this machine's disk the serial path is faster (see :func:`jobs_for`).

How: both payloads are sequences of independently sealed chunks whose index is bound by
the nonce and whose final chunk is known from the total size, so a file of known size has
a fixed layout. The parent writes the header (pqml/v1: in a header area from 64 MiB, as
the serial path does) and payload prefix (pqml/v1: salt and key commitment; age: nonce),
sizes the temporary output, and hands contiguous chunk ranges to worker processes, which
``pread`` their input range, seal or open each chunk, and ``pwrite`` the result at its
final offset. pqml/v1 chunks are sealed with ``AESGCM``
under the key and base nonce C2SP chunked encryption derives
(:class:`pqml.primitives.chunked.ChunkCipher`; tests prove the output byte-compatible
with pyca's Cobblestone256 both ways); age chunks with the age STREAM cipher.

Decryption checks exactly what the streaming path checks: header, MAC, commitment, a
payload size a valid file can have, every chunk at its index, the final chunk as final.
Any failure in any worker aborts the pool, and the caller's atomic output is deleted.
Workers ignore SIGINT; the parent terminates them on Ctrl-C.
"""

from __future__ import annotations

import errno
import os
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pqml._internal.errors import OutputPathError
from pqml._internal.write_behind import pieces
from pqml.formats.age.errors import PayloadError
from pqml.primitives.errors import PqmlError

SLICE_SIZE = 32 * 1024 * 1024  # plaintext bytes per task (progress granularity)
BATCH_BYTES = 4 * 1024 * 1024  # plaintext per pread/pwrite inside a task

Kind = Literal["pqml", "age"]


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def jobs_for(size: int, jobs: int | None) -> int:
    """Worker count: ``jobs`` if given, else 1.

    Serial is the default because it measured faster where it matters: the serial path
    already overlaps encryption with the kernel's writes (_internal/write_behind.py), and
    two processes writing one file on ext4 contend for its inode lock (two plain 4 MiB
    writers took 3.6-3.8 s for 2 GiB here, one writer 0.6-0.7 s). Parallel helps when
    the input must come from disk (docs/PERFORMANCE.md). ``size`` is kept for callers
    that may pick by size later."""
    del size
    if jobs is None:
        return 1
    if jobs < 1:
        raise PqmlError(f"--jobs must be at least 1, got {jobs}")
    return jobs


@dataclass(frozen=True, repr=False)
class Codec:
    """What a worker needs to seal or open one file's chunks."""

    kind: Kind
    key: bytes
    base_nonce: bytes = b""  # pqml/v1 only
    commitment: bytes = b""

    @property
    def chunk_size(self) -> int:
        return 16 * 1024 if self.kind == "pqml" else 64 * 1024

    @property
    def wire_size(self) -> int:
        return self.chunk_size + 16

    def cipher(self) -> Any:
        if self.kind == "pqml":
            from pqml.primitives import chunked

            keys = chunked.DerivedKeys(self.key, self.base_nonce, self.commitment)
            return chunked.ChunkCipher(keys, b"")
        from pqml.formats.age import stream

        return stream.PayloadCipher(self.key)

    def __repr__(self) -> str:  # never show key material
        return f"<{self.kind} chunk codec>"


@dataclass(frozen=True)
class Task:
    codec: Codec
    encrypt: bool
    src: str
    dst: str
    src_offset: int  # file offset of chunk 0 (plaintext 0 when encrypting)
    dst_offset: int
    first: int
    stop: int
    count: int  # chunks in the whole payload
    plaintext_size: int


def _pread_exact(fd: int, view: memoryview, offset: int) -> None:
    got = 0
    while got < len(view):
        n = os.preadv(fd, [view[got:]], offset + got)
        if n <= 0:
            raise PayloadError("file is truncated (it changed while being processed)")
        got += n


def _pwrite_all(fd: int, view: memoryview, offset: int) -> None:
    """In the pieces write_behind.pieces gives, for the reason write_behind.py gives."""
    for start, end in pieces(offset, len(view)):
        part, at = view[start:end], offset + start
        while len(part):
            n = os.pwritev(fd, [part], at)
            part, at = part[n:], at + n


_BUFFERS: dict[int, tuple[memoryview, memoryview]] = {}


def _buffers(size: int) -> tuple[memoryview, memoryview]:
    """Two I/O buffers reused by every task of this worker: fresh ones would cost a page
    fault per 4 KiB each time (which dominated the age path when allocated per task)."""
    if size not in _BUFFERS:
        _BUFFERS.clear()
        _BUFFERS[size] = (memoryview(bytearray(size)), memoryview(bytearray(size)))
    return _BUFFERS[size]


def run_task(task: Task) -> int:
    """Worker body: seal or open chunks ``first..stop-1``; return plaintext bytes done."""
    codec = task.codec
    cs, ws = codec.chunk_size, codec.wire_size
    cipher = codec.cipher()
    pqml = codec.kind == "pqml"
    last_plain = task.plaintext_size - (task.count - 1) * cs
    in_unit, out_unit = (cs, ws) if task.encrypt else (ws, cs)
    batch = BATCH_BYTES // cs
    iv, ov = _buffers(batch * ws)
    done = 0
    fin = os.open(task.src, os.O_RDONLY)
    fout = os.open(task.dst, os.O_WRONLY)
    try:
        index = task.first
        while index < task.stop:
            n = min(batch, task.stop - index)
            final_in_batch = index + n == task.count
            plain_len = (n - 1) * cs + last_plain if final_in_batch else n * cs
            wire_len = plain_len + n * 16
            in_len, out_len = (plain_len, wire_len) if task.encrypt else (wire_len, plain_len)
            _pread_exact(fin, iv[:in_len], task.src_offset + index * in_unit)
            pos_in = pos_out = 0
            for k in range(n):
                i = index + k
                final = i == task.count - 1
                p = last_plain if final else cs
                size_in, size_out = (p, p + 16) if task.encrypt else (p + 16, p)
                src = iv[pos_in:pos_in + size_in]
                dst = ov[pos_out:pos_out + size_out]
                if task.encrypt:
                    if pqml:
                        cipher.seal_chunk_into(i, src, final, dst)
                    else:
                        dst[:] = cipher.seal_chunk(i, src, final)
                elif pqml:
                    try:
                        cipher.open_chunk_into(i, src, final, dst)
                    except PqmlError as exc:
                        raise PayloadError(str(exc)) from None
                else:
                    dst[:] = cipher.open_chunk(i, bytes(src), final)
                pos_in += size_in
                pos_out += size_out
            _pwrite_all(fout, ov[:out_len], task.dst_offset + index * out_unit)
            done += plain_len
            index += n
    finally:
        os.close(fin)
        os.close(fout)
    return done


def _init_worker() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _context() -> Any:
    import multiprocessing  # 10 ms of start-up that serial runs (the default) never need

    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return multiprocessing.get_context("fork")  # no re-import, key stays in memory
    return multiprocessing.get_context("spawn")


def run(tasks: list[Task], workers: int, progress: Callable[[int], object] | None) -> None:
    """Run ``tasks`` on ``workers`` processes; the first failure aborts everything."""
    pool = _context().Pool(min(workers, len(tasks)), initializer=_init_worker)
    try:
        for done in pool.imap_unordered(run_task, tasks):
            if progress is not None:
                progress(done)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EROFS, errno.EIO}


def _run_into(out: Any, tasks: list[Task], workers: int,
              progress: Callable[[int], object] | None) -> None:
    """:func:`run`, with a worker's failed write reported against the output's name."""
    try:
        run(tasks, workers, progress)
    except OSError as exc:
        if exc.errno not in _OUTPUT_ERRNOS:
            raise
        raise OutputPathError(f"{out.target}: cannot write: {exc.strerror or exc} "
                              "(no output was left)") from None


def split(codec: Codec, encrypt: bool, src: str, dst: str, src_offset: int, dst_offset: int,
          count: int, plaintext_size: int) -> list[Task]:
    """Chunk ranges of about SLICE_SIZE plaintext bytes each."""
    per = max(1, SLICE_SIZE // codec.chunk_size)
    return [Task(codec, encrypt, src, dst, src_offset, dst_offset, first,
                 min(count, first + per), count, plaintext_size)
            for first in range(0, count, per)]


def _truncate(out: Any, size: int) -> None:
    try:
        os.ftruncate(out.fileno(), size)
    except OSError as exc:
        raise OutputPathError(f"{out.target}: cannot write: {exc.strerror or exc} "
                              "(no output was left)") from None


# ---- whole files ----------------------------------------------------------------------------


def encrypt_file(kind: Kind, recipients: list[Any], src: str, size: int, out: Any,
                 workers: int, progress: Callable[[int], object] | None) -> None:
    """Encrypt the regular file ``src`` (``size`` bytes) into the atomic output ``out``
    (an :class:`~pqml._internal.output_file.AtomicOutput`) with ``workers`` processes."""
    if kind == "pqml":
        from pqml.formats import pqml_v1
        from pqml.primitives import chunked

        file_key = os.urandom(pqml_v1.FILE_KEY_SIZE)
        header = pqml_v1.wrap_file_key(file_key, recipients, allow_classical=True,
                                       plaintext_size=size)
        cipher = chunked.ChunkCipher.for_salt(pqml_v1.payload_key(file_key),
                                              os.urandom(chunked.SALT_SIZE),
                                              pqml_v1.PAYLOAD_CONTEXT)
        keys = cipher.keys
        codec = Codec("pqml", keys.key, keys.base_nonce, keys.commitment)
        prefix = pqml_v1.marshal_header(header) + cipher.header  # header area from 64 MiB
        count = size // codec.chunk_size + 1
    else:
        from pqml.formats import age
        from pqml.formats.age import stream

        file_key = os.urandom(stream.FILE_KEY_SIZE)
        header = age.wrap_file_key(file_key, recipients, allow_mixed_pq=True)
        nonce = os.urandom(stream.NONCE_SIZE)
        codec = Codec("age", stream.payload_key(file_key, nonce))
        prefix = header.marshal() + nonce
        count = max(1, -(-size // codec.chunk_size))
    out.write(prefix)
    total = len(prefix) + size + count * 16
    _truncate(out, total)
    _run_into(out, split(codec, True, src, str(out.temp), 0, len(prefix), count, size),
              workers, progress)
    out.size = total


def decrypt_payload(kind: Kind, file_key: bytes, src: str, payload_offset: int,
                    file_size: int, out: Any, workers: int,
                    progress: Callable[[int], object] | None) -> int:
    """Decrypt the payload of ``src`` (after its header) into ``out``; return its size."""
    if kind == "pqml":
        from pqml.formats import pqml_v1
        from pqml.primitives import chunked

        try:
            count, last = chunked.chunk_layout(file_size - payload_offset)
        except chunked.ChunkedFormatError as exc:
            raise PayloadError(str(exc)) from None
        with open(src, "rb") as f:
            f.seek(payload_offset)
            cipher = pqml_v1.chunk_cipher(file_key, f.read(chunked.HEADER_SIZE))
        keys = cipher.keys
        codec = Codec("pqml", keys.key, keys.base_nonce, keys.commitment)
        chunks_offset = payload_offset + chunked.HEADER_SIZE
    else:
        from pqml.formats.age import stream

        with open(src, "rb") as f:
            f.seek(payload_offset)
            nonce = f.read(stream.NONCE_SIZE)
        if len(nonce) != stream.NONCE_SIZE:
            raise PayloadError("file is truncated: the payload nonce is missing")
        chunks_offset = payload_offset + stream.NONCE_SIZE
        count = stream.chunk_count(file_size - chunks_offset)
        last = file_size - chunks_offset - (count - 1) * stream.ENCRYPTED_CHUNK_SIZE
        codec = Codec("age", stream.payload_key(file_key, nonce))
    plaintext = (count - 1) * codec.chunk_size + last - 16
    _truncate(out, plaintext)
    _run_into(out, split(codec, False, src, str(out.temp), chunks_offset, 0, count,
                         plaintext), workers, progress)
    out.size = plaintext
    return plaintext

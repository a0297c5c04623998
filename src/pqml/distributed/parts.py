"""What one worker does with one work item, on any engine.

Every function here takes one picklable task and returns one picklable result, so the
local process pool and Ray run them unchanged. Tasks carry nothing secret beyond what the
job needs: a cipher task carries its file's chunk key (:class:`~pqml.encryption.parallel.
Codec`: the AES key, base nonce and commitment C2SP chunked encryption derives from the
payload key — it opens no header, unwraps no file key and can forge no header MAC); a
hash or scan task carries nothing secret at all.

Where a cipher part's bytes go (:class:`Sink`):

* ``direct``: ``pwrite`` into the driver's unnamed output (``/proc/PID/fd/N``), when the
  worker runs on the driver's node; this is :func:`pqml.encryption.parallel.run_task`
  itself, the local multi-process path's worker body.
* ``multipart``: one S3 multipart part, uploaded by the worker through
  :class:`pqml.storage.writer.MultipartUpload` (the driver completes or aborts it).
* ``return``: back to the driver, which writes it (a worker on another node with a local
  output; object stores without multipart uploads).

A part's bytes are a function of the item and the codec alone (the salt is chosen once,
by the driver), so a retried task produces exactly the bytes of the first attempt, and a
part uploaded twice under one number is replaced by identical bytes.
"""

from __future__ import annotations

import os
import socket
import sys
from dataclasses import dataclass, field
from typing import Any, Literal

from pqml.distributed.planner import WorkItem
from pqml.encryption import parallel
from pqml.formats.age.errors import PayloadError
from pqml.primitives.errors import PqmlError

BATCH_BYTES = 4 * 1024 * 1024  # input read per call inside a part (as the local path)
HASH_BUFFER = 8 * 1024 * 1024


def current_node() -> str:
    """The Ray node id when running in a Ray worker or driver, else ``local:HOSTNAME``.
    Ray is never imported here: a worker of the local engine must not pay for it."""
    ray = sys.modules.get("ray")
    if ray is not None and ray.is_initialized():
        return str(ray.get_runtime_context().get_node_id())
    return f"local:{socket.gethostname()}"


@dataclass(frozen=True)
class Sink:
    """Where a cipher part goes; see the module docstring."""

    kind: Literal["direct", "multipart", "return"]
    path: str = ""
    node: str | None = None  # direct: the node ``path`` lives on (None: this machine)
    upload: Any = None  # multipart: a pqml.storage.writer.MultipartUpload


@dataclass(frozen=True)
class CipherTask:
    item: WorkItem
    codec: parallel.Codec
    encrypt: bool
    chunk_count: int
    plaintext_size: int
    prefix_size: int  # encryption: bytes before chunk 0 (header, salt and commitment)
    prefix: bytes  # those bytes, in part 1 only (public: no key opens anything with them)
    sink: Sink

    @property
    def plaintext_bytes(self) -> int:
        """The plaintext bytes this part handles: what its result will report (so a
        progress bar can be sized before any part runs)."""
        count = self.item.stop_chunk - self.item.first_chunk
        if count <= 0:
            return 0
        size = self.codec.chunk_size
        if self.item.stop_chunk == self.chunk_count:
            return (count - 1) * size + self.plaintext_size - (self.chunk_count - 1) * size
        return count * size


@dataclass(frozen=True)
class PartResult:
    """What a cipher part reports: its node (proof of where it ran), the plaintext bytes
    it handled, and its bytes (``return`` sinks) or its uploaded part (``multipart``)."""

    name: str
    part: int
    node: str
    pid: int
    plaintext: int
    data: bytes | None = None
    uploaded: dict[str, Any] | None = field(default=None)


def _local(location: str) -> bool:
    from pqml.storage.urls import is_url

    return not is_url(location)


def _direct(task: CipherTask, node: str) -> bool:
    sink = task.sink
    return (sink.kind == "direct" and _local(task.item.source)
            and (sink.node is None or sink.node == node))


def run_cipher(task: CipherTask) -> PartResult:
    """Seal or open chunks ``[first_chunk, stop_chunk)`` of one file; errors name it."""
    from pqml.encryption.encrypt import named

    try:
        return _run_cipher(task)
    except PqmlError as exc:
        raise named(exc, task.item.source) from None


def _run_cipher(task: CipherTask) -> PartResult:
    node = current_node()
    item = task.item
    if _direct(task, node):
        codec = task.codec
        chunks_at = item.start - item.first_chunk * (codec.wire_size if not task.encrypt
                                                     else codec.chunk_size)
        done = parallel.run_task(parallel.Task(  # the driver wrote the prefix
            codec, task.encrypt, item.source, task.sink.path,
            chunks_at if not task.encrypt else 0, task.prefix_size if task.encrypt else 0,
            item.first_chunk, item.stop_chunk, task.chunk_count, task.plaintext_size))
        return PartResult(item.name, item.part, node, os.getpid(), done)
    data, done = transform(task)
    if task.sink.kind == "multipart":
        uploaded = task.sink.upload.upload_part(item.part, data)
        return PartResult(item.name, item.part, node, os.getpid(), done, uploaded=uploaded)
    # "return", or "direct" on another node than the output's: the driver writes it
    return PartResult(item.name, item.part, node, os.getpid(), done, data=bytes(data))


def transform(task: CipherTask) -> tuple[bytearray, int]:
    """The part's output bytes ``[out_start, out_end)`` (the prefix first for part 1 of
    an encryption), reading the input by ranges through the storage seam. Returns the
    bytes and the plaintext size handled."""
    from pqml.storage.reader import open_input

    item, codec = task.item, task.codec
    cs, ws = codec.chunk_size, codec.wire_size
    cipher = codec.cipher()
    out = bytearray(item.out_end - item.out_start)
    view = memoryview(out)
    pos = 0
    if task.encrypt and item.part == 1:
        if len(task.prefix) != task.prefix_size:
            raise PqmlError(f"{item.name}: part 1 lacks its {task.prefix_size}-byte prefix")
        view[:task.prefix_size] = task.prefix
        pos = task.prefix_size
    last_plain = task.plaintext_size - (task.chunk_count - 1) * cs
    in_unit = cs if task.encrypt else ws
    chunks_at = item.start - item.first_chunk * in_unit
    batch = max(1, BATCH_BYTES // cs)
    done = 0
    with open_input(item.source) as src:
        index = item.first_chunk
        while index < item.stop_chunk:
            n = min(batch, item.stop_chunk - index)
            final_in_batch = index + n == task.chunk_count
            plain_len = (n - 1) * cs + last_plain if final_in_batch else n * cs
            in_len = plain_len if task.encrypt else plain_len + n * 16
            data = src.pread(in_len, chunks_at + index * in_unit)
            if len(data) != in_len:
                raise PayloadError("file is truncated (it changed while being processed)")
            src_view = memoryview(data)
            at = 0
            for i in range(index, index + n):
                final = i == task.chunk_count - 1
                p = last_plain if final else cs
                size_in = p if task.encrypt else p + 16
                size_out = p + 16 if task.encrypt else p
                chunk, dst = src_view[at:at + size_in], view[pos:pos + size_out]
                if task.encrypt:
                    cipher.seal_chunk_into(i, chunk, final, dst)
                else:
                    try:
                        cipher.open_chunk_into(i, chunk, final, dst)
                    except PqmlError as exc:
                        raise PayloadError(str(exc)) from None
                at += size_in
                pos += size_out
            done += plain_len
            index += n
    if pos != len(out):  # pragma: no cover - the planner's arithmetic is tested
        raise PqmlError(f"{item.name}: part {item.part} produced {pos} of {len(out)} bytes")
    return out, done


# ---- hashing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class HashTask:
    """Hash bytes ``[start, end)`` of one model file. ``root`` is the model (a local
    directory or single file, opened by name with the signer's own link rules); for a
    URL input ``root`` is empty and ``item.source`` is read by range requests."""

    item: WorkItem
    root: str
    file_size: int
    htype: str
    allow_symlinks: bool


@dataclass(frozen=True)
class HashResult:
    """A digest, or the exception hashing raised: the signer reports every bad file, so
    one failure is a result here, not the end of the job."""

    name: str
    start: int
    end: int
    node: str
    digest: bytes = b""
    error: Exception | None = None


def run_hash(task: HashTask) -> HashResult:
    """One digest. Local files go through the signer's own hashing task (same file
    opening rules, same size check), so a digest here is the digest ``pqml sign``
    computes, bit for bit; nothing secret is involved."""
    from pathlib import Path

    from pqml.signing import manifest

    item = task.item
    node = current_node()
    try:
        if task.root:
            digest = manifest._hash_task(  # the local path's worker body, reused as is
                Path(task.root), manifest._Task(item.name, task.file_size, item.start,
                                                item.end),
                task.htype, task.allow_symlinks)
        else:
            digest = _hash_object(task)
    except (OSError, PqmlError) as exc:
        return HashResult(item.name, item.start, item.end, node, error=exc)
    return HashResult(item.name, item.start, item.end, node, digest)


def _hash_object(task: HashTask) -> bytes:
    from pqml.signing import manifest
    from pqml.signing.errors import FileChangedError
    from pqml.storage.reader import open_input

    item = task.item
    hasher = manifest.new_hasher(task.htype)
    with open_input(item.source) as src:
        if src.size != task.file_size:
            raise FileChangedError(f"{item.source}: changed size")
        offset = item.start
        while offset < item.end:
            data = src.pread(min(HASH_BUFFER, item.end - offset), offset)
            if not data:
                raise FileChangedError(f"{item.source}: shrank")
            hasher.update(data)
            offset += len(data)
    return bytes(hasher.digest())


# ---- scanning ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScanTask:
    files: tuple[tuple[int, str, str, int], ...]  # (root index, path, rel, size)
    risk: Any  # pqml.scan.config.RiskConfig


def run_scan(task: ScanTask) -> tuple[str, list[Any]]:
    """Scan a batch of files exactly as the local scan's workers do; returns the node and
    the per-file results (findings already risk-assessed and fingerprinted)."""
    from pqml.scan import runner

    return current_node(), runner._scan_batch(list(task.files), task.risk)

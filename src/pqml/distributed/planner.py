"""The engine-independent planner: inputs in, work items out.

A work item is one byte range of one input (a path or URL) and where its result goes:
part ``part`` of ``parts`` of ``destination``, at output offset ``out_start``. Nothing
here reads a byte or knows an engine, so the local process pool and Ray run the very
same plan, and a plan can be checked by itself (tests do: parts are contiguous, chunk
aligned, within S3's limits).

pqml/v1 layout (DESIGN.md §5.2, the same arithmetic as :mod:`pqml.encryption.parallel`):
plaintext byte ``i`` lives in chunk ``i // 16384``; every chunk but the final one holds
16384 bytes and is 16400 on the wire; a payload of ``n`` bytes has ``n // 16384 + 1``
chunks (a full final chunk would not be final). The bytes before the chunks — header (or
the two header slots of a header area, from 64 MiB) and the payload's salt and
commitment — are the *prefix*, computed by the driver and written at the start of part 1.

Part sizes follow S3 multipart rules so an item can be uploaded as a part: every part
but the last at least 5 MiB, at most 5 GiB, at most 10,000 parts. The default of 32 MiB
of plaintext per part (the local path's slice) keeps the per-task scheduling cost (Ray:
about 1 ms) under 0.1 % of the task's work; larger objects get larger parts so they
still fit in 10,000.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from pqml.primitives.chunked import CHUNK_SIZE, HEADER_SIZE, TAG_SIZE, WIRE_CHUNK_SIZE
from pqml.primitives.errors import PqmlError

PART_SIZE = 32 * 1024 * 1024
"""Default plaintext bytes per part (a multiple of the 16 KiB chunk)."""
MIN_PART = 5 * 1024 * 1024
MAX_PART = 5 * 1024 * 1024 * 1024
MAX_PARTS = 10_000


@dataclass(frozen=True)
class Input:
    """One input of a job: where to read it, its name in the job (a tree-relative name,
    or the file's own name), and its size when listed."""

    location: str
    name: str
    size: int


@dataclass(frozen=True)
class WorkItem:
    """One task's share: bytes ``[start, end)`` of ``source``, producing bytes
    ``[out_start, out_end)`` of ``destination`` as its part ``part`` of ``parts``.
    Chunked jobs also name the chunks ``[first_chunk, stop_chunk)`` the range holds."""

    source: str
    name: str
    part: int
    parts: int
    start: int
    end: int
    out_start: int = 0
    out_end: int = 0
    first_chunk: int = 0
    stop_chunk: int = 0
    destination: str | None = None

    @property
    def size(self) -> int:
        return self.end - self.start


def chunk_count(plaintext_size: int) -> int:
    """Chunks of a pqml/v1 payload of ``plaintext_size`` bytes (the final one may be empty)."""
    return plaintext_size // CHUNK_SIZE + 1


def chunks_per_part(count: int, part_size: int = PART_SIZE) -> int:
    """Chunks per part: ``part_size`` rounded down to whole chunks (at least 5 MiB, so an
    S3 part is never too small), raised if ``count`` chunks would need more than 10,000
    parts. PqmlError if even 5 GiB parts would not do (a payload over ~48 TiB)."""
    if part_size < MIN_PART or part_size > MAX_PART:
        raise PqmlError(f"part size must be between {MIN_PART} and {MAX_PART} bytes, "
                        f"got {part_size}")
    per = min(part_size // CHUNK_SIZE, MAX_PART // WIRE_CHUNK_SIZE)  # tags count too
    per = max(per, -(-count // MAX_PARTS))
    if per * WIRE_CHUNK_SIZE > MAX_PART:
        raise PqmlError(f"{count} chunks do not fit in {MAX_PARTS} parts of at most 5 GiB")
    return per


def _spans(count: int, per: int) -> list[tuple[int, int]]:
    return [(first, min(count, first + per)) for first in range(0, count, per)]


def plan_encrypt(inp: Input, destination: str, prefix_size: int, *,
                 part_size: int = PART_SIZE) -> list[WorkItem]:
    """Parts of a pqml/v1 encryption of ``inp``: part 1 is the prefix (``prefix_size``
    bytes the driver computes) and the first chunks, each later part whole chunks."""
    size = inp.size
    count = chunk_count(size)
    spans = _spans(count, chunks_per_part(count, part_size))
    items = []
    for number, (first, stop) in enumerate(spans, 1):
        start, end = first * CHUNK_SIZE, min(size, stop * CHUNK_SIZE)
        out_start = 0 if number == 1 else prefix_size + first * WIRE_CHUNK_SIZE
        out_end = prefix_size + end + stop * TAG_SIZE
        items.append(WorkItem(inp.location, inp.name, number, len(spans), start, end,
                              out_start, out_end, first, stop, destination))
    return items


def encrypted_size(plaintext_size: int, prefix_size: int) -> int:
    return prefix_size + plaintext_size + chunk_count(plaintext_size) * TAG_SIZE


def plan_decrypt(inp: Input, destination: str, payload_offset: int, *,
                 part_size: int = PART_SIZE) -> list[WorkItem]:
    """Parts of a pqml/v1 decryption: ``payload_offset`` is where the payload (its salt)
    starts; ``inp.size`` the whole file's size. The sizes must be a valid payload's
    (:func:`pqml.primitives.chunked.chunk_layout` is the judge; its error propagates)."""
    from pqml.primitives.chunked import chunk_layout

    count, last = chunk_layout(inp.size - payload_offset)
    plaintext = (count - 1) * CHUNK_SIZE + last - TAG_SIZE
    chunks_at = payload_offset + HEADER_SIZE
    spans = _spans(count, chunks_per_part(count, part_size))
    items = []
    for number, (first, stop) in enumerate(spans, 1):
        start = chunks_at + first * WIRE_CHUNK_SIZE
        end = min(inp.size, chunks_at + stop * WIRE_CHUNK_SIZE)
        out_start, out_end = first * CHUNK_SIZE, min(plaintext, stop * CHUNK_SIZE)
        items.append(WorkItem(inp.location, inp.name, number, len(spans), start, end,
                              out_start, out_end, first, stop, destination))
    return items


def decrypted_size(file_size: int, payload_offset: int) -> int:
    from pqml.primitives.chunked import plaintext_size

    return plaintext_size(file_size - payload_offset)


def plan_hash(inputs: Sequence[Input], ranges: Sequence[Sequence[tuple[int, int]]]
              ) -> list[WorkItem]:
    """One item per hashed range (``ranges[i]`` for ``inputs[i]``: the whole file for
    OMS's ``files`` method, one shard each for ``shards``, as
    :func:`pqml.signing.manifest.plan` gives them). A whole-file SHA-256 is sequential:
    a big file signed with ``files`` is one task, which is why ``shards`` scales."""
    items = []
    for inp, spans in zip(inputs, ranges, strict=True):
        for number, (start, end) in enumerate(spans, 1):
            items.append(WorkItem(inp.location, inp.name, number, len(spans), start, end))
    return items


def plan_batches(inputs: Sequence[Input], *, max_files: int = 32,
                 max_bytes: int = 16 << 20) -> list[list[Input]]:
    """Small files grouped so each task does enough work to pay for its scheduling:
    at most ``max_files`` files or ``max_bytes`` bytes per batch (scan's own batching)."""
    from pqml._internal.batching import size_batches

    return size_batches(inputs, lambda inp: inp.size, max_items=max_files,
                        max_bytes=max_bytes)


def list_tree(root: str | os.PathLike[str], *, allow_symlinks: bool = False) -> list[Input]:
    """The regular files under the local directory ``root`` with their tree-relative
    names, with the same refusals as ``pqml encrypt`` of a tree (links outside the tree,
    fifos, devices: :class:`~pqml.encryption.errors.UnsafeTreeEntryError`)."""
    from pathlib import Path

    from pqml.encryption.encrypt import _walk

    base = Path(root)
    out = []
    for path, read in _walk(base, allow_symlinks):
        out.append(Input(str(read), path.relative_to(base).as_posix(), read.stat().st_size))
    return out

"""Storage: local paths and fsspec URLs (s3://, gs://, az://, hf://, memory://) behind one
small seam, so encryption, signing, scanning and engines read and write both alike.

- :func:`open_input` — a seekable reader with positional range reads (``pread``) and a
  known ``size``; :func:`open_stream` buffers it for sequential reads.
- :func:`atomic_output` — a writer whose output appears whole or not at all (local:
  unnamed file linked in; S3: multipart upload completed on success, aborted on
  failure); :class:`MultipartUpload` for parts uploaded by several workers.
- :func:`is_url`, :func:`stat`, :func:`exists`, :func:`is_dir`, :func:`walk`.

A URL whose backend is not installed raises :class:`MissingExtraError` naming the
extra. Nothing here imports fsspec until a URL is used.
"""

from __future__ import annotations

from pqml.storage.errors import MissingExtraError, StorageError, StorageURLError
from pqml.storage.listing import Info, exists, is_dir, stat, walk
from pqml.storage.reader import InputFile, open_input, open_stream
from pqml.storage.urls import Location, is_url, local_path, locate
from pqml.storage.writer import (
    MultipartUpload,
    ObjectOutput,
    atomic_output,
    open_output,
    part_size_for_total,
    write_bytes,
)

__all__ = [
    "Info",
    "InputFile",
    "Location",
    "MissingExtraError",
    "MultipartUpload",
    "ObjectOutput",
    "StorageError",
    "StorageURLError",
    "atomic_output",
    "exists",
    "is_dir",
    "is_url",
    "local_path",
    "locate",
    "open_input",
    "open_output",
    "open_stream",
    "part_size_for_total",
    "stat",
    "walk",
    "write_bytes",
]

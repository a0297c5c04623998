"""Outputs by path or URL that appear whole or not at all.

Local paths go to :mod:`pqml._internal.output_file` (an unnamed file linked in on
success). On S3 an output is a multipart upload: parts go up as the data is produced
(constant memory: one part buffered), and only :meth:`ObjectOutput.commit` completes
the upload, which is the instant the object appears; any failure, Ctrl-C included,
aborts it, and a killed process leaves only an incomplete upload that is invisible to
readers (and that a bucket lifecycle rule ``AbortIncompleteMultipartUpload`` reclaims).
Without ``force`` the completion carries ``If-None-Match: *``, so an object that
appeared meanwhile is never replaced (race-free on S3 and S3-compatible stores that
implement conditional writes). A small output that never filled one part is one
conditional ``PutObject``.

S3 limits: parts of 5 MiB to 5 GiB, at most 10,000 per upload. Parts start at
:data:`PART_SIZE` (8 MiB) and double every 1,000 parts, so an upload of unknown length
can reach ~8 TiB (S3's object limit is 5 TiB) in 10,000 parts.

Other fsspec stores commit on close and discard on failure, as their file objects
do. gs:// (gcsfs): an object that fits one 5 MiB block is one upload at commit; a larger
one is a resumable upload whose 5 MiB chunks go up as written and which is finalized
only by the last chunk at commit (a failure cancels the session; a killed process leaves
an unfinalized session, invisible, that GCS drops after a week). az:// (adlfs): blocks of
50 MiB are staged as written and the block list is committed at commit (a failure or a
kill leaves uncommitted blocks, invisible, that Azure drops after a week); memory holds
one block. On both, without ``force`` the object is created conditionally
(``ifGenerationMatch=0`` / ``If-None-Match: *``) besides the up-front check, so an object
that appeared meanwhile is never replaced. hf:// uploads on close, with the up-front
check only. ``memory://`` objects are built in memory and stored on commit.

:class:`MultipartUpload` is the low-level seam for engines that upload parts from
several workers (one chunk-aligned part per task): start it on the driver, hand
``(url, upload_id)`` to workers, which call :meth:`MultipartUpload.upload_part`, then
complete or abort on the driver.
"""

from __future__ import annotations

import contextlib
import io
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from pqml._internal.errors import OutputExistsError, OutputPathError
from pqml._internal.output_file import atomic_output as local_atomic_output
from pqml._internal.output_file import exists_message
from pqml.storage.errors import StorageError
from pqml.storage.reader import storage_error
from pqml.storage.urls import Location, is_url, local_path, locate

MIN_PART = 5 * 1024 * 1024
MAX_PART = 5 * 1024 * 1024 * 1024
MAX_PARTS = 10_000
PART_SIZE = 8 * 1024 * 1024
PARTS_PER_DOUBLING = 1000


def part_size_for(number: int, base: int = PART_SIZE) -> int:
    """Size of part ``number`` (1-based) when the total is unknown."""
    return min(MAX_PART, base << ((number - 1) // PARTS_PER_DOUBLING))


def part_size_for_total(total: int, base: int = PART_SIZE) -> int:
    """One fixed part size for an upload of ``total`` bytes: ``base``, or larger so
    that it fits in 10,000 parts (a multiple of 1 MiB). Raises for more than S3 takes."""
    size = max(base, -(-total // MAX_PARTS))
    size = -(-size // (1 << 20)) << 20
    if size > MAX_PART:
        raise StorageError(f"{total} bytes do not fit in {MAX_PARTS} parts of at most 5 GiB")
    return size


_CONDITIONAL_CREATE = frozenset({"gs", "gcs", "az", "abfs", "abfss"})
"""Schemes whose fsspec files create conditionally in mode ``"xb"`` (gcsfs, adlfs)."""


def _is_s3(location: Location) -> bool:
    return location.scheme in ("s3", "s3a")


def _check_absent(location: Location) -> None:
    try:
        exists = location.fs.exists(location.path)
    except Exception as exc:  # every backend raises its own
        raise storage_error(exc, location.url, "check the output") from None
    if exists:
        raise OutputExistsError(exists_message(location.url))


def _condition(force: bool, if_match: str | None) -> dict[str, str]:
    """The S3 write condition: replace only version ``if_match``; else, unless ``force``,
    create only (``If-None-Match: *``)."""
    if if_match is not None:
        return {"IfMatch": if_match}
    return {} if force else {"IfNoneMatch": "*"}


def _condition_error(url: str, if_match: str | None) -> OutputPathError:
    if if_match is not None:
        return OutputPathError(f"{url}: the object changed while pqml rewrote it (another "
                               "writer); it was left as the other writer made it: run again")
    return OutputExistsError(exists_message(url))


def _precondition_failed(exc: BaseException) -> bool:
    text = str(exc)
    return isinstance(exc, FileExistsError) or "PreconditionFailed" in text or \
        "pre-conditions you specified did not hold" in text


# ---- multipart (S3) ------------------------------------------------------------------------


@dataclass
class MultipartUpload:
    """One S3 multipart upload; picklable (the filesystem is found again from ``url``)."""

    url: str
    upload_id: str
    force: bool = False
    if_match: str | None = None  # replace only this version (ETag) of the object

    @classmethod
    def start(cls, url: str, *, force: bool = False, check: bool = True, **options: Any
              ) -> MultipartUpload:
        """Start an upload to ``url``; unless ``force`` (or ``check=False``: the caller
        already checked) an existing object is refused up front, and again at
        :meth:`complete`."""
        location = locate(url, **options)
        if not _is_s3(location):
            raise StorageError(f"{url}: multipart uploads are an S3 feature "
                               f"({location.scheme}:// objects are written whole)")
        if not location.key:
            raise StorageError(f"{url}: names a bucket, not an object")
        if check and not force:
            _check_absent(location)
        try:
            reply = location.fs.call_s3("create_multipart_upload", Bucket=location.bucket,
                                        Key=location.key)
        except Exception as exc:
            raise storage_error(exc, url, "start the upload") from None
        return cls(url, reply["UploadId"], force)

    @property
    def location(self) -> Location:
        return locate(self.url)

    def upload_part(self, number: int, data: Any) -> dict[str, Any]:
        """Upload part ``number`` (1..10,000); every part but the last must be at least
        5 MiB. Returns ``{"PartNumber", "ETag"}`` for :meth:`complete`. Uploading a part
        number again replaces it (a retried task)."""
        if not 1 <= number <= MAX_PARTS:
            raise StorageError(f"{self.url}: part number {number} is outside 1..{MAX_PARTS}")
        if len(data) > MAX_PART:
            raise StorageError(f"{self.url}: part {number} is larger than 5 GiB")
        loc = self.location
        try:
            reply = loc.fs.call_s3("upload_part", Bucket=loc.bucket, Key=loc.key,
                                   UploadId=self.upload_id, PartNumber=number,
                                   Body=bytes(data))
        except Exception as exc:
            raise storage_error(exc, self.url, f"upload part {number}") from None
        return {"PartNumber": number, "ETag": reply["ETag"]}

    def complete(self, parts: Sequence[dict[str, Any]]) -> None:
        """Make the object appear (parts in number order). Without ``force`` an object
        that appeared meanwhile is not replaced: OutputExistsError, upload aborted."""
        loc = self.location
        extra = _condition(self.force, self.if_match)
        ordered = sorted(parts, key=lambda p: p["PartNumber"])
        try:
            loc.fs.call_s3("complete_multipart_upload", Bucket=loc.bucket, Key=loc.key,
                           UploadId=self.upload_id,
                           MultipartUpload={"Parts": [{"PartNumber": p["PartNumber"],
                                                       "ETag": p["ETag"]} for p in ordered]},
                           **extra)
        except Exception as exc:
            self.abort()
            if _precondition_failed(exc):
                raise _condition_error(self.url, self.if_match) from None
            raise storage_error(exc, self.url, "complete the upload") from None
        _invalidate(loc)

    def abort(self) -> None:
        """Drop the upload and its parts (never raises: used on failure paths)."""
        loc = self.location
        with contextlib.suppress(Exception):
            loc.fs.call_s3("abort_multipart_upload", Bucket=loc.bucket, Key=loc.key,
                           UploadId=self.upload_id)


def _invalidate(location: Location) -> None:
    with contextlib.suppress(Exception):
        location.fs.invalidate_cache(location.path)


# ---- streaming outputs ---------------------------------------------------------------------


class ObjectOutput:
    """A write-only object output: :meth:`commit` makes it appear, :meth:`discard`
    drops it. ``size`` counts bytes written; ``target`` is the URL (for messages)."""

    def __init__(self, location: Location, *, force: bool = False,
                 part_size: int = PART_SIZE, if_match: str | None = None) -> None:
        if not location.key and location.scheme != "memory":
            raise OutputPathError(f"{location.url}: names a bucket, not an object")
        if location.url.endswith("/"):
            raise OutputPathError(f"{location.url}: names a prefix, not an object")
        self.location = location
        self.target = location.url
        self.force = force
        self.if_match = if_match
        if if_match is not None and not _is_s3(location):
            raise StorageError(f"{location.url}: conditional replacement needs S3")
        self.size = 0
        self._base = max(MIN_PART, part_size)
        self._buffer = bytearray()
        self._parts: list[dict[str, Any]] = []
        self._upload: MultipartUpload | None = None
        self._file: Any = None
        self._done = False
        if not force and if_match is None:
            _check_absent(location)
        if location.scheme == "memory":  # fsspec's memory files appear at open: buffer
            self._file = io.BytesIO()
        elif not _is_s3(location):
            # gcsfs and adlfs make "xb" a conditional create, checked when the upload
            # is finalized: an object that appeared since the check above is kept
            mode = "xb" if not force and location.scheme in _CONDITIONAL_CREATE else "wb"
            try:
                self._file = location.fs.open(location.path, mode)
            except Exception as exc:
                raise storage_error(exc, location.url, "write it") from None

    @property
    def parts(self) -> int:
        """Multipart parts uploaded so far (0 for a small S3 object or another store)."""
        return len(self._parts)

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        return None

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        n = len(view)
        if self._file is not None:
            try:
                self._file.write(view)
            except Exception as exc:
                raise storage_error(exc, self.target, "write it") from None
        else:
            self._buffer += view
            while len(self._buffer) >= part_size_for(len(self._parts) + 1, self._base):
                size = part_size_for(len(self._parts) + 1, self._base)
                self._send(self._buffer[:size])
                del self._buffer[:size]
        self.size += n
        return n

    def _send(self, data: bytearray) -> None:
        if self._upload is None:
            self._upload = MultipartUpload.start(self.target, force=self.force, check=False)
            self._upload.if_match = self.if_match
        if len(self._parts) >= MAX_PARTS:
            raise StorageError(f"{self.target}: more than {MAX_PARTS} parts")
        self._parts.append(self._upload.upload_part(len(self._parts) + 1, data))

    def commit(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            if isinstance(self._file, io.BytesIO):
                self.location.fs.pipe_file(self.location.path, self._file.getvalue())
            elif self._file is not None:
                try:
                    self._file.close()
                except Exception as exc:
                    if _precondition_failed(exc):
                        raise _condition_error(self.target, None) from None
                    raise storage_error(exc, self.target, "write it") from None
                _invalidate(self.location)
            elif self._upload is None:
                self._put_small()
            else:
                if self._buffer:
                    self._parts.append(self._upload.upload_part(len(self._parts) + 1,
                                                                self._buffer))
                self._buffer = bytearray()
                self._upload.complete(self._parts)
        except BaseException:
            self._done = False
            self.discard()
            raise

    def _put_small(self) -> None:
        loc = self.location
        extra = _condition(self.force, self.if_match)
        try:
            loc.fs.call_s3("put_object", Bucket=loc.bucket, Key=loc.key,
                           Body=bytes(self._buffer), **extra)
        except Exception as exc:
            if _precondition_failed(exc):
                raise _condition_error(self.target, self.if_match) from None
            raise storage_error(exc, self.target, "write it") from None
        self._buffer = bytearray()
        _invalidate(loc)

    def discard(self) -> None:
        """Drop everything written (never raises)."""
        if self._done:
            return
        self._done = True
        self._buffer = bytearray()
        if self._upload is not None:
            self._upload.abort()
        if self._file is not None:
            with contextlib.suppress(Exception):
                discard = getattr(self._file, "discard", None)
                if discard is not None:
                    discard()
            # fsspec's buffered files upload on close(), and __del__ closes them: a file
            # marked closed can never flush what was written (a base-class discard() does
            # nothing, so without this the partial output would appear when collected).
            with contextlib.suppress(Exception):
                self._file.closed = True
            self._file = None


def open_output(target: str | os.PathLike[str], *, force: bool = False,
                part_size: int = PART_SIZE, if_match: str | None = None, **options: Any
                ) -> ObjectOutput:
    """An :class:`ObjectOutput` for the URL ``target`` (call commit or discard).
    ``if_match``: replace only that version (ETag) of an existing S3 object."""
    return ObjectOutput(locate(str(target), **options), force=force, part_size=part_size,
                        if_match=if_match)


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike[str], *, force: bool = False,
                  mode: int = 0o644, part_size: int = PART_SIZE, **options: Any
                  ) -> Iterator[Any]:
    """``with atomic_output(path_or_url, force=...) as out: out.write(...)`` — the output
    appears only if the block completes, and is gone on any exception. Local paths: an
    :class:`~pqml._internal.output_file.AtomicOutput` (``mode`` applies); URLs: an
    :class:`ObjectOutput`. An existing output is refused unless ``force``."""
    if not is_url(target):
        with local_atomic_output(local_path(target), mode=mode, overwrite=force) as out:
            yield out
        return
    out = open_output(target, force=force, part_size=part_size, **options)
    try:
        yield out
    except BaseException:
        out.discard()
        raise
    out.commit()


def write_bytes(target: str | os.PathLike[str], data: bytes, *, force: bool = False,
                mode: int = 0o644) -> None:
    """Write ``data`` to a path or URL, whole or not at all."""
    with atomic_output(target, force=force, mode=mode) as out:
        out.write(data)

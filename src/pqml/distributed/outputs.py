"""Destinations written part by part, from any worker, that appear whole or not at all.

One class per kind of destination, one interface for the drivers: ``begin`` (before any
part; the prefix and total size, known up front for pqml/v1), ``accept`` (one finished
part's result), ``commit`` and ``discard``. ``sink`` tells workers where their bytes go.

* :class:`LocalPartOutput` — an unnamed local file (:mod:`pqml._internal.output_file`):
  the driver writes the prefix and sizes the file; workers on the driver's node
  ``pwrite`` their parts into it; parts from other nodes come back and the driver
  writes them. Linked in by ``commit`` only.
* :class:`MultipartPartOutput` — an S3 object: a multipart upload started by the
  driver, one part per work item uploaded by the worker, completed by the driver after
  the last part (conditional on the object still not existing unless ``--force``),
  aborted on any failure, so a failed job leaves no object and no billable parts.
* :class:`OrderedPartOutput` — any other store (gs://, az://, hf://, memory://): parts
  come back to the driver and are written in order through the storage seam.
* :class:`WholeOutput` — a small object the driver writes in one piece (a signature
  bundle copied into an object tree), committed and discarded with the job's others.
"""

from __future__ import annotations

import os
from typing import Any

from pqml.distributed.parts import PartResult, Sink
from pqml.distributed.planner import WorkItem


class LocalPartOutput:
    def __init__(self, out: Any, node: str | None, finish: Any = None) -> None:
        self.out = out  # an AtomicOutput (alone, or one file of an AtomicTree)
        self.target = str(out.target)
        self.sink = Sink("direct", str(out.temp), node)
        self._finish = finish  # AtomicTree.finished for a tree's file, else out.commit

    def begin(self, prefix: bytes, total: int) -> None:
        from pqml.encryption.parallel import _truncate

        if prefix:
            self.out.write(prefix)
        _truncate(self.out, total)
        self.out.size = total

    def accept(self, item: WorkItem, result: PartResult) -> None:
        if result.data is None:
            return  # written in place by a worker on this node
        view = memoryview(result.data)
        at = item.out_start
        while len(view):
            n = os.pwrite(self.out.fileno(), view, at)
            view, at = view[n:], at + n

    def commit(self) -> None:
        if self._finish is not None:
            self._finish(self.out)  # a tree's file: linked in with the whole tree
        else:
            self.out.commit()

    def discard(self) -> None:
        self.out.discard()


class MultipartPartOutput:
    def __init__(self, url: str, *, force: bool, check: bool = True) -> None:
        from pqml.storage.writer import MultipartUpload

        self.target = url
        self.upload = MultipartUpload.start(url, force=force, check=check)
        self.sink = Sink("multipart", upload=self.upload)
        self._parts: dict[int, dict[str, Any]] = {}

    def begin(self, prefix: bytes, total: int) -> None:
        return None  # part 1 carries the prefix

    def accept(self, item: WorkItem, result: PartResult) -> None:
        assert result.uploaded is not None
        self._parts[item.part] = result.uploaded

    def commit(self) -> None:
        self.upload.complete(list(self._parts.values()))

    def discard(self) -> None:
        self.upload.abort()


class OrderedPartOutput:
    def __init__(self, url: str, *, force: bool) -> None:
        from pqml.storage.writer import open_output

        self.target = url
        self.out = open_output(url, force=force)
        self.sink = Sink("return")
        self._waiting: dict[int, bytes] = {}
        self._next = 1

    def begin(self, prefix: bytes, total: int) -> None:
        return None

    def accept(self, item: WorkItem, result: PartResult) -> None:
        assert result.data is not None
        self._waiting[item.part] = result.data
        while self._next in self._waiting:
            self.out.write(self._waiting.pop(self._next))
            self._next += 1

    def commit(self) -> None:
        self.out.commit()

    def discard(self) -> None:
        self.out.discard()


class WholeOutput:
    """``data`` as the object ``url``: on S3 a one-part multipart upload sent now and
    completed by :meth:`commit` (so it appears with the job's other objects, or not at
    all); elsewhere an object output committed then."""

    def __init__(self, url: str, data: bytes, *, force: bool, check: bool = True) -> None:
        from pqml.storage.urls import locate

        self.target = url
        if locate(url).scheme in ("s3", "s3a"):
            from pqml.storage.writer import MultipartUpload

            self._upload: Any = MultipartUpload.start(url, force=force, check=check)
            self._out: Any = None
            try:
                self._part = self._upload.upload_part(1, data)
            except BaseException:
                self._upload.abort()
                raise
        else:
            from pqml.storage.writer import open_output

            self._upload = None
            self._out = open_output(url, force=force)
            try:
                self._out.write(data)
            except BaseException:
                self._out.discard()
                raise

    def commit(self) -> None:
        if self._upload is not None:
            self._upload.complete([self._part])
        else:
            self._out.commit()

    def discard(self) -> None:
        if self._upload is not None:
            self._upload.abort()
        else:
            self._out.discard()


def open_part_output(target: str, *, mode: int, force: bool, node: str | None,
                     check: bool = True) -> Any:
    """The part output for a path or URL (a local file is created unnamed, mode ``mode``;
    an existing output is refused unless ``force``; ``check=False``: the caller already
    made sure no S3 object is there, which the upload's completion checks again)."""
    from pqml.storage.urls import is_url, local_path, locate

    if not is_url(target):
        from pqml._internal.output_file import AtomicOutput

        return LocalPartOutput(AtomicOutput(local_path(target), mode=mode, overwrite=force),
                               node)
    if locate(target).scheme in ("s3", "s3a"):
        return MultipartPartOutput(target, force=force, check=check)
    return OrderedPartOutput(target, force=force)

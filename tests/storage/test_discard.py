"""A discarded object output never appears, whatever fsspec backend writes it: fsspec's
buffered files upload on close(), and their __del__ closes them."""

from __future__ import annotations

import gc

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem

from pqml.storage.writer import ObjectOutput


class _Store(AbstractFileSystem):
    """An fsspec filesystem whose files behave like gcsfs/adlfs ones: buffered, uploaded
    by close() (a plain AbstractBufferedFile, whose discard() does nothing)."""

    def __init__(self) -> None:
        super().__init__()
        self.objects: dict[str, bytes] = {}

    def _open(self, path, mode="rb", **kw):  # type: ignore[no-untyped-def]
        return _File(self, path, mode, **kw)


class _File(AbstractBufferedFile):
    def _initiate_upload(self) -> None:
        self.parts: list[bytes] = []

    def _upload_chunk(self, final: bool = False) -> bool:
        self.parts.append(self.buffer.getvalue())
        if final:
            self.fs.objects[self.path] = b"".join(self.parts)
        return True


def test_a_discarded_buffered_file_is_never_published() -> None:
    fs = _Store()
    handle = fs.open("bucket/out.bin", "wb")
    handle.write(b"truncated, unauthenticated plaintext")
    out = ObjectOutput.__new__(ObjectOutput)  # only the fields discard() reads
    out._done, out._buffer, out._upload, out._file = False, bytearray(), None, handle
    out.discard()
    del handle
    gc.collect()
    assert "bucket/out.bin" not in fs.objects

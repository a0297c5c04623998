"""``pqml.open``: a seekable, read-only binary file over an encrypted file.

Works for pqml/v1 (16 KiB AES-256-GCM chunks, C2SP chunked encryption) and binary age v1
(64 KiB ChaCha20-Poly1305 STREAM chunks). Opening checks, in order: the header grammar,
the stanzas, the header MAC, the payload's key commitment (pqml/v1), the payload size,
and the final chunk (decrypted and cached): so the plaintext size is authentic and a
truncated or extended file fails at ``open``, before any read. Reads then decrypt only
the chunks they touch; the last chunk read is cached, so small sequential reads cost one
decryption per chunk. Nothing is ever written to disk.

A chunk that fails authentication raises PayloadError (naming the file and the chunk)
from the read that touches it; no byte of it is returned.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pqml._internal.seeking import new_position
from pqml.encryption import encrypted_formats as fmts
from pqml.encryption.encrypt import named
from pqml.encryption.encryption_keys import resolve_identities
from pqml.formats.age._io import Source
from pqml.formats.age.errors import PayloadError
from pqml.primitives.errors import PqmlError
from pqml.storage.reader import open_input


@dataclass
class _Layout:
    """Where the sealed chunks are and how to open one."""

    chunks_offset: int  # file offset of chunk 0
    chunk_size: int  # plaintext bytes per full chunk
    wire_size: int  # ciphertext bytes per full chunk
    count: int
    last_wire: int  # ciphertext bytes of the final chunk
    open_chunk: Callable[[int, bytes, bool], bytes]

    @property
    def size(self) -> int:
        return (self.count - 1) * self.chunk_size + self.last_wire - (
            self.wire_size - self.chunk_size)


def _pqml_layout(file_key: bytes, f: Any, payload_offset: int, file_size: int) -> _Layout:
    from pqml.formats import pqml_v1
    from pqml.primitives import chunked

    try:
        count, last = chunked.chunk_layout(file_size - payload_offset)
    except chunked.ChunkedFormatError as exc:
        raise PayloadError(str(exc)) from None
    f.seek(payload_offset)
    cipher = pqml_v1.chunk_cipher(file_key, _read_exact(f, chunked.HEADER_SIZE))

    def open_chunk(index: int, data: bytes, final: bool) -> bytes:
        try:
            return cipher.open_chunk(index, data, final)
        except chunked.ChunkedFormatError as exc:
            raise PayloadError(str(exc)) from None

    return _Layout(payload_offset + chunked.HEADER_SIZE, chunked.CHUNK_SIZE,
                   chunked.WIRE_CHUNK_SIZE, count, last, open_chunk)


def _age_layout(file_key: bytes, f: Any, payload_offset: int, file_size: int) -> _Layout:
    from pqml.formats.age import stream

    f.seek(payload_offset)
    nonce = _read_exact(f, stream.NONCE_SIZE, "file is truncated: the payload nonce is missing")
    chunks_offset = payload_offset + stream.NONCE_SIZE
    chunks_size = file_size - chunks_offset
    count = stream.chunk_count(chunks_size)
    last = chunks_size - (count - 1) * stream.ENCRYPTED_CHUNK_SIZE
    cipher = stream.PayloadCipher.for_file(file_key, nonce)
    return _Layout(chunks_offset, stream.CHUNK_SIZE, stream.ENCRYPTED_CHUNK_SIZE, count, last,
                   cipher.open_chunk)


def _read_exact(f: Any, size: int, message: str = "file is truncated") -> bytes:
    data = f.read(size)
    if len(data) != size:
        raise PayloadError(message)
    return bytes(data)


class EncryptedFileRaw(io.RawIOBase):
    """The raw (unbuffered) decrypted view; :func:`open` wraps it in a BufferedReader."""

    def __init__(self, path: str | os.PathLike[str], identities: Iterable[Any]) -> None:
        super().__init__()
        self.name = str(path)
        self._f: Any = None
        f = open_input(path)  # a local file or an object (range reads)
        try:
            self._setup(f, resolve_identities(identities))
        except PqmlError as exc:
            f.close()
            raise named(exc, path) from None
        except BaseException:
            f.close()
            raise
        self._f = f
        self._pos = 0

    chunks_decrypted = 0
    """How many chunk decryptions this file object has done (the final chunk's at open
    included): shows how little of a large file a lazy load touches."""

    def _setup(self, f: Any, identities: list[Any]) -> None:
        source = Source(f)
        detected = fmts.detect(source.peek(64))
        if detected.armored:
            raise PqmlError("armored files cannot be opened for random access; "
                            "decrypt it, or re-encrypt without -a")
        located = fmts.open_header(detected.format, source,
                                   fmts.prepare_identities(detected.format, identities))
        assert located.file_key is not None
        file_size = f.size
        make = _pqml_layout if detected.format == "pqml" else _age_layout
        self._layout = make(located.file_key, f, located.payload_offset, file_size)
        self.format = detected.name
        self._size = self._layout.size
        # The final chunk first: proves the size (no truncation or extension) up front.
        self._f = f
        final = self._layout.count - 1
        self._final = (final, self._load(final))
        self._cache = self._final

    # ---- chunks ------------------------------------------------------------------------

    def _load(self, index: int) -> bytes:
        lay = self._layout
        final = index == lay.count - 1
        size = lay.last_wire if final else lay.wire_size
        data = self._f.pread(size, lay.chunks_offset + index * lay.wire_size)
        if len(data) != size:
            raise PayloadError("file is truncated (it changed while open)")
        self.chunks_decrypted += 1
        return lay.open_chunk(index, data, final)

    def _chunk(self, index: int) -> bytes:
        if self._cache[0] == index:
            return self._cache[1]
        if self._final[0] == index:
            return self._final[1]
        try:
            data = self._load(index)
        except PqmlError as exc:
            raise named(exc, self.name) from None
        self._cache = (index, data)
        return data

    # ---- io.RawIOBase ------------------------------------------------------------------

    @property
    def size(self) -> int:
        """The plaintext size (authenticated at open)."""
        return self._size

    @property
    def chunk_count(self) -> int:
        return self._layout.count

    @property
    def chunk_size(self) -> int:
        """Plaintext bytes per chunk: 16 KiB (pqml/v1) or 64 KiB (age)."""
        return self._layout.chunk_size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def tell(self) -> int:
        self._check()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check()
        self._pos = new_position(self._pos, self._size, offset, whence)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        self._check()
        out = memoryview(buffer).cast("B")
        want = min(len(out), max(0, self._size - self._pos))
        done = 0
        chunk_size = self._layout.chunk_size
        while done < want:
            index, offset = divmod(self._pos + done, chunk_size)
            data = self._chunk(index)
            n = min(len(data) - offset, want - done)
            out[done:done + n] = data[offset:offset + n]
            done += n
        self._pos += done
        return done

    def readall(self) -> bytes:
        return self.read(max(0, self._size - self._pos)) or b""

    def close(self) -> None:
        if self._f is not None and not self.closed:
            self._f.close()
            self._cache = self._final = (-1, b"")
        super().close()

    def _check(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def __repr__(self) -> str:
        return f"<pqml encrypted file {self.name!r} ({getattr(self, 'format', '?')})>"


builtin_open = open


def open(path: str | os.PathLike[str], identities: Iterable[Any] | Any, *,
         buffering: int | None = None) -> io.BufferedReader:
    """Open an encrypted file (pqml/v1 or binary age) for random-access reading; ``path``
    may be a URL (``s3://bucket/model.pqml``): each chunk read is then one range request.

    ``identities``: key files, age identity strings, key objects, a Passphrase or an
    IdentityFile (a passphrase-protected key file with its passphrase); a single one may
    be passed bare. Returns a ``BufferedReader`` (read, readinto, seek, tell,
    peek, readline, context manager); ``.raw.size`` is the plaintext size. The buffer is
    one chunk by default, so a small read decrypts one or two chunks, not more.
    """
    if isinstance(identities, (str, Path)) or not isinstance(identities, Iterable):
        identities = [identities]
    raw = EncryptedFileRaw(path, identities)
    return io.BufferedReader(raw, buffer_size=buffering or raw.chunk_size)

"""The age STREAM payload (C2SP age spec, "Payload").

After the header comes a 16-byte random nonce, then the plaintext in 64 KiB chunks, each
sealed with ChaCha20-Poly1305 under

    payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload")

and the 12-byte nonce ``chunk counter (11 bytes, big endian) || last flag (0x01 on the
final chunk, else 0x00)``. The flag makes truncation at a chunk boundary detectable, the
counter makes reordering detectable; the final chunk may be short but is empty only when
the whole payload is empty.

Everything here works in constant memory (one or two chunks) on file-like objects.
Decryption releases each chunk only after it authenticated, exactly as age does, so the
CCTV "payload failure" vectors' expected partial plaintext is reproduced.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Protocol

from pqml.formats.age._io import Readable, Source, output_buffers
from pqml.formats.age.errors import PayloadError
from pqml.primitives import symmetric
from pqml.primitives.errors import DecryptionError

CHUNK_SIZE = 64 * 1024
TAG_SIZE = 16
ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
NONCE_SIZE = 16
FILE_KEY_SIZE = 16
_MAX_CHUNKS = 1 << 88  # the 11-byte counter
BLOCK_CHUNKS = 64  # chunks per read, seal and write: 4 MiB of plaintext


class Writable(Protocol):
    def write(self, data: bytes, /) -> int | None: ...


def payload_key(file_key: bytes, nonce: bytes) -> bytes:
    if len(nonce) != NONCE_SIZE:
        raise ValueError(f"payload nonce must be {NONCE_SIZE} bytes, got {len(nonce)}")
    return symmetric.hkdf_sha256(file_key, nonce, b"payload")


def chunk_nonce(index: int, last: bool) -> bytes:
    if not 0 <= index < _MAX_CHUNKS:
        raise PayloadError("payload has too many chunks")
    return index.to_bytes(11, "big") + (b"\x01" if last else b"\x00")


class PayloadCipher:
    """The per-file payload key; seals and opens single chunks (also for random access)."""

    def __init__(self, key: bytes) -> None:
        self._aead = symmetric.ChaCha20Poly1305Key(key)

    @classmethod
    def for_file(cls, file_key: bytes, nonce: bytes) -> PayloadCipher:
        return cls(payload_key(file_key, nonce))

    def seal_chunk(self, index: int, plaintext: symmetric.Buffer, last: bool) -> bytes:
        if len(plaintext) > CHUNK_SIZE:
            raise ValueError(f"a payload chunk holds at most {CHUNK_SIZE} bytes")
        return self._aead.seal(chunk_nonce(index, last), plaintext)

    def seal_into(self, index: int, plaintext: symmetric.Buffer, last: bool,
                  out: memoryview) -> None:
        """Seal into ``out`` (``len(plaintext) + 16`` bytes), allocating nothing."""
        self._aead.seal_into(chunk_nonce(index, last), plaintext, out)

    def try_open_into(self, index: int, ciphertext: symmetric.Buffer, last: bool,
                      out: memoryview) -> bool:
        """Open into ``out`` (``len(ciphertext) - 16`` bytes); False if it does not
        authenticate (``out`` then holds nothing usable)."""
        try:
            self._aead.open_into(chunk_nonce(index, last), ciphertext, out)
        except DecryptionError:
            return False
        return True

    def try_open_chunk(self, index: int, ciphertext: bytes, last: bool) -> bytes | None:
        try:
            return self._aead.open(chunk_nonce(index, last), ciphertext)
        except DecryptionError:
            return None

    def open_chunk(self, index: int, ciphertext: bytes, last: bool) -> bytes:
        """Open one chunk whose position and final-ness the caller knows (random access)."""
        check_chunk_size(index, len(ciphertext), last)
        plaintext = self.try_open_chunk(index, ciphertext, last)
        if plaintext is None:
            raise PayloadError(f"payload chunk {index} failed authentication")
        return plaintext

    def __repr__(self) -> str:
        return "<age payload cipher>"


def check_chunk_size(index: int, size: int, last: bool) -> None:
    if size > ENCRYPTED_CHUNK_SIZE:
        raise PayloadError(f"payload chunk {index} is longer than {ENCRYPTED_CHUNK_SIZE} bytes")
    if size < TAG_SIZE or (not last and size != ENCRYPTED_CHUNK_SIZE):
        raise PayloadError("file is truncated")
    if last and size == TAG_SIZE and index > 0:
        raise PayloadError("final payload chunk is empty (only an empty payload may be)")


# ---- sizes and random access ----------------------------------------------------------------


def encrypted_size(plaintext_size: int) -> int:
    """Payload size (nonce included) for a plaintext of ``plaintext_size`` bytes."""
    chunks = max(1, -(-plaintext_size // CHUNK_SIZE))
    return NONCE_SIZE + plaintext_size + chunks * TAG_SIZE


def chunk_count(chunks_size: int) -> int:
    """Number of chunks in ``chunks_size`` bytes of sealed chunks (nonce excluded); raise
    PayloadError for sizes no valid payload has."""
    if chunks_size < TAG_SIZE:
        raise PayloadError("file is truncated")
    count = -(-chunks_size // ENCRYPTED_CHUNK_SIZE)
    check_chunk_size(count - 1, chunks_size - (count - 1) * ENCRYPTED_CHUNK_SIZE, True)
    return count


def plaintext_size(chunks_size: int) -> int:
    """Plaintext size for ``chunks_size`` bytes of sealed chunks (nonce excluded)."""
    return chunks_size - chunk_count(chunks_size) * TAG_SIZE


class _Seekable(Protocol):
    def seek(self, offset: int, whence: int = 0, /) -> int: ...
    def read(self, size: int = -1, /) -> bytes | None: ...


def decrypt_chunk(
    cipher: PayloadCipher, payload: _Seekable, chunks_offset: int, chunks_size: int, index: int
) -> bytes:
    """Random access: decrypt chunk ``index`` of a payload whose first sealed chunk starts at
    ``chunks_offset`` in the seekable ``payload`` and whose chunks span ``chunks_size`` bytes.

    Plaintext byte ``i`` lives in chunk ``i // CHUNK_SIZE``. The last chunk is opened with
    the final flag, so a file truncated at a chunk boundary fails here too; per the spec, a
    reader seeking relative to the end must first decrypt the last chunk.
    """
    count = chunk_count(chunks_size)
    if not 0 <= index < count:
        raise IndexError(f"chunk {index} out of range (payload has {count} chunk"
                         f"{'' if count == 1 else 's'})")
    last = index == count - 1
    size = chunks_size - index * ENCRYPTED_CHUNK_SIZE if last else ENCRYPTED_CHUNK_SIZE
    payload.seek(chunks_offset + index * ENCRYPTED_CHUNK_SIZE)
    data = Source(payload).read(size)
    if len(data) != size:
        raise PayloadError("file is truncated")
    return cipher.open_chunk(index, data, last)


# ---- streaming encryption -------------------------------------------------------------------


class PayloadWriter:
    """Push-style encryptor: ``write()`` plaintext, then ``close()`` to seal the final chunk.

    A chunk is sealed as non-final only once more data is known to follow, so at most one
    chunk (plus the caller's current write) is buffered. ``close`` does not close ``dst``.
    """

    def __init__(self, cipher: PayloadCipher, dst: Writable) -> None:
        self._cipher = cipher
        self._dst = dst
        self._buf = bytearray()
        self._index = 0
        self._closed = False

    def write(self, data: symmetric.Buffer) -> int:
        if self._closed:
            raise ValueError("write to a closed age payload writer")
        self._buf += data
        if len(self._buf) > CHUNK_SIZE:
            offset = 0
            with memoryview(self._buf) as view:
                while len(self._buf) - offset > CHUNK_SIZE:
                    with view[offset : offset + CHUNK_SIZE] as chunk:
                        sealed = self._cipher.seal_chunk(self._index, chunk, last=False)
                    self._dst.write(sealed)
                    self._index += 1
                    offset += CHUNK_SIZE
            del self._buf[:offset]
        return len(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._dst.write(self._cipher.seal_chunk(self._index, self._buf, last=True))
        self._buf = bytearray()


def encrypt_payload(
    file_key: bytes, src: Readable, dst: Writable, nonce: bytes | None = None, *,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Write nonce and sealed chunks of everything in ``src`` to ``dst``; return the
    plaintext size.

    Works in blocks of BLOCK_CHUNKS chunks read one byte ahead (so the block holding the
    final chunk is known), sealed with ``seal_into`` into one output buffer: no allocation
    per chunk. A ``dst`` with ``buffer``/``submit`` (pqml._internal.write_behind) provides that
    buffer and takes it back filled, without a copy."""
    nonce = os.urandom(NONCE_SIZE) if nonce is None else nonce
    cipher = PayloadCipher.for_file(file_key, nonce)
    dst.write(nonce)
    source = src if isinstance(src, Source) else Source(src)
    plain = bytearray(BLOCK_CHUNKS * CHUNK_SIZE + 1)
    view = memoryview(plain)
    next_buffer, hand_over = output_buffers(dst, BLOCK_CHUNKS * ENCRYPTED_CHUNK_SIZE)
    index = total = carried = 0
    while True:
        n = carried + source.readinto(view[carried:])
        more = n == len(plain)
        size = n - 1 if more else n
        out = memoryview(next_buffer())
        count = max(1, -(-size // CHUNK_SIZE))
        pos = 0
        for k in range(count):
            part = view[k * CHUNK_SIZE:min(size, (k + 1) * CHUNK_SIZE)]
            cipher.seal_into(index + k, part, not more and k == count - 1,
                             out[pos:pos + len(part) + TAG_SIZE])
            pos += len(part) + TAG_SIZE
        hand_over(out[:pos])
        index += count
        total += size
        if progress is not None and size:
            progress(size)
        if not more:
            return total
        plain[0] = plain[size]
        carried = 1


# ---- streaming decryption -------------------------------------------------------------------


def iter_payload(cipher: PayloadCipher, source: Source) -> Iterator[bytes]:
    """Yield authenticated plaintext chunks from sealed chunks (nonce already consumed).

    Raises PayloadError — after yielding every chunk that authenticated — on truncation,
    a tampered or reordered chunk, an empty final chunk, or data after the final chunk.
    A full-size chunk is tried as non-final first, then as final (age's rule: only the
    final flag tells a full-size final chunk apart).
    """
    index = 0
    while True:
        data = source.read(ENCRYPTED_CHUNK_SIZE)
        if len(data) < ENCRYPTED_CHUNK_SIZE:  # short read: input ended, this must be final
            if not data:
                raise PayloadError("file is truncated")
            check_chunk_size(index, len(data), last=True)
            yield cipher.open_chunk(index, data, last=True)
            return
        plaintext = cipher.try_open_chunk(index, data, last=False)
        if plaintext is not None:
            yield plaintext
            index += 1
            continue
        plaintext = cipher.try_open_chunk(index, data, last=True)
        if plaintext is None:
            raise PayloadError(f"payload chunk {index} failed authentication")
        yield plaintext
        if not source.at_eof():
            raise PayloadError("trailing data after the end of the encrypted payload")
        return


def iter_blocks(cipher: PayloadCipher, source: Source,
                out_buffer: Callable[[], bytearray] | None = None) -> Iterator[memoryview]:
    """:func:`iter_payload` by blocks: BLOCK_CHUNKS sealed chunks per read, opened with
    ``open_into`` into ``out_buffer()`` (default: one reused buffer; a yielded view is
    valid until the next step). The same checks and errors, in the same order: a failure
    first yields the plaintext of the chunks before it that authenticated."""
    wire = bytearray(BLOCK_CHUNKS * ENCRYPTED_CHUNK_SIZE + 1)
    view = memoryview(wire)
    if out_buffer is None:
        reused = bytearray(BLOCK_CHUNKS * CHUNK_SIZE)
        out_buffer = lambda: reused  # noqa: E731
    index = carried = 0
    while True:
        n = carried + source.readinto(view[carried:])
        more = n == len(wire)
        size = n - 1 if more else n
        if not size:
            raise PayloadError("file is truncated")
        out = memoryview(out_buffer())
        pos_in = pos_out = 0
        while pos_in < size:
            length = min(ENCRYPTED_CHUNK_SIZE, size - pos_in)
            sealed = view[pos_in:pos_in + length]
            into = out[pos_out:pos_out + length - TAG_SIZE] if length >= TAG_SIZE else None
            final_here = not more and pos_in + length == size
            opened, problem = _open_block_chunk(cipher, index, sealed, into, final_here)
            if problem is not None:
                if opened:  # it authenticated (as the wrong kind of chunk): released too
                    pos_out += length - TAG_SIZE
                yield out[:pos_out]
                raise PayloadError(problem)
            pos_in += length
            pos_out += length - TAG_SIZE
            index += 1
        yield out[:pos_out]
        if not more:
            return
        wire[0] = wire[size]
        carried = 1


def _open_block_chunk(cipher: PayloadCipher, index: int, sealed: memoryview,
                      into: memoryview | None, final_here: bool) -> tuple[bool, str | None]:
    """Open one chunk of a block as :func:`iter_payload` would: whether it authenticated,
    and the failure, if any (a chunk can authenticate and still end the payload wrongly)."""
    if len(sealed) < ENCRYPTED_CHUNK_SIZE:  # only ever the last chunk of the input
        try:
            check_chunk_size(index, len(sealed), last=True)
        except PayloadError as exc:
            return False, str(exc)
        assert into is not None
        if cipher.try_open_into(index, sealed, True, into):
            return True, None
        return False, f"payload chunk {index} failed authentication"
    assert into is not None
    if cipher.try_open_into(index, sealed, False, into):
        return True, ("file is truncated" if final_here else None)
    if cipher.try_open_into(index, sealed, True, into):
        return True, (None if final_here
                      else "trailing data after the end of the encrypted payload")
    return False, f"payload chunk {index} failed authentication"


def decrypt_payload(file_key: bytes, nonce: bytes, source: Source, dst: Writable) -> int:
    """Decrypt the sealed chunks in ``source`` into ``dst``; return the plaintext size."""
    next_buffer, hand_over = output_buffers(dst, BLOCK_CHUNKS * CHUNK_SIZE)
    total = 0
    for part in iter_blocks(PayloadCipher.for_file(file_key, nonce), source, next_buffer):
        # The length first: a write-behind sink may release ``part`` once it has it.
        total += len(part)
        hand_over(part)
    return total

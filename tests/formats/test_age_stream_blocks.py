"""The age payload by 4 MiB blocks (encrypt_payload, iter_blocks) against the per-chunk
code (PayloadWriter, iter_payload): the same bytes out, and around block boundaries the
same plaintext released and the same error for every truncation, extension and swap."""

from __future__ import annotations

import io
import os

import pytest

from pqml.formats.age import stream
from pqml.formats.age._io import Source
from pqml.formats.age.errors import PayloadError

C = stream.CHUNK_SIZE
E = stream.ENCRYPTED_CHUNK_SIZE
BLOCK = stream.BLOCK_CHUNKS * C
KEY = bytes(range(16))
NONCE = bytes(range(100, 116))
SIZES = [0, 1, C - 1, C, C + 1, BLOCK - 1, BLOCK, BLOCK + 1, 2 * BLOCK, 2 * BLOCK + C + 3]


def per_chunk_encrypt(data: bytes) -> bytes:
    out = io.BytesIO()
    out.write(NONCE)
    writer = stream.PayloadWriter(stream.PayloadCipher.for_file(KEY, NONCE), out)
    for i in range(0, len(data), 10_000):  # odd write sizes on purpose
        writer.write(data[i:i + 10_000])
    writer.close()
    return out.getvalue()


def decrypt_both(sealed: bytes) -> tuple[tuple[str | None, bytes], tuple[str | None, bytes]]:
    """(error, released plaintext) from the block reader and from the per-chunk reader."""
    results = []
    for blocks in (True, False):
        cipher = stream.PayloadCipher.for_file(KEY, NONCE)
        source = Source(io.BytesIO(sealed[stream.NONCE_SIZE:]))
        parts = (stream.iter_blocks(cipher, source) if blocks
                 else stream.iter_payload(cipher, source))
        released = bytearray()
        error = None
        try:
            for part in parts:
                released += part
        except PayloadError as exc:
            error = str(exc)
        results.append((error, bytes(released)))
    return results[0], results[1]


@pytest.fixture(scope="module")
def plain() -> bytes:
    return os.urandom(max(SIZES))


@pytest.mark.parametrize("size", SIZES)
def test_block_encryption_is_byte_identical_to_per_chunk(plain: bytes, size: int) -> None:
    data = plain[:size]
    out = io.BytesIO()
    assert stream.encrypt_payload(KEY, io.BytesIO(data), out, NONCE) == size
    assert out.getvalue() == per_chunk_encrypt(data)
    assert len(out.getvalue()) == stream.encrypted_size(size)
    blocks, chunks = decrypt_both(out.getvalue())
    assert blocks == chunks == (None, data)


def _mutations(sealed: bytes) -> dict[str, bytes]:
    body = sealed[stream.NONCE_SIZE:]
    count = stream.chunk_count(len(body))
    head = sealed[:stream.NONCE_SIZE]
    chunks = [body[i * E:(i + 1) * E] for i in range(count)]
    out: dict[str, bytes] = {
        "empty payload": head,
        "one byte more": sealed + b"\x00",
        "a chunk more": sealed + chunks[0],
        "last chunk twice": sealed + chunks[-1],
        "tag cut": sealed[:-1],
        "final chunk cut to 15 bytes": sealed[:len(sealed) - len(chunks[-1]) + 15],
    }
    for k in sorted({1, count // 2, count - 1, 63, 64, 65, 127, 128}):
        if 0 < k < count:
            out[f"truncated before chunk {k}"] = head + b"".join(chunks[:k])
            swapped = list(chunks)
            swapped[k - 1], swapped[k] = swapped[k], swapped[k - 1]
            out[f"chunks {k - 1} and {k} swapped"] = head + b"".join(swapped)
    for k in sorted({0, 63, 64, count - 1}):
        if k < count:
            flipped = bytearray(sealed)
            flipped[stream.NONCE_SIZE + k * E + 5] ^= 1
            out[f"bit flip in chunk {k}"] = bytes(flipped)
    return out


@pytest.mark.parametrize("size", [BLOCK, BLOCK + 1, 2 * BLOCK + C + 3, C, 1])
def test_both_readers_agree_on_every_mutation(plain: bytes, size: int) -> None:
    sealed = per_chunk_encrypt(plain[:size])
    for name, mutated in _mutations(sealed).items():
        blocks, chunks = decrypt_both(mutated)
        assert blocks == chunks, name
        assert blocks[0] is not None, f"{name}: accepted"
        assert plain[:size].startswith(blocks[1]), name  # only authenticated plaintext


def test_a_reader_with_readinto_and_one_without_give_the_same(plain: bytes) -> None:
    """Source.readinto fills from raw.readinto, or from raw.read for readers that lack it
    (the armor decoder)."""

    class ReadOnly:
        def __init__(self, data: bytes) -> None:
            self._f = io.BytesIO(data)

        def read(self, n: int) -> bytes:
            return self._f.read(min(n, 7777))  # short reads too

    data = plain[:BLOCK + 5]
    for src in (io.BytesIO(data), ReadOnly(data)):
        out = io.BytesIO()
        stream.encrypt_payload(KEY, src, out, NONCE)  # type: ignore[arg-type]
        assert out.getvalue() == per_chunk_encrypt(data)

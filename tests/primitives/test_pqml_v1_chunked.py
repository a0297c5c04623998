"""The pqml/v1 payload primitive: C2SP chunked encryption, AES-256-GCM.

Two kinds of proof for the single-chunk path (``ChunkCipher``: random access and the
multi-process writer/reader), which composes HKDF-Expand and AESGCM per the spec:

- against the spec vectors in cryptography-vectors 50.0.2 (``chunked-encryption``): every
  AES-256-GCM vector gives its expected result, and re-sealing each success vector's
  plaintext with its salt reproduces the vector's ciphertext byte for byte. Those vectors
  use HKDF-SHA-256 (their ``aead_key`` / ``base_nonce`` fields say so), hence the hash
  parameter;
- against pyca's own Cobblestone256 (HKDF-SHA-512), both directions, byte for byte.
"""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import pytest
from cryptography.cobblestone import Cobblestone256Decryptor, Cobblestone256Encryptor

from pqml.primitives import chunked

from conftest import load_json, pyca_vector

VECTORS = [v for v in load_json(pyca_vector("chunked-encryption", "vectors.json"))["vectors"]
           if v["aead"] == "AEAD_AES_256_GCM"]
SIZES = [0, 1, 16383, 16384, 16385, 2 * 16384, 3 * 16384 + 5]


def _ciphertext(v: dict) -> bytes:  # type: ignore[type-arg]
    data = base64.b64decode(v["ciphertext"] or "")
    return zlib.decompress(data) if v.get("compressed") else data


def open_all(input_key: bytes, context: bytes, ct: bytes, kdf_hash: str = "SHA-512") -> bytes:
    """Decrypt a whole message chunk by chunk with ChunkCipher (the random-access path)."""
    count, last = chunked.chunk_layout(len(ct))
    cipher = chunked.ChunkCipher.for_header(input_key, ct[:chunked.HEADER_SIZE], context,
                                            kdf_hash)  # type: ignore[arg-type]
    parts = []
    for i in range(count):
        off = chunked.HEADER_SIZE + i * chunked.WIRE_CHUNK_SIZE
        final = i == count - 1
        parts.append(cipher.open_chunk(i, ct[off:off + (last if final else
                                                          chunked.WIRE_CHUNK_SIZE)], final))
    return b"".join(parts)


def seal_all(cipher: chunked.ChunkCipher, data: bytes) -> bytes:
    """Encrypt a whole message chunk by chunk (the multi-process path)."""
    count = len(data) // chunked.CHUNK_SIZE + 1
    out = [cipher.header]
    for i in range(count):
        piece = data[i * chunked.CHUNK_SIZE:(i + 1) * chunked.CHUNK_SIZE]
        out.append(cipher.seal_chunk(i, piece, i == count - 1))
    return b"".join(out)


def cobblestone_encrypt(key: bytes, context: bytes, data: bytes) -> bytes:
    enc = Cobblestone256Encryptor(key, context)
    return enc.update(data) + enc.finalize()


def cobblestone_decrypt(key: bytes, context: bytes, data: bytes) -> bytes:
    dec = Cobblestone256Decryptor(key, context)
    return dec.update(data) + dec.finalize()


def test_vectors_are_there() -> None:
    assert len(VECTORS) == 34
    assert sum(v["expect"] == "success" for v in VECTORS) == 9


@pytest.mark.parametrize("v", VECTORS, ids=[v["name"] for v in VECTORS])
def test_spec_vector(v: dict) -> None:  # type: ignore[type-arg]
    key, context, ct = bytes.fromhex(v["key"]), v["context"].encode(), _ciphertext(v)
    if v["expect"] == "failure":
        with pytest.raises((chunked.ChunkedFormatError, ValueError)):
            open_all(key, context, ct, "SHA-256")
        return
    keys = chunked.derive(key, ct[:24], context, "SHA-256")
    assert keys.key.hex() == v["aead_key"] and keys.base_nonce.hex() == v["base_nonce"]
    plain = open_all(key, context, ct, "SHA-256")
    assert len(plain) == v["payload_length"]
    assert hashlib.sha256(plain).hexdigest() == v["payload_sha256"]
    # sealing the same plaintext under the vector's salt reproduces it exactly
    cipher = chunked.ChunkCipher.for_salt(key, ct[:24], context, "SHA-256")
    assert seal_all(cipher, plain) == ct
    assert chunked.ciphertext_size(len(plain)) == len(ct)
    assert chunked.plaintext_size(len(ct)) == len(plain)


@pytest.mark.parametrize("size", SIZES)
def test_chunk_cipher_matches_cobblestone_both_ways(size: int) -> None:
    key, context, data = os.urandom(32), b"pqml/v1", os.urandom(size)
    theirs = cobblestone_encrypt(key, context, data)
    assert open_all(key, context, theirs) == data
    # with Cobblestone's salt, our chunk-by-chunk sealing gives Cobblestone's exact bytes
    assert seal_all(chunked.ChunkCipher.for_salt(key, theirs[:24], context), data) == theirs
    ours = seal_all(chunked.ChunkCipher.for_salt(key, os.urandom(24), context), data)
    assert cobblestone_decrypt(key, context, ours) == data


@pytest.mark.parametrize("size", SIZES)
def test_streaming_wrappers_roundtrip_with_cobblestone(size: int) -> None:
    key, data = os.urandom(32), os.urandom(size)
    enc = chunked.Encryptor(key, b"ctx")
    out = bytearray(chunked.max_update_output(size))
    ct = bytes(out[:enc.update_into(data, out)]) + enc.finalize()
    assert cobblestone_decrypt(key, b"ctx", ct) == data
    dec = chunked.Decryptor(key, b"ctx")
    buf = bytearray(chunked.max_update_output(len(ct)))
    # feed in odd pieces to exercise the header split and partial chunks
    got = bytearray()
    for i in range(0, len(ct), 7001):
        n = dec.update_into(ct[i:i + 7001], buf)
        got += buf[:n]
    got += dec.finalize()
    assert bytes(got) == data


def test_into_variants_match() -> None:
    cipher = chunked.ChunkCipher.for_salt(os.urandom(32), os.urandom(24), b"")
    pt = os.urandom(chunked.CHUNK_SIZE)
    out = bytearray(chunked.WIRE_CHUNK_SIZE)
    cipher.seal_chunk_into(3, pt, False, out)
    assert bytes(out) == cipher.seal_chunk(3, pt, False)
    back = bytearray(chunked.CHUNK_SIZE)
    cipher.open_chunk_into(3, out, False, back)
    assert bytes(back) == pt


def test_decryptor_errors_say_what_failed() -> None:
    key = os.urandom(32)
    ct = cobblestone_encrypt(key, b"", os.urandom(3 * 16384 + 1))

    def run(data: bytes, k: bytes = key) -> None:
        dec = chunked.Decryptor(k, b"")
        buf = bytearray(chunked.max_update_output(len(data)))
        dec.update_into(data, buf)
        dec.finalize()

    with pytest.raises(chunked.ChunkedFormatError, match="commitment mismatch"):
        run(ct, os.urandom(32))
    bad = bytearray(ct)
    bad[56 + 16400 + 5] ^= 1
    with pytest.raises(chunked.ChunkedFormatError, match=r"chunks 0\.\.2 failed"):
        run(bytes(bad))
    with pytest.raises(chunked.ChunkedFormatError, match="final payload chunk is missing"):
        run(ct[:56 + 3 * 16400])
    with pytest.raises(chunked.ChunkedFormatError, match="final payload chunk 3 failed"):
        run(ct[:-1])
    with pytest.raises(chunked.ChunkedFormatError, match="header is incomplete"):
        run(ct[:40])


def test_open_chunk_rejects_sizes_that_contradict_finality() -> None:
    cipher = chunked.ChunkCipher.for_salt(os.urandom(32), os.urandom(24), b"")
    full = cipher.seal_chunk(0, bytes(chunked.CHUNK_SIZE), False)
    with pytest.raises(chunked.ChunkedFormatError, match="wrong size"):
        cipher.open_chunk(0, full, True)  # a full-size chunk is never final
    with pytest.raises(chunked.ChunkedFormatError, match="wrong size"):
        cipher.open_chunk(0, full[:-1], False)
    with pytest.raises(ValueError):
        cipher.seal_chunk(0, bytes(chunked.CHUNK_SIZE), True)


@pytest.mark.parametrize("size,expected", [
    (55, "header is incomplete"), (56, "final payload chunk is missing"),
    (56 + 15, "final payload chunk is missing"), (56 + 16400, "final payload chunk is missing"),
])
def test_layout_rejects_impossible_sizes(size: int, expected: str) -> None:
    with pytest.raises(chunked.ChunkedFormatError, match=expected):
        chunked.chunk_layout(size)


def test_layout() -> None:
    assert chunked.chunk_layout(56 + 16) == (1, 16)
    assert chunked.chunk_layout(56 + 16400 + 16) == (2, 16)
    assert chunked.plaintext_size(chunked.ciphertext_size(1 << 30)) == 1 << 30
    assert chunked.chunk_nonce(bytes(12), 0x0102) == bytes(10) + b"\x01\x02"
    assert chunked.chunk_nonce(b"\xff" * 12, 1)[-1] == 0xFE

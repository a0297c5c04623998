"""C2SP chunked encryption (https://c2sp.org/chunked-encryption), AES-256-GCM instance.

The pqml/v1 payload. Streaming goes through pyca's own implementation,
``cryptography.cobblestone.Cobblestone256Encryptor/Decryptor`` (HKDF-SHA-512 and
AES-256-GCM); this module only adapts its errors and buffers. Wire format::

    salt (24) || commitment (32) || chunk_0 || ... || chunk_n
    key || base_nonce || commitment = HKDF-Expand(H, prk = input key, length = 32 + 12 + 32,
        info = "c2sp.org/chunked-encryption@v1+AEAD_AES_256_GCM" || 0x00 || salt || context)
    chunk_i = AES-256-GCM(key, nonce = base_nonce XOR be96(i), plaintext_i), 16-byte tag

Every chunk holds 16384 plaintext bytes except the final one, which holds 0..16383: a
full-size chunk is never final, so a payload whose length is a multiple of 16384 ends in
an empty chunk, and truncation at a chunk boundary is detectable. Plaintext byte ``i``
lives in chunk ``i // 16384`` at wire offset ``56 + (i // 16384) * 16400``.

:class:`ChunkCipher` opens (and seals) single chunks with ``AESGCM`` under the derived
key and base nonce: random access and multi-process encryption need that, and pyca has
no single-chunk API. It composes exactly the spec's steps, parametric in the HKDF hash:
SHA-512 is Cobblestone's (tests prove byte-equality with Cobblestone in both directions),
SHA-256 is the hash of the spec vectors shipped in cryptography-vectors 50.0.2
(``chunked-encryption/vectors.json``: their ``aead_key`` and ``base_nonce`` fields match
HKDF-Expand-SHA-256), which tests use to prove the framing, nonces and failure cases.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Any, Literal

from cryptography.cobblestone import Cobblestone256Decryptor, Cobblestone256Encryptor
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

from pqml.primitives.errors import ChunkedFormatError, DecryptionError
from pqml.primitives.symmetric import AES256GCMKey, Buffer

CHUNK_SIZE = 16 * 1024
TAG_SIZE = 16
WIRE_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE
SALT_SIZE = 24
COMMITMENT_SIZE = 32
HEADER_SIZE = SALT_SIZE + COMMITMENT_SIZE
KEY_SIZE = 32
NONCE_SIZE = 12
MAX_CHUNKS = 1 << 38  # the spec's counter limit (4 PiB - 1 of plaintext)
INFO_PREFIX = b"c2sp.org/chunked-encryption@v1+"
AEAD_NAME = b"AEAD_AES_256_GCM"

KDFHash = Literal["SHA-512", "SHA-256"]
_HASHES: dict[str, Any] = {"SHA-512": hashes.SHA512, "SHA-256": hashes.SHA256}




# ---- sizes ----------------------------------------------------------------------------------


def ciphertext_size(plaintext_size: int) -> int:
    """Wire size of a ``plaintext_size``-byte message (header, chunks and tags)."""
    return HEADER_SIZE + plaintext_size + (plaintext_size // CHUNK_SIZE + 1) * TAG_SIZE


def chunk_layout(size: int) -> tuple[int, int]:
    """``(chunk count, wire size of the final chunk)`` for a ``size``-byte ciphertext.

    Raises ChunkedFormatError for sizes no valid ciphertext has: shorter than the header,
    ending on a chunk boundary (the final chunk is missing) or with a final chunk shorter
    than its tag.
    """
    if size < HEADER_SIZE:
        raise ChunkedFormatError("file is truncated: the payload header is incomplete")
    full, last = divmod(size - HEADER_SIZE, WIRE_CHUNK_SIZE)
    if last < TAG_SIZE:
        raise ChunkedFormatError("file is truncated: the final payload chunk is missing")
    if full + 1 > MAX_CHUNKS:
        raise ChunkedFormatError("payload has more chunks than the format allows")
    return full + 1, last


def plaintext_size(size: int) -> int:
    """Plaintext size of a ``size``-byte ciphertext (raises like :func:`chunk_layout`)."""
    count, last = chunk_layout(size)
    return (count - 1) * CHUNK_SIZE + last - TAG_SIZE


# ---- key derivation (the spec's steps, for single-chunk access) -----------------------------


@dataclass(frozen=True, repr=False)
class DerivedKeys:
    key: bytes
    base_nonce: bytes
    commitment: bytes


def derive(input_key: bytes, salt: bytes, context: bytes,
           kdf_hash: KDFHash = "SHA-512") -> DerivedKeys:
    """The chunk key, base nonce and commitment for one message."""
    if len(input_key) != KEY_SIZE:
        raise ValueError(f"chunked-encryption input key must be {KEY_SIZE} bytes")
    if len(salt) != SALT_SIZE:
        raise ValueError(f"chunked-encryption salt must be {SALT_SIZE} bytes")
    info = INFO_PREFIX + AEAD_NAME + b"\x00" + salt + context
    okm = HKDFExpand(_HASHES[kdf_hash](), KEY_SIZE + NONCE_SIZE + COMMITMENT_SIZE,
                     info).derive(input_key)
    return DerivedKeys(okm[:KEY_SIZE], okm[KEY_SIZE:KEY_SIZE + NONCE_SIZE],
                       okm[KEY_SIZE + NONCE_SIZE:])


def chunk_nonce(base_nonce: bytes, index: int) -> bytes:
    """``base_nonce XOR index`` as a 96-bit big-endian integer."""
    if not 0 <= index < MAX_CHUNKS:
        raise ChunkedFormatError("payload chunk index out of range")
    return (int.from_bytes(base_nonce, "big") ^ index).to_bytes(NONCE_SIZE, "big")


class ChunkCipher:
    """Seals and opens single chunks of one message (random access, parallel workers)."""

    def __init__(self, keys: DerivedKeys, header: bytes) -> None:
        self._aead = AES256GCMKey(keys.key)
        self._aead_key = keys.key
        self._base_nonce = keys.base_nonce
        self.header = header

    @classmethod
    def for_header(cls, input_key: bytes, header: bytes, context: bytes,
                   kdf_hash: KDFHash = "SHA-512") -> ChunkCipher:
        """Check the 56-byte message header's commitment (constant time) and return the
        cipher; raise ChunkedFormatError if it does not match (wrong key or tampered)."""
        if len(header) != HEADER_SIZE:
            raise ChunkedFormatError("file is truncated: the payload header is incomplete")
        keys = derive(input_key, header[:SALT_SIZE], context, kdf_hash)
        if not hmac.compare_digest(keys.commitment, header[SALT_SIZE:]):
            raise ChunkedFormatError("payload key commitment mismatch: wrong key or tampered "
                                     "payload header")
        return cls(keys, bytes(header))

    @classmethod
    def for_salt(cls, input_key: bytes, salt: bytes, context: bytes,
                 kdf_hash: KDFHash = "SHA-512") -> ChunkCipher:
        """A sealing cipher for a new message with this (fresh, random) salt."""
        keys = derive(input_key, salt, context, kdf_hash)
        return cls(keys, bytes(salt) + keys.commitment)

    def open_chunk(self, index: int, ciphertext: Buffer, final: bool) -> bytes:
        """Open chunk ``index``. The caller knows from the file size whether it is the final
        one; sizes that contradict that are rejected before decrypting."""
        size = len(ciphertext)
        if (size != WIRE_CHUNK_SIZE) if not final else not TAG_SIZE <= size < WIRE_CHUNK_SIZE:
            raise ChunkedFormatError("file is truncated: payload chunk has the wrong size")
        try:
            return self._aead.open(chunk_nonce(self._base_nonce, index), ciphertext)
        except DecryptionError:
            raise ChunkedFormatError(f"payload chunk {index} failed authentication") from None

    def open_chunk_into(self, index: int, ciphertext: Buffer, final: bool, out: Buffer) -> None:
        """:meth:`open_chunk` into ``out`` (``len(ciphertext) - 16`` bytes)."""
        size = len(ciphertext)  # type: ignore[arg-type]
        if (size != WIRE_CHUNK_SIZE) if not final else not TAG_SIZE <= size < WIRE_CHUNK_SIZE:
            raise ChunkedFormatError("file is truncated: payload chunk has the wrong size")
        try:
            self._aead.open_into(chunk_nonce(self._base_nonce, index), ciphertext, out)
        except DecryptionError:
            raise ChunkedFormatError(f"payload chunk {index} failed authentication") from None

    def seal_chunk(self, index: int, plaintext: Buffer, final: bool) -> bytes:
        _check_plain(len(plaintext), final)
        return self._aead.seal(chunk_nonce(self._base_nonce, index), plaintext)

    def seal_chunk_into(self, index: int, plaintext: Buffer, final: bool, out: Buffer) -> None:
        """:meth:`seal_chunk` into ``out`` (``len(plaintext) + 16`` bytes)."""
        _check_plain(len(plaintext), final)  # type: ignore[arg-type]
        self._aead.seal_into(chunk_nonce(self._base_nonce, index), plaintext, out)

    @property
    def keys(self) -> DerivedKeys:
        """The derived chunk key and base nonce (handed to worker processes)."""
        return DerivedKeys(self._aead_key, self._base_nonce, self.header[SALT_SIZE:])

    def __repr__(self) -> str:
        return "<C2SP chunked-encryption chunk cipher>"


def _check_plain(size: int, final: bool) -> None:
    if (size != CHUNK_SIZE) if not final else size >= CHUNK_SIZE:
        raise ValueError("a chunk holds exactly 16384 bytes, the final one fewer")


# ---- streaming, through pyca's Cobblestone256 -----------------------------------------------


def max_update_output(data_size: int) -> int:
    """An output buffer size always large enough for one encrypt or decrypt update."""
    return HEADER_SIZE + data_size + (data_size // CHUNK_SIZE + 2) * WIRE_CHUNK_SIZE


class Encryptor:
    """Cobblestone256 encryption of one message (a fresh random salt per instance)."""

    def __init__(self, input_key: bytes, context: bytes) -> None:
        self._enc: Any = Cobblestone256Encryptor(input_key, context)

    def update_into(self, data: Buffer, out: bytearray | memoryview) -> int:
        """Encrypt ``data`` into ``out`` (at least :func:`max_update_output` bytes)."""
        return int(self._enc.update_into(data, out))

    def finalize(self) -> bytes:
        return bytes(self._enc.finalize())

    def __repr__(self) -> str:
        return "<C2SP chunked-encryption encryptor>"


class Decryptor:
    """Cobblestone256 decryption with errors that say what failed.

    Complete non-final chunks are released as soon as they authenticate (pyca's behaviour,
    needed for constant memory); only :meth:`finalize` proves the message is complete, so
    callers that must not leave partial plaintext write to a temporary file.
    """

    def __init__(self, input_key: bytes, context: bytes) -> None:
        self._dec: Any = Cobblestone256Decryptor(input_key, context)
        self._fed = 0

    def update_into(self, data: Buffer, out: bytearray | memoryview) -> int:
        """Decrypt ``data`` into ``out`` (at least :func:`max_update_output` bytes)."""
        view = memoryview(data)
        written = 0
        if self._fed < HEADER_SIZE and len(view):
            # Feed the salt and commitment alone first, so a commitment mismatch is told
            # apart from a chunk that fails authentication.
            take = min(HEADER_SIZE - self._fed, len(view))
            try:
                written = int(self._dec.update_into(view[:take], out))
            except InvalidTag:
                raise ChunkedFormatError("payload key commitment mismatch: wrong key or "
                                         "tampered payload header") from None
            self._fed += take
            view = view[take:]
        if not len(view):
            return written
        first = (self._fed - HEADER_SIZE) // WIRE_CHUNK_SIZE
        try:
            written += int(self._dec.update_into(view, memoryview(out)[written:]))
        except InvalidTag:
            last = (self._fed + len(view) - HEADER_SIZE) // WIRE_CHUNK_SIZE - 1
            where = (f"payload chunk {first}" if last <= first
                     else f"one of payload chunks {first}..{last}")
            raise ChunkedFormatError(f"{where} failed authentication: the file is "
                                     "tampered or its chunks are reordered") from None
        self._fed += len(view)
        return written

    def finalize(self) -> bytes:
        """The final chunk's plaintext; raises ChunkedFormatError if it is missing, too
        short or fails authentication (truncation, extension, tampering)."""
        try:
            chunk_layout(self._fed)
        except ChunkedFormatError:
            self._dec = None
            raise
        try:
            return bytes(self._dec.finalize())
        except InvalidTag:
            index = (self._fed - HEADER_SIZE) // WIRE_CHUNK_SIZE
            raise ChunkedFormatError(
                f"final payload chunk {index} failed authentication: the file is truncated, "
                "extended or tampered"
            ) from None

    def __repr__(self) -> str:
        return "<C2SP chunked-encryption decryptor>"

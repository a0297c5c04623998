"""pqml/v1 files over binary file-like objects: header, payload, streaming both ways.

::

    pqml/v1 LF
    1*stanza                          (age grammar; types in hpke_stanza and argon2id)
    "--- " base64(header MAC) LF      HMAC-SHA-256(HKDF-SHA-256(file key, "", "header"), …)
    payload                           C2SP chunked encryption, AES-256-GCM (Cobblestone256)
                                      input key = HKDF-SHA-256(file key, "", "pqml/v1 payload")
                                      context   = "pqml/v1"

Files of known size from 64 MiB (or when asked) put the header in a header area instead:
two fixed-size slots before the payload, so rekey rewrites them in place (header_area).
:func:`open_header` reads either layout and is the one place the payload offset comes from.

The file key is 32 random bytes. The payload's context binds the format version but not
the stanzas, so rewriting the header (rekey) leaves every payload byte identical; the
header MAC and the key commitment make a swapped header or payload fail.

Decryption order, so each failure is reported as what it is: header grammar, header-wide
stanza rules, stanza unwrapping (first identity that opens one wins), header MAC, payload
commitment, payload chunks, final chunk. Formats are pure: nothing here touches the file
system; callers that must not leave partial plaintext write to a temporary file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

from pqml.formats.age._io import Readable, Source, output_buffers
from pqml.formats.age.errors import HeaderError, NoIdentityMatchError, PayloadError
from pqml.formats.age.header import Header, Stanza, verify_mac
from pqml.formats.pqml_v1 import header_area as _area
from pqml.formats.pqml_v1 import recipients as _recipients
from pqml.formats.pqml_v1.recipients import IdentityLike, RecipientLike
from pqml.primitives import chunked, symmetric

VERSION = b"pqml/v1"
MAGIC = VERSION + b"\n"
FILE_KEY_SIZE = 32
PAYLOAD_INFO = b"pqml/v1 payload"
PAYLOAD_CONTEXT = b"pqml/v1"
BLOCK_SIZE = 4 * 1024 * 1024  # pyca's AES-GCM runs at full speed from 1 MiB per call

Progress = Callable[[int], object]


class Writable(Protocol):
    """Anything with ``write`` taking bytes-like data (files, BytesIO, our writers)."""

    def write(self, data: Any, /) -> object: ...


# ---- header ---------------------------------------------------------------------------------


def read_header(source: Source) -> Header:
    """Parse a pqml/v1 header (the first slot that parses, for a file with a header area),
    leaving ``source`` at the first payload byte. Without a key nothing is authenticated:
    decryption uses :func:`open_header`."""
    return _area.locate(source).header


def open_header(source: Source, identities: Iterable[IdentityLike] | None = None
                ) -> _area.Located:
    """The header, the payload offset and, given identities, the file key (a header
    area's slot 1 is used when slot 0 does not open); ``source`` is left at the payload."""
    if identities is None:
        return _area.locate(source)
    ids = _recipients.identities_for(identities)
    return _area.locate(source, lambda header: unwrap_file_key(header, ids))


def marshal_header(header: Header) -> bytes:
    """The bytes before the payload: the header, or both slots of its header area."""
    return _area.marshal(header)


def wrap_file_key(file_key: bytes, recipients: Iterable[RecipientLike], *,
                  allow_classical: bool = False, header_area: int | None = None,
                  plaintext_size: int | None = None) -> Header:
    """A MAC'd header carrying ``file_key`` for every recipient (encryption and rekey).

    ``header_area``: the slot size S to reserve (0: none; None: automatic, 64 KiB when
    ``plaintext_size`` is known and at least 64 MiB); grown if the header does not fit."""
    if len(file_key) != FILE_KEY_SIZE:
        raise ValueError(f"a pqml/v1 file key is {FILE_KEY_SIZE} bytes, got {len(file_key)}")
    stanzas: list[Stanza] = []
    for recipient in _recipients.recipients_for(recipients, allow_classical=allow_classical):
        stanzas.extend(recipient.wrap(file_key))
    _recipients.check_stanzas(stanzas)
    return _area.build(file_key, stanzas, header_area, plaintext_size)


def rewrap(header: Header, file_key: bytes, stanzas: Iterable[Stanza]) -> Header:
    """A new header with ``stanzas`` for the same file key (rekey), re-MAC'd, keeping
    ``header``'s header area (grown if the new header does not fit it)."""
    stanzas = tuple(s for s in stanzas if s.type != _area.STANZA_TYPE)
    if not stanzas:
        raise ValueError("a header needs at least one recipient stanza")
    _recipients.check_stanzas(stanzas)
    return _area.build(file_key, stanzas, _area.area_size(header) or 0, None)


def unwrap_file_key(header: Header, identities: Iterable[IdentityLike]) -> bytes:
    """The file key, after the header-wide rules, stanza unwrapping and the MAC check."""
    _recipients.check_stanzas(header.stanzas)
    stanzas = _area.recipient_stanzas(header.stanzas)  # the layout stanza is no recipient
    for identity in _recipients.identities_for(identities):
        file_key = identity.unwrap(stanzas)
        if file_key is None:
            continue
        if len(file_key) != FILE_KEY_SIZE:
            raise HeaderError(f"unwrapped file key is {len(file_key)} bytes, not "
                              f"{FILE_KEY_SIZE}")
        verify_mac(file_key, header)
        return file_key
    raise NoIdentityMatchError("no identity matched any of the recipients")


def payload_key(file_key: bytes) -> bytes:
    """The chunked-encryption input key: a key separate from the header MAC key."""
    return symmetric.hkdf_sha256(file_key, b"", PAYLOAD_INFO)


def chunk_cipher(file_key: bytes, payload_header: bytes) -> chunked.ChunkCipher:
    """Single-chunk access (random access): checks the payload's key commitment."""
    try:
        return chunked.ChunkCipher.for_header(payload_key(file_key), payload_header,
                                              PAYLOAD_CONTEXT)
    except chunked.ChunkedFormatError as exc:
        raise PayloadError(str(exc)) from None


# ---- payload --------------------------------------------------------------------------------


def _filler(src: Any) -> Callable[[bytearray], int]:
    """``fill(buf)``: read until ``buf`` is full or the input ends; return the count."""
    readinto = getattr(src, "readinto", None)
    if readinto is not None:
        def fill(buf: bytearray) -> int:
            view = memoryview(buf)
            got = 0
            while got < len(buf):
                n = readinto(view[got:])
                if not n:
                    break
                got += n
            return got
        return fill

    def fill_by_read(buf: bytearray) -> int:
        got = 0
        while got < len(buf):
            data = src.read(len(buf) - got)
            if not data:
                break
            buf[got:got + len(data)] = data
            got += len(data)
        return got
    return fill_by_read


def encrypt_payload(file_key: bytes, src: Readable, dst: Writable, *,
                    progress: Progress | None = None, block_size: int = BLOCK_SIZE) -> int:
    """Write the chunked payload of everything readable from ``src``; return its size.

    A ``dst`` with ``buffer``/``submit`` (pqml._internal.write_behind) receives each block in a
    buffer of its own, so its writes can run on another thread without a copy."""
    enc = chunked.Encryptor(payload_key(file_key), PAYLOAD_CONTEXT)
    fill = _filler(src)
    buf = bytearray(block_size)
    next_buffer, hand_over = output_buffers(dst, chunked.max_update_output(block_size))
    view = memoryview(buf)
    total = 0
    while True:
        n = fill(buf)
        if n:
            out = next_buffer()
            m = enc.update_into(view[:n], out)
            hand_over(memoryview(out)[:m])
            total += n
            if progress is not None:
                progress(n)
        if n < block_size:
            break
    dst.write(enc.finalize())
    return total


def iter_payload(file_key: bytes, src: Readable, *, block_size: int = BLOCK_SIZE,
                 progress: Progress | None = None,
                 out_buffer: Callable[[], bytearray] | None = None) -> Iterator[memoryview]:
    """Yield plaintext views of the payload in ``src``: of one reused buffer (valid until
    the next step), or of a fresh ``out_buffer()`` per block.

    Full chunks are released once they authenticate; the final one only after the whole
    payload did, so a PayloadError at the end means the plaintext yielded so far is
    incomplete (see the module docstring)."""
    dec = chunked.Decryptor(payload_key(file_key), PAYLOAD_CONTEXT)
    fill = _filler(src)
    buf = bytearray(block_size)
    if out_buffer is None:
        reused = bytearray(chunked.max_update_output(block_size))
        out_buffer = lambda: reused  # noqa: E731
    view = memoryview(buf)
    try:
        while True:
            n = fill(buf)
            if n:
                out = out_buffer()
                m = dec.update_into(view[:n], out)
                yield memoryview(out)[:m]
                if progress is not None:
                    progress(n)
            if n < block_size:
                break
        yield memoryview(dec.finalize())
    except chunked.ChunkedFormatError as exc:
        raise PayloadError(str(exc)) from None


def decrypt_payload(file_key: bytes, src: Readable, dst: Writable, *,
                    progress: Progress | None = None, block_size: int = BLOCK_SIZE) -> int:
    """Decrypt into ``dst``; a ``buffer``/``submit`` sink gets each block without a copy."""
    next_buffer, hand_over = output_buffers(dst, chunked.max_update_output(block_size))
    total = 0
    for part in iter_payload(file_key, src, block_size=block_size, progress=progress,
                             out_buffer=next_buffer):
        # The length first: a write-behind sink may release ``part`` once it has it.
        total += len(part)
        hand_over(part)
    return total


# ---- whole files ----------------------------------------------------------------------------


def encrypt(recipients: Iterable[RecipientLike], src: Readable, dst: Writable, *,
            allow_classical: bool = False, progress: Progress | None = None,
            header_area: int | None = None, plaintext_size: int | None = None) -> int:
    """Encrypt everything readable from ``src`` to ``dst`` as a pqml/v1 file; return the
    plaintext size. ``dst`` is written sequentially and not closed. ``header_area`` and
    ``plaintext_size`` (the caller's promise) choose the header area: :func:`wrap_file_key`.
    """
    file_key = os.urandom(FILE_KEY_SIZE)
    header = wrap_file_key(file_key, recipients, allow_classical=allow_classical,
                           header_area=header_area, plaintext_size=plaintext_size)
    dst.write(marshal_header(header))
    return encrypt_payload(file_key, src, dst, progress=progress)


def decrypt(identities: Iterable[IdentityLike], src: Readable, dst: Writable, *,
            progress: Progress | None = None) -> int:
    """Decrypt the pqml/v1 file in ``src`` into ``dst``; return the plaintext size."""
    source = Source(src)
    located = open_header(source, identities)
    assert located.file_key is not None
    return decrypt_payload(located.file_key, source, dst, progress=progress)


def encrypt_bytes(recipients: Iterable[RecipientLike], data: bytes, *,
                  allow_classical: bool = False, header_area: int | None = None) -> bytes:
    import io

    out = io.BytesIO()
    encrypt(recipients, io.BytesIO(data), out, allow_classical=allow_classical,
            header_area=header_area, plaintext_size=len(data))
    return out.getvalue()


def decrypt_bytes(identities: Iterable[IdentityLike], data: bytes) -> bytes:
    import io

    out = io.BytesIO()
    decrypt(identities, io.BytesIO(data), out)
    return out.getvalue()


# ---- file-like writer -----------------------------------------------------------------------


class PqmlWriter:
    """Push-style encryption: the header is written at construction, ``write()`` plaintext,
    ``close()`` seals the final chunk; ``dst`` itself is not closed.

    Leaving a ``with`` block by an exception does not seal the final chunk, so a partial
    output can never pass for a complete file."""

    def __init__(self, recipients: Iterable[RecipientLike], dst: Writable, *,
                 allow_classical: bool = False, header_area: int | None = None) -> None:
        file_key = os.urandom(FILE_KEY_SIZE)
        self.header = wrap_file_key(file_key, recipients, allow_classical=allow_classical,
                                    header_area=header_area)
        self._dst = dst
        dst.write(marshal_header(self.header))
        self._enc: chunked.Encryptor | None = chunked.Encryptor(payload_key(file_key),
                                                                 PAYLOAD_CONTEXT)
        self._out = bytearray()
        self.size = 0

    def write(self, data: symmetric.Buffer) -> int:
        if self._enc is None:
            raise ValueError("write to a closed pqml/v1 writer")
        n = len(data)
        need = chunked.max_update_output(n)
        if len(self._out) < need:
            self._out = bytearray(need)
        m = self._enc.update_into(data, self._out)
        if m:
            self._dst.write(memoryview(self._out)[:m])
        self.size += n
        return n

    def writable(self) -> bool:
        return True

    def flush(self) -> None:
        return None

    def close(self) -> None:
        if self._enc is None:
            return
        enc, self._enc = self._enc, None
        self._dst.write(enc.finalize())
        self._out = bytearray()

    @property
    def closed(self) -> bool:
        return self._enc is None

    def __enter__(self) -> PqmlWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()

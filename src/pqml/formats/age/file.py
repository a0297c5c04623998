"""Encrypt and decrypt whole age files over binary file-like objects, streaming.

Decryption runs in the order that keeps the CCTV failure classes apart: armor, header
grammar, header-wide rules, stanza unwrapping (first identity that opens one wins),
header MAC, payload nonce, then the STREAM payload chunk by chunk. Formats are pure:
nothing here opens files or creates temporary ones; callers that must not leave partial
plaintext behind decrypt into a temporary file and rename it after success.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator

from pqml.formats.age import armor as _armor
from pqml.formats.age import scrypt, stream
from pqml.formats.age._io import Readable, Source
from pqml.formats.age.errors import HeaderError, NoIdentityMatchError, RecipientError
from pqml.formats.age.header import Header, Stanza, make_header, read_header, verify_mac
from pqml.formats.age.recipients import (
    IdentityLike,
    RecipientLike,
    check_stanzas,
    identities_for,
    recipients_for,
)
from pqml.formats.age.stream import FILE_KEY_SIZE, NONCE_SIZE, Writable

# ---- header level (also what rekey and inspect need) ----------------------------------------


def wrap_file_key(
    file_key: bytes, recipients: Iterable[RecipientLike], *, allow_mixed_pq: bool = False
) -> Header:
    """A MAC'd age header carrying ``file_key`` for every recipient (also for rekeying)."""
    if len(file_key) != FILE_KEY_SIZE:
        raise ValueError(f"an age file key is {FILE_KEY_SIZE} bytes, got {len(file_key)}")
    stanzas: list[Stanza] = []
    for recipient in recipients_for(recipients, allow_mixed_pq=allow_mixed_pq):
        stanzas.extend(recipient.wrap(file_key))
    if len(stanzas) > 1 and any(s.type == scrypt.STANZA_TYPE for s in stanzas):
        raise RecipientError("a scrypt stanza must be the only stanza in the header")
    return make_header(file_key, stanzas)


def unwrap_file_key(header: Header, identities: Iterable[IdentityLike]) -> bytes:
    """The file key, after the header-wide rules, stanza unwrapping and the MAC check.

    Raises HeaderError (malformed stanza for one of our identity types), NoIdentityMatchError
    or HeaderMACError.
    """
    check_stanzas(header.stanzas)
    for identity in identities_for(identities):
        file_key = identity.unwrap(header.stanzas)
        if file_key is None:
            continue
        if len(file_key) != FILE_KEY_SIZE:  # third-party identities are checked too
            raise HeaderError(f"unwrapped file key is {len(file_key)} bytes, not {FILE_KEY_SIZE}")
        verify_mac(file_key, header)
        return file_key
    raise NoIdentityMatchError("no identity matched any of the recipients")


# ---- input framing --------------------------------------------------------------------------


def open_source(src: Readable, armor: bool | None = None) -> Source:
    """A Source over the binary age file in ``src``: dearmored if ``armor`` is True, or if
    it is None and the input looks armored (starts, after whitespace, with ``-----``)."""
    if armor is None:
        probe = Source(src)
        armor = _armor.looks_armored(probe.peek(1024))
        return Source(_armor.ArmorReader(probe)) if armor else probe
    return Source(_armor.ArmorReader(src)) if armor else Source(src)


def _read_nonce(source: Source) -> bytes:
    nonce = source.read(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise HeaderError("file is truncated: the payload nonce is missing")
    return nonce


# ---- whole files ----------------------------------------------------------------------------


def encrypt(
    recipients: Iterable[RecipientLike], src: Readable, dst: Writable, *, armor: bool = False,
    allow_mixed_pq: bool = False, progress: Callable[[int], object] | None = None,
) -> int:
    """Encrypt everything readable from ``src`` to ``dst`` as an age v1 file; return the
    plaintext size. ``dst`` is written sequentially and not closed."""
    file_key = os.urandom(FILE_KEY_SIZE)
    header = wrap_file_key(file_key, recipients, allow_mixed_pq=allow_mixed_pq)
    out: Writable = _armor.ArmorWriter(dst) if armor else dst
    out.write(header.marshal())
    size = stream.encrypt_payload(file_key, src, out, progress=progress)
    if isinstance(out, _armor.ArmorWriter):
        out.close()
    return size


def decrypt(
    identities: Iterable[IdentityLike], src: Readable, dst: Writable, *,
    armor: bool | None = None,
) -> int:
    """Decrypt the age file in ``src`` into ``dst``; return the plaintext size.

    Plaintext is written chunk by chunk, each only after it authenticated; on a
    PayloadError the chunks before the failure have been written (see module docstring).
    """
    reader = AgeReader(identities, src, armor=armor)
    total = 0
    for part in reader.blocks():
        dst.write(part)
        total += len(part)
    return total


def encrypt_bytes(recipients: Iterable[RecipientLike], data: bytes, *, armor: bool = False,
                  allow_mixed_pq: bool = False) -> bytes:
    import io

    out = io.BytesIO()
    encrypt(recipients, io.BytesIO(data), out, armor=armor, allow_mixed_pq=allow_mixed_pq)
    return out.getvalue()


def decrypt_bytes(identities: Iterable[IdentityLike], data: bytes, *,
                  armor: bool | None = None) -> bytes:
    import io

    out = io.BytesIO()
    decrypt(identities, io.BytesIO(data), out, armor=armor)
    return out.getvalue()


# ---- file-like objects ----------------------------------------------------------------------


class AgeWriter:
    """Push-style encryption: the header is written at construction, ``write()`` plaintext,
    ``close()`` seals the final chunk (and the armor); ``dst`` itself is not closed.

    Leaving a ``with`` block by an exception does not seal the final chunk, so the partial
    output can never pass for a complete file."""

    def __init__(
        self, recipients: Iterable[RecipientLike], dst: Writable, *, armor: bool = False,
        allow_mixed_pq: bool = False,
    ) -> None:
        file_key = os.urandom(FILE_KEY_SIZE)
        self.header = wrap_file_key(file_key, recipients, allow_mixed_pq=allow_mixed_pq)
        self._armor = _armor.ArmorWriter(dst) if armor else None
        out: Writable = self._armor if self._armor is not None else dst
        out.write(self.header.marshal())
        nonce = os.urandom(NONCE_SIZE)
        out.write(nonce)
        self._payload = stream.PayloadWriter(stream.PayloadCipher.for_file(file_key, nonce), out)

    def write(self, data: bytes | bytearray | memoryview) -> int:
        return self._payload.write(data)

    def close(self) -> None:
        self._payload.close()
        if self._armor is not None:
            self._armor.close()

    def __enter__(self) -> AgeWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.close()


class AgeReader:
    """Pull-style decryption. The header is parsed, unwrapped and MAC-checked at
    construction (so identity and header errors surface immediately); ``read()`` and
    ``chunks()`` then stream authenticated plaintext."""

    def __init__(
        self, identities: Iterable[IdentityLike], src: Readable, *, armor: bool | None = None
    ) -> None:
        self._source = open_source(src, armor)
        self.header = read_header(self._source)
        file_key = unwrap_file_key(self.header, identities)
        nonce = _read_nonce(self._source)
        self._cipher = stream.PayloadCipher.for_file(file_key, nonce)
        self._chunks = stream.iter_payload(self._cipher, self._source)
        self._buf = b""
        self._pos = 0

    def blocks(self, out_buffer: Callable[[], bytearray] | None = None
               ) -> Iterator[memoryview]:
        """The whole plaintext in blocks of up to 4 MiB (:func:`stream.iter_blocks`), for a
        reader that has not read yet; views of ``out_buffer()``, or of one reused buffer
        (then valid until the next step)."""
        if self._pos or self._buf:
            raise ValueError("blocks() must come before any read()")
        return stream.iter_blocks(self._cipher, self._source, out_buffer)

    def chunks(self) -> Iterator[bytes]:
        """The remaining plaintext, one authenticated chunk at a time."""
        if self._pos < len(self._buf):
            yield self._buf[self._pos :]
            self._buf, self._pos = b"", 0
        yield from self._chunks

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            return b"".join(self.chunks())
        parts: list[bytes] = []
        want = size
        while want > 0:
            if self._pos >= len(self._buf):
                self._buf = next(self._chunks, b"")
                self._pos = 0
                if not self._buf:
                    break
            part = self._buf[self._pos : self._pos + want]
            self._pos += len(part)
            want -= len(part)
            parts.append(part)
        return b"".join(parts)

    def __enter__(self) -> AgeReader:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


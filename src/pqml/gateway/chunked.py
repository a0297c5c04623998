"""Chunked Oblivious HTTP (draft-ietf-ohai-chunked-ohttp-08): incremental encoders and
decoders, so a gateway can stream a model's generated tokens as they come and a client can
read each one as it arrives, without either side holding the whole message.

Request: the RFC 9458 header and ``enc`` (HPKE ``info`` labelled "message/bhttp chunked
request"), then chunks sealed in order by the HPKE context — empty AAD for every chunk but
the last, which has AAD "final" and a zero length prefix and runs to the end of the body.
Response: the response nonce, then chunks sealed with the key and nonce RFC 9458 derives
(export label "message/bhttp chunked response"), chunk ``i`` under ``nonce XOR i``, the
last again with AAD "final". The AAD makes truncation detectable: a body cut at a chunk
boundary lacks a chunk that opens with "final", and :meth:`close` refuses it.

Four classes, one per role::

    client  ChunkedRequestSender   .header .seal(chunk) .seal_final(chunk) .response_reader()
    gateway ChunkedRequestReader   .feed(bytes) -> [chunk, ...] .close() -> last chunk
            (after the header)     .response_writer() -> ChunkedResponseWriter
    gateway ChunkedResponseWriter  .start() -> nonce .seal(chunk) .seal_final(chunk)
    client  ChunkedResponseReader  .feed(bytes) -> [chunk, ...] .close() -> last chunk

A non-final chunk never carries an empty plaintext (the draft makes one a decryption
error); the final chunk may be empty.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from pqml.formats.ohttp import (
    CHUNKED_RESPONSE_LABEL,
    DEFAULT_MAX_CHUNK,
    FINAL_CHUNK_AAD,
    HEADER_SIZE,
    ChunkDeframer,
    KeyConfig,
    OHTTPFormatError,
    RequestHeader,
    SymmetricSuite,
    encapsulated_key_size,
    frame_chunk,
    frame_final_chunk,
)
from pqml.gateway.errors import OHTTPError
from pqml.gateway.ohttp import (
    ServerKey,
    aead_recipient,
    aead_sender,
    find_key,
    request_sender,
    response_context,
    response_nonce_size,
)
from pqml.primitives import hpke
from pqml.primitives.errors import DecryptionError

DEFAULT_MAX_HEADER = HEADER_SIZE + 4096  # the largest Nenc of any HPKE KEM is under 2 KiB


class _ChunkOpener:
    """Open framed chunks with a recipient context; shared by both readers."""

    def __init__(self, what: str, max_chunk: int) -> None:
        self._deframer = ChunkDeframer(max_chunk=max_chunk, what=what)
        self._what = what
        self._context: hpke.RecipientContext | None = None
        self._done = False

    def _open_all(self, sealed_chunks: list[bytes]) -> list[bytes]:
        assert self._context is not None
        out = []
        for sealed in sealed_chunks:
            index = self._context.seq
            try:
                plaintext = self._context.open(sealed)
            except DecryptionError:
                raise DecryptionError(
                    f"{self._what}: chunk {index} fails authentication (tampered, reordered "
                    "or not for this context)"
                ) from None
            if not plaintext:
                raise DecryptionError(f"{self._what}: non-final chunk {index} is empty")
            out.append(plaintext)
        return out

    def _close(self) -> bytes:
        if self._done:
            raise OHTTPError(f"{self._what}: already closed")
        if self._context is None:
            raise OHTTPFormatError(f"{self._what} is truncated: it ends inside its header")
        sealed = self._deframer.close()
        self._done = True
        try:
            return self._context.open(sealed, FINAL_CHUNK_AAD)
        except DecryptionError:
            raise DecryptionError(
                f"{self._what}: final chunk fails authentication (truncated or tampered)"
            ) from None


# ---- client --------------------------------------------------------------------------------


class ChunkedRequestSender:
    """Client side of a chunked request: emit :attr:`header` first, then sealed chunks."""

    def __init__(
        self,
        config: KeyConfig,
        *,
        suite: SymmetricSuite | None = None,
        allow_legacy: bool = False,
        _kem_output: tuple[bytes, bytes] | None = None,
    ) -> None:
        header, enc, context = request_sender(config, suite, allow_legacy, True, _kem_output)
        self.request_header = header
        self.enc = enc
        self._context = context
        self.header = header.encode() + enc  # the body's first bytes
        self._finished = False

    def seal(self, chunk: bytes) -> bytes:
        """A framed non-final chunk; ``chunk`` must not be empty."""
        if self._finished:
            raise OHTTPError("chunked OHTTP request already ended with its final chunk")
        if not chunk:
            raise OHTTPError("a non-final chunked OHTTP chunk cannot be empty")
        return frame_chunk(self._context.seal(bytes(chunk)))

    def seal_final(self, chunk: bytes = b"") -> bytes:
        """The framed final chunk (may be empty); nothing may follow it."""
        if self._finished:
            raise OHTTPError("chunked OHTTP request already ended with its final chunk")
        self._finished = True
        return frame_final_chunk(self._context.seal(bytes(chunk), FINAL_CHUNK_AAD))

    def encapsulate(self, chunks: Iterable[bytes]) -> bytes:
        """A whole chunked request: the header, each chunk, then an empty final chunk."""
        body = bytearray(self.header)
        for chunk in chunks:
            if chunk:
                body += self.seal(chunk)
        body += self.seal_final()
        return bytes(body)

    def response_reader(self, *, max_chunk: int = DEFAULT_MAX_CHUNK) -> ChunkedResponseReader:
        """The reader of this request's chunked response (usable while still sending)."""
        return ChunkedResponseReader(self._context, self.enc, max_chunk=max_chunk)


class ChunkedResponseReader(_ChunkOpener):
    """Client side of a chunked response: feed body bytes, get plaintext chunks."""

    def __init__(self, context: hpke.Context, enc: bytes, *,
                 max_chunk: int = DEFAULT_MAX_CHUNK) -> None:
        super().__init__("chunked OHTTP response", max_chunk)
        self._suite = context.suite
        self._secret = context.export(CHUNKED_RESPONSE_LABEL, response_nonce_size(self._suite))
        self._enc = enc
        self._nonce_buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        if self._done:
            raise OHTTPFormatError(f"{self._what}: data after the end of the message")
        if self._context is None:
            self._nonce_buffer += data
            n = response_nonce_size(self._suite)
            if len(self._nonce_buffer) < n:
                return []
            nonce, rest = bytes(self._nonce_buffer[:n]), bytes(self._nonce_buffer[n:])
            self._nonce_buffer.clear()
            key, aead_nonce = response_context(self._suite, self._secret, self._enc, nonce)
            self._context = aead_recipient(self._suite, key, aead_nonce)
            data = rest
        return self._open_all(self._deframer.feed(data))

    def close(self) -> bytes:
        """The final chunk's plaintext; fails on a truncated or altered response."""
        return self._close()


# ---- gateway -------------------------------------------------------------------------------


class ChunkedRequestReader(_ChunkOpener):
    """Gateway side of a chunked request: feed body bytes as they arrive.

    The header is checked as soon as it is complete (:class:`KeyConfigMismatchError` for an
    unknown key id or suite, before any chunk is read); then :meth:`feed` returns the opened
    chunks and :meth:`close`, at the end of the body, the final one.
    """

    def __init__(self, keys: ServerKey | Iterable[ServerKey], *,
                 max_chunk: int = DEFAULT_MAX_CHUNK) -> None:
        super().__init__("chunked OHTTP request", max_chunk)
        self._keys = (keys,) if isinstance(keys, ServerKey) else tuple(keys)
        self._head = bytearray()
        self.key: ServerKey | None = None
        self.request_header: RequestHeader | None = None
        self.enc: bytes | None = None  # the replay nonce of RFC 9458 §6.5

    @property
    def header_done(self) -> bool:
        return self._context is not None

    def feed(self, data: bytes) -> list[bytes]:
        if self._done:
            raise OHTTPFormatError(f"{self._what}: data after the end of the message")
        if self._context is None:
            self._head += data
            if len(self._head) < HEADER_SIZE:
                return []
            header = RequestHeader.decode(self._head)
            key = find_key(self._keys, header)
            key.check_header(header)
            n_enc = encapsulated_key_size(header.kem_id)
            if len(self._head) < HEADER_SIZE + n_enc:
                return []
            enc = bytes(self._head[HEADER_SIZE : HEADER_SIZE + n_enc])
            data = bytes(self._head[HEADER_SIZE + n_enc :])
            self._head.clear()
            self._context = key.open_header(header, enc, chunked=True)
            self.key, self.request_header, self.enc = key, header, enc
        return self._open_all(self._deframer.feed(data))

    def close(self) -> bytes:
        """The final chunk's plaintext; fails on a truncated or altered request."""
        return self._close()

    def response_writer(self, *, _response_nonce: bytes | None = None) -> ChunkedResponseWriter:
        """The writer of this request's chunked response (once the header is read)."""
        if self._context is None or self.enc is None:
            raise OHTTPError("chunked OHTTP request header not read yet: no response context")
        return ChunkedResponseWriter(self._context, self.enc, _response_nonce=_response_nonce)


class ChunkedResponseWriter:
    """Gateway side of a chunked response. :meth:`start` gives the nonce (the body's first
    bytes); :meth:`seal` and :meth:`seal_final` prepend it themselves if it was not sent."""

    def __init__(self, context: hpke.Context, enc: bytes, *,
                 _response_nonce: bytes | None = None) -> None:
        suite = context.suite
        n = response_nonce_size(suite)
        nonce = os.urandom(n) if _response_nonce is None else bytes(_response_nonce)
        if len(nonce) != n:
            raise OHTTPError(f"response nonce must be {n} bytes")
        secret = context.export(CHUNKED_RESPONSE_LABEL, n)
        key, aead_nonce = response_context(suite, secret, enc, nonce)
        self._sender = aead_sender(suite, key, aead_nonce)
        self._nonce = nonce
        self._started = False
        self._finished = False

    def start(self) -> bytes:
        if self._started:
            raise OHTTPError("chunked OHTTP response nonce already sent")
        self._started = True
        return self._nonce

    def _prefix(self) -> bytes:
        return b"" if self._started else self.start()

    def seal(self, chunk: bytes) -> bytes:
        """A framed non-final chunk (``chunk`` not empty), after the nonce if not sent."""
        if self._finished:
            raise OHTTPError("chunked OHTTP response already ended with its final chunk")
        if not chunk:
            raise OHTTPError("a non-final chunked OHTTP chunk cannot be empty")
        return self._prefix() + frame_chunk(self._sender.seal(bytes(chunk)))

    def seal_final(self, chunk: bytes = b"") -> bytes:
        if self._finished:
            raise OHTTPError("chunked OHTTP response already ended with its final chunk")
        self._finished = True
        prefix = self._prefix()
        return prefix + frame_final_chunk(self._sender.seal(bytes(chunk), FINAL_CHUNK_AAD))

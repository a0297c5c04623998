"""Binary HTTP messages (RFC 9292): the plaintext inside every Oblivious HTTP message.

A message is a framing indicator (0/1 known-length request/response, 2/3 indeterminate),
control data (method, scheme, authority, path; or a status code, after any informational
1xx responses with their headers), a header section, content, a trailer section and zero
padding (§3.8). Known-length sections carry a length prefix; indeterminate ones end with a
zero, and their content comes in chunks, so a gateway can start sending a streamed answer
before it knows its size. Every integer is a QUIC varint.

Decoding is strict and bounded: one incremental :class:`MessageDecoder` (bytes in, events
out) serves whole messages and streams alike. It accepts what RFC 9292 lets an encoder vary
(longer varints, empty sections truncated at the end, zero padding) and rejects everything
else with :class:`BinaryHTTPError`: unknown framing, out-of-range status codes, truncation
inside a section, non-zero padding, field names and values that would make an HTTP/2
message malformed (uppercase or non-token names, CR/LF/NUL in values, the control pseudo
fields, connection-specific fields), and any size over :class:`Limits` — checked against the
declared length before waiting for, or slicing, the bytes.

Control data and field names are ASCII by these rules, so method, scheme, authority and path
are ``str``; field names and values stay ``bytes`` (ASGI and httpx hold them so too).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from pqml.formats.errors import BinaryHTTPError
from pqml.formats.quic_varint import VarintError, decode_varint, encode_varint

Fields = tuple[tuple[bytes, bytes], ...]

KNOWN_REQUEST, KNOWN_RESPONSE, INDETERMINATE_REQUEST, INDETERMINATE_RESPONSE = 0, 1, 2, 3

_TCHAR = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_NAME_CHARS = frozenset(c for c in _TCHAR if not 0x41 <= c <= 0x5A)  # lowercase tokens
_SCHEME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.")
_NOT_VISIBLE = re.compile(rb"[^\x21-\x7e]")
_CONTROL_PSEUDO = frozenset({b":method", b":scheme", b":authority", b":path", b":status"})
_CONNECTION_FIELDS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)


@dataclass(frozen=True)
class Limits:
    """Bounds a decoder enforces; the defaults suit inference requests and answers."""

    max_control: int = 8 << 10  # each of method, scheme, authority, path
    max_field_section: int = 64 << 10  # bytes of one header or trailer section
    max_field_lines: int = 512  # lines in one section
    max_informational: int = 16  # 1xx responses before the final one
    max_content: int = 64 << 20
    max_padding: int = 1 << 20
    # content chunks of an indeterminate-length message: a hostile sender's million
    # one-byte chunks would otherwise cost a million events (seconds and gigabytes)
    max_chunks: int = 65536


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Request:
    method: str
    scheme: str = "https"
    authority: str = ""
    path: str = "/"
    headers: Fields = ()
    content: bytes = b""
    trailers: Fields = ()


@dataclass(frozen=True)
class InformationalResponse:
    status: int
    headers: Fields = ()


@dataclass(frozen=True)
class Response:
    status: int
    headers: Fields = ()
    content: bytes = b""
    trailers: Fields = ()
    informational: tuple[InformationalResponse, ...] = field(default=())


Message = Request | Response


# ---- events of the incremental decoder --------------------------------------------------


@dataclass(frozen=True)
class Head:
    """Control data and header section (content and trailers empty in ``message``)."""

    message: Message


@dataclass(frozen=True)
class Content:
    data: bytes


@dataclass(frozen=True)
class End:
    trailers: Fields


Event = Head | Content | End


# ---- validation (RFC 9292 §3.4-§3.6 with HTTP/2's §8.2.1 and §8.3 rules) ------------------


def _check_method(method: bytes) -> None:
    if not method or not set(method) <= _TCHAR:
        raise BinaryHTTPError("request control data: method is empty or not a token")


def _check_scheme(scheme: bytes) -> None:
    if not scheme or not scheme[:1].isalpha() or not set(scheme) <= _SCHEME_CHARS:
        raise BinaryHTTPError("request control data: scheme is not a URI scheme")


def _check_visible(value: bytes, what: str, *, empty_ok: bool) -> None:
    if not value and not empty_ok:
        raise BinaryHTTPError(f"request control data: {what} is empty")
    if _NOT_VISIBLE.search(value):
        raise BinaryHTTPError(
            f"request control data: {what} has a control, space or non-ASCII byte"
        )


def _check_status(status: int, informational: bool) -> None:
    low, high = (100, 199) if informational else (200, 599)
    if not low <= status <= high:
        kind = "informational" if informational else "final"
        raise BinaryHTTPError(f"response control data: {kind} status {status} is not {low}..{high}")


_PLAIN_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")  # a regular field's lowercase token
_BAD_VALUE = re.compile(rb"[\x00\r\n]|\A[ \t]|[ \t]\Z")


def _check_fields(fields: Iterable[tuple[bytes, bytes]], where: str) -> None:
    regular_seen = False
    for index, (name, value) in enumerate(fields):
        # the common case first: a regular lowercase-token name with a clean value
        if (_PLAIN_NAME.fullmatch(name) and not _BAD_VALUE.search(value)
                and name not in _CONNECTION_FIELDS and name != b"te"):
            regular_seen = True
            continue
        _check_field(name, value, f"{where} field {index}", regular_seen)
        regular_seen = regular_seen or name[:1] != b":"


def _check_field(name: bytes, value: bytes, what: str, regular_seen: bool) -> None:
    """The full rules for one field line (the slow path: names which rule failed)."""
    if not name:
        raise BinaryHTTPError(f"{what}: empty name")
    if name[:1] == b":":
        if name in _CONTROL_PSEUDO:
            raise BinaryHTTPError(f"{what}: control data pseudo-field is not allowed")
        if regular_seen:
            raise BinaryHTTPError(f"{what}: pseudo-field after a regular field")
        body = name[1:]
    else:
        body = name
    if not body or not set(body) <= _NAME_CHARS:
        raise BinaryHTTPError(f"{what}: name is not a lowercase token")
    if name in _CONNECTION_FIELDS or (name == b"te" and value != b"trailers"):
        raise BinaryHTTPError(f"{what}: connection-specific field is not allowed")
    if b"\x00" in value or b"\r" in value or b"\n" in value:
        raise BinaryHTTPError(f"{what}: value has NUL, CR or LF")
    if value[:1] in (b" ", b"\t") or value[-1:] in (b" ", b"\t"):
        raise BinaryHTTPError(f"{what}: value has leading or trailing whitespace")


def _checked_fields(fields: Fields, where: str) -> Fields:
    _check_fields(fields, where)
    return fields


def strip_connection_fields(fields: Iterable[tuple[bytes, bytes]]) -> Fields:
    """Lowercase names and drop connection-specific fields (and those a ``Connection``
    field names), which HTTP/2 and Binary HTTP forbid: for converting HTTP/1.1 messages."""
    return _without_connection_fields([(bytes(n).lower(), bytes(v)) for n, v in fields])


def _without_connection_fields(pairs: list[tuple[bytes, bytes]]) -> Fields:
    named = {
        token.strip().lower()
        for name, value in pairs
        if name == b"connection"
        for token in value.split(b",")
    }
    return tuple(
        (n, v)
        for n, v in pairs
        if n not in _CONNECTION_FIELDS and n not in named and not (n == b"te" and v != b"trailers")
    )


# ---- encoding ----------------------------------------------------------------------------


def _vbytes(data: bytes) -> bytes:
    return encode_varint(len(data)) + data


def _field_lines(fields: Fields) -> bytes:
    return b"".join(_vbytes(bytes(n)) + _vbytes(bytes(v)) for n, v in fields)


def _section(fields: Fields, indeterminate: bool) -> bytes:
    lines = _field_lines(fields)
    return lines + b"\x00" if indeterminate else _vbytes(lines)


def _request_control(request: Request) -> bytes:
    method, scheme = request.method.encode("ascii"), request.scheme.encode("ascii")
    authority, path = request.authority.encode("ascii"), request.path.encode("ascii")
    _check_method(method)
    _check_scheme(scheme)
    _check_visible(authority, "authority", empty_ok=True)
    _check_visible(path, "path", empty_ok=False)
    return _vbytes(method) + _vbytes(scheme) + _vbytes(authority) + _vbytes(path)


def _ascii(value: str, what: str) -> bytes:
    try:
        return value.encode("ascii")
    except UnicodeEncodeError:
        raise BinaryHTTPError(f"request control data: {what} is not ASCII") from None


def _encode(head: bytes, message: Message, *, padding: int, indeterminate: bool,
            truncate: bool) -> bytes:
    _check_fields(message.headers, "header")
    _check_fields(message.trailers, "trailer")
    if padding < 0:
        raise BinaryHTTPError("padding cannot be negative")
    if indeterminate:
        content = (_vbytes(message.content) if message.content else b"") + b"\x00"
    else:
        content = _vbytes(message.content)
    parts = [_section(message.headers, indeterminate), content,
             _section(message.trailers, indeterminate)]
    if truncate:  # RFC 9292 §3.8: empty trailing parts may be left out
        empty = [b"\x00", b"\x00", b"\x00"]
        while parts and parts[-1] == empty[len(parts) - 1]:
            parts.pop()
    return head + b"".join(parts) + bytes(padding)


def encode_request(request: Request, *, padding: int = 0, indeterminate: bool = False,
                   truncate: bool = False) -> bytes:
    """A request as ``message/bhttp``: known-length unless ``indeterminate``, followed by
    ``padding`` zero bytes; ``truncate`` leaves out empty trailing sections."""
    for what, value in (("method", request.method), ("scheme", request.scheme),
                        ("authority", request.authority), ("path", request.path)):
        _ascii(value, what)
    framing = INDETERMINATE_REQUEST if indeterminate else KNOWN_REQUEST
    head = encode_varint(framing) + _request_control(request)
    return _encode(head, request, padding=padding, indeterminate=indeterminate,
                   truncate=truncate)


def _informational(responses: tuple[InformationalResponse, ...], indeterminate: bool) -> bytes:
    out = bytearray()
    for index, info in enumerate(responses):
        _check_status(info.status, informational=True)
        _check_fields(info.headers, f"informational response {index} header")
        out += encode_varint(info.status) + _section(info.headers, indeterminate)
    return bytes(out)


def encode_response(response: Response, *, padding: int = 0, indeterminate: bool = False,
                    truncate: bool = False) -> bytes:
    """A response as ``message/bhttp`` (see :func:`encode_request` for the options)."""
    _check_status(response.status, informational=False)
    framing = INDETERMINATE_RESPONSE if indeterminate else KNOWN_RESPONSE
    head = (encode_varint(framing) + _informational(response.informational, indeterminate)
            + encode_varint(response.status))
    return _encode(head, response, padding=padding, indeterminate=indeterminate,
                   truncate=truncate)


def encode_message(message: Message, **options: object) -> bytes:
    if isinstance(message, Request):
        return encode_request(message, **options)  # type: ignore[arg-type]
    return encode_response(message, **options)  # type: ignore[arg-type]


# ---- streaming encoders (indeterminate length) --------------------------------------------


def request_head(request: Request) -> bytes:
    """Framing, control data and headers of an indeterminate-length request; its content
    follows as :func:`content_chunk` pieces and :func:`message_tail` ends it."""
    _check_fields(request.headers, "header")
    return (encode_varint(INDETERMINATE_REQUEST) + _request_control(request)
            + _section(request.headers, True))


def response_head(status: int, headers: Fields = (),
                  informational: tuple[InformationalResponse, ...] = ()) -> bytes:
    """Framing, any 1xx responses, status and headers of an indeterminate-length response."""
    _check_status(status, informational=False)
    _check_fields(headers, "header")
    return (encode_varint(INDETERMINATE_RESPONSE) + _informational(informational, True)
            + encode_varint(status) + _section(headers, True))


def content_chunk(data: bytes) -> bytes:
    """One content chunk of an indeterminate-length message (empty data: no bytes)."""
    return _vbytes(bytes(data)) if data else b""


def message_tail(trailers: Fields = (), *, padding: int = 0) -> bytes:
    """The content terminator, the trailer section and ``padding`` zero bytes."""
    _check_fields(trailers, "trailer")
    if padding < 0:
        raise BinaryHTTPError("padding cannot be negative")
    return b"\x00" + _section(trailers, True) + bytes(padding)


def padding_for(length: int, block: int) -> int:
    """Zero bytes to add so ``length`` becomes a multiple of ``block`` (hides exact sizes)."""
    if block <= 0:
        raise BinaryHTTPError("padding block must be positive")
    return -length % block


# ---- decoding ----------------------------------------------------------------------------


class _NeedMore(Exception):
    """Internal: the next unit is not complete in the buffer yet."""


_State = Literal["framing", "control", "info_fields", "headers", "content_length", "content",
                 "trailers", "padding", "done"]


class MessageDecoder:
    """Incremental Binary HTTP decoder: :meth:`feed` bytes as they arrive, get events
    (:class:`Head`, then :class:`Content` pieces, then :class:`End`); :meth:`close` at the
    end of input applies RFC 9292's truncation rules and fails on a cut-off message.

    ``kind`` restricts the messages accepted to requests or responses.
    ``drop_connection_fields`` removes connection-specific fields (``connection``,
    ``keep-alive``, ``transfer-encoding``, ...) instead of rejecting the message, as RFC 9292
    requires by default: some clients copy them from HTTP/1.1 and they mean nothing inside.
    """

    def __init__(self, kind: Literal["request", "response"] | None = None, *,
                 limits: Limits = DEFAULT_LIMITS, drop_connection_fields: bool = False) -> None:
        self._kind = kind
        self._drop_connection_fields = drop_connection_fields
        self._limits = limits
        self._buf = bytearray()
        self._pos = 0
        self._state: _State = "framing"
        self._request = False
        self._indeterminate = False
        self._control: tuple[str, str, str, str] | None = None
        self._status = 0
        self._informational: list[InformationalResponse] = []
        self._fields: list[tuple[bytes, bytes]] = []
        self._section_bytes = 0
        self._headers: Fields = ()
        self._remaining = 0  # of the current content (known) or chunk (indeterminate)
        self._content_total = 0
        self._chunks = 0
        self._padding = 0
        self._closed = False

    # -- low-level reads (raise _NeedMore; the caller rewinds to the unit's start) --

    def _varint(self) -> int:
        try:
            value, self._pos = decode_varint(self._buf, self._pos)
        except VarintError:
            raise _NeedMore from None
        return value

    def _bytes(self, n: int) -> bytes:
        end = self._pos + n
        if end > len(self._buf):
            raise _NeedMore
        out = bytes(self._buf[self._pos : end])
        self._pos = end
        return out

    def _unit(self, parse) -> bool:  # type: ignore[no-untyped-def]
        start = self._pos
        try:
            parse()
        except _NeedMore:
            self._pos = start
            return False
        return True

    # -- public --

    def feed(self, data: bytes) -> list[Event]:
        if self._closed:
            raise BinaryHTTPError("data after the end of the message")
        self._buf += data
        events: list[Event] = []
        while self._step(events):
            pass
        if self._pos > 4096 and self._pos * 2 > len(self._buf):
            del self._buf[: self._pos]
            self._pos = 0
        return events

    def close(self) -> list[Event]:
        """Finish: events for empty sections truncated away; an error if the input ended
        anywhere RFC 9292 does not allow."""
        if self._closed:
            raise BinaryHTTPError("decoder already closed")
        self._closed = True
        if self._pos != len(self._buf):
            raise BinaryHTTPError(f"message is truncated in its {self._where()}")
        events: list[Event] = []
        state = self._state
        if state in ("framing", "control", "info_fields"):
            raise BinaryHTTPError(f"message is truncated in its {self._where()}")
        if state == "headers":
            if self._fields:
                raise BinaryHTTPError("message is truncated in its header section")
            events.append(self._head(()))
            events.append(End(()))
        elif state in ("content_length", "content"):
            if state == "content" or self._chunks:
                raise BinaryHTTPError("message is truncated in its content")
            events.append(End(()))
        elif state == "trailers":
            if self._fields:
                raise BinaryHTTPError("message is truncated in its trailer section")
            events.append(End(()))
        self._state = "done"
        return events

    def _where(self) -> str:
        return {
            "framing": "framing indicator", "control": "control data",
            "info_fields": "informational response", "headers": "header section",
            "content_length": "content", "content": "content", "trailers": "trailer section",
            "padding": "padding", "done": "end",
        }[self._state]

    # -- the state machine --

    def _step(self, events: list[Event]) -> bool:
        state = self._state
        if state == "padding":
            rest = self._buf[self._pos :]
            if rest.count(0) != len(rest):
                raise BinaryHTTPError("padding has a non-zero byte")
            self._padding += len(rest)
            if self._padding > self._limits.max_padding:
                raise BinaryHTTPError(f"padding is over {self._limits.max_padding} bytes")
            self._pos = len(self._buf)
            return False
        if state == "framing":
            return self._unit(self._read_framing)
        if state == "control":
            return self._unit(self._read_control)
        if state in ("info_fields", "headers", "trailers"):
            return self._read_section(events)
        if state == "content_length":
            return self._unit(lambda: self._read_content_length(events))
        if state == "content":
            return self._read_content(events)
        return False

    def _read_framing(self) -> None:
        framing = self._varint()
        if framing > 3:
            raise BinaryHTTPError(f"unknown framing indicator {framing}")
        self._request = framing in (KNOWN_REQUEST, INDETERMINATE_REQUEST)
        self._indeterminate = framing >= 2
        if self._kind == "request" and not self._request:
            raise BinaryHTTPError("expected a request, got a response")
        if self._kind == "response" and self._request:
            raise BinaryHTTPError("expected a response, got a request")
        self._state = "control"

    def _control_field(self, what: str) -> bytes:
        length = self._varint()
        if length > self._limits.max_control:
            raise BinaryHTTPError(
                f"request control data: {what} is {length} bytes, over {self._limits.max_control}"
            )
        return self._bytes(length)

    def _read_control(self) -> None:
        if self._request:
            method = self._control_field("method")
            scheme = self._control_field("scheme")
            authority = self._control_field("authority")
            path = self._control_field("path")
            _check_method(method)
            _check_scheme(scheme)
            _check_visible(authority, "authority", empty_ok=True)
            _check_visible(path, "path", empty_ok=False)
            self._control = (method.decode(), scheme.decode(), authority.decode(), path.decode())
            self._state = "headers"
            return
        status = self._varint()
        if 100 <= status <= 199:
            if len(self._informational) >= self._limits.max_informational:
                raise BinaryHTTPError(
                    f"over {self._limits.max_informational} informational responses"
                )
            self._status = status
            self._state = "info_fields"
            return
        _check_status(status, informational=False)
        self._status = status
        self._state = "headers"

    def _section_name(self) -> str:
        if self._state == "info_fields":
            return f"informational response {len(self._informational)} header"
        return "header" if self._state == "headers" else "trailer"

    def _read_section(self, events: list[Event]) -> bool:
        if not self._indeterminate:
            return self._unit(lambda: self._read_known_section(events))
        progressed = False
        while self._state in ("info_fields", "headers", "trailers"):
            if not self._unit(lambda: self._read_field_line(events)):
                break
            progressed = True
        return progressed

    def _read_known_section(self, events: list[Event]) -> None:
        where = self._section_name()
        length = self._varint()
        if length > self._limits.max_field_section:
            raise BinaryHTTPError(
                f"{where} section is {length} bytes, over {self._limits.max_field_section}"
            )
        body = self._bytes(length)
        fields, offset = [], 0
        while offset < len(body):
            if len(fields) >= self._limits.max_field_lines:
                raise BinaryHTTPError(f"{where} section has over "
                                      f"{self._limits.max_field_lines} field lines")
            try:
                name_len, offset = decode_varint(body, offset)
                name = body[offset : offset + name_len]
                offset += name_len
                value_len, offset = decode_varint(body, offset)
                value = body[offset : offset + value_len]
                offset += value_len
            except VarintError:
                raise BinaryHTTPError(f"{where} field {len(fields)} overruns its section") from None
            if offset > len(body):
                raise BinaryHTTPError(f"{where} field {len(fields)} overruns its section")
            fields.append((name, value))
        self._end_section(self._checked(fields, where), events)

    def _read_field_line(self, events: list[Event]) -> None:
        where = self._section_name()
        name_len = self._varint()
        if name_len == 0:
            fields = self._checked(self._fields, where)
            self._fields, self._section_bytes = [], 0
            self._end_section(fields, events)
            return
        if len(self._fields) >= self._limits.max_field_lines:
            raise BinaryHTTPError(
                f"{where} section has over {self._limits.max_field_lines} field lines"
            )
        budget = self._limits.max_field_section - self._section_bytes
        if name_len > budget:
            raise BinaryHTTPError(
                f"{where} section is over {self._limits.max_field_section} bytes"
            )
        start = self._pos
        name = self._bytes(name_len)
        value_len = self._varint()
        if name_len + value_len > budget:
            raise BinaryHTTPError(
                f"{where} section is over {self._limits.max_field_section} bytes"
            )
        value = self._bytes(value_len)
        self._section_bytes += self._pos - start
        self._fields.append((name, value))

    def _checked(self, fields: list[tuple[bytes, bytes]], where: str) -> Fields:
        if self._drop_connection_fields:
            return _checked_fields(_without_connection_fields(fields), where)
        return _checked_fields(tuple(fields), where)

    def _end_section(self, fields: Fields, events: list[Event]) -> None:
        if self._state == "info_fields":
            self._informational.append(InformationalResponse(self._status, fields))
            self._state = "control"
        elif self._state == "headers":
            events.append(self._head(fields))
            self._state = "content_length"
        else:
            events.append(End(fields))
            self._state = "padding"

    def _head(self, headers: Fields) -> Head:
        self._headers = headers
        if self._request:
            assert self._control is not None
            method, scheme, authority, path = self._control
            return Head(Request(method, scheme, authority, path, headers))
        return Head(Response(self._status, headers, informational=tuple(self._informational)))

    def _read_content_length(self, events: list[Event]) -> None:
        length = self._varint()
        if self._indeterminate and length == 0:
            self._state = "trailers"
            return
        self._content_total += length
        if self._content_total > self._limits.max_content:
            raise BinaryHTTPError(f"content is over {self._limits.max_content} bytes")
        self._chunks += 1
        if self._chunks > self._limits.max_chunks:
            raise BinaryHTTPError(f"content is in over {self._limits.max_chunks} chunks")
        self._remaining = length
        self._state = "content" if length else "trailers"

    def _read_content(self, events: list[Event]) -> bool:
        available = min(self._remaining, len(self._buf) - self._pos)
        if available == 0:
            return False
        events.append(Content(bytes(self._buf[self._pos : self._pos + available])))
        self._pos += available
        self._remaining -= available
        if self._remaining == 0:
            self._state = "content_length" if self._indeterminate else "trailers"
        return True


class _Fallback(Exception):
    """Internal: not a case for the one-pass decoder; the incremental one decides."""


def _known_section(data: bytes, pos: int, limits: Limits, drop: bool,
                   where: str) -> tuple[Fields, int]:
    if pos == len(data):  # an empty section left out at the end (RFC 9292 §3.8)
        return (), pos
    length, pos = decode_varint(data, pos)
    end = pos + length
    if length > limits.max_field_section or end > len(data):
        raise _Fallback
    fields = []
    while pos < end:
        if len(fields) >= limits.max_field_lines:
            raise _Fallback
        name_len, pos = decode_varint(data, pos)
        name, pos = data[pos : pos + name_len], pos + name_len
        value_len, pos = decode_varint(data, pos)
        value, pos = data[pos : pos + value_len], pos + value_len
        if pos > end:
            raise _Fallback
        fields.append((name, value))
    checked = _without_connection_fields(fields) if drop else tuple(fields)
    _check_fields(checked, where)
    return checked, pos


def _one_pass(data: bytes, kind: Literal["request", "response"] | None, limits: Limits,
              drop: bool) -> Message:
    """A whole known-length message without 1xx responses, in one pass with the same
    checks and limits as :class:`MessageDecoder`; :class:`_Fallback` (or the error of a
    check) for anything else, which the incremental decoder then decodes or names."""
    framing, pos = decode_varint(data, 0)
    n = len(data)
    if framing == KNOWN_REQUEST and kind != "response":
        control = []
        for _ in range(4):
            length, pos = decode_varint(data, pos)
            if length > limits.max_control or pos + length > n:
                raise _Fallback
            control.append(data[pos : pos + length])
            pos += length
        method, scheme, authority, path = control
        _check_method(method)
        _check_scheme(scheme)
        _check_visible(authority, "authority", empty_ok=True)
        _check_visible(path, "path", empty_ok=False)
        status = 0
    elif framing == KNOWN_RESPONSE and kind != "request":
        status, pos = decode_varint(data, pos)
        _check_status(status, informational=False)  # a 1xx goes to the full decoder
    else:
        raise _Fallback
    headers, pos = _known_section(data, pos, limits, drop, "header")
    content = b""
    if pos < n:
        length, pos = decode_varint(data, pos)
        if length > limits.max_content or pos + length > n or limits.max_chunks < 1:
            raise _Fallback
        content, pos = data[pos : pos + length], pos + length
    trailers, pos = _known_section(data, pos, limits, drop, "trailer")
    padding = n - pos
    if padding and (padding > limits.max_padding or data.count(0, pos) != padding):
        raise _Fallback
    if framing == KNOWN_REQUEST:
        return Request(method.decode(), scheme.decode(), authority.decode(), path.decode(),
                       headers, content, trailers)
    return Response(status, headers, content, trailers)


def _collect(data: bytes, kind: Literal["request", "response"] | None,
             limits: Limits, drop_connection_fields: bool) -> Message:
    data = bytes(data)
    try:  # the common case, about three times faster than the incremental decoder
        return _one_pass(data, kind, limits, drop_connection_fields)
    except (_Fallback, VarintError, BinaryHTTPError):
        pass
    decoder = MessageDecoder(kind, limits=limits, drop_connection_fields=drop_connection_fields)
    events = decoder.feed(bytes(data))
    events += decoder.close()
    head = next(e for e in events if isinstance(e, Head))
    content = b"".join(e.data for e in events if isinstance(e, Content))
    trailers = next(e.trailers for e in events if isinstance(e, End))
    message = head.message
    if isinstance(message, Request):
        return Request(message.method, message.scheme, message.authority, message.path,
                       message.headers, content, trailers)
    return Response(message.status, message.headers, content, trailers, message.informational)


def decode_request(data: bytes, *, limits: Limits = DEFAULT_LIMITS,
                   drop_connection_fields: bool = False) -> Request:
    message = _collect(data, "request", limits, drop_connection_fields)
    assert isinstance(message, Request)
    return message


def decode_response(data: bytes, *, limits: Limits = DEFAULT_LIMITS,
                   drop_connection_fields: bool = False) -> Response:
    message = _collect(data, "response", limits, drop_connection_fields)
    assert isinstance(message, Response)
    return message


def decode_message(data: bytes, *, limits: Limits = DEFAULT_LIMITS,
                   drop_connection_fields: bool = False) -> Message:
    return _collect(data, None, limits, drop_connection_fields)

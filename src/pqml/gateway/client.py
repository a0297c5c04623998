"""Oblivious HTTP client: httpx transports that send every request through a gateway.

Give an existing SDK an ``httpx.Client(transport=OHTTPTransport(...))`` (or the async
transport) and its requests leave the machine as ``message/ohttp-req`` bodies only the
gateway's key can open: the relay sees the client's address but not the request, the
gateway the request but not the address, and a recording of the traffic stays closed to a
future quantum computer (X-Wing by default)::

    transport = OHTTPTransport("https://gateway.example", pinned_key=ml_dsa_public_key)
    client = httpx.Client(transport=transport, base_url="http://model.internal")
    client.post("/v1/completions", json={...})

Each request: the inner request (URL, method, headers, body, plus a ``Date`` for the
gateway's replay window) becomes Binary HTTP, padded to a multiple of ``padding_block``,
encapsulated to the gateway's key configuration and POSTed to the relay (the gateway by
default) with no header of the caller's. The key configuration comes from the gateway's
well-known path (RFC 9540 ``/.well-known/ohttp-gateway``), its ML-DSA signature (header
``pqml-key-config-signature``, over the exact ``application/ohttp-keys`` bytes and a
not-after time, context ``pqml ohttp-keys v2``) verified against a pinned key, and cached
for the gateway's ``max-age`` but never past the signature's not-after; an expired signed
configuration is refetched once (``cache-control: no-cache``), then refused with
:class:`KeyConfigExpiredError`. A 422 ``ohttp-key`` problem (the key rotated away)
refetches the configuration and sends the request once more; nothing else is ever
retried here, since a gateway that opened a request may have acted on it. With
``chunked=True`` requests and answers use chunked OHTTP, and a streamed answer (generated
tokens) is decrypted piece by piece. Over its default network transport the async
transport hands whole (non-chunked) requests to httpcore's pool directly (see
:class:`_DirectPool`), skipping two httpx objects per request.

This module imports httpx: import it only where a client is built.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from email.utils import formatdate
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx

from pqml.formats import bhttp
from pqml.formats.ohttp import (
    CHUNKED_REQUEST_MEDIA_TYPE,
    CHUNKED_RESPONSE_MEDIA_TYPE,
    KEY_PROBLEM_TYPE,
    KEYS_MEDIA_TYPE,
    REQUEST_MEDIA_TYPE,
    RESPONSE_MEDIA_TYPE,
    KeyConfig,
    OHTTPFormatError,
    decode_key_configs,
)
from pqml.gateway.chunked import ChunkedRequestSender, ChunkedResponseReader
from pqml.gateway.errors import (
    GatewayResponseError,
    KeyConfigExpiredError,
    KeyConfigSignatureError,
    OHTTPError,
)
from pqml.gateway.key_trust import (
    SIGNATURE_CONTEXT,
    SIGNATURE_HEADER,
    check_signature_key,
    select_config,
    sign_key_config,
    signature_not_after,
    verify_key_config,
)
from pqml.gateway.ohttp import ClientContext, encapsulate_request
from pqml.primitives.base import VerifyingKey

__all__ = [
    "SIGNATURE_CONTEXT",
    "SIGNATURE_HEADER",
    "AsyncOHTTPTransport",
    "OHTTPTransport",
    "binary_request",
    "requests_adapter",
    "select_config",
    "sign_key_config",
    "verify_key_config",
]

WELL_KNOWN_PATH = "/.well-known/ohttp-gateway"
DEFAULT_CONFIG_TTL = 300.0
MAX_CONFIG_TTL = 24 * 3600.0
MAX_KEY_CONFIG_BYTES = 64 << 10
MAX_PROBLEM_BYTES = 16 << 10
DEFAULT_MAX_RESPONSE = 64 << 20
DEFAULT_PADDING_BLOCK = 64
DEFAULT_TIMEOUT = 30.0  # seconds, when the caller's request carries no timeout
REQUEST_CHUNK = 16384  # chunked OHTTP: every receiver must take chunks this large
_INNER_DROP = frozenset({b"host"})  # the authority travels in the control data
_REQUEST_HEADERS = ((b"content-type", REQUEST_MEDIA_TYPE.encode()),
                    (b"accept", RESPONSE_MEDIA_TYPE.encode()))
_CHUNKED_HEADERS = ((b"content-type", CHUNKED_REQUEST_MEDIA_TYPE.encode()),
                    (b"accept", CHUNKED_RESPONSE_MEDIA_TYPE.encode()), (b"incremental", b"?1"))


# ---- pieces shared by both transports (no I/O) ---------------------------------------------


def _default_path(url: str) -> str:
    parts = urlsplit(url)
    if parts.path in ("", "/"):
        parts = parts._replace(path=WELL_KNOWN_PATH)
    return urlunsplit(parts)


def _max_age(headers: httpx.Headers) -> float:
    for directive in headers.get("cache-control", "").split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "no-store":
            return 0.0
        if name.lower() == "max-age":
            try:
                return min(max(float(int(value.strip('"'))), 0.0), MAX_CONFIG_TTL)
            except ValueError:
                return 0.0
    return DEFAULT_CONFIG_TTL


def _media_type(headers: httpx.Headers) -> str:
    return headers.get("content-type", "").split(";")[0].strip().lower()


def _problem_type(headers: httpx.Headers, body: bytes) -> str | None:
    if _media_type(headers) != "application/problem+json":
        return None
    try:
        problem = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return None
    value = problem.get("type") if isinstance(problem, dict) else None
    return value if isinstance(value, str) else None


_last_date: tuple[int, bytes] = (-1, b"")


def _date_now() -> bytes:
    """Now as an IMF-fixdate; formatted once per second (a busy client asks thousands of
    times a second, and the Date has a one-second resolution anyway)."""
    global _last_date
    second = int(time.time())
    cached = _last_date
    if cached[0] != second:
        cached = _last_date = (second, formatdate(second, usegmt=True).encode())
    return cached[1]


def binary_request(request: httpx.Request, content: bytes, *, padding_block: int = 0,
                   add_date: bool = True) -> bytes:
    """The Binary HTTP form of an httpx request (hop-by-hop fields dropped, a ``Date``
    added for the gateway's replay window), padded to a multiple of ``padding_block``."""
    url = request.url
    fields = [(n.lower(), v) for n, v in request.headers.raw if n.lower() not in _INNER_DROP]
    headers = bhttp.strip_connection_fields(fields)
    if add_date and not any(n == b"date" for n, _ in headers):
        headers += ((b"date", _date_now()),)
    authority = url.netloc.decode("ascii")
    path = url.raw_path.decode("ascii") or "/"
    inner = bhttp.Request(request.method, url.scheme, authority, path, headers, content)
    encoded = bhttp.encode_request(inner)
    if padding_block > 1:
        encoded += bytes(bhttp.padding_for(len(encoded), padding_block))
    return encoded


def _httpx_response(message: bhttp.Response, *, content: bytes | None = None,
                    stream: Any = None) -> httpx.Response:
    extensions: dict[str, Any] = {"ohttp": True}
    if message.informational:
        extensions["informational"] = message.informational
    if stream is not None:
        return httpx.Response(message.status, headers=list(message.headers), stream=stream,
                              extensions=extensions)
    extensions["trailers"] = message.trailers
    return httpx.Response(message.status, headers=list(message.headers),
                          content=content if content is not None else message.content,
                          extensions=extensions)


@dataclass
class _Cached:
    configs: list[KeyConfig]
    expires: float


class _Settings:
    """What both transports share: URLs, trust, limits, and the cached key configs."""

    def __init__(self, gateway_url: str, pinned_key: VerifyingKey | None, relay_url: str | None,
                 keys_url: str | None, allow_unsigned: bool, allow_legacy: bool, chunked: bool,
                 padding_block: int, max_response: int) -> None:
        self.gateway_url = _default_path(gateway_url)
        self.relay_url = relay_url or self.gateway_url
        self.keys_url = keys_url or self.gateway_url
        self._relay = httpx.URL(self.relay_url)  # parsed once: httpx re-parses strings
        if pinned_key is None and not allow_unsigned:
            raise OHTTPError(
                "an OHTTP client needs the gateway's pinned ML-DSA public key "
                "(pinned_key=...), or allow_unsigned=True to trust TLS alone"
            )
        if pinned_key is not None:
            check_signature_key(pinned_key)
        self.pinned_key = pinned_key
        self.allow_legacy = allow_legacy
        self.chunked = chunked
        self.padding_block = padding_block
        self.max_response = max_response
        self.cached: _Cached | None = None

    def keys_request(self, extensions: dict[str, Any], *, revalidate: bool = False
                     ) -> httpx.Request:
        headers = {"accept": KEYS_MEDIA_TYPE}
        if revalidate:  # past a cache that handed out an expired configuration
            headers["cache-control"] = "no-cache"
        return httpx.Request("GET", self.keys_url, headers=headers, extensions=extensions)

    def fresh(self) -> list[KeyConfig] | None:
        cached = self.cached
        if cached is not None and time.monotonic() < cached.expires:
            return cached.configs
        return None

    def accept_keys(self, response: httpx.Response, body: bytes) -> list[KeyConfig]:
        where = f"key configurations from {self.keys_url}"
        if response.status_code != 200:
            raise GatewayResponseError(f"{where}: HTTP {response.status_code}",
                                       status=response.status_code,
                                       problem_type=_problem_type(response.headers, body))
        if _media_type(response.headers) != KEYS_MEDIA_TYPE:
            raise GatewayResponseError(f"{where}: not {KEYS_MEDIA_TYPE}", status=200)
        if self.pinned_key is not None:
            encoded = response.headers.get(SIGNATURE_HEADER)
            if encoded is None:
                raise KeyConfigSignatureError(f"{where}: no {SIGNATURE_HEADER} header")
            try:
                signature = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise KeyConfigSignatureError(f"{where}: signature is not base64") from None
            configs = verify_key_config(body, signature, self.pinned_key)
            # never cache past the signature's not-after
            ttl = min(_max_age(response.headers), signature_not_after(signature) - time.time())
        else:
            configs, _ = decode_key_configs(body)
            ttl = _max_age(response.headers)
        select_config(configs, allow_legacy=self.allow_legacy)  # fail now, not per request
        self.cached = _Cached(configs, time.monotonic() + ttl)
        return configs

    def encapsulate(self, configs: list[KeyConfig], inner: bytes, extensions: dict[str, Any]
                    ) -> tuple[httpx.Request, ClientContext | ChunkedRequestSender]:
        config = select_config(configs, allow_legacy=self.allow_legacy)
        if self.chunked:
            sender = ChunkedRequestSender(config, allow_legacy=self.allow_legacy)
            pieces = [inner[i : i + REQUEST_CHUNK] for i in range(0, len(inner), REQUEST_CHUNK)]
            body = sender.encapsulate(pieces)
            return httpx.Request("POST", self._relay, headers=list(_CHUNKED_HEADERS),
                                 content=body, extensions=extensions), sender
        body, context = encapsulate_request(config, inner, allow_legacy=self.allow_legacy)
        return httpx.Request("POST", self._relay, headers=list(_REQUEST_HEADERS), content=body,
                             extensions=extensions), context

    def outcome(self, response: httpx.Response, body: bytes) -> None:
        """Return for a 422 ``ohttp-key`` problem (refetch and resend once); raise
        :class:`GatewayResponseError` for any other answer that is not a success."""
        expected = CHUNKED_RESPONSE_MEDIA_TYPE if self.chunked else RESPONSE_MEDIA_TYPE
        problem = _problem_type(response.headers, body)
        if response.status_code == 422 and problem == KEY_PROBLEM_TYPE:
            return
        if response.status_code == 200:
            raise GatewayResponseError(
                f"OHTTP gateway {self.relay_url} answered with "
                f"{_media_type(response.headers) or 'no content type'}, not {expected}",
                status=200)
        raise GatewayResponseError(
            f"OHTTP relay or gateway {self.relay_url} refused the request: HTTP "
            f"{response.status_code}" + (f" ({problem})" if problem else ""),
            status=response.status_code, problem_type=problem)

    def is_ok(self, response: httpx.Response) -> bool:
        expected = CHUNKED_RESPONSE_MEDIA_TYPE if self.chunked else RESPONSE_MEDIA_TYPE
        return response.status_code == 200 and _media_type(response.headers) == expected


class _StreamState:
    """Decrypt a chunked OHTTP response into Binary HTTP events as body bytes arrive."""

    def __init__(self, reader: ChunkedResponseReader) -> None:
        self.reader = reader
        self.decoder = bhttp.MessageDecoder("response")
        self.head: bhttp.Response | None = None
        self.pending: list[bytes] = []
        self.finished = False

    def _take(self, events: list[bhttp.Event]) -> None:
        for event in events:
            if isinstance(event, bhttp.Head):
                assert isinstance(event.message, bhttp.Response)
                self.head = event.message
            elif isinstance(event, bhttp.Content):
                self.pending.append(event.data)

    def feed(self, data: bytes) -> None:
        for chunk in self.reader.feed(data):
            self._take(self.decoder.feed(chunk))

    def finish(self) -> None:
        """End of the body: the final chunk must be there and authentic (no truncation)."""
        if self.finished:
            return
        self.finished = True
        self._take(self.decoder.feed(self.reader.close()))
        self._take(self.decoder.close())

    def drain(self) -> list[bytes]:
        out, self.pending = self.pending, []
        return out


def _outer_extensions(extensions: dict[str, Any] | None) -> dict[str, Any]:
    """The caller's timeouts apply to the requests made for it (nothing else is copied)."""
    timeout = (extensions or {}).get("timeout")
    if timeout is None:
        timeout = httpx.Timeout(DEFAULT_TIMEOUT).as_dict()
    return {"timeout": timeout}


def _key_refused_twice(settings: _Settings) -> GatewayResponseError:
    return GatewayResponseError(
        f"OHTTP gateway {settings.relay_url} refused the request's key configuration again "
        "after a fresh fetch", status=422, problem_type=KEY_PROBLEM_TYPE)


def _too_large(limit: int) -> OHTTPFormatError:
    return OHTTPFormatError(f"encapsulated response is over the {limit}-byte limit")


def _raw_media_type(headers: list[tuple[bytes, bytes]]) -> str | None:
    """The one ``content-type`` of raw response headers, as :func:`_media_type` reads it;
    ``None`` when it is missing or repeated (then the httpx path judges the answer)."""
    found: bytes | None = None
    for name, value in headers:
        if name.lower() == b"content-type":
            if found is not None:
                return None
            found = value
    if found is None:
        return None
    return found.decode("latin-1").split(";")[0].strip().lower()


class _DirectPool:
    """The connection pool under a default ``httpx.AsyncHTTPTransport``, used directly for
    whole (non-chunked) encapsulated requests.

    An encapsulated request is always the same POST to the same relay, so the httpx
    Request/Response objects that transport would build around the pool (headers
    normalised, streams wrapped, twice per request) are skipped: the request goes out with
    header lists prepared once and the same headers, ``Host`` first and ``Content-Length``
    last, that ``httpx.Request`` would give it. httpcore's exceptions are mapped to httpx's
    exactly as the transport maps them. Built only when the private attributes it needs
    exist (httpx 0.28/0.29); otherwise the transport is used as it is.
    """

    def __init__(self, pool: Any, map_errors: Any, relay: httpx.URL) -> None:
        import httpcore

        self._pool = pool
        self._map_errors = map_errors
        self._request = httpcore.Request
        self._url = httpcore.URL(scheme=relay.raw_scheme, host=relay.raw_host,
                                 port=relay.port, target=relay.raw_path)
        self._headers = [(b"Host", relay.netloc), *_REQUEST_HEADERS]

    @classmethod
    def of(cls, transport: Any, relay: httpx.URL) -> _DirectPool | None:
        if type(transport) is not httpx.AsyncHTTPTransport:
            return None
        try:
            from httpx._transports.default import map_httpcore_exceptions
        except ImportError:  # pragma: no cover - another httpx layout
            return None
        pool = getattr(transport, "_pool", None)
        if pool is None or not hasattr(pool, "handle_async_request"):  # pragma: no cover
            return None
        return cls(pool, map_httpcore_exceptions, relay)

    async def post(self, body: bytes, extensions: dict[str, Any], limit: int
                   ) -> tuple[bool, int, list[tuple[bytes, bytes]], bytes]:
        """POST ``body``; (ok, status, headers, body). A success (200 ``message/ohttp-res``)
        over ``limit`` bytes raises; any other answer is read up to MAX_PROBLEM_BYTES, as
        the httpx path reads it, for :meth:`_Settings.outcome` to judge."""
        headers = [*self._headers, (b"Content-Length", b"%d" % len(body))]
        request = self._request(b"POST", self._url, headers=headers, content=body,
                                extensions=extensions)
        with self._map_errors():
            response = await self._pool.handle_async_request(request)
            try:
                status, headers = response.status, response.headers
                ok = status == 200 and _raw_media_type(headers) == RESPONSE_MEDIA_TYPE
                if not ok:
                    limit = MAX_PROBLEM_BYTES
                received = bytearray()
                async for part in response.stream:
                    received += part
                    if len(received) > limit:
                        if not ok:
                            return ok, status, headers, bytes(received[:limit])
                        raise _too_large(limit)
                return ok, status, headers, bytes(received)
            finally:
                await response.aclose()


# ---- sync transport ----------------------------------------------------------------------


class _SyncDecryptingStream(httpx.SyncByteStream):
    def __init__(self, state: _StreamState, parts: Iterator[bytes], outer: httpx.Response):
        self._state, self._parts, self._outer = state, parts, outer

    def __iter__(self) -> Iterator[bytes]:
        yield from self._state.drain()
        for part in self._parts:
            self._state.feed(part)
            yield from self._state.drain()
        self._state.finish()
        yield from self._state.drain()

    def close(self) -> None:
        self._outer.close()


class OHTTPTransport(httpx.BaseTransport):
    """Synchronous httpx transport that sends each request through an OHTTP gateway.

    ``gateway_url``: the gateway's resource (an origin alone means its well-known path);
    ``relay_url``: where encapsulated requests go (the gateway if not given); ``keys_url``:
    where the key configurations are fetched (the gateway); ``pinned_key``: the ML-DSA key
    their signature must verify with; ``transport``: the network transport underneath.
    """

    def __init__(self, gateway_url: str, *, pinned_key: VerifyingKey | None = None,
                 relay_url: str | None = None, keys_url: str | None = None,
                 transport: httpx.BaseTransport | None = None, allow_unsigned: bool = False,
                 allow_legacy: bool = False, chunked: bool = False,
                 padding_block: int = DEFAULT_PADDING_BLOCK,
                 max_response: int = DEFAULT_MAX_RESPONSE) -> None:
        self._settings = _Settings(gateway_url, pinned_key, relay_url, keys_url,
                                   allow_unsigned, allow_legacy, chunked, padding_block,
                                   max_response)
        self._inner = transport if transport is not None else httpx.HTTPTransport()
        self._lock = threading.Lock()

    def key_configs(self, *, refresh: bool = False,
                    extensions: dict[str, Any] | None = None) -> list[KeyConfig]:
        """The gateway's verified key configurations (cached until their max-age)."""
        with self._lock:
            if not refresh and (configs := self._settings.fresh()) is not None:
                return configs
            for revalidate in (False, True):
                request = self._settings.keys_request(_outer_extensions(extensions),
                                                      revalidate=revalidate)
                response = self._inner.handle_request(request)
                try:
                    body = _read_sync(response, MAX_KEY_CONFIG_BYTES)
                finally:
                    response.close()
                try:
                    return self._settings.accept_keys(response, body)
                except KeyConfigExpiredError:
                    if revalidate:
                        raise  # expired twice: the gateway is not re-signing
            raise AssertionError("unreachable")  # pragma: no cover

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        settings = self._settings
        inner = binary_request(request, request.read(), padding_block=settings.padding_block)
        for attempt in (0, 1):
            extensions = _outer_extensions(request.extensions)
            configs = self.key_configs(refresh=attempt == 1, extensions=extensions)
            outer_request, context = settings.encapsulate(configs, inner, extensions)
            outer = self._inner.handle_request(outer_request)
            if not settings.is_ok(outer):
                try:
                    body = _read_sync(outer, MAX_PROBLEM_BYTES, truncate=True)
                finally:
                    outer.close()
                settings.outcome(outer, body)  # raises unless a 422 ohttp-key problem
                if attempt == 0:
                    continue  # the key rotated away: refetch the configs, resend once
                raise _key_refused_twice(settings)
            if isinstance(context, ChunkedRequestSender):
                return self._stream(outer, context.response_reader())
            try:
                body = _read_sync(outer, settings.max_response)
            finally:
                outer.close()
            assert isinstance(context, ClientContext)
            message = bhttp.decode_response(context.decapsulate_response(body))
            return _httpx_response(message)
        raise AssertionError("unreachable")  # pragma: no cover

    def _stream(self, outer: httpx.Response, reader: ChunkedResponseReader) -> httpx.Response:
        state = _StreamState(reader)
        parts = iter(_limited_sync(outer.stream, self._settings.max_response))
        try:
            while state.head is None:
                part = next(parts, None)
                if part is None:
                    state.finish()
                    break
                state.feed(part)
        except BaseException:
            outer.close()
            raise
        assert state.head is not None
        return _httpx_response(state.head, stream=_SyncDecryptingStream(state, parts, outer))

    def close(self) -> None:
        self._inner.close()


def _limited_sync(stream: Any, limit: int) -> Iterator[bytes]:
    total = 0
    for part in stream:
        total += len(part)
        if total > limit:
            raise _too_large(limit)
        yield part


def _read_sync(response: httpx.Response, limit: int, *, truncate: bool = False) -> bytes:
    body = bytearray()
    for part in response.stream:
        body += part
        if len(body) > limit:
            if truncate:
                return bytes(body[:limit])
            raise _too_large(limit)
    return bytes(body)


# ---- async transport ---------------------------------------------------------------------


class _AsyncDecryptingStream(httpx.AsyncByteStream):
    def __init__(self, state: _StreamState, parts: AsyncIterator[bytes],
                 outer: httpx.Response) -> None:
        self._state, self._parts, self._outer = state, parts, outer

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for piece in self._state.drain():
            yield piece
        async for part in self._parts:
            self._state.feed(part)
            for piece in self._state.drain():
                yield piece
        self._state.finish()
        for piece in self._state.drain():
            yield piece

    async def aclose(self) -> None:
        await self._outer.aclose()


class AsyncOHTTPTransport(httpx.AsyncBaseTransport):
    """The asynchronous twin of :class:`OHTTPTransport` (same arguments)."""

    def __init__(self, gateway_url: str, *, pinned_key: VerifyingKey | None = None,
                 relay_url: str | None = None, keys_url: str | None = None,
                 transport: httpx.AsyncBaseTransport | None = None,
                 allow_unsigned: bool = False, allow_legacy: bool = False,
                 chunked: bool = False, padding_block: int = DEFAULT_PADDING_BLOCK,
                 max_response: int = DEFAULT_MAX_RESPONSE) -> None:
        self._settings = _Settings(gateway_url, pinned_key, relay_url, keys_url,
                                   allow_unsigned, allow_legacy, chunked, padding_block,
                                   max_response)
        self._inner = transport if transport is not None else httpx.AsyncHTTPTransport()
        self._lock: asyncio.Lock | None = None
        self._direct = None if chunked else _DirectPool.of(self._inner, self._settings._relay)

    async def key_configs(self, *, refresh: bool = False,
                          extensions: dict[str, Any] | None = None) -> list[KeyConfig]:
        if not refresh and (configs := self._settings.fresh()) is not None:
            return configs  # the common case: no lock to take
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not refresh and (configs := self._settings.fresh()) is not None:
                return configs
            for revalidate in (False, True):
                request = self._settings.keys_request(_outer_extensions(extensions),
                                                      revalidate=revalidate)
                response = await self._inner.handle_async_request(request)
                try:
                    body = await _read_async(response, MAX_KEY_CONFIG_BYTES)
                finally:
                    await response.aclose()
                try:
                    return self._settings.accept_keys(response, body)
                except KeyConfigExpiredError:
                    if revalidate:
                        raise  # expired twice: the gateway is not re-signing
            raise AssertionError("unreachable")  # pragma: no cover

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        settings = self._settings
        content = await request.aread()
        inner = binary_request(request, content, padding_block=settings.padding_block)
        if self._direct is not None:
            return await self._send_direct(self._direct, request, inner)
        for attempt in (0, 1):
            extensions = _outer_extensions(request.extensions)
            configs = await self.key_configs(refresh=attempt == 1, extensions=extensions)
            outer_request, context = settings.encapsulate(configs, inner, extensions)
            outer = await self._inner.handle_async_request(outer_request)
            if not settings.is_ok(outer):
                try:
                    body = await _read_async(outer, MAX_PROBLEM_BYTES, truncate=True)
                finally:
                    await outer.aclose()
                settings.outcome(outer, body)  # raises unless a 422 ohttp-key problem
                if attempt == 0:
                    continue  # the key rotated away: refetch the configs, resend once
                raise _key_refused_twice(settings)
            if isinstance(context, ChunkedRequestSender):
                return await self._stream(outer, context.response_reader())
            try:
                body = await _read_async(outer, settings.max_response)
            finally:
                await outer.aclose()
            assert isinstance(context, ClientContext)
            message = bhttp.decode_response(context.decapsulate_response(body))
            return _httpx_response(message)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send_direct(self, direct: _DirectPool, request: httpx.Request,
                           inner: bytes) -> httpx.Response:
        """:meth:`handle_async_request` for a whole request over the pool itself: the same
        checks and the same single resend after a 422 ``ohttp-key``."""
        settings = self._settings
        for attempt in (0, 1):
            extensions = _outer_extensions(request.extensions)
            configs = await self.key_configs(refresh=attempt == 1, extensions=extensions)
            config = select_config(configs, allow_legacy=settings.allow_legacy)
            sealed, context = encapsulate_request(config, inner,
                                                  allow_legacy=settings.allow_legacy)
            ok, status, headers, body = await direct.post(sealed, extensions,
                                                          settings.max_response)
            if not ok:
                settings.outcome(httpx.Response(status, headers=headers), body)
                if attempt == 0:
                    continue  # the key rotated away: refetch the configs, resend once
                raise _key_refused_twice(settings)
            message = bhttp.decode_response(context.decapsulate_response(body))
            return _httpx_response(message)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _stream(self, outer: httpx.Response,
                      reader: ChunkedResponseReader) -> httpx.Response:
        state = _StreamState(reader)
        parts = _limited_async(outer.stream, self._settings.max_response)
        try:
            while state.head is None:
                try:
                    part = await parts.__anext__()
                except StopAsyncIteration:
                    state.finish()
                    break
                state.feed(part)
        except BaseException:
            await outer.aclose()
            raise
        assert state.head is not None
        return _httpx_response(state.head, stream=_AsyncDecryptingStream(state, parts, outer))

    async def aclose(self) -> None:
        await self._inner.aclose()


async def _limited_async(stream: Any, limit: int) -> AsyncIterator[bytes]:
    total = 0
    async for part in stream:
        total += len(part)
        if total > limit:
            raise _too_large(limit)
        yield part


async def _read_async(response: httpx.Response, limit: int, *,
                      truncate: bool = False) -> bytes:
    body = bytearray()
    async for part in response.stream:
        body += part
        if len(body) > limit:
            if truncate:
                return bytes(body[:limit])
            raise _too_large(limit)
    return bytes(body)


# ---- requests adapter --------------------------------------------------------------------


class _RawStream:
    """The file-like ``raw`` a requests.Response reads its body from."""

    def __init__(self, response: httpx.Response) -> None:
        self._response = response
        # decoded bytes: requests reads raw.read() as the final content when raw has no
        # urllib3-style stream(), so any content-coding must already be undone here
        self._parts = response.iter_bytes()
        self._buffer = b""

    def read(self, amt: int | None = None, **_: object) -> bytes:
        while amt is None or len(self._buffer) < amt:
            part = next(self._parts, None)
            if part is None:
                break
            self._buffer += part
        size = len(self._buffer) if amt is None else amt
        out, self._buffer = self._buffer[:size], self._buffer[size:]
        return out

    def close(self) -> None:
        self._response.close()

    def release_conn(self) -> None:
        self.close()


def requests_adapter(gateway_url: str, **options: Any) -> Any:
    """A ``requests`` transport adapter over :class:`OHTTPTransport` (same options)::

        session = requests.Session()
        session.mount("http://model.internal/", requests_adapter(gateway, pinned_key=key))
    """
    import requests
    from requests.structures import CaseInsensitiveDict
    from requests.utils import get_encoding_from_headers

    class OHTTPAdapter(requests.adapters.BaseAdapter):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.transport = OHTTPTransport(gateway_url, **options)

        def send(self, request: Any, stream: bool = False, **_: Any) -> Any:
            body = request.body
            if hasattr(body, "read"):
                body = body.read()
            elif body is not None and not isinstance(body, (bytes, str)):
                body = b"".join(body)  # a generator body
            if isinstance(body, str):
                body = body.encode("utf-8")
            outgoing = httpx.Request(request.method, request.url,
                                     headers=list(request.headers.items()), content=body)
            answer = self.transport.handle_request(outgoing)
            response = requests.Response()
            response.status_code = answer.status_code
            response.headers = CaseInsensitiveDict(answer.headers.multi_items())
            response.encoding = get_encoding_from_headers(response.headers)
            response.reason = answer.reason_phrase
            response.url = request.url
            response.request = request
            response.connection = self
            response.raw = _RawStream(answer)
            if not stream:
                response.content  # noqa: B018 - reads the whole body now
                answer.close()
            return response

        def close(self) -> None:
            self.transport.close()

    return OHTTPAdapter()

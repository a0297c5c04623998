"""ASGI middleware that puts any ASGI app (Starlette, FastAPI, …) behind Oblivious HTTP.

At one path (RFC 9540's ``/.well-known/ohttp-gateway`` by default) it answers

- ``GET``: the gateway's key configurations (``application/ohttp-keys``, newest first)
  and, when a signing key is set, an ML-DSA signature over those exact bytes;
- ``POST message/ohttp-req``: decapsulates the request with the key id it names, checks it
  for replay (RFC 9458 §6.5), turns the Binary HTTP request inside into an ASGI request to
  the wrapped app, and encapsulates the app's answer as ``message/ohttp-res``;
- ``POST message/ohttp-chunked-req``: the same, answered as ``message/ohttp-chunked-res``
  with one sealed chunk per piece the app sends, so streamed answers (generated tokens)
  reach the client as they are made.

Refusals are small RFC 9457 problems with fixed titles (:mod:`pqml.gateway.problems`):
anything the gateway cannot decrypt or parse is a 4xx, an unknown key id 422 ``ohttp-key``
(the client refetches the configuration), a Date outside the window an encapsulated 400
``date`` with the gateway's Date. No response carries a traceback or an exception's text,
and the log gets the outcome (status, key id, error class), never a request's content,
path or headers. The wrapped app sees no client address: hiding it is the point.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote

from pqml.formats import bhttp
from pqml.formats.errors import BinaryHTTPError, OHTTPFormatError
from pqml.formats.ohttp import (
    CHUNKED_REQUEST_MEDIA_TYPE,
    CHUNKED_RESPONSE_MEDIA_TYPE,
    KEYS_MEDIA_TYPE,
    REQUEST_MEDIA_TYPE,
    RESPONSE_MEDIA_TYPE,
)
from pqml.gateway import problems
from pqml.gateway.errors import (
    KeyConfigMismatchError,
    ReplayedRequestError,
    ReplayStoreError,
    RequestDateError,
)
from pqml.gateway.key_configs import WELL_KNOWN_PATH, GatewayKeys, KeySet, KeyStore
from pqml.gateway.problems import Problem
from pqml.gateway.replay import ReplayGuard, http_date
from pqml.primitives.base import SigningKey
from pqml.primitives.errors import PqmlError

Scope = MutableMapping[str, Any]
# Largest piece of a streamed answer sealed as one chunk (clients accept up to 1 MiB).
_SEALED_PIECE = 64 * 1024
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

logger = logging.getLogger("pqml.gateway")

DEFAULT_MAX_REQUEST = 16 << 20  # encapsulated request body
DEFAULT_MAX_RESPONSE = 64 << 20  # a non-chunked answer is held whole to be sealed
DEFAULT_REQUEST_TIMEOUT = 30.0  # to receive the whole encapsulated request
DEFAULT_CONFIG_MAX_AGE = 300  # seconds clients may cache the key configurations
DEFAULT_PAD_BLOCK = 64  # RFC 9292 §3.8 padding: answers' sizes rounded up to this
_FIELD_NAME = re.compile(rb"[!#$%&'*+\-.^_`|~0-9a-z]+")  # a lowercase token (RFC 9110 §5.1)
_BAD_VALUE = re.compile(rb"[\r\n\0]")
_RESPONSE_TYPE = (b"content-type", RESPONSE_MEDIA_TYPE.encode())
_NO_STORE = (b"cache-control", b"no-store")


class _Refused(Exception):
    """Internal: answer with this problem outside the encapsulation."""

    def __init__(self, problem: Problem, reason: str) -> None:
        super().__init__(reason)
        self.problem = problem
        self.reason = reason


def _media_type(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name.lower() == b"content-type":
            return value.split(b";", 1)[0].strip().lower().decode("latin-1")
    return ""


def _header(scope: Scope, wanted: bytes) -> bytes | None:
    for name, value in scope.get("headers", ()):
        if name.lower() == wanted:
            return bytes(value)
    return None


def _clean_fields(raw: Any) -> bhttp.Fields:
    """An app's response headers as Binary HTTP fields: names lowercased, connection-specific
    fields dropped, values trimmed, and anything HTTP/2 would call malformed left out."""
    out = []
    for name, value in bhttp.strip_connection_fields(raw or ()):
        value = value.strip(b" \t")
        if _FIELD_NAME.fullmatch(name) and not _BAD_VALUE.search(value):
            out.append((name, value))
    return tuple(out)


class OHTTPMiddleware:
    """Wrap ``app`` so that it is reached only through Oblivious HTTP at ``path``.

    ``keys`` is a key directory (:class:`GatewayKeys`, reloaded on rotation), a
    :class:`KeyStore`, or a fixed :class:`KeySet`. ``replay`` defaults to an in-process
    guard with a ±60 s Date window; pass one over :class:`RedisReplayStore` for replicas.
    ``passthrough`` lets requests to other paths reach ``app`` in clear (off by default: a
    gateway in front of an app should be the only way in).
    """

    def __init__(self, app: ASGIApp, keys: GatewayKeys | KeyStore | KeySet, *,
                 path: str = WELL_KNOWN_PATH, replay: ReplayGuard | None = None,
                 signer: SigningKey | None = None,
                 max_request: int = DEFAULT_MAX_REQUEST,
                 max_response: int = DEFAULT_MAX_RESPONSE,
                 request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
                 config_max_age: int = DEFAULT_CONFIG_MAX_AGE,
                 pad_block: int = DEFAULT_PAD_BLOCK,
                 passthrough: bool = False) -> None:
        self.app = app
        self.keys = keys if isinstance(keys, KeyStore) else KeyStore(
            keys, signer=signer, on_error=log_reload_failure)
        self.path = path
        self.replay = replay if replay is not None else ReplayGuard()
        self.max_request = max_request
        self.max_response = max_response
        self.request_timeout = request_timeout
        self.config_max_age = config_max_age
        self.pad_block = pad_block
        self.passthrough = passthrough

    # ---- dispatch ----------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self.app(scope, self._lifespan_receive(receive), send)
            return
        if kind != "http" or scope.get("path") != self.path:
            if self.passthrough:
                await self.app(scope, receive, send)
            elif kind == "http":
                await problems.send_problem(send, Problem(404, "not found"))
            return  # websockets and the rest: refused by not accepting them
        method = scope.get("method", "GET")
        if method in ("GET", "HEAD"):
            await self._send_key_configs(scope, send, head=method == "HEAD")
        elif method == "POST":
            await self._handle(scope, receive, send)
        else:
            await problems.send_problem(send, problems.METHOD,
                                        [(b"allow", b"GET, HEAD, POST")])

    def _lifespan_receive(self, receive: Receive) -> Receive:
        async def wrapped() -> Message:
            message = await receive()
            if message.get("type") == "lifespan.shutdown":
                await self.replay.aclose()
            return message

        return wrapped

    # ---- key configurations --------------------------------------------------------------------

    def _max_age(self, keyset: KeySet, now: float) -> int:
        """Clients must not keep a configuration past its key's retirement: cap the cache
        lifetime at half the time left (and never past the signature's not-after)."""
        age = self.config_max_age
        if keyset.not_after is not None:
            age = min(age, max(0, int((keyset.not_after - now) / 2)))
        if keyset.signature_expires is not None:
            age = min(age, max(0, int(keyset.signature_expires - now)))
        return age

    async def _send_key_configs(self, scope: Scope, send: Send, *, head: bool) -> None:
        accept = _header(scope, b"accept")
        if accept is not None and not _accepts(accept, KEYS_MEDIA_TYPE):
            await problems.send_problem(send, problems.NOT_ACCEPTABLE)
            return
        keyset = self.keys.current()
        headers = [(b"content-type", KEYS_MEDIA_TYPE.encode()),
                   (b"content-length", str(len(keyset.body)).encode()),
                   (b"cache-control",
                    f"max-age={self._max_age(keyset, self.keys.now())}".encode())]
        headers += signature_headers(keyset)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"" if head else keyset.body})

    # ---- encapsulated requests -----------------------------------------------------------------

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes:
        declared = _header(scope, b"content-length")
        if declared is not None:
            try:
                if int(declared) > self.max_request:
                    raise _Refused(problems.TOO_LARGE, "declared length over the limit")
            except ValueError:
                raise _Refused(problems.MALFORMED, "bad Content-Length") from None
        body = bytearray()
        try:
            async with asyncio.timeout(self.request_timeout):
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        raise _Refused(problems.MALFORMED, "client went away")
                    body += message.get("body", b"")
                    if len(body) > self.max_request:
                        raise _Refused(problems.TOO_LARGE, "body over the limit")
                    if not message.get("more_body", False):
                        return bytes(body)
        except TimeoutError:
            raise _Refused(problems.TIMEOUT, "body not received in time") from None

    async def _handle(self, scope: Scope, receive: Receive, outer_send: Send) -> None:
        media = _media_type(scope)
        started = time.perf_counter()
        tracker = _StartTracker(outer_send)
        send = tracker.send
        try:
            if media not in (REQUEST_MEDIA_TYPE, CHUNKED_REQUEST_MEDIA_TYPE):
                raise _Refused(problems.MEDIA_TYPE, "wrong media type")
            body = await self._read_body(scope, receive)
            if media == REQUEST_MEDIA_TYPE:
                plaintext, context = self._decapsulate(body)
                opened: _Opened = _Whole(context)
            else:
                plaintext, reader = self._decapsulate_chunked(body)
                opened = _Chunked(reader)
            key_id = opened.key_id
            await self._answer(scope, send, plaintext, opened)
        except _Refused as refusal:
            logger.info("ohttp refused: %d %s", refusal.problem.status, refusal.reason)
            if not tracker.started:
                await problems.send_problem(send, refusal.problem)
            return
        except Exception as exc:  # a bug: the class name is logged, nothing of the request
            logger.error("ohttp: internal error (%s)", type(exc).__name__)
            if not tracker.started:
                await problems.send_problem(send, problems.INTERNAL)
            return
        logger.debug("ohttp answered under key %d in %.1f ms", key_id,
                     (time.perf_counter() - started) * 1000)

    def _live_keys(self) -> list[Any]:
        return self.keys.current().server_keys(self.keys.now())

    def _decapsulate(self, body: bytes) -> tuple[bytes, Any]:
        from pqml.gateway.ohttp import decapsulate_request

        try:
            return decapsulate_request(self._live_keys(), body, max_size=self.max_request)
        except Exception as exc:  # every failure here comes from the request's bytes
            raise _decapsulation_refusal(exc) from None

    def _decapsulate_chunked(self, body: bytes) -> tuple[bytes, Any]:
        from pqml.gateway.chunked import ChunkedRequestReader

        try:
            reader = ChunkedRequestReader(self._live_keys())
            pieces = reader.feed(body)
            pieces.append(reader.close())
        except Exception as exc:
            raise _decapsulation_refusal(exc) from None
        return b"".join(pieces), reader

    async def _answer(self, scope: Scope, send: Send, plaintext: bytes,
                      opened: _Opened) -> None:
        try:
            request = bhttp.decode_request(plaintext)
        except (BinaryHTTPError, PqmlError, ValueError):
            await opened.send_whole(send, _problem_response(problems.INNER_MALFORMED),
                                    self.pad_block)
            return
        try:
            await self.replay.check(opened.enc, _request_date(request))
        except RequestDateError as exc:
            logger.info("ohttp refused: 400 date (%s)", exc)
            # the gateway's own clock (the guard's, injectable) so a skewed client can
            # correct itself against the time the window was checked with
            response = _problem_response(problems.DATE, [(b"date", http_date(self.replay.now())
                                                          .encode())])
            await opened.send_whole(send, response, self.pad_block)
            return
        except ReplayedRequestError:
            raise _Refused(problems.REPLAYED, "replayed encapsulated key") from None
        except ReplayStoreError as exc:
            raise _Refused(problems.UNAVAILABLE, str(exc)) from None
        inner = _inner_scope(scope, request)
        if isinstance(opened, _Chunked):
            await self._run_streaming(inner, request.content, opened, send)
        else:
            await self._run_whole(inner, request.content, opened, send)

    # ---- running the app -------------------------------------------------------------------------

    async def _run_whole(self, inner: Scope, content: bytes, opened: _Opened,
                         send: Send) -> None:
        collected = _Collector(self.max_response)
        done = asyncio.Event()
        try:
            await self.app(inner, _receive_once(content, done), collected.send)
        except Exception as exc:
            logger.warning("ohttp: the app failed (%s)", type(exc).__name__)
            if not collected.complete:
                collected.fail(problems.INTERNAL)
        finally:
            done.set()
        await opened.send_whole(send, collected.response(), self.pad_block)

    async def _run_streaming(self, inner: Scope, content: bytes, opened: _Chunked,
                             send: Send) -> None:
        writer = opened.reader.response_writer()
        state = {"started": False, "ended": False}

        async def start_outer() -> None:
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", CHUNKED_RESPONSE_MEDIA_TYPE.encode()),
                                    (b"cache-control", b"no-store")]})
            state["started"] = True

        async def app_send(message: Message) -> None:
            if state["ended"]:
                return
            if message["type"] == "http.response.start" and not state["started"]:
                await start_outer()
                head = bhttp.response_head(message["status"],
                                           _clean_fields(message.get("headers")))
                await send({"type": "http.response.body", "body": writer.seal(head),
                            "more_body": True})
            elif message["type"] == "http.response.body" and state["started"]:
                body = bytes(message.get("body", b""))
                more = message.get("more_body", False)
                # An app may send any size at once; clients refuse sealed chunks over
                # their limit (1 MiB by default), so big pieces go out in several.
                parts = [body[i:i + _SEALED_PIECE]
                         for i in range(0, len(body), _SEALED_PIECE)] or [b""]
                for last, part in ((i == len(parts) - 1, p) for i, p in enumerate(parts)):
                    piece = bhttp.content_chunk(part)
                    if more or not last:
                        if piece:
                            await send({"type": "http.response.body",
                                        "body": writer.seal(piece), "more_body": True})
                        continue
                    state["ended"] = True
                    await send({"type": "http.response.body",
                                "body": writer.seal_final(piece + bhttp.message_tail())})

        done = asyncio.Event()
        try:
            await self.app(inner, _receive_once(content, done), app_send)
        except Exception as exc:
            logger.warning("ohttp: the app failed (%s)", type(exc).__name__)
        finally:
            done.set()
        if not state["started"]:  # the app failed before answering: a sealed 500
            await start_outer()
            response = _problem_response(problems.INTERNAL)
            await send({"type": "http.response.body", "body": writer.seal_final(
                bhttp.encode_response(response, indeterminate=True))})
        elif not state["ended"]:
            # cut off mid-answer: end without the final chunk, the client sees truncation
            await send({"type": "http.response.body", "body": b""})


# ---- the two kinds of opened request -----------------------------------------------------------


class _Whole:
    def __init__(self, context: Any) -> None:
        self.context = context
        self.enc: bytes = context.enc
        self.key_id: int = context.key_id

    async def send_whole(self, send: Send, response: bhttp.Response, pad_block: int) -> None:
        encoded = bhttp.encode_response(response)
        if pad_block > 1:
            encoded += bytes(bhttp.padding_for(len(encoded), pad_block))
        body = self.context.encapsulate_response(encoded)
        await send({"type": "http.response.start", "status": 200,
                    "headers": [_RESPONSE_TYPE, (b"content-length", b"%d" % len(body)),
                                _NO_STORE]})
        await send({"type": "http.response.body", "body": body})


class _Chunked:
    def __init__(self, reader: Any) -> None:
        self.reader = reader
        self.enc: bytes = reader.enc
        self.key_id: int = reader.key.key_id

    async def send_whole(self, send: Send, response: bhttp.Response, pad_block: int) -> None:
        encoded = bhttp.encode_response(response, indeterminate=True)
        if pad_block > 1:
            encoded += bytes(bhttp.padding_for(len(encoded), pad_block))
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", CHUNKED_RESPONSE_MEDIA_TYPE.encode()),
                                (b"cache-control", b"no-store")]})
        writer = self.reader.response_writer()
        await send({"type": "http.response.body", "body": writer.seal_final(encoded)})


_Opened = _Whole | _Chunked


class _StartTracker:
    """Remembers whether the outer response has started (then no problem can follow)."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.started = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)


class _Collector:
    """Gathers a whole app response, bounded; what is sealed as one ``message/ohttp-res``."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.status: int | None = None
        self.headers: bhttp.Fields = ()
        self.body = bytearray()
        self.complete = False
        self._failed: Problem | None = None

    async def send(self, message: Message) -> None:
        if self.complete or self._failed is not None:
            return
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.headers = _clean_fields(message.get("headers"))
        elif message["type"] == "http.response.body" and self.status is not None:
            self.body += message.get("body", b"")
            if len(self.body) > self.limit:
                self.fail(Problem(502, "the answer is too large for a non-chunked response; "
                                       "send a chunked request"))
            elif not message.get("more_body", False):
                self.complete = True

    def fail(self, problem: Problem) -> None:
        self._failed = problem
        self.body.clear()

    def response(self) -> bhttp.Response:
        if self._failed is not None:
            return _problem_response(self._failed)
        if self.status is None or not self.complete:
            return _problem_response(problems.INTERNAL)
        if not 200 <= self.status <= 599:
            return _problem_response(problems.INTERNAL)
        return bhttp.Response(self.status, self.headers, bytes(self.body))


# ---- helpers ------------------------------------------------------------------------------------


def log_reload_failure(exc: Exception) -> None:
    """A key directory that stopped loading: the gateway keeps its last good keys."""
    logger.error("gateway keys: reload failed, still serving the previous keys: %s", exc)


def _decapsulation_refusal(exc: Exception) -> _Refused:
    if isinstance(exc, KeyConfigMismatchError):
        return _Refused(problems.KEY_UNKNOWN, "unknown key id or suite")
    if isinstance(exc, OHTTPFormatError):
        return _Refused(problems.MALFORMED, "malformed encapsulation")
    if isinstance(exc, PqmlError):
        return _Refused(problems.UNDECRYPTABLE, type(exc).__name__)
    return _Refused(problems.MALFORMED, f"unexpected {type(exc).__name__}")


def _problem_response(problem: Problem,
                      extra: list[tuple[bytes, bytes]] | None = None) -> bhttp.Response:
    body = problem.body()
    headers = [(b"content-type", problems.PROBLEM_MEDIA_TYPE.encode()),
               (b"content-length", str(len(body)).encode()), *(extra or [])]
    return bhttp.Response(problem.status, tuple(headers), body)


def _request_date(request: bhttp.Request) -> bytes | None:
    for name, value in request.headers:
        if name == b"date":
            return value
    return None


def _accepts(accept: bytes, media_type: str) -> bool:
    wanted = media_type.encode()
    for item in accept.split(b","):
        kind = item.split(b";", 1)[0].strip().lower()
        if kind in (wanted, b"*/*", b"application/*"):
            return True
    return False


def _inner_scope(outer: Scope, request: bhttp.Request) -> Scope:
    path, _, query = request.path.partition("?")
    if not path.startswith("/"):  # authority- or asterisk-form: nothing to route
        path = "/" + path if path != "*" else "*"
    headers = list(request.headers)
    if request.authority and not any(name == b"host" for name, _ in headers):
        headers.insert(0, (b"host", request.authority.encode("ascii")))
    inner: Scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": request.scheme if request.scheme in ("http", "https") else "https",
        "path": unquote(path),
        "raw_path": path.encode("ascii"),
        "query_string": query.encode("ascii"),
        "root_path": outer.get("root_path", ""),
        "headers": headers,
        "client": None,
        "server": outer.get("server"),
        "extensions": {},
    }
    if "state" in outer:
        inner["state"] = dict(outer["state"])
    if "app" in outer:
        inner["app"] = outer["app"]
    return inner


def _receive_once(content: bytes, done: asyncio.Event) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": content, "more_body": False}
        await done.wait()  # like a client that stays connected until the answer is out
        return {"type": "http.disconnect"}

    return receive


def signature_headers(keyset: KeySet) -> list[tuple[bytes, bytes]]:
    """The header that carries the signature over the key configurations, if any."""
    if keyset.signature is None:
        return []
    import base64

    from pqml.gateway.client import SIGNATURE_HEADER

    return [(SIGNATURE_HEADER.encode(), base64.b64encode(keyset.signature))]

"""``pqml gateway``: an Oblivious HTTP gateway in front of an upstream HTTP service.

Two ASGI pieces composed: :class:`UpstreamProxy` forwards a plain HTTP request to the
upstream service with httpx and streams its answer back; :class:`OHTTPMiddleware` (around
it) decrypts requests, checks them for replay and encrypts the answers. Only the gateway
path exists from outside: nothing reaches the upstream unencrypted through the gateway.

The upstream usually runs on the same host or a private network; the client's address is
never passed on (the proxy adds no ``Forwarded`` / ``X-Forwarded-For``: hiding it is the
point of Oblivious HTTP).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from pqml.gateway import problems

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

logger = logging.getLogger("pqml.gateway")

# RFC 9110 §7.6.1 connection-specific fields, and what the proxy itself sets.
_HOP_BY_HOP = frozenset({
    b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"te",
    b"trailer", b"upgrade", b"proxy-authenticate", b"proxy-authorization", b"host",
    b"content-length",
})
DEFAULT_UPSTREAM_TIMEOUT = 60.0


def _forwarded_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    named = {v.strip().lower() for name, value in raw if name.lower() == b"connection"
             for v in value.split(b",")}
    return [(n, v) for n, v in raw
            if n.lower() not in _HOP_BY_HOP and n.lower() not in named]


class UpstreamProxy:
    """An ASGI app that forwards every HTTP request to ``upstream`` (``http://host:port``
    with an optional base path) and streams the response back."""

    def __init__(self, upstream: str, *, timeout: float = DEFAULT_UPSTREAM_TIMEOUT,
                 transport: Any = None, max_connections: int = 100) -> None:
        import httpx

        self.upstream = httpx.URL(upstream)
        if self.upstream.scheme not in ("http", "https") or not self.upstream.host:
            raise ValueError(f"upstream must be an http:// or https:// URL, got {upstream!r}")
        self._base_path = self.upstream.raw_path.split(b"?", 1)[0].rstrip(b"/")
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout), transport=transport, follow_redirects=False,
            trust_env=False,
            limits=httpx.Limits(max_connections=max_connections,
                                max_keepalive_connections=max_connections))

    def _url(self, scope: Scope) -> Any:
        path = scope.get("raw_path") or scope["path"].encode()
        path = path.split(b"?", 1)[0]
        target = self._base_path + (path if path.startswith(b"/") else b"/" + path)
        query = scope.get("query_string") or b""
        return self.upstream.copy_with(raw_path=target + (b"?" + query if query else b""))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        import httpx

        body = bytearray()
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            if not message.get("more_body", False):
                break
        request = self._client.build_request(
            scope["method"], self._url(scope),
            headers=_forwarded_headers(list(scope.get("headers", []))),
            content=bytes(body))
        try:
            response = await self._client.send(request, stream=True)
        except httpx.TimeoutException:
            logger.warning("upstream timed out")
            await problems.send_problem(send, problems.UPSTREAM_TIMEOUT)
            return
        except httpx.HTTPError as exc:
            logger.warning("upstream unreachable (%s)", type(exc).__name__)
            await problems.send_problem(send, problems.UPSTREAM_UNREACHABLE)
            return
        try:
            headers = _forwarded_headers(list(response.headers.raw))
            await send({"type": "http.response.start", "status": response.status_code,
                        "headers": headers})
            try:
                async for piece in response.aiter_raw():
                    if piece:
                        await send({"type": "http.response.body", "body": piece,
                                    "more_body": True})
            except httpx.HTTPError as exc:
                # headers are gone already: end the body early, the client sees it short
                logger.warning("upstream broke off its response (%s)", type(exc).__name__)
            await send({"type": "http.response.body", "body": b""})
        finally:
            await response.aclose()

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.aclose()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def aclose(self) -> None:
        await self._client.aclose()


def create_gateway(upstream: str, keys: str | Any, *, redis_url: str | None = None,
                   signer: Any = None, window: float | None = None,
                   require_date: bool = True, config_max_age: int | None = None,
                   max_request: int | None = None, upstream_timeout: float | None = None,
                   reload_interval: float = 0.5) -> Any:
    """The ASGI app ``pqml gateway`` serves: :class:`OHTTPMiddleware` around an
    :class:`UpstreamProxy` to ``upstream``, keys from the directory ``keys`` (reloaded on
    rotation), replay checks in-process or in the Redis at ``redis_url``."""
    from pqml.gateway.key_configs import GatewayKeys, KeyStore
    from pqml.gateway.middleware import OHTTPMiddleware, log_reload_failure
    from pqml.gateway.replay import DEFAULT_WINDOW, DateWindow, ReplayGuard, open_store

    directory = keys if isinstance(keys, GatewayKeys) else GatewayKeys(keys)
    store = KeyStore(directory, signer=signer, reload_interval=reload_interval,
                     on_error=log_reload_failure)
    span = DEFAULT_WINDOW if window is None else window
    guard = ReplayGuard(open_store(redis_url), DateWindow(span, span, required=require_date))
    options: dict[str, Any] = {}
    if config_max_age is not None:
        options["config_max_age"] = config_max_age
    if max_request is not None:
        options["max_request"] = max_request
    proxy = UpstreamProxy(upstream, **({} if upstream_timeout is None
                                       else {"timeout": upstream_timeout}))
    return OHTTPMiddleware(proxy, store, replay=guard, **options)


def serve(app: Any, *, host: str = "127.0.0.1", port: int = 8080,
          log_level: str = "warning", workers: int = 1) -> int:
    """Run ``app`` under uvicorn until interrupted; the exit status. Access logs stay off:
    the gateway's own log says what happened to each request without its content. With
    ``workers`` above 1, that many processes share the port (:mod:`pqml.gateway.workers`);
    their replay checks must then share a store (Redis)."""
    import uvicorn

    options: dict[str, Any] = {"host": host, "port": port, "log_level": log_level,
                               "access_log": False, "server_header": False,
                               "proxy_headers": False, "lifespan": "on"}
    if workers <= 1:
        uvicorn.run(app, **options)
        return 0
    import sys

    from pqml.gateway.workers import supervise

    config = uvicorn.Config(app, **options)
    sock = config.bind_socket()
    try:
        if port == 0:  # the kernel's choice: say which
            print(f"pqml gateway: listening on port {sock.getsockname()[1]}", file=sys.stderr,
                  flush=True)
        return supervise(config, sock, workers)
    finally:
        sock.close()

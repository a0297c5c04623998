"""The async transport's direct path: with its default network transport, whole requests go
to httpcore's pool without httpx Request/Response objects around them. Run against the
gateway double of test_client.py served over real HTTP on a loopback port, so the same
checks (key rotation, refusals, tampering, size limits, error mapping) are exercised."""

from __future__ import annotations

import asyncio
import http.server
import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
from test_client import GATEWAY, PINNED, GatewayDouble

from pqml.formats.ohttp import RESPONSE_MEDIA_TYPE, OHTTPFormatError
from pqml.gateway import ohttp
from pqml.gateway.client import AsyncOHTTPTransport
from pqml.gateway.errors import GatewayResponseError
from pqml.primitives.errors import DecryptionError


class _Served:
    """A GatewayDouble behind a ThreadingHTTPServer on 127.0.0.1 (stopped by the fixture)."""

    def __init__(self) -> None:
        self.gateway = GatewayDouble()
        self.seen_headers: list[list[tuple[str, str]]] = []
        self.content_type_override: str | None = None
        served = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                if self.command == "POST":
                    served.seen_headers.append([(n.lower(), v) for n, v in self.headers.items()])
                request = httpx.Request(self.command, GATEWAY + self.path,
                                        headers=list(self.headers.items()), content=body)
                response = served.gateway.handle(request)
                out = response.read()
                self.send_response(response.status_code)
                for name, value in response.headers.multi_items():
                    if (name == "content-type" and self.command == "POST"
                            and served.content_type_override is not None):
                        value = served.content_type_override
                    if name not in ("content-length", "transfer-encoding"):
                        self.send_header(name, value)
                self.send_header("content-length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@pytest.fixture
def served() -> Iterator[_Served]:
    served = _Served()
    try:
        yield served
    finally:
        served.stop()


def _run(served: _Served, paths: list[str], **options: object) -> list[httpx.Response]:
    async def go() -> list[httpx.Response]:
        transport = AsyncOHTTPTransport(served.url, pinned_key=PINNED, **options)  # type: ignore[arg-type]
        assert transport._direct is not None  # the path under test
        async with httpx.AsyncClient(transport=transport,
                                     base_url="http://model.internal") as client:
            return list(await asyncio.gather(*(client.post(p, content=p.encode())
                                               for p in paths)))

    return asyncio.run(go())


def test_direct_path_answers_and_sends_only_its_own_headers(served: _Served) -> None:
    answers = _run(served, [f"/e{i}" for i in range(6)])
    assert [a.json()["content"] for a in answers] == [f"/e{i}" for i in range(6)]
    assert all(a.extensions.get("ohttp") is True for a in answers)
    assert served.gateway.key_fetches == 1 and served.gateway.posts == 6
    host = served.url.removeprefix("http://")
    for headers in served.seen_headers:  # what httpx.Request would send, in its order
        names = [n for n, _ in headers]
        assert names == ["host", "content-type", "accept", "content-length"]
        assert headers[0] == ("host", host)


def test_direct_path_refetches_once_after_a_key_rotation(served: _Served) -> None:
    async def go() -> None:
        transport = AsyncOHTTPTransport(served.url, pinned_key=PINNED)
        async with httpx.AsyncClient(transport=transport) as client:
            assert (await client.get("http://m/a")).status_code == 200
            served.gateway.keys = [ohttp.ServerKey.generate(9, ohttp.MLKEM768)]
            assert (await client.get("http://m/b")).status_code == 200

    asyncio.run(go())
    assert served.gateway.key_fetches == 2 and served.gateway.posts == 3


def test_direct_path_refusals(served: _Served) -> None:
    served.gateway.status_override = 502
    with pytest.raises(GatewayResponseError, match="502") as refused:
        _run(served, ["/x"])
    assert refused.value.status == 502
    served.gateway.status_override = None
    served.content_type_override = "text/plain"
    with pytest.raises(GatewayResponseError, match="text/plain, not " + RESPONSE_MEDIA_TYPE):
        _run(served, ["/x"])
    served.content_type_override = None
    served.gateway.tamper = lambda body: body[:-1] + bytes([body[-1] ^ 1])
    with pytest.raises(DecryptionError):
        _run(served, ["/x"])
    served.gateway.tamper = None
    with pytest.raises(OHTTPFormatError, match="over the 100-byte limit"):
        _run(served, ["/x"], max_response=100)


def test_direct_path_maps_network_errors_to_httpx() -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = AsyncOHTTPTransport(f"http://127.0.0.1:{port}", allow_unsigned=True)
    assert transport._direct is not None

    async def go() -> None:
        from pqml.gateway.client import _Cached

        key = ohttp.ServerKey.generate(1)
        transport._settings.cached = _Cached([key.config], float("inf"))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("http://m/")

    with pytest.raises(httpx.ConnectError):
        asyncio.run(go())


def test_direct_path_only_over_the_default_transport() -> None:
    assert AsyncOHTTPTransport(GATEWAY, pinned_key=PINNED)._direct is not None
    assert AsyncOHTTPTransport(GATEWAY, pinned_key=PINNED, chunked=True)._direct is None
    custom = httpx.MockTransport(GatewayDouble().ahandle)
    assert AsyncOHTTPTransport(GATEWAY, pinned_key=PINNED, transport=custom)._direct is None

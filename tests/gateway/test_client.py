"""The httpx transports against an in-process gateway double (an httpx.MockTransport that
decapsulates with the real ServerKey and answers from a tiny echo "model"). The end-to-end
run against the real middleware and uvicorn lives in the server side's tests."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable

import httpx
import pytest

from pqml.formats import bhttp
from pqml.formats.ohttp import (
    CHUNKED_REQUEST_MEDIA_TYPE,
    CHUNKED_RESPONSE_MEDIA_TYPE,
    KEY_PROBLEM_TYPE,
    KEYS_MEDIA_TYPE,
    REQUEST_MEDIA_TYPE,
    RESPONSE_MEDIA_TYPE,
    OHTTPFormatError,
    encode_key_configs,
)
from pqml.gateway import ohttp
from pqml.gateway.chunked import ChunkedRequestReader
from pqml.gateway.client import (
    SIGNATURE_HEADER,
    AsyncOHTTPTransport,
    OHTTPTransport,
    select_config,
    sign_key_config,
    verify_key_config,
)
from pqml.gateway.errors import (
    GatewayResponseError,
    KeyConfigMismatchError,
    KeyConfigSignatureError,
    OHTTPError,
)
from pqml.primitives import registry
from pqml.primitives.errors import DecryptionError, PolicyError

GATEWAY = "https://gateway.test"


def _mldsa() -> object:
    return registry.get("ML-DSA-65").scheme().generate()


SIGNER = _mldsa()
PINNED = SIGNER.public_key()  # type: ignore[attr-defined]


def echo_model(request: bhttp.Request) -> bhttp.Response:
    """The "model": answers with what it saw, so tests check the request arrived whole."""
    seen = {"method": request.method, "scheme": request.scheme, "authority": request.authority,
            "path": request.path, "headers": {n.decode(): v.decode() for n, v in request.headers},
            "content": request.content.decode()}
    return bhttp.Response(200, ((b"content-type", b"application/json"),),
                          json.dumps(seen).encode())


class GatewayDouble:
    """Serves signed key configs and answers encapsulated requests like a gateway."""

    def __init__(self, *keys: ohttp.ServerKey) -> None:
        self.keys = list(keys) or [ohttp.ServerKey.generate(1)]
        self.signer = SIGNER
        self.key_fetches = 0
        self.posts = 0
        self.tamper: Callable[[bytes], bytes] | None = None
        self.status_override: int | None = None
        self.signature_override: bytes | None = None
        self.stream_tokens: list[bytes] | None = None

    def configs(self) -> bytes:
        return encode_key_configs([k.config for k in reversed(self.keys)])

    def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            assert str(request.url) == GATEWAY + "/.well-known/ohttp-gateway"
            self.key_fetches += 1
            body = self.configs()
            signature = self.signature_override or sign_key_config(body, self.signer)
            return httpx.Response(200, content=body, headers={
                "content-type": KEYS_MEDIA_TYPE, "cache-control": "max-age=60",
                SIGNATURE_HEADER: base64.b64encode(signature).decode()})
        self.posts += 1
        assert set(request.headers) <= {"host", "content-type", "accept", "content-length",
                                        "incremental", "accept-encoding", "connection",
                                        "user-agent"}, "no caller header may leak outside"
        if self.status_override is not None:
            return httpx.Response(self.status_override, json={"type": "about:blank"},
                                  headers={"content-type": "application/problem+json"})
        body = request.read()
        try:
            if request.headers["content-type"] == CHUNKED_REQUEST_MEDIA_TYPE:
                return self._chunked(body)
            assert request.headers["content-type"] == REQUEST_MEDIA_TYPE
            inner, context = ohttp.decapsulate_request(self.keys, body)
        except KeyConfigMismatchError:
            return httpx.Response(422, content=json.dumps({"type": KEY_PROBLEM_TYPE}).encode(),
                                  headers={"content-type": "application/problem+json"})
        response = bhttp.encode_response(echo_model(bhttp.decode_request(inner)))
        out = context.encapsulate_response(response)
        if self.tamper is not None:
            out = self.tamper(out)
        return httpx.Response(200, content=out, headers={"content-type": RESPONSE_MEDIA_TYPE})

    def _chunked(self, body: bytes) -> httpx.Response:
        reader = ChunkedRequestReader(self.keys)
        plaintext = b"".join(reader.feed(body)) + reader.close()
        request = bhttp.decode_request(plaintext)
        writer = reader.response_writer()
        tokens = self.stream_tokens or [request.content]
        pieces = [writer.start(),
                  writer.seal(bhttp.response_head(200, ((b"content-type", b"text/plain"),)))]
        pieces += [writer.seal(bhttp.content_chunk(t)) for t in tokens if t]
        pieces.append(writer.seal_final(bhttp.message_tail()))
        if self.tamper is not None:
            pieces = [self.tamper(b"".join(pieces))]
        return httpx.Response(200, content=iter(pieces),
                              headers={"content-type": CHUNKED_RESPONSE_MEDIA_TYPE})

    async def ahandle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        response = self.handle(request)
        if response.headers.get("content-type") == CHUNKED_RESPONSE_MEDIA_TYPE:
            pieces = list(response.iter_raw())

            async def stream():  # type: ignore[no-untyped-def]
                for piece in pieces:
                    await asyncio.sleep(0)
                    yield piece

            return httpx.Response(200, content=stream(), headers=response.headers)
        return response


def _client(gateway: GatewayDouble, **options: object) -> httpx.Client:
    transport = OHTTPTransport(GATEWAY, pinned_key=PINNED,
                               transport=httpx.MockTransport(gateway.handle), **options)
    return httpx.Client(transport=transport, base_url="http://model.internal")


# ---- the OpenAI-style pattern: an SDK's httpx client, unchanged but for the transport -----


def test_sdk_style_request_through_the_gateway() -> None:
    gateway = GatewayDouble()
    with _client(gateway) as client:
        answer = client.post("/v1/completions?x=1", json={"prompt": "hi"},
                             headers={"authorization": "Bearer secret-token"})
    assert answer.status_code == 200
    seen = answer.json()
    assert seen["path"] == "/v1/completions?x=1"
    assert seen["authority"] == "model.internal" and seen["scheme"] == "http"
    assert json.loads(seen["content"]) == {"prompt": "hi"}
    # the caller's headers travel encrypted inside, never outside (see GatewayDouble)
    assert seen["headers"]["authorization"] == "Bearer secret-token"
    assert "date" in seen["headers"]  # for the gateway's replay window
    assert "connection" not in seen["headers"] and "host" not in seen["headers"]
    assert answer.extensions["ohttp"] is True


def test_key_configs_cached() -> None:
    gateway = GatewayDouble()
    with _client(gateway) as client:
        for _ in range(3):
            assert client.get("/ping").status_code == 200
    assert gateway.key_fetches == 1 and gateway.posts == 3


def test_refetch_once_on_key_rotation() -> None:
    old = ohttp.ServerKey.generate(1)
    gateway = GatewayDouble(old)
    with _client(gateway) as client:
        client.get("/a")
        gateway.keys = [ohttp.ServerKey.generate(2)]  # the old key id is gone: 422 ohttp-key
        assert client.get("/b").status_code == 200
    assert gateway.key_fetches == 2 and gateway.posts == 3


def test_422_twice_is_an_error_not_a_loop() -> None:
    gateway = GatewayDouble()
    transport = OHTTPTransport(GATEWAY, pinned_key=PINNED,
                               transport=httpx.MockTransport(gateway.handle))
    transport.key_configs()
    gateway.keys = [ohttp.ServerKey.generate(2)]
    stale = gateway.configs()
    gateway.configs = lambda: stale  # type: ignore[method-assign]
    gateway.keys = [ohttp.ServerKey.generate(3)]
    with httpx.Client(transport=transport) as client, \
            pytest.raises(GatewayResponseError, match="again after a fresh fetch") as info:
        client.get("http://model.internal/")
    assert info.value.status == 422 and info.value.problem_type == KEY_PROBLEM_TYPE
    assert gateway.posts == 2


@pytest.mark.parametrize("status", [400, 500, 503])
def test_other_errors_are_never_retried(status: int) -> None:
    gateway = GatewayDouble()
    gateway.status_override = status
    with _client(gateway) as client, pytest.raises(GatewayResponseError, match=str(status)):
        client.post("/", content=b"x")
    assert gateway.posts == 1


def test_tampered_response_is_refused() -> None:
    gateway = GatewayDouble()
    gateway.tamper = lambda body: body[:-1] + bytes([body[-1] ^ 1])
    with _client(gateway) as client, pytest.raises(DecryptionError):
        client.get("/")


def test_wrong_media_type_refused() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return GatewayDouble().handle(request)
        return httpx.Response(200, content=b"<html>", headers={"content-type": "text/html"})

    transport = OHTTPTransport(GATEWAY, pinned_key=PINNED, transport=httpx.MockTransport(handler))
    with httpx.Client(transport=transport) as client, \
            pytest.raises(GatewayResponseError, match="text/html"):
        client.get("http://model.internal/")


def test_oversized_response_refused() -> None:
    gateway = GatewayDouble()
    with _client(gateway, max_response=200) as client, \
            pytest.raises(OHTTPFormatError, match="over the 200-byte limit"):
        client.post("/", content=b"x" * 1000)


def test_padding_hides_request_length() -> None:
    gateway = GatewayDouble()
    sizes = set()
    original = gateway.handle

    def spy(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            sizes.add(len(request.read()))
        return original(request)

    transport = OHTTPTransport(GATEWAY, pinned_key=PINNED, transport=httpx.MockTransport(spy),
                               padding_block=256)
    with httpx.Client(transport=transport) as client:
        for n in (1, 7, 60):
            client.post("http://model.internal/", content=b"x" * n,
                        headers={"date": "Thu, 01 Jan 2026 00:00:00 GMT"})
    assert len(sizes) == 1


# ---- key configuration trust ----------------------------------------------------------------


def test_key_config_signature_verified() -> None:
    gateway = GatewayDouble()
    body = gateway.configs()
    signature = sign_key_config(body, SIGNER)  # type: ignore[arg-type]
    assert verify_key_config(body, signature, PINNED)[0] == gateway.keys[0].config
    with pytest.raises(KeyConfigSignatureError):
        verify_key_config(body[:-1] + bytes([body[-1] ^ 1]), signature, PINNED)
    with pytest.raises(KeyConfigSignatureError):
        verify_key_config(body, signature, _mldsa().public_key())  # type: ignore[attr-defined]


def test_signature_from_another_key_refused_by_transport() -> None:
    gateway = GatewayDouble()
    gateway.signer = _mldsa()
    with _client(gateway) as client, pytest.raises(KeyConfigSignatureError):
        client.get("/")
    assert gateway.posts == 0  # nothing was encrypted to an unverified key


def test_missing_or_garbled_signature_header() -> None:
    gateway = GatewayDouble()
    gateway.signature_override = b"\x00" * 10
    with _client(gateway) as client, pytest.raises(KeyConfigSignatureError):
        client.get("/")

    def no_header(request: httpx.Request) -> httpx.Response:
        response = GatewayDouble().handle(request)
        return httpx.Response(200, content=response.content,
                              headers={"content-type": KEYS_MEDIA_TYPE})

    transport = OHTTPTransport(GATEWAY, pinned_key=PINNED,
                               transport=httpx.MockTransport(no_header))
    with pytest.raises(KeyConfigSignatureError, match="no pqml-key-config-signature"):
        transport.key_configs()


def test_pinned_key_required_and_post_quantum() -> None:
    with pytest.raises(OHTTPError, match="pinned"):
        OHTTPTransport(GATEWAY)
    ed25519 = registry.get("Ed25519").scheme().generate()
    with pytest.raises(PolicyError, match="post-quantum"):
        OHTTPTransport(GATEWAY, pinned_key=ed25519.public_key())
    with pytest.raises(PolicyError, match="post-quantum"):
        sign_key_config(b"x", ed25519)
    unsigned = OHTTPTransport(GATEWAY, allow_unsigned=True,
                              transport=httpx.MockTransport(GatewayDouble().handle))
    assert len(unsigned.key_configs()) == 1


def test_legacy_only_gateway_needs_opt_in() -> None:
    legacy = ohttp.ServerKey.generate(1, ohttp.X25519_LEGACY, allow_legacy=True)
    with pytest.raises(PolicyError, match="quantum-vulnerable"):
        select_config([legacy.config])
    assert select_config([legacy.config], allow_legacy=True) == legacy.config
    pq = ohttp.ServerKey.generate(2)
    assert select_config([legacy.config, pq.config]) == pq.config  # PQ preferred
    gateway = GatewayDouble(legacy)
    with _client(gateway) as client, pytest.raises(PolicyError):
        client.get("/")
    with _client(gateway, allow_legacy=True) as client:
        assert client.get("/").status_code == 200


def test_key_fetch_http_error() -> None:
    transport = OHTTPTransport(GATEWAY, pinned_key=PINNED, transport=httpx.MockTransport(
        lambda request: httpx.Response(404)))
    with pytest.raises(GatewayResponseError, match="HTTP 404"):
        transport.key_configs()


# ---- streamed (chunked OHTTP) answers --------------------------------------------------------


def test_streamed_tokens_arrive_decrypted() -> None:
    gateway = GatewayDouble()
    gateway.stream_tokens = [b"Hello", b", ", b"world"]
    with _client(gateway, chunked=True) as client, \
            client.stream("POST", "/v1/chat", content=b"prompt") as answer:
        assert answer.status_code == 200
        assert answer.headers["content-type"] == "text/plain"
        assert list(answer.iter_raw()) == [b"Hello", b", ", b"world"]


def test_streamed_large_request_is_chunked() -> None:
    gateway = GatewayDouble()
    with _client(gateway, chunked=True) as client:
        answer = client.post("/", content=b"z" * 50000)
    assert answer.content == b"z" * 50000


def test_truncated_stream_raises_not_ends() -> None:
    gateway = GatewayDouble()
    gateway.stream_tokens = [b"a", b"b"]
    gateway.tamper = lambda body: body[: -(1 + 16 + 2)]  # drop the final chunk
    with _client(gateway, chunked=True) as client, \
            client.stream("POST", "/", content=b"p") as answer, \
            pytest.raises(OHTTPFormatError, match="without its final chunk"):
        answer.read()


# ---- async ----------------------------------------------------------------------------------


def test_async_transport_plain_and_streamed() -> None:
    async def run() -> None:
        gateway = GatewayDouble()
        gateway.stream_tokens = [b"one", b"two"]
        for chunked in (False, True):
            transport = AsyncOHTTPTransport(GATEWAY, pinned_key=PINNED, chunked=chunked,
                                            transport=httpx.MockTransport(gateway.ahandle))
            async with httpx.AsyncClient(transport=transport) as client:
                if chunked:
                    async with client.stream("POST", "http://model.internal/s",
                                             content=b"q") as answer:
                        assert [p async for p in answer.aiter_raw()] == [b"one", b"two"]
                else:
                    results = await asyncio.gather(*(
                        client.post("http://model.internal/e", content=str(i).encode())
                        for i in range(4)))
                    assert [r.json()["content"] for r in results] == ["0", "1", "2", "3"]
        assert gateway.key_fetches == 2  # one per transport, even with concurrent requests

    asyncio.run(run())


def test_async_refetch_on_rotation_and_errors() -> None:
    async def run() -> None:
        gateway = GatewayDouble()
        transport = AsyncOHTTPTransport(GATEWAY, pinned_key=PINNED,
                                        transport=httpx.MockTransport(gateway.ahandle))
        async with httpx.AsyncClient(transport=transport) as client:
            await client.get("http://model.internal/")
            gateway.keys = [ohttp.ServerKey.generate(9, ohttp.MLKEM768)]
            assert (await client.get("http://model.internal/")).status_code == 200
            gateway.status_override = 502
            with pytest.raises(GatewayResponseError, match="502"):
                await client.get("http://model.internal/")
        assert gateway.key_fetches == 2 and gateway.posts == 4

    asyncio.run(run())


# ---- requests adapter ----------------------------------------------------------------------


def test_requests_adapter_plain_and_streamed() -> None:
    requests = pytest.importorskip("requests")
    from pqml.gateway.client import requests_adapter

    gateway = GatewayDouble()
    gateway.stream_tokens = [b"t1", b"t2"]
    session = requests.Session()
    session.mount("http://model.internal/", requests_adapter(
        GATEWAY, pinned_key=PINNED, transport=httpx.MockTransport(gateway.handle)))
    answer = session.post("http://model.internal/v1/x", json={"a": 1})
    assert answer.status_code == 200 and answer.json()["path"] == "/v1/x"
    assert json.loads(answer.json()["content"]) == {"a": 1}
    streamed = requests.Session()
    streamed.mount("http://model.internal/", requests_adapter(
        GATEWAY, pinned_key=PINNED, chunked=True, transport=httpx.MockTransport(gateway.handle)))
    with streamed.post("http://model.internal/s", data=b"q", stream=True) as answer:
        assert b"".join(answer.iter_content(chunk_size=1)) == b"t1t2"
    gateway.status_override = 500
    with pytest.raises(GatewayResponseError):
        session.get("http://model.internal/")


def test_callers_timeout_reaches_the_network() -> None:
    gateway = GatewayDouble()
    timeouts = []

    def spy(request: httpx.Request) -> httpx.Response:
        timeouts.append(request.extensions["timeout"])
        return gateway.handle(request)

    transport = OHTTPTransport(GATEWAY, pinned_key=PINNED, transport=httpx.MockTransport(spy))
    with httpx.Client(transport=transport, timeout=7.5) as client:
        client.get("http://model.internal/")
    assert [t["read"] for t in timeouts] == [7.5, 7.5]  # the key fetch and the request

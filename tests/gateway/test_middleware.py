"""The OHTTP middleware in front of a Starlette app: round trips (whole and chunked), key
configurations, every refusal a 4xx problem, replay and Date checks, rotation, and a
hypothesis fuzz that no body ever earns a 5xx or a traceback."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from typing import Any

import pytest
from gateway_support import bhttp_request, demo_app, encapsulate, example_module, key_set
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqml.formats import bhttp
from pqml.formats.ohttp import (
    CHUNKED_REQUEST_MEDIA_TYPE,
    DATE_PROBLEM_TYPE,
    KEY_PROBLEM_TYPE,
    decode_key_configs,
)
from pqml.gateway.key_configs import GatewayKeys, KeyStore
from pqml.gateway.middleware import OHTTPMiddleware, log_reload_failure
from pqml.gateway.replay import DateWindow, ReplayGuard

PATH = "/.well-known/ohttp-gateway"
REQ = "message/ohttp-req"


async def _call(app: Any, method: str, path: str, body: bytes = b"",
                headers: list[tuple[bytes, bytes]] | None = None
                ) -> tuple[int, dict[bytes, bytes], bytes]:
    """One request through ``app`` as a server would make it; (status, headers, body)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "headers": headers or [],
             "client": ("203.0.113.7", 5555), "server": ("127.0.0.1", 8000)}
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    status, out_headers, out = 0, {}, bytearray()

    async def send(message: dict[str, Any]) -> None:
        nonlocal status, out_headers
        if message["type"] == "http.response.start":
            status = message["status"]
            out_headers = {k.lower(): v for k, v in message.get("headers", [])}
        else:
            out.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, out_headers, bytes(out)


def call(app: Any, method: str, path: str = PATH, body: bytes = b"",
         media: str | None = REQ, extra: list[tuple[bytes, bytes]] | None = None
         ) -> tuple[int, dict[bytes, bytes], bytes]:
    headers = [(b"content-type", media.encode())] if media else []
    headers += extra or []
    return asyncio.run(_call(app, method, path, body, headers))


@pytest.fixture(scope="module")
def keys():  # type: ignore[no-untyped-def]
    return key_set(("X-Wing", "ML-KEM-768", "ML-KEM-1024", "X25519"))


def gateway(keys: Any, **options: Any) -> OHTTPMiddleware:
    return OHTTPMiddleware(demo_app(), keys, **options)


def through(app: OHTTPMiddleware, keys: Any, plaintext: bytes, *, key_id: int = 1,
            chunked: bool = False) -> bhttp.Response:
    body, read = encapsulate(keys.get(key_id).config, plaintext, chunked=chunked)
    status, headers, out = call(app, "POST", body=body,
                                media=CHUNKED_REQUEST_MEDIA_TYPE if chunked else REQ)
    assert status == 200, out
    expected = b"message/ohttp-chunked-res" if chunked else b"message/ohttp-res"
    assert headers[b"content-type"] == expected
    assert headers[b"cache-control"] == b"no-store"
    return read(out)


def problem(body: bytes) -> dict[str, Any]:
    doc = json.loads(body)
    assert set(doc) == {"type", "title", "status"}
    return doc


# ---- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("key_id", [1, 2, 3, 4], ids=["X-Wing", "ML-KEM-768", "ML-KEM-1024",
                                                       "X25519-legacy"])
@pytest.mark.parametrize("chunked", [False, True], ids=["whole", "chunked"])
def test_round_trip_every_suite(keys: Any, key_id: int, chunked: bool) -> None:
    app = gateway(keys)
    payload = os.urandom(3000)
    response = through(app, keys, bhttp_request("POST", "/echo?q=1", payload),
                       key_id=key_id, chunked=chunked)
    assert response.status == 200
    assert response.content == payload
    fields = dict(response.headers)
    assert fields[b"x-method"] == b"POST"
    assert fields[b"x-path"] == b"/echo"
    assert fields[b"x-query"] == b"q=1"
    assert fields[b"x-client"] == b"None"  # the app never learns the client's address


def test_streamed_answer_arrives_as_separate_chunks(keys: Any) -> None:
    from pqml.gateway.chunked import ChunkedRequestSender

    app = gateway(keys)
    sender = ChunkedRequestSender(keys.get(1).config)
    body = sender.encapsulate([bhttp_request("GET", "/stream?n=5")])
    status, _, out = call(app, "POST", body=body, media=CHUNKED_REQUEST_MEDIA_TYPE)
    assert status == 200
    reader = sender.response_reader()
    pieces = reader.feed(out)
    final = reader.close()
    # head, five tokens, then the final chunk: each token was sealed as it came
    assert len(pieces) == 6
    decoder = bhttp.MessageDecoder("response")
    events = []
    for piece in [*pieces, final]:
        events += decoder.feed(piece)
    events += decoder.close()
    content = b"".join(e.data for e in events if isinstance(e, bhttp.Content))
    assert content == b"token0 token1 token2 token3 token4 "


def test_a_streamed_piece_over_a_chunk_limit_is_split(keys: Any) -> None:
    """An app may hand over 2 MiB at once; the client refuses sealed chunks over 1 MiB,
    so the gateway seals it in pieces and the whole answer still arrives."""
    from pqml.gateway.chunked import ChunkedRequestSender

    app = gateway(keys)
    sender = ChunkedRequestSender(keys.get(1).config)
    body = sender.encapsulate([bhttp_request("GET", f"/big?n={2 << 20}")])
    status, _, out = call(app, "POST", body=body, media=CHUNKED_REQUEST_MEDIA_TYPE)
    assert status == 200
    reader = sender.response_reader()
    pieces = reader.feed(out)  # refuses any sealed chunk over its 1 MiB default
    final = reader.close()
    decoder = bhttp.MessageDecoder("response")
    events = []
    for piece in [*pieces, final]:
        events += decoder.feed(piece)
    events += decoder.close()
    content = b"".join(e.data for e in events if isinstance(e, bhttp.Content))
    assert content == b"x" * (2 << 20)
    assert len(pieces) > 2


def test_answers_are_padded(keys: Any) -> None:
    from pqml.gateway.ohttp import encapsulate_request

    sizes = set()
    for n in (1, 10, 30):
        app = gateway(keys, pad_block=256)
        body, context = encapsulate_request(keys.get(1).config,
                                            bhttp_request("GET", f"/big?n={n}"))
        status, _, out = call(app, "POST", body=body)
        assert status == 200
        plaintext = context.decapsulate_response(out)
        assert len(plaintext) % 256 == 0
        assert bhttp.decode_response(plaintext).content == b"x" * n
        sizes.add(len(out))
    assert len(sizes) == 1  # the relay cannot tell these answers apart by size


def test_app_failure_is_a_sealed_500_without_details(keys: Any,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    app = gateway(keys)
    with caplog.at_level(logging.DEBUG):
        for chunked in (False, True):
            response = through(app, keys, bhttp_request("POST", "/boom"), chunked=chunked)
            assert response.status == 500
            assert b"secret-internal-detail" not in response.content
            assert b"Traceback" not in response.content
    assert "secret-internal-detail" not in caplog.text


def test_oversized_answer_is_refused_inside(keys: Any) -> None:
    app = gateway(keys, max_response=1000)
    response = through(app, keys, bhttp_request("GET", "/big?n=5000"))
    assert response.status == 502
    assert b"chunked" in response.content
    # a chunked request streams it: no limit on what is never held whole
    response = through(app, keys, bhttp_request("GET", "/big?n=5000"), chunked=True)
    assert response.content == b"x" * 5000


def test_authority_becomes_host(keys: Any) -> None:
    response = through(gateway(keys), keys,
                       bhttp_request("GET", "/headers", authority="model.internal:8443"))
    assert json.loads(response.content)["host"] == "model.internal:8443"


# ---- key configurations --------------------------------------------------------------------


def test_key_configs_are_served(keys: Any) -> None:
    status, headers, body = call(gateway(keys), "GET", media=None)
    assert status == 200
    assert headers[b"content-type"] == b"application/ohttp-keys"
    assert headers[b"cache-control"] == b"max-age=300"
    configs, skipped = decode_key_configs(body)
    assert skipped == 0
    assert [c.key_id for c in configs] == [4, 3, 2, 1]  # newest first
    assert configs == [keys.get(i).config for i in (4, 3, 2, 1)]
    status, headers, body = call(gateway(keys), "HEAD", media=None)
    assert status == 200 and body == b"" and int(headers[b"content-length"]) > 0


def test_key_configs_refuse_other_media(keys: Any) -> None:
    status, headers, _ = call(gateway(keys), "GET", media=None,
                              extra=[(b"accept", b"text/html")])
    assert status == 406
    assert headers[b"content-type"] == b"application/problem+json"
    status, _, _ = call(gateway(keys), "GET", media=None,
                        extra=[(b"accept", b"application/ohttp-keys, */*;q=0.1")])
    assert status == 200


def test_other_paths_are_not_reachable_in_clear(keys: Any) -> None:
    status, _, body = call(gateway(keys), "POST", "/echo", b"hello", media="text/plain")
    assert status == 404
    assert b"hello" not in body
    status, _, body = call(gateway(keys, passthrough=True), "POST", "/echo", b"hello",
                           media="text/plain")
    assert status == 200 and body == b"hello"


# ---- refusals --------------------------------------------------------------------------------


def _valid(keys: Any, key_id: int = 1) -> bytes:
    body, _ = encapsulate(keys.get(key_id).config, bhttp_request("POST", "/echo", b"hi"))
    return body


def test_unknown_key_id_is_422_ohttp_key(keys: Any) -> None:
    body = bytearray(_valid(keys))
    body[0] = 99
    status, headers, out = call(gateway(keys), "POST", body=bytes(body))
    assert status == 422
    assert headers[b"content-type"] == b"application/problem+json"
    assert problem(out)["type"] == KEY_PROBLEM_TYPE


@pytest.mark.parametrize("offset,value", [(1, 0x00), (4, 0x02), (6, 0x01), (6, 0x03)],
                         ids=["kem", "kdf-sha384", "aead-aes128", "aead-chacha"])
def test_wrong_suite_is_422(keys: Any, offset: int, value: int) -> None:
    body = bytearray(_valid(keys))
    body[offset] = value
    status, _, out = call(gateway(keys), "POST", body=bytes(body))
    assert status == 422
    assert problem(out)["type"] == KEY_PROBLEM_TYPE


@pytest.mark.parametrize("cut", [0, 1, 6, 7, 100, 1126, -1])
def test_truncated_is_400(keys: Any, cut: int) -> None:
    body = _valid(keys)[:cut]
    status, _, out = call(gateway(keys), "POST", body=body)
    assert status == 400
    assert problem(out)["type"] == "about:blank"


@pytest.mark.parametrize("where", [10, 500, 1130, -1])
def test_tampered_byte_is_400(keys: Any, where: int) -> None:
    body = bytearray(_valid(keys))
    body[where] ^= 0x01
    status, _, out = call(gateway(keys), "POST", body=bytes(body))
    assert status == 400
    assert problem(out)["title"] == "encapsulated request does not decrypt"


def test_oversized_is_413(keys: Any) -> None:
    app = gateway(keys, max_request=2000)
    status, _, _ = call(app, "POST", body=_valid(keys) + b"\0" * 2000)
    assert status == 413
    status, _, _ = call(app, "POST", body=b"", extra=[(b"content-length", b"999999999")])
    assert status == 413


def test_wrong_media_type_and_method(keys: Any) -> None:
    status, _, _ = call(gateway(keys), "POST", body=_valid(keys), media="application/json")
    assert status == 415
    status, headers, _ = call(gateway(keys), "PUT", body=_valid(keys))
    assert status == 405 and headers[b"allow"] == b"GET, HEAD, POST"


def test_malformed_binary_http_is_a_sealed_400(keys: Any) -> None:
    for bad in (b"", b"\x05garbage", bhttp_request("GET", "/echo")[:-3] + b"\xff\xff\xff",
                b"\x01" + b"\x00" * 10):
        response = through(gateway(keys), keys, bad)
        assert response.status == 400
        assert json.loads(response.content)["title"] == "malformed Binary HTTP request"


def test_replay_is_refused(keys: Any) -> None:
    app = gateway(keys)
    body = _valid(keys)
    assert call(app, "POST", body=body)[0] == 200
    status, _, out = call(app, "POST", body=body)
    assert status == 400
    assert problem(out)["title"] == "replayed request"


def test_replay_refused_across_chunked_and_whole_forms(keys: Any) -> None:
    from pqml.gateway.chunked import ChunkedRequestSender

    app = gateway(keys)
    sender = ChunkedRequestSender(keys.get(1).config)
    body = sender.encapsulate([bhttp_request("GET", "/echo")])
    assert call(app, "POST", body=body, media=CHUNKED_REQUEST_MEDIA_TYPE)[0] == 200
    assert call(app, "POST", body=body, media=CHUNKED_REQUEST_MEDIA_TYPE)[0] == 400


@pytest.mark.parametrize("date", [-3600.0, 3600.0, None])
def test_bad_date_is_a_sealed_400_date_with_the_gateway_clock(keys: Any,
                                                              date: float | None) -> None:
    app = gateway(keys)
    if date is None:
        plaintext = bhttp.encode_request(bhttp.Request("GET", "https", "m", "/echo"))
    else:
        plaintext = bhttp_request("GET", "/echo", date=time.time() + date)
    response = through(app, keys, plaintext)
    assert response.status == 400
    assert json.loads(response.content)["type"] == DATE_PROBLEM_TYPE
    from pqml.gateway.replay import parse_http_date

    served = parse_http_date(dict(response.headers)[b"date"])
    assert abs(served - time.time()) < 5


def test_skewed_client_can_retry_with_the_served_date(keys: Any) -> None:
    """RFC 9458 §6.5: the client corrects its clock from the 400's Date and succeeds."""
    app = gateway(keys, replay=ReplayGuard(window=DateWindow(past=30, future=30)))
    response = through(app, keys, bhttp_request("GET", "/echo", date=time.time() - 600))
    assert response.status == 400
    corrected = dict(response.headers)[b"date"]
    retry = bhttp.encode_request(bhttp.Request("GET", "https", "m", "/echo",
                                               ((b"date", corrected),)))
    assert through(app, keys, retry).status == 200


def test_400_date_uses_the_injected_clock(keys: Any) -> None:
    """The served Date is the clock the window was checked against, not the host's: a
    gateway on a fixed (or offset) clock tells clients that time."""
    from pqml.gateway.replay import http_date, parse_http_date

    fixed = 1_700_000_000.0  # 2023-11-14, far from the host's clock
    app = gateway(keys, replay=ReplayGuard(clock=lambda: fixed))
    response = through(app, keys, bhttp_request("GET", "/echo", date=time.time()))
    assert response.status == 400
    assert dict(response.headers)[b"date"] == http_date(fixed).encode()
    assert parse_http_date(dict(response.headers)[b"date"]) == fixed
    # and a request dated by that clock is accepted
    assert through(app, keys, bhttp_request("GET", "/echo", date=fixed)).status == 200


def test_date_optional_when_configured(keys: Any) -> None:
    app = gateway(keys, replay=ReplayGuard(window=DateWindow(required=False)))
    plaintext = bhttp.encode_request(bhttp.Request("GET", "https", "m", "/echo"))
    assert through(app, keys, plaintext).status == 200


def test_replay_store_failure_is_503_not_forwarded(keys: Any) -> None:
    from pqml.gateway.replay import MemoryReplayStore

    app = gateway(keys, replay=ReplayGuard(MemoryReplayStore(max_entries=1)))
    assert call(app, "POST", body=_valid(keys))[0] == 200
    status, _, out = call(app, "POST", body=_valid(keys))
    assert status == 503
    assert problem(out)["status"] == 503


def test_unreachable_redis_is_503_never_forwarded(keys: Any) -> None:
    from gateway_support import free_port

    from pqml.gateway.replay import RedisReplayStore

    forwarded = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        forwarded.append(scope)

    store = RedisReplayStore(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    gate = OHTTPMiddleware(app, keys, replay=ReplayGuard(store))
    status, _, out = call(gate, "POST", body=_valid(keys))
    assert status == 503
    assert problem(out)["status"] == 503
    assert forwarded == []


def test_nothing_in_clear_reaches_the_log(keys: Any, caplog: pytest.LogCaptureFixture) -> None:
    app = gateway(keys)
    secret = b"patient-record-7731"
    with caplog.at_level(logging.DEBUG):
        through(app, keys, bhttp_request("POST", "/echo?who=" + secret.decode(), secret,
                                         ((b"x-secret", secret),)))
        bad = bytearray(_valid(keys))
        bad[-1] ^= 1
        call(app, "POST", body=bytes(bad))
        through(app, keys, b"\x00\x04POST" + secret)
    assert caplog.records  # the outcomes were logged…
    assert secret.decode() not in caplog.text  # …without content, path or headers
    assert "/echo" not in caplog.text


# ---- rotation --------------------------------------------------------------------------------


def settled(store: KeyStore) -> Any:
    """The store's set once a reload that is due now has run (they run on a thread)."""
    store.wait()  # one already in flight may have started before the change
    store.current()
    store.wait()
    return store.current()


def test_rotation_keeps_old_key_for_its_grace_then_422(tmp_path: Any) -> None:
    clock = [1000.0]
    directory = GatewayKeys(tmp_path / "keys")
    directory.create(now=clock[0])
    store = KeyStore(directory, reload_interval=0, clock=lambda: clock[0])
    app = OHTTPMiddleware(demo_app(), store,
                          replay=ReplayGuard(window=DateWindow(required=False)))
    old = store.current().get(1)
    assert old is not None
    directory.rotate(grace=30, now=clock[0])
    keyset = settled(store)  # reloads run off the request's path; wait for one here
    assert sorted(keyset.keys) == [1, 2]
    assert [c.key_id for c in decode_key_configs(call(app, "GET", media=None)[2])[0]] == [2, 1]
    for key_id in (1, 2):
        body, read = encapsulate(keyset.get(key_id).config,
                                 bhttp.encode_request(bhttp.Request("GET", "https", "m", "/echo")))
        assert read(call(app, "POST", body=body)[2]).status == 200
    # after the grace the old key id is unknown; the store notices without a reload
    clock[0] += 31
    body, _ = encapsulate(old.config,
                          bhttp.encode_request(bhttp.Request("GET", "https", "m", "/echo")))
    status, _, out = call(app, "POST", body=body)
    assert status == 422 and problem(out)["type"] == KEY_PROBLEM_TYPE
    assert sorted(settled(store).keys) == [2]


def test_a_broken_reload_keeps_the_last_good_keys(tmp_path: Any,
                                                  caplog: pytest.LogCaptureFixture) -> None:
    directory = GatewayKeys(tmp_path / "keys")
    directory.create()
    app = OHTTPMiddleware(demo_app(), KeyStore(directory, reload_interval=0,
                                               on_error=log_reload_failure))
    keyset = app.keys.current()
    (tmp_path / "keys" / "gateway-keys.json").write_text("{ half written")
    with caplog.at_level(logging.ERROR):
        assert app.keys.current() is keyset
        assert settled(app.keys) is keyset
    assert "reload failed" in caplog.text
    assert through(app, keyset, bhttp_request("GET", "/echo")).status == 200


def test_config_max_age_shrinks_before_a_retirement(tmp_path: Any) -> None:
    directory = GatewayKeys(tmp_path / "keys")
    directory.create()
    directory.rotate(grace=40)
    app = OHTTPMiddleware(demo_app(), directory, config_max_age=300)
    _, headers, _ = call(app, "GET", media=None)
    age = int(headers[b"cache-control"].split(b"=")[1])
    assert 15 <= age <= 20  # half the time left: a cached config never outlives its key


# ---- fuzz --------------------------------------------------------------------------------------


FUZZ_KEYS = key_set(("X-Wing", "ML-KEM-768"))
FUZZ_APP = OHTTPMiddleware(demo_app(), FUZZ_KEYS)
FUZZ_VALID = encapsulate(FUZZ_KEYS.get(1).config, bhttp_request("POST", "/echo", b"hi"))[0]


def _check_no_5xx(status: int, headers: dict[bytes, bytes], body: bytes) -> None:
    assert 200 <= status < 500, (status, body[:200])
    assert b"Traceback" not in body and b"Error" not in body
    if status >= 400:
        assert headers[b"content-type"] == b"application/problem+json"
        problem(body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.binary(max_size=3000),
       media=st.sampled_from([REQ, CHUNKED_REQUEST_MEDIA_TYPE]))
def test_fuzz_random_bodies_never_5xx(body: bytes, media: str) -> None:
    _check_no_5xx(*call(FUZZ_APP, "POST", body=body, media=media))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), media=st.sampled_from([REQ, CHUNKED_REQUEST_MEDIA_TYPE]))
def test_fuzz_mutated_requests_never_5xx(data: st.DataObject, media: str) -> None:
    body = bytearray(FUZZ_VALID)
    if media == CHUNKED_REQUEST_MEDIA_TYPE:
        from pqml.gateway.chunked import ChunkedRequestSender

        body = bytearray(ChunkedRequestSender(FUZZ_KEYS.get(2).config)
                         .encapsulate([bhttp_request("GET", "/echo")]))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["flip", "cut", "insert", "header"]))
        if op == "flip" and body:
            i = data.draw(st.integers(0, len(body) - 1))
            body[i] ^= data.draw(st.integers(1, 255))
        elif op == "cut":
            del body[data.draw(st.integers(0, len(body))):]
        elif op == "insert":
            i = data.draw(st.integers(0, len(body)))
            body[i:i] = data.draw(st.binary(min_size=1, max_size=64))
        elif op == "header" and len(body) >= 7:
            body[:7] = data.draw(st.binary(min_size=7, max_size=7))
    _check_no_5xx(*call(FUZZ_APP, "POST", body=bytes(body), media=media))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plaintext=st.binary(max_size=400))
def test_fuzz_inner_binary_http_never_5xx(plaintext: bytes) -> None:
    """Whatever decrypts, however malformed inside, is answered (sealed) without a 5xx."""
    body, read = encapsulate(FUZZ_KEYS.get(1).config, plaintext)
    status, _, out = call(FUZZ_APP, "POST", body=body)
    assert status == 200
    response = read(out)
    assert response.status < 500


def test_app_headers_are_made_valid_binary_http(keys: Any) -> None:
    """An app's odd response headers never turn a good answer into a failure: names are
    lowercased, connection-specific and malformed fields are left out."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 201, "headers": [
            (b"X-Upper", b"  kept  "), (b"connection", b"close, x-hop"), (b"x-hop", b"1"),
            (b"transfer-encoding", b"chunked"), (b"bad name", b"v"), (b"x-crlf", b"a\r\nb"),
            (b"x-nul", b"a\0b"), (b":status", b"200")]})
        await send({"type": "http.response.body", "body": b"done"})

    response = through(OHTTPMiddleware(app, keys), keys, bhttp_request("GET", "/"))
    assert response.status == 201 and response.content == b"done"
    assert response.headers == ((b"x-upper", b"kept"),)


def test_example_service_wrapped_in_process(tmp_path: Any) -> None:
    """The example service with --gateway-keys: the middleware inside the app, reached by
    the async client transport over ASGI, key configurations signed and verified."""

    import httpx

    from pqml.gateway.client import AsyncOHTTPTransport
    from pqml.keys import key_files

    from conftest import cli_run

    make_model = example_module("make_model")
    service = example_module("service")

    recipient = cli_run("keygen", "-o", tmp_path / "svc.key").stdout.strip()
    signer = key_files.generate("ML-DSA-65")
    make_model.main([str(tmp_path / "model.pqml"), recipient])
    GatewayKeys(tmp_path / "gw").create()
    app = service.create_app(tmp_path / "model.pqml", tmp_path / "svc.key",
                             gateway_keys=tmp_path / "gw", signer=signer)

    async def run() -> Any:
        transport = AsyncOHTTPTransport("http://gateway", pinned_key=signer.public_key(),
                                        transport=httpx.ASGITransport(app))
        async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
            return (await client.post("/v1/infer", json={"inputs": [[1.0] * 16]})).json()

    answer = asyncio.run(run())
    import numpy as np

    expected = make_model.predict(make_model.tensors(), np.ones((1, 16)))
    assert np.allclose(answer["scores"], expected, rtol=1e-5)
    # and nothing is reachable in clear
    status, _, _ = call(app, "GET", "/v1/model", media=None)
    assert status == 404


def test_an_internal_bug_is_a_bare_500(keys: Any, caplog: pytest.LogCaptureFixture) -> None:
    class Broken(ReplayGuard):
        async def check(self, enc: bytes, date: Any) -> None:
            raise KeyError("secret-internal-detail")

    app = gateway(keys, replay=Broken())
    with caplog.at_level(logging.DEBUG):
        status, _, out = call(app, "POST", body=_valid(keys))
    assert status == 500
    assert problem(out)["title"] == "the gateway failed to handle the request"
    assert "secret-internal-detail" not in caplog.text and b"secret" not in out

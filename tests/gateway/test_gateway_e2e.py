"""End to end on loopback, for real: the example inference service (weights decrypted into
memory from an encrypted safetensors file) under uvicorn, ``pqml gateway`` in front of it,
queries through the pqml httpx client, key rotation under a running client loop with zero
failed requests, and two gateway replicas sharing a real Redis replay cache."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from gateway_support import (
    Server,
    bhttp_request,
    example_module,
    free_port,
    pqml_argv,
    redis_server,  # noqa: F401  (fixture)
)

from pqml.formats.ohttp import KEY_PROBLEM_TYPE, decode_key_configs

from conftest import REPO, cli_run

EXAMPLE = REPO / "examples" / "inference_service"
make_model = example_module("make_model")

WELL_KNOWN = "/.well-known/ohttp-gateway"


class Deployment:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.keys = root / "gateway-keys"
        self.sign_key = root / "sign.pem"
        self.sign_pub = root / "sign.pub"
        self.model = root / "model.safetensors.pqml"
        self.service: Server | None = None
        self.gateway: Server | None = None

    def pinned(self) -> Any:
        from pqml.keys import key_files

        return key_files.load_public(self.sign_pub)

    def client(self, **options: Any) -> httpx.Client:
        from pqml.gateway.client import OHTTPTransport

        assert self.gateway is not None
        transport = OHTTPTransport(self.gateway.url, pinned_key=self.pinned(), **options)
        return httpx.Client(transport=transport, base_url="http://model.internal",
                            timeout=20)

    def configs(self) -> list[int]:
        assert self.gateway is not None
        body = httpx.get(self.gateway.url + WELL_KNOWN, trust_env=False).content
        return [c.key_id for c in decode_key_configs(body)[0]]


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployment]:
    root = tmp_path_factory.mktemp("deploy")
    d = Deployment(root)
    res = cli_run("keygen", "-o", root / "service.key")
    assert res.exit_code == 0, res.output
    recipient = res.stdout.strip()
    res = cli_run("keygen", "--alg", "ML-DSA-65", "-o", d.sign_key)
    assert res.exit_code == 0, res.output
    d.sign_pub.write_text(res.stdout)
    assert make_model.main([str(d.model), recipient]) == 0
    assert cli_run("gateway", "keygen", d.keys).exit_code == 0
    service_port, gateway_port = free_port(), free_port()
    d.service = Server([sys.executable, str(EXAMPLE / "service.py"), "--model", str(d.model),
                        "--identity", str(root / "service.key"), "--port", str(service_port)],
                       service_port, root, "service", "/v1/model")
    try:
        d.gateway = Server(pqml_argv("gateway", "--upstream", d.service.url, "--keys", d.keys,
                                     "--port", gateway_port, "--signing-key", d.sign_key,
                                     "--config-max-age", "1s"),
                           gateway_port, root, "gateway", WELL_KNOWN)
        yield d
    finally:
        for server in (d.gateway, d.service):
            if server is not None:
                server.stop()


def test_query_through_the_gateway_matches_the_model(deployment: Deployment) -> None:
    x = np.random.default_rng(1).standard_normal((3, make_model.INPUTS))
    with deployment.client() as client:
        response = client.post("/v1/infer", json={"inputs": x.tolist()})
    assert response.status_code == 200, response.text
    expected = make_model.predict(make_model.tensors(), x)
    assert np.allclose(response.json()["scores"], expected, rtol=1e-5)
    assert response.json()["labels"] == [make_model.LABELS[i] for i in expected.argmax(1)]
    assert response.extensions.get("ohttp") is True


def test_streamed_answer_through_chunked_ohttp(deployment: Deployment) -> None:
    from pqml.gateway.client import AsyncOHTTPTransport

    async def run() -> list[bytes]:
        assert deployment.gateway is not None
        transport = AsyncOHTTPTransport(deployment.gateway.url, pinned_key=deployment.pinned(),
                                        chunked=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://m") as client:
            request = client.build_request("POST", "/v1/generate",
                                           json={"inputs": [0.5] * 16, "tokens": 12})
            response = await client.send(request, stream=True)
            assert response.status_code == 200
            return [piece async for piece in response.aiter_raw()]

    pieces = asyncio.run(run())
    words = b"".join(pieces).split()
    assert len(words) == 12 and {w.decode() for w in words} <= set(make_model.LABELS)
    assert len(pieces) >= 2  # the tokens arrived as separate pieces, not one body


def test_no_plaintext_weights_on_disk(deployment: Deployment) -> None:
    weights = make_model.tensors()["linear.weight"].tobytes()
    for path in deployment.root.rglob("*"):
        if path.is_file():
            assert weights[:32] not in path.read_bytes(), path


def test_signature_is_checked_against_the_pinned_key(deployment: Deployment,
                                                     tmp_path: Path) -> None:
    from pqml.gateway.client import OHTTPTransport
    from pqml.gateway.errors import KeyConfigSignatureError
    from pqml.keys import key_files

    res = cli_run("keygen", "--alg", "ML-DSA-65", "-o", tmp_path / "other.pem")
    other = key_files.load_public(res.stdout.encode())
    assert deployment.gateway is not None
    transport = OHTTPTransport(deployment.gateway.url, pinned_key=other)
    with httpx.Client(transport=transport, base_url="http://m") as client, \
            pytest.raises(KeyConfigSignatureError):
        client.get("/v1/model")


@pytest.mark.parametrize("body,status", [(b"", 400), (b"\x01\x64\x7a\x00\x01\x00\x02", 400),
                                         (b"\x07" + bytes(2000), 422)])
def test_bad_input_over_the_wire_is_4xx(deployment: Deployment, body: bytes,
                                        status: int) -> None:
    assert deployment.gateway is not None
    response = httpx.post(deployment.gateway.url + WELL_KNOWN, content=body,
                          headers={"content-type": "message/ohttp-req"}, trust_env=False)
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert "Traceback" not in response.text


@pytest.mark.slow
def test_rotation_under_load_has_zero_failed_requests(deployment: Deployment) -> None:
    assert deployment.gateway is not None
    old_ids = deployment.configs()
    old_config = decode_key_configs(
        httpx.get(deployment.gateway.url + WELL_KNOWN, trust_env=False).content)[0][0]
    outcomes: list[int | str] = []
    stop = threading.Event()
    x = [[0.25] * 16]

    def loop() -> None:
        with deployment.client() as client:
            while not stop.is_set():
                try:
                    outcomes.append(client.post("/v1/infer", json={"inputs": x}).status_code)
                except Exception as exc:  # a failed request is what this test counts
                    outcomes.append(f"{type(exc).__name__}: {exc}")

    worker = threading.Thread(target=loop)
    worker.start()
    try:
        deadline = time.monotonic() + 30
        while len(outcomes) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        res = cli_run("gateway", "rotate", deployment.keys, "--grace", "3s")
        assert res.exit_code == 0, res.output
        while time.monotonic() < deadline:  # the gateway picks the new key up by itself
            ids = deployment.configs()
            if len(ids) == 1 and ids[0] not in old_ids:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the old key never retired")
        before = len(outcomes)
        while len(outcomes) < before + 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert cli_run("gateway", "prune", deployment.keys).exit_code == 0
    finally:
        stop.set()
        worker.join(30)
    failures = [o for o in outcomes if o != 200]
    assert failures == [], failures[:5]
    assert len(outcomes) >= 10
    # a client still holding the retired key configuration is told to refetch (422)
    from pqml.gateway.ohttp import encapsulate_request

    body, _ = encapsulate_request(old_config, bhttp_request("GET", "/v1/model"))
    response = httpx.post(deployment.gateway.url + WELL_KNOWN, content=body,
                          headers={"content-type": "message/ohttp-req"}, trust_env=False)
    assert response.status_code == 422
    assert response.json()["type"] == KEY_PROBLEM_TYPE


@pytest.mark.slow
def test_replicas_share_one_redis_replay_cache(deployment: Deployment, redis_url: str) -> None:
    from pqml.gateway.ohttp import encapsulate_request

    assert deployment.service is not None
    replicas = []
    try:
        for name in ("replica-a", "replica-b"):
            port = free_port()
            replicas.append(Server(pqml_argv("gateway", "--upstream", deployment.service.url,
                                             "--keys", deployment.keys, "--port", port,
                                             "--redis", redis_url),
                                   port, deployment.root, name, WELL_KNOWN))
        config = decode_key_configs(httpx.get(replicas[0].url + WELL_KNOWN).content)[0][0]
        body, context = encapsulate_request(config, bhttp_request("GET", "/v1/model"))
        headers = {"content-type": "message/ohttp-req"}
        first = httpx.post(replicas[0].url + WELL_KNOWN, content=body, headers=headers)
        assert first.status_code == 200
        from pqml.formats import bhttp

        assert bhttp.decode_response(context.decapsulate_response(first.content)).status == 200
        again = httpx.post(replicas[1].url + WELL_KNOWN, content=body, headers=headers)
        assert again.status_code == 400
        assert again.json()["title"] == "replayed request"
    finally:
        for server in replicas:
            server.stop()


def test_gateway_refuses_to_start_without_redis(deployment: Deployment) -> None:
    res = cli_run("gateway", "--upstream", "http://127.0.0.1:1", "--keys", deployment.keys,
                  "--redis", f"redis://127.0.0.1:{free_port()}/0")
    assert res.exit_code == 1


def test_pqml_request_command(deployment: Deployment) -> None:
    import json

    assert deployment.gateway is not None
    common = ("--gateway", deployment.gateway.url, "--config-key", deployment.sign_pub)
    x = [[1.0] * 16]
    res = cli_run("request", "http://model.internal/v1/infer", *common,
                  "-d", json.dumps({"inputs": x}), "-H", "Content-Type: application/json",
                  "-f")
    assert res.exit_code == 0, res.output
    expected = make_model.predict(make_model.tensors(), np.array(x))
    assert np.allclose(json.loads(res.stdout)["scores"], expected, rtol=1e-5)
    res = cli_run("request", "http://model.internal/v1/generate", *common, "--chunked",
                  "-d", json.dumps({"inputs": x[0], "tokens": 4}))
    assert res.exit_code == 0, res.output
    assert len(res.stdout.split()) == 4
    res = cli_run("request", "http://model.internal/v1/missing", *common, "-f")
    assert res.exit_code == 1
    assert "HTTP 404" in res.output

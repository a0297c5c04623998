"""Shared pieces of the gateway tests: a real redis-server on a free loopback port.

Not a conftest.py: a second module named conftest would shadow tests/conftest.py for
every test module that imports it. Test modules import the fixtures they use from here.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


def free_port() -> int:
    """A TCP port nothing listens on now (the kernel's choice for port 0)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for_ping(port: int, process: subprocess.Popen[bytes], deadline: float) -> bool:
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5,
                         socket_connect_timeout=0.5)
    try:
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if client.ping():
                    return True
            except redis.exceptions.ConnectionError:
                time.sleep(0.02)  # poll interval: not listening yet
        return False
    finally:
        client.close()


@pytest.fixture(scope="module", name="redis_url")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``redis://127.0.0.1:PORT/0`` of a redis-server this fixture started and stops."""
    server = shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None)
    if server is None:
        pytest.skip("redis-server is not installed (Debian: apt-get install redis-server)")
    workdir = tmp_path_factory.mktemp("redis")
    for _attempt in range(3):  # another process may take the port between pick and bind
        port = free_port()
        process = subprocess.Popen(
            [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(workdir), "--protected-mode", "yes"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if _wait_for_ping(port, process, time.monotonic() + 10):
            break
        process.kill()
        process.wait()
    else:
        pytest.fail("redis-server did not answer PING within 10 s")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# ---- a gateway and a raw OHTTP client for tests -------------------------------------------


def key_set(algorithms: tuple[str, ...] = ("X-Wing",), *, first_id: int = 1,
            signer=None):  # type: ignore[no-untyped-def]
    """A fixed key set of fresh keys (key ids first_id, first_id+1, …)."""
    from pqml.gateway.key_configs import GatewayKeyEntry, build_key_set, suites_for
    from pqml.keys import key_files

    pairs = []
    for offset, alg in enumerate(algorithms):
        entry = GatewayKeyEntry(first_id + offset, alg, suites_for(alg), f"key-{offset}.pem",
                                created=float(offset))
        pairs.append((entry, key_files.generate(alg, allow_classical=True)))
    return build_key_set(pairs, signer=signer)


def bhttp_request(method: str = "POST", path: str = "/echo", body: bytes = b"",
                  headers: tuple[tuple[bytes, bytes], ...] = (), *, date: float | None = None,
                  authority: str = "model.internal") -> bytes:
    from pqml.formats import bhttp
    from pqml.gateway.replay import http_date

    fields = list(headers)
    if date is not None or not any(n == b"date" for n, _ in fields):
        fields.append((b"date", http_date(time.time() if date is None else date).encode()))
    return bhttp.encode_request(bhttp.Request(method, "https", authority, path, tuple(fields),
                                              body))


def encapsulate(config, plaintext: bytes, *, chunked: bool = False,
                allow_legacy: bool = True):  # type: ignore[no-untyped-def]
    """(body, reader) where reader(response_body) gives the bhttp.Response."""
    from pqml.formats import bhttp

    if chunked:
        from pqml.gateway.chunked import ChunkedRequestSender

        sender = ChunkedRequestSender(config, allow_legacy=allow_legacy)
        half = len(plaintext) // 2
        body = sender.encapsulate([plaintext[:half], plaintext[half:]])

        def read_chunked(data: bytes):  # type: ignore[no-untyped-def]
            reader = sender.response_reader()
            pieces = reader.feed(data)
            pieces.append(reader.close())
            return bhttp.decode_response(b"".join(pieces))

        return body, read_chunked
    from pqml.gateway.ohttp import encapsulate_request

    body, context = encapsulate_request(config, plaintext, allow_legacy=allow_legacy)
    return body, lambda data: bhttp.decode_response(context.decapsulate_response(data))


def demo_app():  # type: ignore[no-untyped-def]
    """A Starlette app with the shapes of answer a gateway must carry."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response, StreamingResponse
    from starlette.routing import Route

    async def echo(request: Request) -> Response:
        body = await request.body()
        return Response(body, headers={"x-method": request.method,
                                       "x-path": request.url.path,
                                       "x-query": request.url.query,
                                       "x-client": str(request.client)},
                        media_type="application/octet-stream")

    async def stream(request: Request) -> StreamingResponse:
        count = int(request.query_params.get("n", "3"))

        async def tokens():  # type: ignore[no-untyped-def]
            for i in range(count):
                yield f"token{i} ".encode()

        return StreamingResponse(tokens(), media_type="text/plain")

    async def boom(request: Request) -> Response:
        raise RuntimeError("secret-internal-detail")

    async def big(request: Request) -> Response:
        return Response(b"x" * int(request.query_params["n"]))

    async def headers(request: Request) -> JSONResponse:
        return JSONResponse({k: v for k, v in request.headers.items()})

    return Starlette(routes=[Route("/echo", echo, methods=["GET", "POST", "PUT"]),
                             Route("/stream", stream, methods=["GET", "POST"]),
                             Route("/boom", boom, methods=["GET", "POST"]),
                             Route("/big", big),
                             Route("/headers", headers)])


# ---- real servers on loopback --------------------------------------------------------------


def wait_until_serving(url: str, process: subprocess.Popen[bytes], log: Path,
                       deadline_s: float = 20.0) -> None:
    """Poll ``url`` until it answers (any status) or the process dies or time runs out."""
    import httpx

    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}: {log.read_text()[-2000:]}")
        try:
            httpx.get(url, timeout=0.5, trust_env=False)
            return
        except httpx.TransportError:
            time.sleep(0.05)  # poll interval: not listening yet
    pytest.fail(f"server did not answer {url} within {deadline_s} s: {log.read_text()[-2000:]}")


class Server:
    """A subprocess serving HTTP on a loopback port; stopped (SIGTERM, then SIGKILL) at exit."""

    def __init__(self, argv: list[str], port: int, workdir: Path, name: str,
                 ready_path: str = "/") -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.log = workdir / f"{name}.log"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                            cwd=workdir)
        try:
            wait_until_serving(self.url + ready_path, self.process, self.log)
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def pqml_argv(*args: object) -> list[str]:
    import sys

    return [sys.executable, "-m", "pqml.cli.main", *map(str, args)]


def example_module(name: str):  # type: ignore[no-untyped-def]
    """``examples/inference_service/<name>.py`` as a module with a name of its own (not a
    bare ``service`` or ``make_model`` on sys.path, which other code could shadow)."""
    import importlib.util
    import sys

    qualified = f"pqml_example_inference_{name}"
    if qualified not in sys.modules:
        path = Path(__file__).resolve().parents[2] / "examples" / "inference_service" / \
            f"{name}.py"
        spec = importlib.util.spec_from_file_location(qualified, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    return sys.modules[qualified]

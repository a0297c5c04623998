"""``pqml gateway --workers N``: N forked processes on one port, for real. They answer,
share the Redis replay cache (a replay is refused whichever worker gets it), a killed
worker is replaced, SIGTERM stops all of them with status 0, and a SIGKILLed supervisor
takes its workers with it (nothing keeps holding the port)."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from gateway_support import (
    Server,
    bhttp_request,
    free_port,
    pqml_argv,
    redis_server,  # noqa: F401  (fixture)
)

from pqml.formats.ohttp import decode_key_configs

from conftest import cli_run

WELL_KNOWN = "/.well-known/ohttp-gateway"
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="reads worker pids from /proc")


def _children(pid: int) -> set[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return {int(p) for p in path.read_text().split()} if path.exists() else set()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _until(check, deadline_s: float = 20.0):  # type: ignore[no-untyped-def]
    """Poll ``check`` until it returns something true, or fail after the deadline."""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)  # poll interval: process start and exit are not signalled to us
    pytest.fail(f"not true within {deadline_s} s: {check.__doc__ or check}")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("upstream")
    (root / "hello.txt").write_bytes(b"hello from upstream\n")
    port = free_port()
    server = Server([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", str(port)],
                    port, root, "upstream", "/hello.txt")
    try:
        yield server.url
    finally:
        server.stop()


def _gateway(tmp_path: Path, upstream: str, redis_url: str, workers: int = 2) -> Server:
    keys = tmp_path / "keys"
    assert cli_run("gateway", "keygen", keys).exit_code == 0
    port = free_port()
    server = Server(pqml_argv("gateway", "--upstream", upstream, "--keys", keys,
                              "--port", port, "--workers", workers, "--redis", redis_url),
                    port, tmp_path, "gateway", WELL_KNOWN)
    _until(lambda: len(_children(server.process.pid)) == workers)
    return server


def _ask(gateway: Server) -> bytes:
    from pqml.gateway.client import OHTTPTransport

    transport = OHTTPTransport(gateway.url, allow_unsigned=True)
    with httpx.Client(transport=transport, base_url="http://upstream.internal") as client:
        response = client.get("/hello.txt")
    assert response.status_code == 200
    return response.content


def test_more_than_one_worker_needs_redis(tmp_path: Path) -> None:
    assert cli_run("gateway", "keygen", tmp_path / "keys").exit_code == 0
    res = cli_run("gateway", "--upstream", "http://127.0.0.1:1", "--keys", tmp_path / "keys",
                  "--workers", "2")
    assert res.exit_code == 2
    assert "--workers above 1 needs --redis" in res.output
    assert "Traceback" not in res.output


@pytest.mark.slow
def test_workers_answer_share_replays_and_are_replaced(tmp_path: Path, upstream: str,
                                                       redis_url: str) -> None:
    from pqml.gateway.ohttp import encapsulate_request

    gateway = _gateway(tmp_path, upstream, redis_url)
    try:
        first = _children(gateway.process.pid)
        assert len(first) == 2
        for _ in range(10):
            assert _ask(gateway) == b"hello from upstream\n"
        # one encapsulated request, sent on fresh connections: whichever worker accepts
        # each copy, the shared cache refuses every copy after the first
        config = decode_key_configs(httpx.get(gateway.url + WELL_KNOWN).content)[0][0]
        body, _ = encapsulate_request(config, bhttp_request("GET", "/hello.txt"))
        statuses = [httpx.post(gateway.url + WELL_KNOWN, content=body, trust_env=False,
                               headers={"content-type": "message/ohttp-req"}).status_code
                    for _ in range(8)]
        assert statuses == [200] + [400] * 7

        victim = min(first)
        os.kill(victim, signal.SIGKILL)

        def replaced() -> set[int]:
            """a new worker in place of the killed one"""
            now = _children(gateway.process.pid)
            return now if len(now) == 2 and victim not in now else set()

        second = _until(replaced)
        assert second - first and max(first) in second
        for _ in range(5):
            assert _ask(gateway) == b"hello from upstream\n"
        assert "exited (killed by signal 9); starting another" in gateway.log.read_text()

        gateway.process.send_signal(signal.SIGTERM)
        assert gateway.process.wait(timeout=30) == 0
        assert not any(_alive(pid) for pid in second)
    finally:
        gateway.stop()


@pytest.mark.slow
def test_killed_supervisor_takes_its_workers(tmp_path: Path, upstream: str,
                                             redis_url: str) -> None:
    gateway = _gateway(tmp_path, upstream, redis_url)
    try:
        workers = _children(gateway.process.pid)
        gateway.process.kill()
        gateway.process.wait(timeout=10)

        def all_gone() -> bool:
            """every worker exited after its supervisor was SIGKILLed"""
            return not any(_alive(pid) for pid in workers)

        _until(all_gone)
        with pytest.raises(httpx.TransportError):
            httpx.get(gateway.url + WELL_KNOWN, timeout=2, trust_env=False)
    finally:
        gateway.stop()
        for pid in workers:  # orphans of a failed test must not outlive it
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def _supervisor(worker, *, fork=None) -> int:  # type: ignore[no-untyped-def]
    """Run :func:`supervise` (2 workers) in a forked child of the test with ``worker`` in
    place of the uvicorn worker (and ``fork`` in place of ``os.fork``); its pid."""
    import socket

    from pqml.gateway import workers

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        pid = os.fork()
        if pid == 0:  # the supervisor under test, in its own process
            status = 2
            try:
                workers._worker = worker
                if fork is not None:
                    workers.os.fork = fork(workers.os.fork)
                status = workers.supervise(object(), sock, 2)
            finally:
                os._exit(status)
    return pid


def _sleeper(config: object, sock: object, parent: int, mask: object) -> None:
    """A worker that serves nothing until a signal ends it (default actions)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # type: ignore[arg-type]
    time.sleep(60)
    os._exit(0)


def _exit_code(pid: int) -> int:
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_crash_loop_stops_the_gateway() -> None:
    """Workers that die at once, every time: the supervisor gives up with status 1 instead
    of forking forever."""

    def doomed(*_: object) -> None:
        os._exit(3)

    assert _exit_code(_supervisor(doomed)) == 1


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_stop_signals_end_every_worker_with_status_0(signum: int) -> None:
    pid = _supervisor(_sleeper)
    try:
        workers = _until(lambda: _children(pid) if len(_children(pid)) == 2 else set())
        os.kill(pid, signum)
        assert _exit_code(pid) == 0
        assert not any(_alive(w) for w in workers)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_a_failed_fork_is_tried_again_not_fatal() -> None:
    def failing_once(real):  # type: ignore[no-untyped-def]
        failures = [OSError(errno.EAGAIN, "Resource temporarily unavailable")]

        def fork() -> int:
            if failures:
                raise failures.pop()
            return int(real())

        return fork

    pid = _supervisor(_sleeper, fork=failing_once)
    try:
        _until(lambda: len(_children(pid)) == 2)
        os.kill(pid, signal.SIGTERM)
        assert _exit_code(pid) == 0
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

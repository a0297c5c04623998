"""Load test of the Oblivious HTTP gateway on loopback, side by side in one run:

- ``plain``: the echo app under uvicorn, no encryption (the ceiling);
- ``pqml``: the same app behind :class:`pqml.gateway.middleware.OHTTPMiddleware`
  (X-Wing / HKDF-SHA256 / AES-256-GCM, replay checks on), queried through
  :class:`pqml.gateway.client.AsyncOHTTPTransport`;
- ``hpke-http``: the same app behind ``hpke_http``'s ASGI middleware (X25519 +
  ChaCha20-Poly1305 with a PSK, replay callback; classical), queried through its
  ``HPKEAsyncClient`` — the classical peer, if ``pip install hpke-http`` worked;
- ``pqml-raw``: the pqml gateway again, sent ``--pregen`` requests encapsulated before the
  clock starts (each distinct, so none is a replay) and not decrypting the answers: the
  gateway's own cost, without the client's share of the 2 CPUs.

Each server is one uvicorn worker in its own process. Phases per server and body size,
each ``--duration`` seconds after a warm-up, interleaved over ``--rounds`` rounds:

- *latency* (concurrency 1, the machine otherwise idle): p50/p99 as the client sees them,
  client-side encryption included. pqml minus plain is the latency the gateway *adds* to a
  request, which is what "p99 overhead" means;
- *throughput* (``--concurrency`` requests in flight): requests/s, with p50/p99 too, but
  at saturation those latencies are mostly queueing (each is about concurrency / req/s),
  so their difference measures lost throughput again, not per-request overhead;
- *wrk* (if ``wrk`` is installed: ``apt install wrk``): the servers' own capacity, loaded
  by a compiled generator (``bench/gateway_wrk.lua``, one thread) at concurrency 1 and
  ``--concurrency``. The plain app gets one 1 KiB body over and over; the gateway gets
  distinct requests sealed in advance, each sent once (replay protection stays on: a
  request sent twice would be refused and counted as an error). The Python client costs
  ~1 ms of CPU per request, far more than either server, so the phases above measure the
  client as much as the servers; this one measures the servers. ``--app-work-us`` makes the
  app spend that much CPU per request (a stand-in for a model's forward pass), to show
  where the gateway's fixed cost per request stops mattering.

The client shares the machine's CPUs with the server, so its own encryption work lowers
the measured throughput of pqml and hpke-http (``pqml-raw`` shows the gateway without it).
Bounded: every run ends by its clock.

    python bench/gateway.py [--duration 3] [--rounds 3] [--concurrency 8] [--sizes 1024,65536]
        [--phases latency,throughput,wrk] [--app-work-us 0,1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shlex
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PATH = "/.well-known/ohttp-gateway"
HPKE_PATH = "/hpke"
KINDS = ("plain", "pqml", "hpke-http", "pqml-raw")
SERVED = {"plain": "plain", "pqml": "pqml", "hpke-http": "hpke-http", "pqml-raw": "pqml"}


# ---- servers ---------------------------------------------------------------------------------


def echo_app(work_us: int = 0) -> Any:
    """The app behind every server: echoes the body, after ``work_us`` of CPU if asked."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    async def echo(request: Request) -> Response:
        body = await request.body()
        if work_us:
            until = time.thread_time() + work_us / 1e6
            while time.thread_time() < until:
                pass
        return Response(body, media_type="application/octet-stream")

    return Starlette(routes=[Route("/echo", echo, methods=["POST"])])


def hpke_material(workdir: Path) -> tuple[bytes, bytes, bytes, bytes, bytes]:
    """(private, public, key id, psk, psk id), shared by the server and the client."""
    path = workdir / "hpke-http.key"
    if not path.exists():
        import hpke_http

        pair = hpke_http.generate_key_pair()
        path.write_bytes(pair.private_key + pair.public_key + os.urandom(32))
        path.chmod(0o600)
    raw = path.read_bytes()
    return raw[:32], raw[32:64], b"bench-key", raw[64:96], b"bench-psk"


def serve(kind: str, port: int, workdir: Path, work_us: int = 0) -> None:
    import uvicorn

    app = echo_app(work_us)
    if kind == "pqml":
        from pqml.gateway.key_configs import GatewayKeys
        from pqml.gateway.middleware import OHTTPMiddleware

        app = OHTTPMiddleware(app, GatewayKeys(workdir / "pqml-keys"))
    elif kind == "hpke-http":
        from hpke_http.middleware.fastapi import HPKEMiddleware

        private, _, key_id, psk, psk_id = hpke_material(workdir)
        seen: dict[bytes, int] = {}

        def admit(replay_id: bytes, deadline: int, scope: Any) -> bool:
            now = time.time()
            for old in [k for k, d in seen.items() if d <= now][:64]:
                del seen[old]
            if replay_id in seen:
                return False
            seen[replay_id] = deadline
            return True

        def resolve(identity: bytes, scope: Any) -> bytes:
            if identity != psk_id:
                raise LookupError(identity)
            return psk

        app = HPKEMiddleware(app, private, key_id, resolve, admit, transport_path=HPKE_PATH,
                             key_use_for_s=3600,
                             expected_authority=f"127.0.0.1:{port}")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---- clients -----------------------------------------------------------------------------------


def https_to_http() -> Any:
    """hpke-http's client insists on https:// URLs; on loopback, send them as http."""
    import httpx

    class HttpsToHttp(httpx.AsyncBaseTransport):
        def __init__(self) -> None:
            self._inner = httpx.AsyncHTTPTransport()

        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            request.url = request.url.copy_with(scheme="http")
            return await self._inner.handle_async_request(request)

        async def aclose(self) -> None:
            await self._inner.aclose()

    return HttpsToHttp()


def make_client(kind: str, port: int, workdir: Path) -> tuple[Any, str]:
    import httpx

    if kind == "plain":
        return httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", trust_env=False), "/echo"
    if kind == "pqml":
        from pqml.gateway.client import AsyncOHTTPTransport

        transport = AsyncOHTTPTransport(f"http://127.0.0.1:{port}", allow_unsigned=True)
        return httpx.AsyncClient(transport=transport, base_url="http://model.internal",
                                 trust_env=False), "/echo"
    from hpke_http.middleware.httpx import HPKEAsyncClient, PinnedKey

    _, public, key_id, psk, psk_id = hpke_material(workdir)
    client = HPKEAsyncClient(PinnedKey(public, key_id), psk, psk_id,
                             endpoint=f"https://127.0.0.1:{port}{HPKE_PATH}",
                             transport=https_to_http())
    return client, f"https://127.0.0.1:{port}/echo"


def pre_encapsulated(port: int, size: int, count: int) -> list[bytes]:
    """``count`` distinct encapsulated requests (each its own enc: no replays), made before
    the clock starts, so the ``pqml-raw`` cells time the gateway alone."""
    import httpx

    from pqml.formats import bhttp
    from pqml.formats.ohttp import decode_key_configs
    from pqml.gateway.client import select_config
    from pqml.gateway.ohttp import encapsulate_request
    from pqml.gateway.replay import http_date

    keys = httpx.get(f"http://127.0.0.1:{port}{PATH}", trust_env=False).content
    config = select_config(decode_key_configs(keys)[0])
    out = []
    for i in range(count):
        if i % 500 == 0:  # a long run's last requests must still be inside the Date window
            date = http_date(time.time()).encode()
        inner = bhttp.encode_request(bhttp.Request(
            "POST", "https", "model.internal", "/echo", ((b"date", date),), os.urandom(size)))
        out.append(encapsulate_request(config, inner)[0])
    return out


async def load(kind: str, port: int, workdir: Path, size: int, duration: float,
               concurrency: int, warmup: float, pregen: int) -> dict[str, Any]:
    raw = kind == "pqml-raw"
    if raw:
        import httpx

        bodies = pre_encapsulated(port, size, pregen)
        client: Any = httpx.AsyncClient(trust_env=False)
        url = f"http://127.0.0.1:{port}{PATH}"
        warmup = 0.0
    else:
        client, url = make_client(kind, port, workdir)
    body = os.urandom(size)
    latencies: list[float] = []
    errors = 0
    completed = 0  # every answer, warm-up included: the client CPU below is over all of them
    cpu_started = time.process_time()
    started = time.perf_counter()
    measure_from = started + warmup
    stop_at = measure_from + duration
    finished = [stop_at]

    async def worker() -> None:
        nonlocal errors, completed
        while True:
            t0 = time.perf_counter()
            if t0 >= stop_at:
                return
            try:
                if raw:
                    if not bodies:
                        finished[0] = min(finished[0], t0)
                        return
                    response = await client.post(
                        url, content=bodies.pop(),
                        headers={"content-type": "message/ohttp-req"})
                    ok = response.status_code == 200 and len(response.content) > size
                else:
                    response = await client.post(url, content=body)
                    ok = response.status_code == 200 and len(response.content) == size
            except Exception:
                ok = False
            t1 = time.perf_counter()
            completed += 1
            if t0 >= measure_from:
                if ok:
                    latencies.append(t1 - t0)
                else:
                    errors += 1

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        client_cpu = time.process_time() - cpu_started
    finally:
        await client.aclose()
    latencies.sort()
    n = len(latencies)
    elapsed = min(finished[0], stop_at) - measure_from
    return {
        "kind": kind, "size": size, "requests": n, "errors": errors,
        "rps": n / elapsed,
        "p50_ms": statistics.median(latencies) * 1000 if n else float("nan"),
        "p99_ms": latencies[min(n - 1, int(n * 0.99))] * 1000 if n else float("nan"),
        # the client process's own CPU per request (process_time: the servers' and other
        # processes' load is not in it), what client-side encryption costs the 2 CPUs
        "client_us": client_cpu / completed * 1e6 if completed else float("nan"),
    }


# ---- the servers' capacity, loaded by wrk --------------------------------------------------------

WRK_SCRIPT = Path(__file__).with_name("gateway_wrk.lua")


def run_wrk(port: int, path: str, records: list[bytes], media: str, duration: float,
            concurrency: int, workdir: Path) -> dict[str, Any]:
    """One wrk run POSTing ``records`` in turn; its JSON result line (see the Lua script).
    wrk takes whole seconds."""
    assert len({len(r) for r in records}) == 1, "wrk's script needs records of one size"
    data = workdir / "wrk-records"
    data.write_bytes(b"".join(records))
    done = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--timeout", "10s",
         "-s", str(WRK_SCRIPT), f"http://127.0.0.1:{port}{path}", "--", str(data),
         str(len(records[0])), media],
        capture_output=True, text=True, timeout=duration + 60, check=True)
    line = next(x for x in done.stdout.splitlines() if x.startswith("WRK-RESULT "))
    return dict(json.loads(line.removeprefix("WRK-RESULT ")))


def wrk_cell(kind: str, port: int, size: int, duration: float, concurrency: int,
             workdir: Path) -> dict[str, Any]:
    """The server's requests/s and latency under wrk, after a 1 s warm-up. The gateway's
    requests are sealed here, before the clock, each distinct, more than wrk sends in
    ``duration`` (a run that sent more is run again with more; a shortfall left would come
    back as refused replays, counted as errors and flagged)."""
    if kind == "plain":
        path, media = "/echo", "application/octet-stream"

        def records(_: int) -> list[bytes]:
            return [os.urandom(size)]
    else:
        path, media = PATH, "message/ohttp-req"

        def records(count: int) -> list[bytes]:
            return pre_encapsulated(port, size, count)
    warm = run_wrk(port, path, records(2000), media, 1, concurrency, workdir)
    pool = max(2000, int(warm["requests"] / (warm["duration_us"] / 1e6) * duration * 1.5))
    for _ in range(3):  # a warm-up slower than the run leaves too few: seal more, run again
        sent = records(pool)
        result = run_wrk(port, path, sent, media, duration, concurrency, workdir)
        if kind == "plain" or result["requests"] <= len(sent):
            break
        pool = result["requests"] * 2
    n = result["requests"]
    errors = result["non_2xx"] + result["socket_errors"]
    return {"kind": kind, "size": size, "requests": n, "errors": errors,
            # answered requests only: a refusal (a replay, a stale Date) is cheap and
            # must not count as throughput
            "rps": (n - result["non_2xx"]) / (result["duration_us"] / 1e6),
            "p50_ms": result["p50_us"] / 1000, "p99_ms": result["p99_us"] / 1000,
            "client_us": float("nan"),
            "pool_short": kind != "plain" and n > len(sent)}


# ---- CPU cost per request, in process ------------------------------------------------------------


async def _asgi_post(app: Any, path: str, body: bytes, media: bytes) -> int:
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": path, "raw_path": path.encode(),
             "query_string": b"", "root_path": "", "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 80), "headers": [(b"content-type", media)]}
    status = 0
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app(scope, receive, send)
    return status


def cpu_costs(sizes: list[int], count: int, workdir: Path) -> list[dict[str, Any]]:
    """CPU time per request (``time.process_time``: unaffected by other processes on the
    machine) of the plain app and of the gateway middleware in front of it, with no
    network: the server's own cost, requests encapsulated beforehand."""
    from pqml.formats import bhttp
    from pqml.gateway.key_configs import GatewayKeys
    from pqml.gateway.middleware import OHTTPMiddleware
    from pqml.gateway.ohttp import encapsulate_request
    from pqml.gateway.replay import http_date

    keys = GatewayKeys(workdir / "pqml-keys")
    plain = echo_app()
    gated = OHTTPMiddleware(echo_app(), keys)
    config = gated.keys.current().configs[0]
    out = []
    for size in sizes:
        date = http_date(time.time()).encode()
        bodies = [encapsulate_request(config, bhttp.encode_request(bhttp.Request(
            "POST", "https", "m", "/echo", ((b"date", date),), os.urandom(size))))[0]
            for _ in range(count)]
        payload = os.urandom(size)

        async def run_plain(payload: bytes = payload) -> None:
            for _ in range(count):
                assert await _asgi_post(plain, "/echo", payload, b"application/octet-stream") \
                    == 200

        async def run_gated(bodies: list[bytes] = bodies) -> None:
            for body in bodies:
                assert await _asgi_post(gated, PATH, body, b"message/ohttp-req") == 200

        for name, job in (("plain", run_plain), ("pqml", run_gated)):
            t0 = time.process_time()
            asyncio.run(job())
            out.append({"kind": name, "size": size,
                        "cpu_us": (time.process_time() - t0) / count * 1e6})
    return out


# ---- driver ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes], deadline_s: float = 30) -> None:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit("server did not start")


def hpke_http_available() -> bool:
    try:
        import hpke_http.middleware.fastapi  # noqa: F401
    except ImportError:
        return False
    return True


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=8,
                        help="requests in flight in the throughput phase")
    parser.add_argument("--phases", default="latency,throughput,wrk",
                        help="latency (concurrency 1), throughput (--concurrency), wrk (the "
                        "servers alone, under wrk at both concurrencies)")
    parser.add_argument("--app-work-us", default="0",
                        help="CPU microseconds the app spends per request, a list: the wrk "
                        "phase runs once per value (the Python-client phases use the first)")
    parser.add_argument("--sizes", default="1024,65536")
    parser.add_argument("--cpu-count", type=int, default=400,
                        help="requests per cell of the in-process CPU-cost measurement")
    parser.add_argument("--pregen", type=int, default=3000,
                        help="encapsulated requests made ahead for the pqml-raw cells")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--serve", choices=sorted(set(SERVED.values())), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, Path(args.workdir), args.work)
        return 0

    sizes = [int(s) for s in args.sizes.split(",")]
    kinds = [k for k in args.kinds.split(",") if k]
    if "hpke-http" in kinds and not hpke_http_available():
        print("hpke-http is not installed (pip install hpke-http): skipping that peer",
              file=sys.stderr)
        kinds.remove("hpke-http")
    works = [int(w) for w in args.app_work_us.split(",")]
    wanted = [p for p in args.phases.split(",") if p]
    if "wrk" in wanted and not shutil.which("wrk"):
        print("wrk is not installed (apt install wrk): skipping the wrk phase", file=sys.stderr)
        wanted.remove("wrk")
    # the Python client's phases run against the first app work only; wrk against each
    needed = {(SERVED[k], works[0]) for k in kinds if wanted != ["wrk"]}
    if "wrk" in wanted:
        needed |= {(served, w) for served in ("plain", "pqml") for w in works}
    results: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="pqml-bench-gw-") as tmp:
        workdir = Path(tmp)
        from pqml.gateway.key_configs import GatewayKeys

        GatewayKeys(workdir / "pqml-keys").create()
        if "hpke-http" in kinds:
            hpke_material(workdir)
        costs = cpu_costs(sizes, args.cpu_count, workdir)
        servers: dict[tuple[str, int], tuple[int, subprocess.Popen[bytes]]] = {}
        try:
            for served, work in sorted(needed):
                port = free_port()
                servers[served, work] = (port, subprocess.Popen(
                    [sys.executable, __file__, "--serve", served, "--port", str(port),
                     "--workdir", str(workdir), "--work", str(work)]))
                wait_ready(port, servers[served, work][1])
            # rounds interleave the servers, so a burst of load from elsewhere on the
            # machine hits them alike; each cell reports its median round
            phases = {"latency": 1, "throughput": args.concurrency}
            rounds: dict[tuple[str, str, int, int], list[dict[str, Any]]] = {}

            def keep(cell: dict[str, Any], phase: str, work: int) -> None:
                cell["phase"], cell["work"] = phase, work
                rounds.setdefault((phase, cell["kind"], cell["size"], work), []).append(cell)

            for _ in range(args.rounds):
                for phase in wanted:
                    if phase == "wrk":
                        for work in works:
                            for concurrency, name in ((1, "wrk-latency"),
                                                      (args.concurrency, "wrk-throughput")):
                                for kind in ("plain", "pqml-raw"):
                                    for size in sizes:
                                        port = servers[SERVED[kind], work][0]
                                        keep(wrk_cell(kind, port, size, args.duration,
                                                      concurrency, workdir),
                                             name, work)
                        continue
                    for kind in kinds:
                        for size in sizes:
                            port = servers[SERVED[kind], works[0]][0]
                            keep(asyncio.run(load(kind, port, workdir, size, args.duration,
                                                  phases[phase], args.warmup, args.pregen)),
                                 phase, works[0])
            for (phase, _, _, _), cells in rounds.items():
                # the median round: by req/s for throughput, by p99 for latency
                cells.sort(key=lambda r: r["p99_ms"] if phase.endswith("latency") else r["rps"])
                results.append(cells[len(cells) // 2])
        finally:
            for _, process in servers.values():
                process.terminate()
                process.wait(10)
    report(results, costs, args)
    return 0


def report(results: list[dict[str, Any]], costs: list[dict[str, Any]],
           args: argparse.Namespace) -> None:
    import cryptography

    print(f"# pqml gateway load test, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"# machine: {platform.machine()} {platform.processor() or ''} "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"cryptography {cryptography.__version__}")
    print(f"# command: python {' '.join(shlex.quote(a) for a in sys.argv)}")
    print("# client us/req: CPU time of the client process per request (its encryption and "
          "HTTP; the servers run in other processes)")
    print(f"# one uvicorn worker per server, client in one process, {args.duration:g} s per "
          f"cell after {args.warmup:g} s warm-up, median of {args.rounds} interleaved rounds; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the end")
    first_work = int(args.app_work_us.split(",")[0])
    by = {(r["phase"], r["kind"], r["size"]): r for r in results if r["work"] == first_work}
    sizes = sorted({r["size"] for r in results})
    header = (f"{'server':<10} {'body':>7} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
              f"{'errors':>7} {'client us/req':>14}")

    def rows(phase: str, work: int = first_work) -> None:
        print(header)
        for r in results:
            if r["phase"] == phase and r["work"] == work:
                print(f"{r['kind']:<10} {r['size']:>7} {r['rps']:>9.0f} {r['p50_ms']:>8.2f} "
                      f"{r['p99_ms']:>8.2f} {r['errors']:>7} {r['client_us']:>14.0f}"
                      + ("  (too few sealed requests: replays refused)"
                         if r.get("pool_short") else ""))

    if any(r["phase"] == "latency" for r in results):
        print("\n## latency, concurrency 1 (unloaded): what the gateway adds to one request")
        rows("latency")
        for size in sizes:
            plain = by.get(("latency", "plain", size))
            for kind, what in (("pqml", "client encryption included"),
                               ("pqml-raw", "gateway alone, pre-encrypted requests"),
                               ("hpke-http", "the classical peer")):
                other = by.get(("latency", kind, size))
                if plain and other:
                    print(f"# {size} B: {kind} minus plain: p50 "
                          f"{other['p50_ms'] - plain['p50_ms']:+.2f} ms, p99 "
                          f"{other['p99_ms'] - plain['p99_ms']:+.2f} ms ({what})")
    if any(r["phase"] == "throughput" for r in results):
        print(f"\n## throughput, concurrency {args.concurrency} (saturated: latencies here "
              "are mostly queueing)")
        rows("throughput")
        for size in sizes:
            plain, ours, peer, raw = (by.get(("throughput", k, size)) for k in KINDS)
            if plain and ours:
                print(f"# {size} B: pqml/plain throughput {ours['rps'] / plain['rps']:.0%} "
                      f"(client encryption on the same CPUs); p99 under load "
                      f"{ours['p99_ms'] - plain['p99_ms']:+.2f} ms")
            if plain and raw:
                print(f"# {size} B: gateway alone (pre-encrypted requests)/plain throughput "
                      f"{raw['rps'] / plain['rps']:.0%}")
            if peer and ours:
                print(f"# {size} B: pqml/hpke-http throughput {ours['rps'] / peer['rps']:.0%}")
    for work in sorted({r["work"] for r in results if r["phase"].startswith("wrk")}):
        at = {(r["phase"], r["kind"], r["size"]): r for r in results if r["work"] == work}
        print(f"\n## wrk: the servers alone (app CPU per request: {work} us), concurrency 1 "
              f"and {args.concurrency}; the gateway's requests sealed in advance, each distinct")
        for phase in ("wrk-latency", "wrk-throughput"):
            rows(phase, work)
        for size in sizes:
            plain1, ours1, plain, ours = (at.get((phase, kind, size)) for phase in (
                "wrk-latency", "wrk-throughput") for kind in ("plain", "pqml-raw"))
            if plain1 and ours1:
                print(f"# {size} B, app {work} us: gateway minus plain at concurrency 1: p50 "
                      f"{ours1['p50_ms'] - plain1['p50_ms']:+.2f} ms, p99 "
                      f"{ours1['p99_ms'] - plain1['p99_ms']:+.2f} ms")
            if plain and ours:
                print(f"# {size} B, app {work} us: gateway/plain throughput "
                      f"{ours['rps'] / plain['rps']:.0%} ({1e6 / plain['rps']:.0f} -> "
                      f"{1e6 / ours['rps']:.0f} us of the server per request)")
    print("\n# server CPU time per request, in process (no network; immune to other load):")
    cpu = {(c["kind"], c["size"]): c["cpu_us"] for c in costs}
    for size in sorted({c["size"] for c in costs}):
        plain_us, ours_us = cpu[("plain", size)], cpu[("pqml", size)]
        print(f"#   {size:>6} B: plain app {plain_us:7.0f} us, behind the gateway {ours_us:7.0f} "
              f"us (+{ours_us - plain_us:.0f} us of server CPU per request; uvicorn's own HTTP "
              "cost is in neither)")


if __name__ == "__main__":
    sys.exit(main())

"""Fixtures for the distributed tests: keys, models, a real moto_server, and one real Ray
cluster shared by every test of this directory — two simulated nodes
(``ray.cluster_utils.Cluster``) of one CPU each, so every Ray test runs on more than one
node and the node ids in the results prove it. Started once (it takes most of the set's
time) and stopped once this directory's tests ran (package scope), so no later test of
the session runs beside Ray's threads or joins its cluster.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pqml
from storage import moto_server

CLUSTER_DEADLINE = 180.0
GATE_DEADLINE = 60.0


@pytest.fixture(scope="package")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """X-Wing encryption keys and ECDSA-P256 / ML-DSA-65 signing keys, as files."""
    d = tmp_path_factory.mktemp("distributed-keys")
    out: dict[str, Path] = {}
    for name, alg in (("xwing", "X-Wing"), ("p256", "ECDSA-P256"), ("ml", "ML-DSA-65")):
        sk = pqml.generate_key(alg, allow_classical=True)
        pqml.save_private_key(sk, d / f"{name}.pem")
        pqml.save_public_key(sk, d / f"{name}.pub")
        out[name], out[f"{name}.pub"] = d / f"{name}.pem", d / f"{name}.pub"
    return out


def _make_tree(root: Path, sizes: dict[str, int], seed: int = 7) -> Path:
    import random

    rng = random.Random(seed)
    for name, size in sizes.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(size))
    return root


@pytest.fixture
def make_tree() -> Any:
    """``make_tree(root, {name: size})``: a model tree of random (seeded) files."""
    return _make_tree


@pytest.fixture
def cli() -> Any:
    """``pqml ARGS`` in process (the root conftest's cli_run, which this directory's
    conftest module name hides from imports)."""
    from click.testing import CliRunner

    from pqml.cli.main import cli as main

    def run(*args: object) -> Any:
        return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)

    return run


@pytest.fixture(scope="package")
def s3_endpoint() -> Iterator[str]:
    """A real moto_server, its endpoint in the environment before Ray starts (so Ray's
    workers, which inherit it, reach the same server)."""
    pytest.importorskip("s3fs")
    with moto_server.running() as endpoint, moto_server.env(endpoint):
        yield endpoint


@pytest.fixture
def s3(s3_endpoint: str) -> Any:
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=s3_endpoint, use_listings_cache=False,
                             skip_instance_cache=True)


@pytest.fixture
def bucket(s3: Any) -> str:
    return moto_server.new_bucket(s3)


@pytest.fixture(scope="package")
def ray_cluster(s3_endpoint: str) -> Iterator[Any]:
    """Two real Ray nodes on this machine; yields ``(cluster, node ids)``. Each node has
    run one task before the tests start (both can run work). That alone does not make a
    job use both: see :func:`ray_engine_on_both_nodes`."""
    pytest.importorskip("ray")
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from ray.cluster_utils import Cluster
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    cluster = None
    try:  # inside the try: a head that failed half-way is shut down too, never left running
        cluster = Cluster(initialize_head=True,
                          head_node_args={"num_cpus": 1, "include_dashboard": False})
        cluster.add_node(num_cpus=1)
        ray.init(address=cluster.address, log_to_driver=False)
        cluster.wait_for_nodes(timeout=CLUSTER_DEADLINE)
        deadline = time.monotonic() + CLUSTER_DEADLINE
        nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
        while len(nodes) < 2 and time.monotonic() < deadline:
            nodes = [n["NodeID"] for n in ray.nodes() if n["Alive"]]
        assert len(nodes) == 2, nodes

        @ray.remote(num_cpus=1)
        def where() -> str:
            return str(ray.get_runtime_context().get_node_id())

        warm = [where.options(scheduling_strategy=NodeAffinitySchedulingStrategy(n, soft=False))
                .remote() for n in nodes]
        assert sorted(ray.get(warm, timeout=CLUSTER_DEADLINE)) == sorted(nodes)
        yield cluster, nodes
    finally:
        ray.shutdown()
        if cluster is not None:
            cluster.shutdown()


@pytest.fixture
def ray_engine(ray_cluster: Any) -> Any:
    from pqml.distributed.ray_engine import RayEngine

    engine = RayEngine(workers=2)
    yield engine
    engine.close()  # joined, not started: leaves the session's cluster running


class NodeGate:
    """A loopback server holding every part of one job (its worker's connection) until
    parts have arrived from ``want`` distinct nodes, then letting all through.

    Why: a part of a test-sized job takes milliseconds, and Ray hands an idle leased
    worker the next queued task of the same function itself, so the first node to get a
    worker can finish the whole job before the other node's lease is even granted (its
    view of the other node's CPU lags ~100 ms behind, longer under load or right after the
    fixture's warm-up task). Held at the gate, a part keeps its node's only CPU busy (a
    blocked socket read, unlike a nested ``ray.get``, releases nothing), so Ray can place
    the job's other in-flight parts only on the other node: the job uses both nodes
    whatever ran earlier, and only if the engine keeps parts in flight on both. After
    ``deadline`` seconds the gate opens anyway, so a job that never reaches a second node
    completes and fails its assertion instead of hanging."""

    def __init__(self, want: int, deadline: float = GATE_DEADLINE) -> None:
        self.nodes: set[str] = set()
        self._want = want
        self._deadline = time.monotonic() + deadline
        self._held: list[socket.socket] = []
        self._open = self._stop = False
        self._server = socket.create_server(("127.0.0.1", 0))
        self.address: tuple[str, int] = self._server.getsockname()[:2]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            left = self._deadline - time.monotonic()
            if not self._open and left <= 0:
                self._release()
            self._server.settimeout(None if self._open else max(left, 0.001))
            try:
                conn, _ = self._server.accept()
            except TimeoutError:
                continue
            if self._stop:
                conn.close()
                break
            conn.settimeout(GATE_DEADLINE)
            try:
                with conn.makefile("rb") as f:
                    node = f.readline().strip().decode()
            except OSError:  # a worker killed mid-greeting: Ray retries its part
                conn.close()
                continue
            if not node:  # a worker gone before it named its node: Ray retries its part
                conn.close()
                continue
            self.nodes.add(node)
            self._held.append(conn)
            if self._open or len(self.nodes) >= self._want:
                self._release()
        self._release()
        self._server.close()

    def _release(self) -> None:
        self._open = True
        for conn in self._held:
            with conn, contextlib.suppress(OSError):  # a worker gone: Ray retries its part
                conn.sendall(b"go")
        self._held.clear()

    def close(self) -> None:
        self._stop = True
        socket.create_connection(self.address, timeout=GATE_DEADLINE).close()  # wakes accept
        self._thread.join(GATE_DEADLINE)


def _gated(address: tuple[str, int], fn: Any) -> Any:
    """``fn``, run on a worker once it has passed the gate at ``address`` (see NodeGate).
    A plain function, as ``ray.remote`` wants."""

    def gated(task: Any) -> Any:
        import ray

        node = str(ray.get_runtime_context().get_node_id())
        with socket.create_connection(address, timeout=2 * GATE_DEADLINE) as conn:
            conn.sendall(node.encode() + b"\n")
            conn.recv(2)  # blocks, holding this node's CPU, until the gate opens
        return fn(task)

    return gated


class GatedEngine:
    """The Ray engine, each job's parts held at a fresh NodeGate (the job's results and
    report are the engine's own; only when parts may start is changed)."""

    def __init__(self, engine: Any, want: int) -> None:
        self.engine, self.want = engine, want
        self.name, self.workers, self.node = engine.name, engine.workers, engine.node

    def map_unordered(self, fn: Any, tasks: Any) -> Any:
        gate = NodeGate(self.want)
        try:
            yield from self.engine.map_unordered(_gated(gate.address, fn), tasks)
        finally:
            gate.close()


@pytest.fixture
def ray_engine_on_both_nodes(ray_cluster: Any, ray_engine: Any) -> Any:
    """``ray_engine`` whose every job waits, part by part, until parts have started on
    both nodes (see NodeGate): a job that can use both nodes always does, whatever ran
    before it in the session, and one that cannot still runs on one node only."""
    import ray

    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers get _gated
    return GatedEngine(ray_engine, want=len(ray_cluster[1]))

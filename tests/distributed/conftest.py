"""Fixtures for the distributed tests: keys, models, a real moto_server, and one real Ray
cluster shared by every test of this directory — two simulated nodes
(``ray.cluster_utils.Cluster``) of one CPU each, so every Ray test runs on more than one
node and the node ids in the results prove it. Started once (it takes most of the set's
time) and stopped once this directory's tests ran (package scope), so no later test of
the session runs beside Ray's threads or joins its cluster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pqml
from storage import moto_server

CLUSTER_DEADLINE = 180.0


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
    run one task before the tests start (its worker process is up, so the scheduler
    spreads to it at once)."""
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

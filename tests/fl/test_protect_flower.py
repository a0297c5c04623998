"""Update protection in real Flower runs: the simulation engine (Ray) and a deployment on
loopback (flower-superlink, two flower-supernode, flwr run), both running the example app
of examples/fl_app. The final model must equal, bit for bit, plain FedAvg computed here
from the same client updates; the unregistered node's updates never count."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from fl_support import EXAMPLE_APP, FlowerDeployment, make_keys, run_bounded, wait_for_file

pytest.importorskip("flwr")
pytest.importorskip("ray")


def reference_model(nodes: int, rounds: int) -> list[np.ndarray]:
    """Plain FedAvg (Flower's own aggregation function) over the example's updates."""
    from flwr.app import ArrayRecord, MetricRecord, RecordDict
    from flwr.serverapp.strategy.strategy_utils import aggregate_arrayrecords

    sys.path.insert(0, str(EXAMPLE_APP))
    from pqml_fl_example import task

    model = task.initial_model()
    for _ in range(rounds):
        contents = []
        for pid in range(nodes):
            x, y = task.make_data(pid)
            contents.append(RecordDict({
                "arrays": ArrayRecord(task.train(model, x, y, epochs=5, lr=0.5)),
                "metrics": MetricRecord({"num-examples": len(y)})}))
        model = aggregate_arrayrecords(contents, "num-examples").to_numpy_ndarrays()
    return model


def digest(model: list[np.ndarray]) -> str:
    return hashlib.sha256(b"".join(a.tobytes() for a in model)).hexdigest()


@pytest.mark.slow
def test_simulation_with_protection_and_a_rogue_node(tmp_path: Path) -> None:
    """examples/fl_app/simulate.py --rogue: Flower's run_simulation (Ray) in its own
    process, bounded; two registered nodes and one whose key is not registered."""
    out = tmp_path / "result.json"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    done = run_bounded([sys.executable, str(EXAMPLE_APP / "simulate.py"), "--rogue",
                        "--rounds", "2", "--keys", str(tmp_path / "keys"),
                        "--result-json", str(out)], timeout=120, env=env)
    assert done.returncode == 0, done.stdout.decode(errors="replace")[-4000:]
    result = json.loads(out.read_text())
    for rnd in ("1", "2"):
        for kind in ("train", "evaluate"):
            metrics = result[kind][rnd]
            assert metrics["pqml-accepted"] == 2, (kind, rnd, metrics)
            assert metrics["pqml-rejected-unregistered"] == 1, (kind, rnd, metrics)
    assert {r["reason"] for r in result["rejections"]} == {"unregistered"}
    assert len({r["node_id"] for r in result["rejections"]}) == 1
    assert result["model-sha256"] == digest(reference_model(2, 2))


@pytest.mark.slow
def test_deployment_superlink_two_supernodes_flwr_run(tmp_path: Path) -> None:
    keys = make_keys(tmp_path / "keys", nodes=2)
    configs = [f'pqml-node-key="{keys.node_keys[i]}" pqml-server-key="{keys.server_pub}" '
               f"partition-id={i}" for i in range(2)]
    result_file = tmp_path / "result.json"
    deadline = time.monotonic() + 55
    with FlowerDeployment(tmp_path / "deploy", configs, startup_timeout=30) as deployment:
        submitted = deployment.run(EXAMPLE_APP, {
            "num-server-rounds": 1, "pqml-server-key": str(keys.server_key),
            "pqml-nodes": str(keys.registry), "result-file": str(result_file)})
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        finished = wait_for_file(result_file, deadline, deployment.alive)
        assert finished, "\n".join(f"== {n}\n{deployment.log(n)}" for n in deployment.logs)
    result = json.loads(result_file.read_text())
    assert result["train"]["1"]["pqml-accepted"] == 2
    assert result["train"]["1"]["pqml-rejected"] == 0
    assert result["evaluate"]["1"]["pqml-accepted"] == 2
    assert result["model-sha256"] == digest(reference_model(2, 1))

"""Post-quantum secure aggregation in real Flower simulation runs (Ray backend).

Each run starts Flower's simulation runtime with a ServerApp whose fit workflow is
PQSecAggWorkflow and a ClientApp with pq_secagg_mod; clients that should drop out raise in
a mod placed before ours at the stage the test names (Flower reports that to the server as
a failed reply, as it would a crashed node).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("flwr")
ray = pytest.importorskip("ray")

from flwr.app import Context, Message  # noqa: E402
from flwr.client import NumPyClient  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402
from flwr.common import parameters_to_ndarrays  # noqa: E402
from flwr.compat.common import recorddict_compat as compat  # noqa: E402
from flwr.server import LegacyContext, ServerApp, ServerConfig  # noqa: E402
from flwr.server.strategy import FedAvg  # noqa: E402
from flwr.server.workflow import DefaultWorkflow  # noqa: E402
from flwr.simulation import run_simulation  # noqa: E402

from pqml.fl.errors import SecAggThresholdError  # noqa: E402
from pqml.fl.secagg_flower import RECORD, PQSecAggWorkflow, pq_secagg_mod  # noqa: E402

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])

SHAPES = [(40, 25), (25,)]
GRID = 2.0**-16  # parameters on this grid survive SecAgg+ quantisation exactly
DROP_ENV = "PQML_TEST_SECAGG_DROP"  # "stage:p1,p2" — read in the Ray workers


def update_of(partition: int) -> list[np.ndarray]:
    rng = np.random.default_rng(100 + partition)
    return [(rng.integers(-2**17, 2**17, shape) * GRID).astype(np.float32)
            for shape in SHAPES]


def examples_of(partition: int) -> int:
    return 250 * (1 + partition % 4)


class _Client(NumPyClient):
    def __init__(self, partition: int) -> None:
        self.partition = partition

    def fit(self, parameters: Any, config: Any) -> tuple[list[np.ndarray], int, dict]:
        return update_of(self.partition), examples_of(self.partition), {}


def _client_fn(context: Context) -> Any:
    return _Client(int(context.node_config["partition-id"])).to_client()


def _dropout_mod(msg: Message, ctxt: Context, call_next: Any) -> Message:
    record = msg.content.config_records.get(RECORD)
    for rule in os.environ.get(DROP_ENV, "").split(";"):
        round_, stage, partitions = [*rule.split(":"), "", ""][:3]
        if (record is not None and record.get("stage") == stage
                and msg.metadata.group_id == round_
                and str(ctxt.node_config["partition-id"]) in partitions.split(",")):
            raise ConnectionError(f"simulated dropout at {stage}")
    return call_next(msg, ctxt)


def run(nodes: int, rounds: int, workflow: PQSecAggWorkflow, drop: str = "") -> dict:
    """A Flower run of ``rounds`` rounds; returns, per round, the global arrays after it,
    the error if any and the replies the server received."""
    outcome: dict[str, Any] = {"replies": {}, "errors": {}, "arrays": {}}
    server_app = ServerApp()

    @server_app.main()
    def _main(grid: Any, context: Any) -> None:
        strategy = FedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=nodes,
                          min_available_clients=nodes,
                          initial_parameters=_zeros_parameters())
        legacy = LegacyContext(context, config=ServerConfig(num_rounds=rounds),
                               strategy=strategy)

        def fit(grid: Any, ctx: Any) -> None:
            round_ = ctx.state.config_records["config"]["current_round"]
            replies = outcome["replies"].setdefault(round_, [])
            try:
                workflow(_RecordingGrid(grid, replies), ctx)
            except Exception as error:  # the test inspects it; the run goes on
                outcome["errors"][round_] = error
            outcome["arrays"][round_] = parameters_to_ndarrays(
                compat.arrayrecord_to_parameters(ctx.state.array_records["parameters"],
                                                 keep_input=True))

        DefaultWorkflow(fit_workflow=fit)(grid, legacy)

    client_app = ClientApp(client_fn=_client_fn, mods=[_dropout_mod, pq_secagg_mod])
    os.environ[DROP_ENV] = drop
    try:
        run_simulation(server_app, client_app, num_supernodes=nodes,
                       backend_config={"client_resources": {"num_cpus": 1},
                                       # a cluster of its own: never join one an
                                       # earlier test left running (its workers would
                                       # not see this process's environment)
                                       "init_args": {"num_cpus": 2, "address": "local",
                                                     "include_dashboard": False}})
    finally:
        os.environ.pop(DROP_ENV, None)
    return outcome


def _zeros_parameters() -> Any:
    from flwr.common import ndarrays_to_parameters

    return ndarrays_to_parameters([np.zeros(s, dtype=np.float32) for s in SHAPES])


class _RecordingGrid:
    """The real grid, with every reply the workflow receives kept for inspection."""

    def __init__(self, grid: Any, replies: list) -> None:
        self._grid, self._replies = grid, replies

    def send_and_receive(self, messages: Any, timeout: Any = None) -> Any:
        replies = list(self._grid.send_and_receive(messages, timeout=timeout))
        self._replies.extend(replies)
        return replies

    def __getattr__(self, name: str) -> Any:
        return getattr(self._grid, name)


def fedavg(partitions: list[int]) -> list[np.ndarray]:
    weights = np.array([examples_of(p) for p in partitions], dtype=np.float64)
    return [sum(w * update_of(p)[i].astype(np.float64) for p, w in zip(partitions, weights,
                                                                       strict=True))
            / weights.sum() for i in range(len(SHAPES))]


@pytest.mark.slow
def test_flower_rounds_recover_a_dropout_see_only_masks_and_fail_cleanly_above_threshold():
    """One simulation (Ray starts once), three rounds: round 1 loses one of five clients
    during masking and still aggregates the four survivors exactly; round 2 loses three
    (threshold 3) and fails with the typed error, leaving the model as round 1 left it;
    round 3 runs with everyone again."""
    workflow = PQSecAggWorkflow(num_shares=5, reconstruction_threshold=3, kem="X-Wing")
    outcome = run(5, 3, workflow, drop="1:masked_input:3;2:masked_input:0,1,2")
    assert 1 not in outcome["errors"], outcome["errors"].get(1)
    for got, want in zip(outcome["arrays"][1], fedavg([0, 1, 2, 4]), strict=True):
        assert got.dtype == np.float32
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)
    masked = [r for r in outcome["replies"][1]
              if not r.has_error() and "masked" in r.content.config_records[RECORD]]
    assert len(masked) == 4
    for reply in masked:
        # The parameters never reach the server in the clear: the arrays are emptied and
        # the masked vector is uniform-looking, unlike any client's update.
        assert all(len(a) == 0 for a in reply.content.array_records.values())
        vector = np.frombuffer(reply.content.config_records[RECORD]["masked"], "<u4")
        assert abs(vector.astype(np.float64).mean() / 2**32 - 0.5) < 0.05
        for p in range(5):
            plain = np.concatenate([a.ravel() for a in update_of(p)])
            assert abs(np.corrcoef(vector[1:].astype(np.float64), plain)[0, 1]) < 0.2

    error = outcome["errors"].get(2)
    assert isinstance(error, SecAggThresholdError), error
    assert (error.round, error.survivors, error.threshold, error.sampled) == (2, 2, 3, 5)
    assert "round 2 failed after masked input: 2 of 5 clients left" in str(error)
    for after_2, after_1 in zip(outcome["arrays"][2], outcome["arrays"][1], strict=True):
        assert np.array_equal(after_2, after_1)  # no partial or unmasked sum was applied

    assert 3 not in outcome["errors"], outcome["errors"].get(3)
    for got, want in zip(outcome["arrays"][3], fedavg([0, 1, 2, 3, 4]), strict=True):
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-6)


@pytest.mark.slow
def test_deployment_superlink_three_supernodes_flwr_run(tmp_path: Path) -> None:
    """SuperLink, three SuperNodes and ``flwr run`` on loopback: a real deployment
    aggregates through PQSecAggWorkflow / pq_secagg_mod to plain FedAvg's result."""
    from fl_support import FlowerDeployment, wait_for_file

    app = Path(__file__).parent / "secagg_app"
    sys.path.insert(0, str(app))
    try:
        from pqml_secagg_app.apps import update_of as app_update
    finally:
        sys.path.remove(str(app))
    result_file = tmp_path / "result.json"
    deadline = time.monotonic() + 90
    configs = [f"partition-id={i}" for i in range(3)]
    with FlowerDeployment(tmp_path / "deploy", configs, startup_timeout=30) as deployment:
        submitted = deployment.run(app, {"num-nodes": 3, "result-file": str(result_file)})
        assert submitted.returncode == 0, submitted.stdout + submitted.stderr
        finished = wait_for_file(result_file, deadline, deployment.alive)
        assert finished, "\n".join(f"== {n}\n{deployment.log(n)}" for n in deployment.logs)
    result = json.loads(result_file.read_text())
    assert (result["survivors"], result["kem"]) == (3, "X-Wing")
    updates = [app_update(p) for p in range(3)]
    total = sum(w for _, w in updates)
    for i, got in enumerate(result["arrays"]):
        want = sum(w * a[i].astype(np.float64) for a, w in updates) / total
        np.testing.assert_allclose(np.array(got), want, rtol=0, atol=1e-6)

"""PQSecAggWorkflow and pq_secagg_mod through Flower's own message path, in process.

The real workflow and the real ClientApp (with the real mod) exchange Flower ``Message``s
serialised to protobuf and back, as the SuperLink transport does; the loopback grid only
replaces the network, so that a hostile relay can alter, replay or misdirect a message in
flight — the server is the relay in this protocol. Simulation runs with Ray are in
test_secagg_flower.py.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("flwr")

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.client import NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp
from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
from flwr.common.serde import message_from_proto, message_to_proto
from flwr.compat.common import recorddict_compat as compat
from flwr.server import LegacyContext, ServerConfig
from flwr.server.client_manager import SimpleClientManager
from flwr.server.compat.grid_client_proxy import GridClientProxy
from flwr.server.strategy import FedAvg
from flwr.server.workflow import SecAggPlusWorkflow
from flwr.serverapp.grid import Grid
from flwr.supercore.task_identity import TaskIdentity

from pqml.fl.errors import SecAggConfigError, SecAggThresholdError
from pqml.fl.secagg_flower import RECORD, PQSecAggWorkflow, pq_secagg_mod

SHAPES = [(30, 10), (10,)]
NODES = [7001, 7002, 7003, 7004, 7005]
Intercept = Callable[[Message], list[Message]]


@pytest.fixture(autouse=True)
def _server_identity():
    """Flower stamps messages with the running task's identity; a ServerApp process gets
    it from the SuperLink. Set it as one would be, and restore it afterwards."""
    saved = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 1, 1
    yield
    TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = saved


def update_of(node: int) -> tuple[list[np.ndarray], int]:
    rng = np.random.default_rng(node)
    arrays = [(rng.integers(-2**16, 2**16, s) * 2.0**-16).astype(np.float32) for s in SHAPES]
    return arrays, 250 * (1 + node % 4)


class _Client(NumPyClient):
    def __init__(self, node: int) -> None:
        self.node = node

    def fit(self, parameters: Any, config: Any) -> tuple[list[np.ndarray], int, dict]:
        arrays, examples = update_of(self.node)
        return arrays, examples, {}


class LoopbackGrid(Grid):
    def __init__(self, app: ClientApp, intercept: Intercept | None = None) -> None:
        self.app, self.intercept = app, intercept or (lambda message: [message])
        self.contexts = {n: Context(run_id=1, node_id=n, node_config={"partition-id": i},
                                    state=RecordDict(), run_config={})
                         for i, n in enumerate(NODES)}
        self.errors: list[str] = []

    def set_run(self, run: Any) -> None:
        pass

    @property
    def run(self) -> Any:
        raise NotImplementedError

    def create_message(self, content: Any, message_type: str, dst_node_id: int,
                       group_id: str, ttl: float | None = None) -> Message:
        return Message(content=content, dst_node_id=dst_node_id, message_type=message_type,
                       group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(NODES)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        raise NotImplementedError

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        raise NotImplementedError

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        replies = []
        for message in messages:
            wire = message_to_proto(message)
            wire.metadata.message_id = secrets.token_hex(32)  # as the SuperLink assigns
            for delivered in self.intercept(message_from_proto(wire)):
                node = delivered.metadata.dst_node_id
                try:
                    reply = self.app(delivered, self.contexts[node])
                except Exception as error:  # a failed ClientApp: Flower replies an error
                    self.errors.append(f"{node}: {error}")
                    continue
                replies.append(message_from_proto(message_to_proto(reply)))
        return replies


def run_round(workflow: Any, mod: Any = pq_secagg_mod, intercept: Intercept | None = None,
              nodes: list[int] = NODES, outer_mods: tuple[Any, ...] = ()
              ) -> tuple[list[np.ndarray], LoopbackGrid]:
    def client_fn(context: Context) -> Any:
        return _Client(context.node_id).to_client()

    grid = LoopbackGrid(ClientApp(client_fn=client_fn, mods=[*outer_mods, mod]), intercept)
    manager = SimpleClientManager()
    for node in nodes:
        manager.register(GridClientProxy(node_id=node, grid=grid, run_id=1))
    strategy = FedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=len(nodes),
                      min_available_clients=len(nodes))
    context = LegacyContext(Context(run_id=1, node_id=1, node_config={}, state=RecordDict(),
                                    run_config={}),
                            config=ServerConfig(num_rounds=1), strategy=strategy,
                            client_manager=manager)
    zeros = ndarrays_to_parameters([np.zeros(s, dtype=np.float32) for s in SHAPES])
    context.state.array_records["parameters"] = compat.parameters_to_arrayrecord(zeros, True)
    context.state.config_records["config"] = ConfigRecord({"current_round": 1})
    workflow(grid, context)
    return parameters_to_ndarrays(compat.arrayrecord_to_parameters(
        context.state.array_records["parameters"], keep_input=True)), grid


def fedavg(nodes: Iterable[int]) -> list[np.ndarray]:
    updates = [update_of(n) for n in nodes]
    total = sum(w for _, w in updates)
    return [sum(w * a[i].astype(np.float64) for a, w in updates) / total
            for i in range(len(SHAPES))]


def assert_close(got: list[np.ndarray], want: list[np.ndarray]) -> None:
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=0, atol=1e-6)


def stage_of(message: Message) -> Any:
    record = message.content.config_records.get(RECORD)
    return None if record is None else record.get("stage")


def test_the_aggregate_equals_fedavg_and_flowers_secagg_plus():
    ours, _ = run_round(PQSecAggWorkflow(num_shares=5, reconstruction_threshold=3))
    theirs, _ = run_round(SecAggPlusWorkflow(num_shares=5, reconstruction_threshold=3),
                          mod=secaggplus_mod)
    assert_close(ours, fedavg(NODES))
    assert_close(ours, [a.astype(np.float32) for a in theirs])


def test_a_tampered_relayed_box_is_rejected_and_its_receiver_counted_out():
    def tamper(message: Message) -> list[Message]:
        if stage_of(message) == "masked_input" and message.metadata.dst_node_id == NODES[4]:
            record = message.content.config_records[RECORD]
            boxes = list(record["share_boxs"])
            boxes[0] = boxes[0][:-1] + bytes([boxes[0][-1] ^ 1])
            record["share_boxs"] = boxes
        return [message]

    workflow = PQSecAggWorkflow(num_shares=5, reconstruction_threshold=3)
    result, grid = run_round(workflow, intercept=tamper)
    assert any("fails authentication" in e for e in grid.errors), grid.errors
    assert workflow.last_server is not None and workflow.last_server.dropped == {NODES[4]}
    assert_close(result, fedavg(NODES[:4]))


def test_a_message_for_another_round_is_rejected():
    def wrong_round(message: Message) -> list[Message]:
        if stage_of(message) == "share_keys" and message.metadata.dst_node_id == NODES[0]:
            message.content.config_records[RECORD]["round"] = 0
        return [message]

    result, grid = run_round(PQSecAggWorkflow(num_shares=5, reconstruction_threshold=3),
                             intercept=wrong_round)
    assert any("share_keys message for round 0 during round 1" in e for e in grid.errors)
    assert_close(result, fedavg(NODES[1:]))


def test_a_replayed_stage_message_is_rejected():
    def replay(message: Message) -> list[Message]:
        if stage_of(message) == "share_keys" and message.metadata.dst_node_id == NODES[2]:
            return [message, message_from_proto(message_to_proto(message))]
        return [message]

    workflow = PQSecAggWorkflow(num_shares=5, reconstruction_threshold=3)
    result, grid = run_round(workflow, intercept=replay)
    assert any("cannot share keys in stage 'share_keys'" in e for e in grid.errors)
    # The first copy was answered, so the node took part; the replay changed nothing.
    assert_close(result, fedavg(NODES))


def test_a_replayed_setup_is_rejected_and_cannot_restart_the_round():
    def replay(message: Message) -> list[Message]:
        if stage_of(message) == "setup" and message.metadata.dst_node_id == NODES[1]:
            return [message, message_from_proto(message_to_proto(message))]
        return [message]

    result, grid = run_round(PQSecAggWorkflow(num_shares=5, reconstruction_threshold=3),
                             intercept=replay)
    assert any("setup for round 1 after round 1 began" in e for e in grid.errors)
    assert_close(result, fedavg(NODES))


def test_too_many_failed_clients_raise_the_typed_error():
    def drop(message: Message) -> list[Message]:
        gone = stage_of(message) == "unmask" and message.metadata.dst_node_id in NODES[:3]
        return [] if gone else [message]

    with pytest.raises(SecAggThresholdError, match="round 1 failed after unmask: 2 of 5"):
        run_round(PQSecAggWorkflow(num_shares=5, reconstruction_threshold=3), intercept=drop)


def test_a_failed_round_can_be_skipped_leaving_the_model_unchanged():
    def drop(message: Message) -> list[Message]:
        gone = stage_of(message) == "masked_input" and message.metadata.dst_node_id in NODES[:3]
        return [] if gone else [message]

    workflow = PQSecAggWorkflow(num_shares=5, reconstruction_threshold=3,
                                abort_on_failure=False)
    result, _ = run_round(workflow, intercept=drop)
    assert all(not a.any() for a in result)  # still the initial zeros


def test_workflow_parameters_are_checked():
    with pytest.raises(SecAggConfigError, match="not a post-quantum KEM"):
        PQSecAggWorkflow(5, 3, kem="X25519")
    with pytest.raises(SecAggConfigError, match="modulus_range"):
        PQSecAggWorkflow(5, 3, quantization_range=1 << 20, modulus_range=1 << 20)
    with pytest.raises(SecAggConfigError, match="overflow"):
        PQSecAggWorkflow(5, 3, quantization_range=1 << 30).params_for(1, 5)
    params = PQSecAggWorkflow(0.5, 0.6).params_for(4, 20)
    assert (params.share_count, params.threshold, params.round) == (11, 7, 4)
    with pytest.raises(SecAggConfigError, match=r"threshold must be 2\.\.3"):
        PQSecAggWorkflow(5, 4).params_for(1, 3)  # never lowered to fit: refused


def test_both_protections_compose_sealed_signed_and_securely_aggregated(tmp_path: Path):
    """Update protection around secure aggregation: every stage's reply is sealed to the
    server's X-Wing key and signed by the node's ML-DSA key; a node whose key is not
    registered is refused and counted as a dropout, and the rest aggregate exactly."""
    from fl_support import make_keys

    from pqml.fl import ProtectUpdatesMod, UpdateVerifier

    keys = make_keys(tmp_path, nodes=5, registered=4)
    mod = ProtectUpdatesMod(
        node_key=lambda ctx: keys.node_keys[int(ctx.node_config["partition-id"])],
        server_key=keys.server_pub)
    sealed_seen: list[bool] = []

    def watch(message: Message) -> list[Message]:
        sealed_seen.append("pqml.protect" in message.content)  # the offer goes out
        return [message]

    workflow = PQSecAggWorkflow(num_shares=5, reconstruction_threshold=3,
                                protect=UpdateVerifier(keys.server_key, keys.registry))
    result, _ = run_round(workflow, outer_mods=(mod,), intercept=watch)
    assert sealed_seen and all(sealed_seen)
    assert workflow.last_server is not None
    assert NODES[4] not in workflow.last_server.keys  # unregistered: refused at setup
    assert_close(result, fedavg(NODES[:4]))

"""Post-quantum secure aggregation (pqml) versus Flower's SecAgg+, side by side in one run.

Both protocols run through their real Flower code — pqml's ``PQSecAggWorkflow`` +
``pq_secagg_mod`` and Flower 1.42's ``SecAggPlusWorkflow`` + ``secaggplus_mod`` — with the
same FedAvg strategy, the same NumPyClient (a fixed update of --params float32 values) and
the same quantisation parameters. Between them sits a loopback Grid: every message is
serialised to Flower's protobuf ``Message`` and parsed back, as the SuperLink transport
would (which also counts the bytes on the wire), and each ClientApp runs in this process,
one after the other. So the times are the protocols' compute for one round on one core
(all clients + server, sequential), free of Ray start-up and polling delays that would
dominate a simulation run and are identical for both.

Reported per (protocol, nodes): median wall seconds per round over --repeat rounds, the
clients' and the server's share of it, and bytes per client per round sent up (client to
server) and down. The aggregate of each round is checked against plain FedAvg.

Run: .venv/bin/python bench/fl_secagg.py [--nodes 5 10] [--params 100000] [--repeat 3]
     [--kem X-Wing ML-KEM-768]
Prints Markdown for docs/PERFORMANCE.md with machine, command and date.
"""

from __future__ import annotations

import argparse
import datetime
import logging
import os
import platform
import statistics
import sys
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

from flwr.app import Context, Message, RecordDict
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
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
from flwr.serverapp.grid import Grid
from flwr.supercore.task_identity import TaskIdentity

from pqml.fl.secagg_flower import PQSecAggWorkflow, pq_secagg_mod

FIRST_NODE = 1_000_001


class _Client(NumPyClient):
    def __init__(self, update: list[np.ndarray], examples: int) -> None:
        self.update, self.examples = update, examples

    def fit(self, parameters: Any, config: Any) -> tuple[list[np.ndarray], int, dict]:
        return self.update, self.examples, {}


class LoopbackGrid(Grid):
    """A Grid that delivers each message by protobuf round trip to a ClientApp in this
    process, counting bytes and client time per node."""

    def __init__(self, app: ClientApp, clients: dict[int, tuple[list[np.ndarray], int]]):
        self.app, self.clients = app, clients
        self.contexts = {node: Context(run_id=1, node_id=node, node_config={},
                                       state=RecordDict(), run_config={}) for node in clients}
        self.up = dict.fromkeys(clients, 0)
        self.down = dict.fromkeys(clients, 0)
        self.client_seconds = 0.0

    def set_run(self, run: Any) -> None:  # the workflows never ask
        pass

    @property
    def run(self) -> Any:
        raise NotImplementedError

    def create_message(self, content: RecordDict, message_type: str, dst_node_id: int,
                       group_id: str, ttl: float | None = None) -> Message:
        return Message(content=content, dst_node_id=dst_node_id, message_type=message_type,
                       group_id=group_id)

    def get_node_ids(self) -> Iterable[int]:
        return list(self.clients)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        raise NotImplementedError

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        raise NotImplementedError

    def send_and_receive(self, messages: Iterable[Message], *,
                         timeout: float | None = None) -> Iterable[Message]:
        replies = []
        for message in messages:
            node = message.metadata.dst_node_id
            wire = message_to_proto(message)
            self.down[node] += wire.ByteSize()
            start = time.perf_counter()
            reply = self.app(message_from_proto(wire), self.contexts[node])
            self.client_seconds += time.perf_counter() - start
            wire = message_to_proto(reply)
            self.up[node] += wire.ByteSize()
            replies.append(message_from_proto(wire))
        return replies


def make_app(protocol: str, update_of: Any) -> ClientApp:
    def client_fn(context: Context) -> Any:
        update, examples = update_of(context.node_id)
        return _Client(update, examples).to_client()

    return ClientApp(client_fn=client_fn,
                     mods=[pq_secagg_mod if protocol.startswith("pqml") else secaggplus_mod])


def one_round(protocol: str, kem: str, nodes: int, params: int) -> dict[str, Any]:
    shapes = [(params,)]
    rng = np.random.default_rng(nodes)
    clients = {FIRST_NODE + i: ([rng.uniform(-1, 1, s).astype(np.float32) for s in shapes],
                                100 * (1 + i % 5)) for i in range(nodes)}
    grid = LoopbackGrid(make_app(protocol, clients.__getitem__), clients)
    manager = SimpleClientManager()
    for node in clients:
        manager.register(GridClientProxy(node_id=node, grid=grid, run_id=1))
    strategy = FedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=nodes,
                      min_available_clients=nodes)
    state = Context(run_id=1, node_id=0, node_config={}, state=RecordDict(), run_config={})
    context = LegacyContext(state, config=ServerConfig(num_rounds=1), strategy=strategy,
                            client_manager=manager)
    zeros = ndarrays_to_parameters([np.zeros(s, dtype=np.float32) for s in shapes])
    context.state.array_records[MAIN_PARAMS_RECORD] = compat.parameters_to_arrayrecord(
        zeros, True)
    from flwr.app import ConfigRecord

    context.state.config_records[MAIN_CONFIGS_RECORD] = ConfigRecord({"current_round": 1})
    threshold = nodes // 2 + 1  # more than half: pqml refuses less (see secagg_protocol)
    if protocol.startswith("pqml"):
        workflow: Any = PQSecAggWorkflow(num_shares=nodes, reconstruction_threshold=threshold,
                                         kem=kem)
    else:
        workflow = SecAggPlusWorkflow(num_shares=nodes, reconstruction_threshold=threshold)
    start = time.perf_counter()
    workflow(grid, context)
    wall = time.perf_counter() - start
    result = parameters_to_ndarrays(compat.arrayrecord_to_parameters(
        context.state.array_records[MAIN_PARAMS_RECORD], keep_input=True))
    weights = np.array([w for _, w in clients.values()], dtype=np.float64)
    expected = sum(w * u[0].astype(np.float64) for u, w in clients.values()) / weights.sum()
    error = float(np.abs(result[0] - expected).max())
    assert error < 1e-3, f"{protocol} aggregate is off by {error}"
    return {"wall": wall, "client": grid.client_seconds, "server": wall - grid.client_seconds,
            "up": statistics.mean(grid.up.values()), "down": statistics.mean(grid.down.values()),
            "error": error}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[5, 10])
    parser.add_argument("--params", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kem", nargs="+", default=["X-Wing", "ML-KEM-768"])
    args = parser.parse_args()
    logging.getLogger("flwr").setLevel(logging.ERROR)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 1, 1  # as a ServerApp

    protocols = ["Flower SecAgg+ (P-384 ECDH)"] + [f"pqml ({kem})" for kem in args.kem]
    rows = []
    for nodes in args.nodes:
        runs: dict[str, list[dict[str, Any]]] = {p: [] for p in protocols}
        for _ in range(args.repeat):  # interleaved: machine load hits all alike
            for protocol in protocols:
                kem = protocol[len("pqml ("):-1] if protocol.startswith("pqml") else ""
                runs[protocol].append(one_round(protocol, kem, nodes, args.params))
        base = statistics.median(r["wall"] for r in runs[protocols[0]])
        for protocol in protocols:
            med = {k: statistics.median(r[k] for r in runs[protocol])
                   for k in ("wall", "client", "server", "up", "down", "error")}
            rows.append((nodes, protocol, med, med["wall"] / base))
        print(f"  {nodes} nodes done", file=sys.stderr, flush=True)

    print(f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python "
          f"{platform.python_version()}, {platform.system()} {platform.release()}; "
          f"flwr 1.42.0")
    print(f"Command: .venv/bin/python bench/fl_secagg.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"Date: {datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d %H:%M UTC')}")
    print(f"One round, {args.params:,} float32 parameters per client, all clients and the "
          f"server on one core, loopback protobuf transport; medians of {args.repeat}.\n")
    print("| nodes | protocol | round s | clients s | server s | vs SecAgg+ "
          "| up B/client | down B/client |")
    print("|---|---|---|---|---|---|---|---|")
    for nodes, protocol, med, ratio in rows:
        print(f"| {nodes} | {protocol} | {med['wall']:.3f} | {med['client']:.3f} | "
              f"{med['server']:.3f} | {ratio:.2f}x | {med['up']:,.0f} | {med['down']:,.0f} |")


if __name__ == "__main__":
    main()

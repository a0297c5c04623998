"""ServerApp (FedAvg through PQSecAggWorkflow) and ClientApp (pq_secagg_mod) of the
deployment test; each node's update is a fixed function of its ``partition-id`` so the
test can compute the plain FedAvg to compare with."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Context
from flwr.client import NumPyClient
from flwr.clientapp import ClientApp
from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
from flwr.compat.common import recorddict_compat as compat
from flwr.server import LegacyContext, ServerApp, ServerConfig
from flwr.server.strategy import FedAvg
from flwr.server.workflow import DefaultWorkflow

from pqml.fl.secagg_flower import PQSecAggWorkflow, pq_secagg_mod

SHAPES = [(20, 5), (5,)]


def update_of(partition: int) -> tuple[list[np.ndarray], int]:
    rng = np.random.default_rng(500 + partition)
    arrays = [(rng.integers(-2**16, 2**16, s) * 2.0**-16).astype(np.float32) for s in SHAPES]
    return arrays, 250 * (1 + partition)  # weights 1/4, 1/2, 3/4: exact on the grid


class _Client(NumPyClient):
    def __init__(self, partition: int) -> None:
        self.partition = partition

    def fit(self, parameters: Any, config: Any) -> tuple[list[np.ndarray], int, dict]:
        arrays, examples = update_of(self.partition)
        return arrays, examples, {}


def _client_fn(context: Context) -> Any:
    return _Client(int(context.node_config["partition-id"])).to_client()


client_app = ClientApp(client_fn=_client_fn, mods=[pq_secagg_mod])
server_app = ServerApp()


@server_app.main()
def _main(grid: Any, context: Context) -> None:
    cfg = context.run_config
    nodes = int(cfg["num-nodes"])
    strategy = FedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=nodes,
                      min_available_clients=nodes,
                      initial_parameters=ndarrays_to_parameters(
                          [np.zeros(s, dtype=np.float32) for s in SHAPES]))
    legacy = LegacyContext(context, config=ServerConfig(num_rounds=int(
        cfg["num-server-rounds"])), strategy=strategy)
    workflow = PQSecAggWorkflow(num_shares=int(cfg["num-shares"]),
                                reconstruction_threshold=int(cfg["threshold"]),
                                kem=str(cfg["kem"]))
    DefaultWorkflow(fit_workflow=workflow)(grid, legacy)
    arrays = parameters_to_ndarrays(compat.arrayrecord_to_parameters(
        legacy.state.array_records["parameters"], keep_input=True))
    server = workflow.last_server
    result = {"arrays": [a.tolist() for a in arrays],
              "survivors": len(server.survivors) if server else 0,
              "kem": server.params.kem if server else ""}
    if cfg.get("result-file"):
        Path(str(cfg["result-file"])).write_text(json.dumps(result))

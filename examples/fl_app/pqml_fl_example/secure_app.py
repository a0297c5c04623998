"""Both protections on: post-quantum secure aggregation *and* sealed, signed updates.

Secure aggregation plugs into Flower's legacy workflow API (``LegacyContext``,
``DefaultWorkflow``, ``client_fn`` ClientApps), as Flower's own SecAgg+ does, so this variant
uses it: the ServerApp's fit workflow is :class:`pqml.fl.PQSecAggWorkflow`, whose pairwise
secrets come from X-Wing encapsulation and whose ``protect=UpdateVerifier(...)`` checks every
reply of every stage; the ClientApp runs ``mods=[ProtectUpdatesMod(...), pq_secagg_mod]``
— the secure-aggregation mod masks the update, then the protection mod seals it to the
server's key and signs it with the node's ML-DSA key. The server only ever sees masked
vectors from registered nodes; the sum it unmasks is FedAvg's weighted mean.

Evaluation is centralised (the strategy's ``evaluate_fn`` on held-out points drawn from
every node's distribution): node-side evaluation replies would be plain metrics outside
secure aggregation.
"""

from __future__ import annotations

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

from pqml.fl import PQSecAggWorkflow, ProtectUpdatesMod, UpdateVerifier, pq_secagg_mod
from pqml_fl_example import task

LOCAL_EPOCHS = 5
LEARNING_RATE = 0.5
RESULTS: dict[str, Any] = {}


# ---- ClientApp --------------------------------------------------------------------------


class _Trainer(NumPyClient):
    def __init__(self, partition: int) -> None:
        self.partition = partition

    def fit(self, parameters: Any, config: Any) -> tuple[list[np.ndarray], int, dict]:
        x, y = task.make_data(self.partition)
        model = task.train([np.asarray(p, dtype=np.float32) for p in parameters], x, y,
                           epochs=LOCAL_EPOCHS, lr=LEARNING_RATE)
        return model, len(y), {}


def _client_fn(context: Context) -> Any:
    return _Trainer(int(context.node_config.get("partition-id", 0))).to_client()


def make_client_app(keys_dir: str | Path | None = None) -> ClientApp:
    """Node ``i`` signs with ``keys_dir/node-<i>.pem`` and pins ``keys_dir/server.pub``;
    without ``keys_dir`` the SuperNode's ``--node-config`` names both."""
    if keys_dir is None:
        protect = ProtectUpdatesMod()
    else:
        keys = Path(keys_dir)
        protect = ProtectUpdatesMod(
            node_key=lambda ctx: keys / f"node-{ctx.node_config['partition-id']}.pem",
            server_key=keys / "server.pub")
    # The first mod runs outermost: protection seals what secure aggregation produced.
    return ClientApp(client_fn=_client_fn, mods=[protect, pq_secagg_mod])


# ---- ServerApp --------------------------------------------------------------------------


def _digest(model: list[np.ndarray]) -> str:
    import hashlib

    return hashlib.sha256(b"".join(a.tobytes() for a in model)).hexdigest()


def make_server_app(*, server_key: str | Path, nodes: str | Path, num_nodes: int,
                    num_rounds: int = 3, eval_nodes: int | None = None) -> ServerApp:
    """FedAvg over ``num_nodes`` sampled nodes through PQSecAggWorkflow (every share held
    by every node, any majority rebuilds), replies verified against the registry
    ``nodes``. Results land in :data:`RESULTS`."""
    app = ServerApp()
    holdout = task.make_holdout(eval_nodes or num_nodes)

    def evaluate_fn(server_round: int, parameters: Any, config: Any
                    ) -> tuple[float, dict[str, float]]:
        loss, accuracy = task.evaluate([np.asarray(p) for p in parameters], *holdout)
        return loss, {"accuracy": accuracy}

    @app.main()
    def main(grid: Any, context: Context) -> None:
        strategy = FedAvg(fraction_fit=1.0, fraction_evaluate=0.0, min_fit_clients=num_nodes,
                          min_available_clients=num_nodes, evaluate_fn=evaluate_fn,
                          initial_parameters=ndarrays_to_parameters(task.initial_model()))
        legacy = LegacyContext(context, config=ServerConfig(num_rounds=num_rounds),
                               strategy=strategy)
        workflow = PQSecAggWorkflow(num_shares=num_nodes,
                                    reconstruction_threshold=num_nodes // 2 + 1,
                                    protect=UpdateVerifier(server_key, nodes))
        DefaultWorkflow(fit_workflow=workflow)(grid, legacy)
        model = parameters_to_ndarrays(compat.arrayrecord_to_parameters(
            legacy.state.array_records["parameters"], keep_input=True))
        accuracy = {rnd: value for rnd, value in
                    legacy.history.metrics_centralized.get("accuracy", [])}
        RESULTS.update(
            rounds=num_rounds, secagg=list(workflow.rounds), accuracy=accuracy,
            model=model, **{"model-sha256": _digest(model)})

    return app

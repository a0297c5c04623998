"""The ServerApp: FedAvg wrapped in pqml's ProtectedStrategy.

Only updates sealed to the server's key and signed by a registered node key are
aggregated; the others are logged and counted in each round's metrics (``pqml-*``).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from pqml.fl import ProtectedStrategy
from pqml_fl_example import task

RESULTS: dict[str, Any] = {}


def make_server_app(*, server_key: str | Path | None = None, nodes: str | Path | None = None,
                    num_rounds: int | None = None, inner: Any = None) -> ServerApp:
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        cfg = context.run_config
        strategy = ProtectedStrategy(
            inner if inner is not None else FedAvg(fraction_train=1.0, fraction_evaluate=1.0),
            server_key=server_key or str(cfg["pqml-server-key"]),
            nodes=nodes or str(cfg["pqml-nodes"]))
        rounds = num_rounds or int(cfg.get("num-server-rounds", 3))
        result = strategy.start(grid=grid, initial_arrays=ArrayRecord(task.initial_model()),
                                num_rounds=rounds, train_config=ConfigRecord(),
                                evaluate_config=ConfigRecord())
        model = result.arrays.to_numpy_ndarrays()
        summary = {
            "rounds": rounds,
            "model-sha256": hashlib.sha256(b"".join(a.tobytes() for a in model)).hexdigest(),
            "train": {r: dict(m) for r, m in result.train_metrics_clientapp.items()},
            "evaluate": {r: dict(m) for r, m in result.evaluate_metrics_clientapp.items()},
            "rejections": [vars(r) for r in strategy.rejections],
        }
        RESULTS.update(summary, model=model)
        if cfg.get("result-file"):
            Path(str(cfg["result-file"])).write_text(json.dumps(summary, indent=2))

    return app


app = make_server_app()

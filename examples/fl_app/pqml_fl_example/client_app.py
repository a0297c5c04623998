"""The ClientApp: local training and evaluation; pqml seals and signs every reply.

Keys: a SuperNode names its own with ``--node-config 'pqml-node-key="node.pem"
pqml-server-key="server.pub"'`` (files or keyring references); a simulation passes a keys
directory to :func:`make_client_app` and node ``i`` uses ``node-<i>.pem``.
"""

from __future__ import annotations

from pathlib import Path

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from pqml.fl import ProtectUpdatesMod
from pqml_fl_example import task


def make_client_app(keys_dir: str | Path | None = None) -> ClientApp:
    if keys_dir is None:
        mod = ProtectUpdatesMod()  # keys from the SuperNode's --node-config
    else:
        keys = Path(keys_dir)
        mod = ProtectUpdatesMod(
            node_key=lambda ctx: keys / f"node-{ctx.node_config['partition-id']}.pem",
            server_key=keys / "server.pub")
    app = ClientApp(mods=[mod])

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        x, y = task.make_data(int(context.node_config.get("partition-id", 0)))
        model = msg.content["arrays"].to_numpy_ndarrays()
        model = task.train(model, x, y,
                           epochs=int(context.run_config.get("local-epochs", 5)),
                           lr=float(context.run_config.get("learning-rate", 0.5)))
        loss, _ = task.evaluate(model, x, y)
        metrics = MetricRecord({"train-loss": loss, "num-examples": len(y)})
        return Message(RecordDict({"arrays": ArrayRecord(model), "metrics": metrics}),
                       reply_to=msg)

    @app.evaluate()
    def evaluate(msg: Message, context: Context) -> Message:
        x, y = task.make_data(int(context.node_config.get("partition-id", 0)))
        loss, accuracy = task.evaluate(msg.content["arrays"].to_numpy_ndarrays(), x, y)
        metrics = MetricRecord({"eval-loss": loss, "eval-acc": accuracy,
                                "num-examples": len(y)})
        return Message(RecordDict({"metrics": metrics}), reply_to=msg)

    return app


app = make_client_app()

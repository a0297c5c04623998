"""Cost of pqml's Flower update protection, side by side in one run with Flower's own path.

Per update, for models of 10 k and 1 M float32 parameters (40 KB and 4 MB), medians of
``--repeat`` runs, one process, one thread:

- ``flower``: Flower 1.42's own unprotected path for one reply: the ClientApp's
  RecordDict → Message → every object deflated for the wire (object ids are SHA-256
  digests) → inflated on the server → numpy arrays. The ceiling.
- ``pqml``: the same, with :class:`pqml.fl.ProtectUpdatesMod` sealing the reply on the
  client (X-Wing HPKE, AES-256-GCM, ML-DSA-65 over the header) and
  :class:`pqml.fl.UpdateVerifier` checking and decrypting it on the server.
- ``seal`` / ``open``: the protection alone on each side (goal: seal + open ≤ 35 ms per
  4 MB update on one core).
- bytes on the wire: the deflated objects Flower pushes, with and without protection.

Then (unless ``--no-simulation``) two real Flower simulations (Ray, 2 nodes, ``--rounds``
rounds, 1 M parameters, a ClientApp that does no real training: the worst case for the
ratio) — plain FedAvg and ProtectedStrategy(FedAvg) — and the wall time per round, from the
second round on (the first includes Ray's start-up): goal ≤ 10 % more with protection.

    .venv/bin/python bench/fl_protect.py [--repeat 15] [--rounds 4] [--no-simulation]
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

SIZES = (10_000, 1_000_000)


def model_of(params: int, seed: int = 1) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=params - 1000).astype(np.float32),
            rng.normal(size=1000).astype(np.float32)]


def medians_ms(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median ms of each function, run round-robin (load on a shared machine drifts: every
    function sees the same drift)."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for fn in fns.values():
        fn()  # warm-up
    for _ in range(repeat):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) * 1000 for name, t in times.items()}


class Keys:
    def __init__(self) -> None:
        from pqml.keys import key_files

        self.server = key_files.generate("X-Wing")
        self.node = key_files.generate("ML-DSA-65")


def _instruction(node_id: int = 7) -> Any:
    import secrets

    from flwr.app import ConfigRecord, Message, Metadata, RecordDict

    metadata = Metadata(run_id=1, message_id=secrets.token_hex(32), src_node_id=1,
                        dst_node_id=node_id, reply_to_message_id="", group_id="1",
                        created_at=time.time(), ttl=3600.0, message_type="train")
    return Message(metadata=metadata, content=RecordDict({"config": ConfigRecord()}))


def per_update(params: int, repeat: int, keys: Keys) -> dict[str, float]:
    from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
    from flwr.supercore.inflatable.inflatable_object import get_all_nested_objects
    from flwr.supercore.inflatable.inflatable_utils import inflate_object_from_contents

    from pqml.fl import NodeRegistry, ProtectUpdatesMod, UpdateVerifier, seal_update
    from pqml.fl import protect_records as records
    from pqml.fl.protect_strategy import ReplayCache

    model = model_of(params)
    verifier = UpdateVerifier(keys.server, NodeRegistry([keys.node.public_key()]))
    mod = ProtectUpdatesMod(node_key=keys.node, server_key=keys.server.public_key())
    context = Context(run_id=1, node_id=7, node_config={}, state=RecordDict(), run_config={})

    def client_app(msg: Message, _ctx: Any) -> Message:
        return Message(RecordDict({"arrays": ArrayRecord(model),
                                   "metrics": MetricRecord({"num-examples": 100})}),
                       reply_to=msg)

    def offered() -> Message:
        msg = _instruction()
        msg.content[records.PROTECT_RECORD] = verifier.offer(1).record()
        return msg

    def wire(msg: Message) -> tuple[str, dict[str, bytes]]:
        objects = get_all_nested_objects(msg)
        return msg.object_id, {oid: obj.deflate() for oid, obj in objects.items()}

    def receive(sent: tuple[str, dict[str, bytes]]) -> Message:
        return inflate_object_from_contents(sent[0], dict(sent[1]))  # type: ignore[return-value]

    sealed_msg = mod(offered(), context, client_app)
    received_plain = receive(wire(client_app(_instruction(), context)))
    received_sealed = receive(wire(sealed_msg))
    reply_content = client_app(_instruction(), context).content

    def flower_client() -> None:  # Flower's own client side: reply built, deflated
        wire(client_app(_instruction(), context))

    def flower_server() -> None:  # Flower's own server side: inflated, arrays read
        receive(wire(received_plain)).content["arrays"].to_numpy_ndarrays()

    def seal() -> None:  # what the mod adds on the node
        seal_update(reply_content, node_key=keys.node, server_key=keys.server.public_key(),
                    run_id=1, server_round=1, node_id=7, message_type="train",
                    reply_to=sealed_msg.metadata.reply_to_message_id)

    def open_() -> None:  # what the verifier adds on the server (a fresh replay cache)
        verifier.replays = ReplayCache(verifier.replays.window)
        verifier.open(received_sealed, 1)

    def pqml_path() -> None:  # end to end, protected
        got = receive(wire(mod(offered(), context, client_app)))
        got.content = verifier.open(got, 1)
        got.content["arrays"].to_numpy_ndarrays()

    result = medians_ms({"flower-client": flower_client, "flower-server": flower_server,
                         "seal": seal, "open": open_, "pqml": pqml_path}, repeat)
    result["wire-plain"] = float(sum(len(c) for c in wire(received_plain)[1].values()))
    result["wire-pqml"] = float(sum(len(c) for c in wire(sealed_msg)[1].values()))
    return result


# ---- a real Flower simulation, plain and protected ------------------------------------------


def simulate(protected: bool, rounds: int, params: int, keydir: Path) -> list[float]:
    """Wall time of each round of a Ray simulation (2 nodes, no real training)."""
    from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
    from flwr.serverapp.strategy import FedAvg
    from flwr.simulation import run_simulation

    from pqml.fl import ProtectedStrategy, ProtectUpdatesMod

    starts: list[float] = []

    class Timed(FedAvg):
        def configure_train(self, *args: Any, **kwargs: Any) -> Any:
            starts.append(time.perf_counter())
            return super().configure_train(*args, **kwargs)

    mods = [ProtectUpdatesMod(
        node_key=lambda ctx: keydir / f"node-{ctx.node_config['partition-id']}.pem",
        server_key=keydir / "server.pub")] if protected else []
    client = ClientApp(mods=mods)

    @client.train()
    def train(msg: Message, context: Context) -> Message:
        pid = int(context.node_config["partition-id"])
        arrays = [a + np.float32(0.001 * (pid + 1))
                  for a in msg.content["arrays"].to_numpy_ndarrays()]
        return Message(RecordDict({"arrays": ArrayRecord(arrays),
                                   "metrics": MetricRecord({"num-examples": 100})}),
                       reply_to=msg)

    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        inner = Timed(fraction_evaluate=0.0)
        strategy = ProtectedStrategy(inner, server_key=keydir / "server.pem",
                                     nodes=keydir / "nodes") if protected else inner
        strategy.start(grid=grid, initial_arrays=ArrayRecord(model_of(params)),
                       num_rounds=rounds)
        starts.append(time.perf_counter())

    run_simulation(server_app=server, client_app=client, num_supernodes=2,
                   backend_config={"client_resources": {"num_cpus": 1},
                                   # a cluster of its own, never one found running
                                   "init_args": {"num_cpus": 2, "address": "local",
                                                 "include_dashboard": False}})
    return [b - a for a, b in itertools.pairwise(starts)]


def make_keydir(keydir: Path) -> None:
    from pqml.keys import key_files

    (keydir / "nodes").mkdir(parents=True)
    server = key_files.generate("X-Wing")
    key_files.save_private(server, keydir / "server.pem")
    key_files.save_public(server, keydir / "server.pub")
    for i in range(2):
        node = key_files.generate("ML-DSA-65")
        key_files.save_private(node, keydir / f"node-{i}.pem")
        key_files.save_public(node, keydir / "nodes" / f"node-{i}.pub")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--no-simulation", action="store_true")
    args = parser.parse_args()
    import flwr

    print(f"# pqml FL update protection vs Flower {flwr.__version__} — "
          f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    print(f"# machine: {platform.machine()} {platform.processor() or ''} "
          f"{os.cpu_count()} CPUs, Python {platform.python_version()}")
    print(f"# command: {shlex.join([sys.executable, *sys.argv])}")
    print("# ms per update (medians): flower = Flower's own client+server path; seal/open =")
    print("# what the protection adds on the node / server; share = (seal+open) / total;")
    print("# pqml e2e = the whole protected path; bytes on the wire with and without")
    keys = Keys()
    print(f"{'params':>9} {'flower':>8} {'seal':>6} {'open':>6} {'share':>6} "
          f"{'pqml e2e':>9} {'wire plain':>11} {'wire pqml':>10} {'extra':>6}")
    for params in SIZES:
        r = per_update(params, args.repeat, keys)
        flower = r["flower-client"] + r["flower-server"]
        added = r["seal"] + r["open"]
        print(f"{params:>9} {flower:>8.2f} {r['seal']:>6.2f} {r['open']:>6.2f} "
              f"{100 * added / (flower + added):>5.1f}% {r['pqml']:>9.2f} "
              f"{int(r['wire-plain']):>11} {int(r['wire-pqml']):>10} "
              f"{int(r['wire-pqml'] - r['wire-plain']):>+6}")
    if args.no_simulation:
        return 0
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    with tempfile.TemporaryDirectory() as tmp:
        make_keydir(Path(tmp) / "keys")
        plain = simulate(False, args.rounds, SIZES[-1], Path(tmp) / "keys")
        protected = simulate(True, args.rounds, SIZES[-1], Path(tmp) / "keys")
    p, q = statistics.median(plain[1:]), statistics.median(protected[1:])
    print(f"# Flower simulation, 2 nodes, {SIZES[-1]} params, rounds 2..{args.rounds} "
          f"(median round wall time)")
    print(f"plain FedAvg {p * 1000:.0f} ms/round, ProtectedStrategy {q * 1000:.0f} ms/round, "
          f"protection {100 * (q - p) / p:+.1f} % of a round")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The example app with both protections on (examples/fl_app/simulate.py --secure): Flower's
simulation engine (Ray) in its own process group, bounded, three registered nodes and one
whose key is not registered. The model must learn, every round must come through
post-quantum secure aggregation of exactly the registered nodes' sealed, signed updates,
and each round must be on the transparency log."""

from __future__ import annotations

import itertools
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from fl_support import EXAMPLE_APP, run_bounded

pytest.importorskip("flwr")
pytest.importorskip("ray")

NODES, ROUNDS = 3, 3


def plain_fedavg(nodes: int, rounds: int) -> list[np.ndarray]:
    """FedAvg of the registered nodes' local training, computed here in float64."""
    sys.path.insert(0, str(EXAMPLE_APP))
    try:
        from pqml_fl_example import secure_app, task
    finally:
        sys.path.remove(str(EXAMPLE_APP))
    model = task.initial_model()
    for _ in range(rounds):
        updates = []
        for pid in range(nodes):
            x, y = task.make_data(pid)
            updates.append((task.train(model, x, y, epochs=secure_app.LOCAL_EPOCHS,
                                       lr=secure_app.LEARNING_RATE), len(y)))
        total = sum(n for _, n in updates)
        model = [(sum(n * u[i].astype(np.float64) for u, n in updates) / total
                  ).astype(np.float32) for i in range(len(model))]
    return model


@pytest.mark.slow
def test_secure_example_learns_through_pq_secure_aggregation_of_protected_updates(
        tmp_path: Path) -> None:
    from pqml.fl.protect_keys import key_id, load_server_private_key, load_signing_key
    from pqml.log.store import LogStore, default_directory

    out, keys = tmp_path / "result.json", tmp_path / "keys"
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")  # $PQML_HOME: this test's own
    done = run_bounded([sys.executable, str(EXAMPLE_APP / "simulate.py"), "--secure",
                        "--rogue", "--nodes", str(NODES), "--rounds", str(ROUNDS),
                        "--keys", str(keys), "--result-json", str(out)], timeout=85, env=env)
    text = done.stdout.decode(errors="replace")
    assert done.returncode == 0, text[-4000:]
    result = json.loads(out.read_text())

    accuracy = [result["accuracy"][str(r)] for r in range(ROUNDS + 1)]
    assert all(later > earlier for earlier, later in itertools.pairwise(accuracy)), accuracy
    assert accuracy[-1] > 0.85 and accuracy[-1] - accuracy[0] > 0.25, accuracy
    assert [facts["round"] for facts in result["secagg"]] == list(range(1, ROUNDS + 1))
    for facts in result["secagg"]:
        # the unregistered node is refused by the protection and counts as a dropout
        assert facts == {"round": facts["round"], "protocol": "secagg", "kem": "X-Wing",
                         "sampled": NODES + 1, "survivors": NODES, "dropped": 1,
                         "threshold": (NODES + 1) // 2 + 1, "protected": True,
                         "accepted": NODES, "rejected": 1}, facts
        assert (f"round {facts['round']}: accuracy {accuracy[facts['round']]:.3f}  secure "
                f"aggregation (X-Wing) of {NODES} of {NODES + 1} nodes") in text

    # The unmasked aggregate is the registered nodes' FedAvg (up to SecAgg quantisation);
    # the rogue node's update never entered it.
    for got, want in zip(result["model"], plain_fedavg(NODES, ROUNDS), strict=True):
        np.testing.assert_allclose(np.array(got, dtype=np.float32), want, rtol=0, atol=1e-3)

    entries = [e for _, e in LogStore(default_directory()).entries()]
    server_id = key_id(load_server_private_key(keys / "server.pem"))
    node_ids = sorted(key_id(load_signing_key(keys / f"node-{i}.pem").public_key())
                      for i in range(NODES))
    assert [(e.operation, e.outcome, e.details["round"]) for e in entries] == [
        ("fl.round", "ok", r) for r in range(1, ROUNDS + 1)]
    assert all(e.key_ids == (server_id, *node_ids) for e in entries)

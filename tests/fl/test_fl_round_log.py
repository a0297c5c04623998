"""Every aggregated federated-learning round leaves an ``fl.round`` entry in the
transparency log of ``$PQML_HOME``: who took part (the server's key id and the verified
node key ids), what was accepted and rejected, and whether the round succeeded — from
ProtectedStrategy (update protection) and from PQSecAggWorkflow (secure aggregation)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from fl_support import FLKeys, instruction, make_keys, reply

pytest.importorskip("flwr")

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.serverapp.strategy import FedAvg
from test_secagg_loopback import NODES, _server_identity, run_round  # noqa: F401

from pqml.fl import PQSecAggWorkflow, ProtectedStrategy, ProtectUpdatesMod, UpdateVerifier
from pqml.fl import protect_records as records
from pqml.fl.errors import SecAggThresholdError
from pqml.fl.protect_keys import key_id, load_signing_key
from pqml.log.entry import LogEntry
from pqml.log.store import LogStore, default_directory


def logged() -> list[LogEntry]:
    directory = default_directory()
    if not directory.exists():
        return []
    return [entry for _, entry in LogStore(directory).entries()]


def node_id_of(keys: FLKeys, i: int) -> str:
    return key_id(load_signing_key(keys.node_keys[i]).public_key())


def train_reply(strategy: ProtectedStrategy, keys: FLKeys | None, i: int,
                server_round: int = 1) -> Message:
    """Node ``i``'s train reply: sealed and signed with its key, or plain if ``keys`` is
    None."""
    content = RecordDict({"arrays": ArrayRecord([np.zeros(4, np.float32)]),
                          "config": ConfigRecord()})
    content[records.PROTECT_RECORD] = strategy.verifier.offer(server_round).record()
    msg = instruction(content, node_id=100 + i, group_id=str(server_round))

    def app(msg: Message, ctx: Context) -> Message:
        return reply(msg, RecordDict({
            "arrays": ArrayRecord([np.full(4, i + 1, np.float32)]),
            "metrics": MetricRecord({"num-examples": 10})}))

    ctx = Context(run_id=42, node_id=100 + i, node_config={}, state=RecordDict(),
                  run_config={})
    if keys is None:
        del msg.content[records.PROTECT_RECORD]
        return app(msg, ctx)
    mod = ProtectUpdatesMod(node_key=keys.node_keys[i], server_key=keys.server_pub)
    return mod(msg, ctx, app)


@pytest.fixture(name="keys")
def fixture_keys(tmp_path: Path) -> FLKeys:
    return make_keys(tmp_path / "keys", nodes=3)


def test_protected_round_is_logged_with_its_keys_and_counts(keys: FLKeys) -> None:
    strategy = ProtectedStrategy(FedAvg(), server_key=keys.server_key, nodes=keys.registry)
    replies = [train_reply(strategy, keys, 0), train_reply(strategy, keys, 1),
               train_reply(strategy, None, 2)]  # unsigned: rejected
    arrays, _ = strategy.aggregate_train(1, replies)
    assert arrays is not None
    [entry] = logged()
    assert (entry.operation, entry.outcome) == ("fl.round", "ok")
    assert entry.key_ids == (strategy.verifier.server_key_id,
                             *sorted([node_id_of(keys, 0), node_id_of(keys, 1)]))
    assert node_id_of(keys, 2) not in entry.key_ids
    assert dict(entry.details) == {"round": 1, "protocol": "protect", "kem": "X-Wing",
                                   "accepted": 2, "rejected": 1, "rejected-unsigned": 1}


def test_round_with_nothing_accepted_is_logged_as_failed(keys: FLKeys) -> None:
    strategy = ProtectedStrategy(FedAvg(), server_key=keys.server_key, nodes=keys.registry)
    arrays, _ = strategy.aggregate_train(3, [train_reply(strategy, None, 0)])
    assert arrays is None
    [entry] = logged()
    assert entry.outcome == "failed"
    assert entry.key_ids == (strategy.verifier.server_key_id,)
    assert (entry.details["round"], entry.details["accepted"],
            entry.details["rejected"]) == (3, 0, 1)


def test_no_entry_when_logging_is_off(keys: FLKeys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PQML_LOG", "off")
    strategy = ProtectedStrategy(FedAvg(), server_key=keys.server_key, nodes=keys.registry)
    arrays, _ = strategy.aggregate_train(1, [train_reply(strategy, keys, 0)])
    assert arrays is not None  # the round itself is unaffected
    assert logged() == []


def test_an_unwritable_log_warns_and_the_round_stands(
        keys: FLKeys, caplog: pytest.LogCaptureFixture) -> None:
    default_directory().parent.mkdir(parents=True, exist_ok=True)
    default_directory().write_text("not a log directory")
    strategy = ProtectedStrategy(FedAvg(), server_key=keys.server_key, nodes=keys.registry)
    arrays, metrics = strategy.aggregate_train(1, [train_reply(strategy, keys, 0)])
    assert arrays is not None and metrics["pqml-accepted"] == 1
    assert any("not logged" in r.getMessage() for r in caplog.records)


def test_secure_aggregation_rounds_are_logged(tmp_path: Path) -> None:
    """A protected secure-aggregation round (one node unregistered, refused) logs "ok"
    with the survivors; a round that loses more nodes than the threshold logs "failed"."""
    keys = make_keys(tmp_path, nodes=5, registered=4)
    mod = ProtectUpdatesMod(
        node_key=lambda ctx: keys.node_keys[int(ctx.node_config["partition-id"])],
        server_key=keys.server_pub)
    verifier = UpdateVerifier(keys.server_key, keys.registry)
    run_round(PQSecAggWorkflow(num_shares=5, reconstruction_threshold=3, protect=verifier),
              outer_mods=(mod,))
    [entry] = logged()
    assert (entry.operation, entry.outcome) == ("fl.round", "ok")
    assert entry.key_ids == (verifier.server_key_id,
                             *sorted(node_id_of(keys, i) for i in range(4)))
    details = dict(entry.details)
    assert details == {"round": 1, "protocol": "secagg", "kem": "X-Wing", "sampled": 5,
                       "survivors": 4, "dropped": 1, "threshold": 3, "protected": True,
                       "accepted": 4, "rejected": 1}

    def drop(message: Message) -> list[Message]:
        stage = message.content.config_records.get("pqml.secagg", {}).get("stage")
        return [] if stage == "masked_input" and message.metadata.dst_node_id in NODES[:3] \
            else [message]

    with pytest.raises(SecAggThresholdError):
        run_round(PQSecAggWorkflow(num_shares=5, reconstruction_threshold=3), intercept=drop)
    failed = logged()[-1]
    assert (failed.outcome, failed.key_ids) == ("failed", ())
    assert failed.details["reason"] == "SecAggThresholdError"
    assert (failed.details["protocol"], failed.details["protected"]) == ("secagg", False)

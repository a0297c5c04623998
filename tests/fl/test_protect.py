"""Update protection: the client Mod seals and signs, ProtectedStrategy verifies, decrypts
and aggregates, with real Flower Message/record objects and Flower's own FedAvg. Every
failure mode is rejected on the side that can act, reported, and never aggregated."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fl_support import FLKeys, copy_reply, instruction, make_keys, reply

from pqml.fl import (
    FLKeyError,
    NodeRegistry,
    ProtectedStrategy,
    ProtectUpdatesMod,
    UpdateRejectedError,
    UpdateVerifier,
    seal_update,
)
from pqml.fl import protect_records as records
from pqml.keys import key_files

pytest.importorskip("flwr")

from flwr.app import (
    ArrayRecord,
    ConfigRecord,
    Context,
    Message,
    MetricRecord,
    RecordDict,
)
from flwr.serverapp.strategy import FedAvg

PARAMS = 10_000


@pytest.fixture(name="keys")
def fixture_keys(tmp_path: Path) -> FLKeys:
    return make_keys(tmp_path / "keys", nodes=3)


def context(node_id: int = 7, **node_config: Any) -> Context:
    return Context(run_id=42, node_id=node_id, node_config=node_config, state=RecordDict(),
                   run_config={})


def update(seed: int, size: int = PARAMS) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.normal(size=size).astype(np.float32), rng.normal(size=10).astype(np.float32)]


def train_app(seed: int, examples: int) -> Any:
    """A ClientApp's train function: a fixed update per node, weighted by ``examples``."""
    def app(msg: Message, ctx: Context) -> Message:
        assert records.PROTECT_RECORD not in msg.content  # the mod hid the offer
        content = RecordDict({"arrays": ArrayRecord(update(seed)),
                              "metrics": MetricRecord({"num-examples": examples,
                                                       "loss": 0.1 * seed})})
        return reply(msg, content)
    return app


def offered_instruction(strategy: ProtectedStrategy, server_round: int = 1, *,
                        node_id: int = 7, message_type: str = "train") -> Message:
    content = RecordDict({"arrays": ArrayRecord(update(99, 16)), "config": ConfigRecord()})
    content[records.PROTECT_RECORD] = strategy.verifier.offer(server_round).record()
    return instruction(content, node_id=node_id, message_type=message_type,
                       group_id=str(server_round))


def protected_reply(strategy: ProtectedStrategy, keys: FLKeys, i: int, server_round: int = 1,
                    *, examples: int = 10, node_key: Any = None) -> Message:
    mod = ProtectUpdatesMod(node_key=node_key or keys.node_keys[i], server_key=keys.server_pub)
    msg = offered_instruction(strategy, server_round, node_id=100 + i)
    return mod(msg, context(100 + i), train_app(i, examples * (i + 1)))


def plain_reply(i: int, examples: int = 10, node_id: int | None = None) -> Message:
    msg = instruction(RecordDict({"config": ConfigRecord()}), node_id=node_id or 100 + i)
    return train_app(i, examples * (i + 1))(msg, context())


def wrapped(keys: FLKeys, **kwargs: Any) -> ProtectedStrategy:
    return ProtectedStrategy(FedAvg(), server_key=keys.server_key, nodes=keys.registry,
                             **kwargs)


def array_bytes(record: ArrayRecord) -> list[bytes]:
    return [a.tobytes() for a in record.to_numpy_ndarrays()]


# ---- the happy path ------------------------------------------------------------------------


def test_sealed_reply_carries_only_ciphertext_and_signature(keys: FLKeys) -> None:
    strategy = wrapped(keys)
    sealed = protected_reply(strategy, keys, 0)
    assert set(sealed.content.keys()) == {records.SEALED_RECORD, records.PROTECT_RECORD}
    ciphertext = sealed.content[records.SEALED_RECORD][records.SEALED_ARRAY].data
    assert update(0)[0].tobytes()[:64] not in ciphertext
    header = json.loads(sealed.content[records.PROTECT_RECORD]["header"])
    assert header["kem"] == "X-Wing" and header["sig"] == "ML-DSA-65"
    assert header["node"] == 100 and header["round"] == 1 and header["run"] == 42
    assert header["reply_to"] == sealed.metadata.reply_to_message_id


def test_opened_reply_equals_the_clientapp_reply_exactly(keys: FLKeys) -> None:
    strategy = wrapped(keys)
    sealed = protected_reply(strategy, keys, 1)
    [opened], report = strategy.open_replies(1, [sealed], "train")
    assert report.accepted == 1 and not report.rejected
    expected = plain_reply(1)
    assert records.encode_content(opened.content) == records.encode_content(expected.content)


def test_aggregate_equals_plain_fedavg_bit_for_bit(keys: FLKeys) -> None:
    plain_arrays, plain_metrics = FedAvg().aggregate_train(1, [plain_reply(i) for i in range(3)])
    strategy = wrapped(keys)
    arrays, metrics = strategy.aggregate_train(
        1, [protected_reply(strategy, keys, i) for i in range(3)])
    assert arrays is not None and plain_arrays is not None and plain_metrics is not None
    assert array_bytes(arrays) == array_bytes(plain_arrays)
    assert metrics is not None
    assert metrics["pqml-accepted"] == 3 and metrics["pqml-rejected"] == 0
    assert {k: v for k, v in metrics.items() if not k.startswith("pqml-")} == dict(plain_metrics)


def test_ml_kem_1024_server_key(tmp_path: Path) -> None:
    keys = make_keys(tmp_path, nodes=1, kem="ML-KEM-1024", sig="ML-DSA-87")
    strategy = wrapped(keys)
    sealed = protected_reply(strategy, keys, 0)
    assert json.loads(sealed.content[records.PROTECT_RECORD]["header"])["kem"] == "ML-KEM-1024"
    assert strategy.open_replies(1, [sealed], "train")[1].accepted == 1


def test_keys_from_the_keyring(tmp_path: Path) -> None:
    from pqml.keys.keyring import Keyring

    with Keyring() as keyring:
        keyring.new("X-Wing", label="fl-server")
        keyring.new("ML-DSA-65", label="fl-node-a", purpose="sign")
    strategy = ProtectedStrategy(FedAvg(), server_key="fl-server", nodes=["fl-node-a"])
    mod = ProtectUpdatesMod(node_key="fl-node-a", server_key="fl-server")
    sealed = mod(offered_instruction(strategy, node_id=5), context(5), train_app(0, 10))
    assert strategy.open_replies(1, [sealed], "train")[1].accepted == 1
    registry = NodeRegistry.from_keyring(["fl-node-a"])
    assert len(registry) == 1


def test_revoked_keyring_node_key_stops_counting_next_round() -> None:
    from pqml.keys.keyring import Keyring
    from pqml.keys.states import KeyState

    with Keyring() as keyring:
        keyring.new("X-Wing", label="fl-server")
        keyring.new("ML-DSA-65", label="fl-node-b", purpose="sign")
    strategy = ProtectedStrategy(FedAvg(), server_key="fl-server",
                                 nodes=NodeRegistry.from_keyring(["fl-node-b"]))
    with Keyring() as keyring:
        node_key = keyring.private_key("fl-node-b", use="sign")
    mod = ProtectUpdatesMod(node_key=node_key, server_key="fl-server")  # type: ignore[arg-type]
    before = mod(offered_instruction(strategy, node_id=5), context(5), train_app(0, 10))
    assert strategy.open_replies(1, [before], "train")[1].accepted == 1
    with Keyring() as keyring:
        keyring.set_state("fl-node-b", KeyState.REVOKED)
    assert strategy.verifier.nodes.refresh()  # what each configure_* does first
    assert len(strategy.verifier.nodes) == 0
    after = mod(offered_instruction(strategy, 2, node_id=5), context(5), train_app(0, 10))
    assert strategy.open_replies(2, [after], "train")[1].rejected[0].reason == "unregistered"


def test_unreadable_registry_keeps_the_last_good_set(keys: FLKeys) -> None:
    strategy = wrapped(keys)
    (keys.registry / "broken.pem").write_text("not a key\n")
    assert not strategy.verifier.nodes.refresh()
    assert len(strategy.verifier.nodes) == 3
    assert strategy.open_replies(1, [protected_reply(strategy, keys, 0)], "train")[1].accepted


def test_keys_from_node_config(keys: FLKeys) -> None:
    strategy = wrapped(keys)
    mod = ProtectUpdatesMod()
    ctx = context(5, **{"pqml-node-key": str(keys.node_keys[2]),
                        "pqml-server-key": str(keys.server_pub)})
    sealed = mod(offered_instruction(strategy, node_id=5), ctx, train_app(2, 10))
    assert strategy.open_replies(1, [sealed], "train")[1].accepted == 1


def test_other_message_types_pass_through(keys: FLKeys) -> None:
    mod = ProtectUpdatesMod(node_key=keys.node_keys[0], server_key=keys.server_pub)
    msg = instruction(RecordDict({"config": ConfigRecord()}), message_type="query")
    out = mod(msg, context(), lambda m, c: reply(m, RecordDict({"m": MetricRecord({"x": 1})})))
    assert list(out.content.keys()) == ["m"]


def test_registry_directory_is_reread_between_rounds(keys: FLKeys) -> None:
    strategy = wrapped(keys)
    rogue = key_files.generate("ML-DSA-65")
    first = protected_reply(strategy, keys, 0, node_key=rogue)
    assert strategy.open_replies(1, [first], "train")[1].rejected[0].reason == "unregistered"
    key_files.save_public(rogue, keys.registry / "late-node.pub")
    assert strategy.verifier.nodes.refresh()  # what each configure_* does first
    second = protected_reply(strategy, keys, 0, server_round=2, node_key=rogue)
    assert strategy.open_replies(2, [second], "train")[1].accepted == 1
    (keys.registry / "late-node.pub").unlink()
    assert strategy.verifier.nodes.refresh()
    third = protected_reply(strategy, keys, 0, server_round=3, node_key=rogue)
    assert strategy.open_replies(3, [third], "train")[1].rejected[0].reason == "unregistered"


def test_configure_adds_the_offer_and_the_inner_strategy_is_unchanged(
        keys: FLKeys, monkeypatch: pytest.MonkeyPatch) -> None:
    from flwr.supercore.task_identity import TaskIdentity

    for name, value in (("_run_id", 42), ("_node_id", 1), ("_task_id", 1)):
        monkeypatch.setattr(TaskIdentity, name, value)  # as in a ServerApp process

    class FixedNodes:
        """Flower's Grid as FedAvg's sampling sees it: two connected nodes."""

        def get_node_ids(self) -> list[int]:
            return [100, 101]

    strategy = wrapped(keys)
    messages = list(strategy.configure_train(3, ArrayRecord(update(1, 8)), ConfigRecord(),
                                             FixedNodes()))  # type: ignore[arg-type]
    assert sorted(m.metadata.dst_node_id for m in messages) == [100, 101]
    offer = records.Offer.from_record(messages[0].content[records.PROTECT_RECORD])
    assert offer == strategy.verifier.offer(3)
    assert messages[0].content["config"]["server-round"] == 3  # FedAvg's own content kept


# ---- rejected, reported, and the round goes on -------------------------------------------


def round_with(strategy: ProtectedStrategy, keys: FLKeys, bad: Message,
               server_round: int = 1) -> tuple[Any, Any, str]:
    """Aggregate two good replies and ``bad``; the aggregate, metrics and bad's reason."""
    good = [protected_reply(strategy, keys, i, server_round) for i in range(2)]
    before = len(strategy.rejections)
    arrays, metrics = strategy.aggregate_train(server_round, [good[0], bad, good[1]])
    assert len(strategy.rejections) == before + 1
    plain, _ = FedAvg().aggregate_train(server_round, [plain_reply(0), plain_reply(1)])
    assert arrays is not None and plain is not None
    assert array_bytes(arrays) == array_bytes(plain)  # the round went on without it
    assert metrics["pqml-accepted"] == 2 and metrics["pqml-rejected"] == 1
    reason = strategy.rejections[-1].reason
    assert metrics[f"pqml-rejected-{reason}"] == 1
    return arrays, metrics, reason


def test_unsigned_update_is_rejected(keys: FLKeys) -> None:
    assert round_with(wrapped(keys), keys, plain_reply(2))[2] == "unsigned"


def test_unregistered_node_is_rejected(tmp_path: Path) -> None:
    keys = make_keys(tmp_path, nodes=3, registered=2)
    strategy = wrapped(keys)
    assert round_with(strategy, keys, protected_reply(strategy, keys, 2))[2] == "unregistered"


def _mutate(message: Message, *, header: Any = None, signature: Any = None,
            ciphertext: Any = None) -> Message:
    sealed = records.split_sealed(message.content)
    message.content = records.sealed_content(records.SealedUpdate(
        header(sealed.header) if header else sealed.header,
        signature(sealed.signature) if signature else sealed.signature,
        ciphertext(sealed.ciphertext) if ciphertext else sealed.ciphertext))
    return message


def _flip(data: bytes, index: int = 100) -> bytes:
    return data[:index] + bytes([data[index] ^ 1]) + data[index + 1:]


def test_tampered_ciphertext_is_rejected(keys: FLKeys) -> None:
    strategy = wrapped(keys)
    bad = _mutate(protected_reply(strategy, keys, 2), ciphertext=_flip)
    assert round_with(strategy, keys, bad)[2] == "tampered"


def test_tampered_header_and_signature_are_rejected(keys: FLKeys) -> None:
    strategy = wrapped(keys)

    def more_examples(header: bytes) -> bytes:
        doc = json.loads(header)
        doc["round"] = 1
        doc["time_ms"] += 1
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    bad = _mutate(protected_reply(strategy, keys, 2), header=more_examples)
    assert round_with(strategy, keys, bad)[2] == "bad-signature"
    bad = _mutate(protected_reply(strategy, keys, 2), signature=_flip)
    assert round_with(strategy, keys, bad)[2] == "bad-signature"


def test_replayed_update_is_rejected(keys: FLKeys) -> None:
    strategy = wrapped(keys)
    original = protected_reply(strategy, keys, 2)
    duplicate = copy_reply(original)
    assert strategy.open_replies(1, [original], "train")[1].accepted == 1
    assert round_with(strategy, keys, duplicate)[2] == "replayed"


def test_update_from_an_earlier_round_is_rejected(keys: FLKeys) -> None:
    strategy = wrapped(keys)
    old = protected_reply(strategy, keys, 2, server_round=1)
    assert round_with(strategy, keys, old, server_round=2)[2] == "stale"


def test_update_outside_the_time_window_is_rejected(keys: FLKeys) -> None:
    strategy = wrapped(keys, max_age=60, max_skew=5)
    update_now = protected_reply(strategy, keys, 2)
    for shift in (3600, -3600):  # an hour late, and an hour in the future
        strategy.verifier.clock = lambda shift=shift: time.time() + shift
        with pytest.raises(UpdateRejectedError) as info:
            strategy.verifier.open(copy_reply(update_now), 1)
        assert info.value.reason == "stale"


def test_update_moved_to_another_nodes_reply_is_rejected(keys: FLKeys) -> None:
    strategy = wrapped(keys)
    sealed = protected_reply(strategy, keys, 2)
    carrier = reply(instruction(RecordDict({"c": ConfigRecord()}), node_id=555),
                    sealed.content)
    assert round_with(strategy, keys, carrier)[2] == "context-mismatch"


def test_update_sealed_to_another_server_key_is_rejected(keys: FLKeys) -> None:
    strategy = wrapped(keys)
    other = key_files.generate("X-Wing")
    msg = offered_instruction(strategy, node_id=102)
    del msg.content[records.PROTECT_RECORD]  # what the mod does before the ClientApp runs
    bad = reply(msg, seal_update(
        train_app(2, 30)(msg, context()).content,
        node_key=key_files.load_private(keys.node_keys[2]),  # type: ignore[arg-type]
        server_key=other.public_key(), run_id=42, server_round=1, node_id=102,  # type: ignore[arg-type]
        message_type="train", reply_to=msg.metadata.message_id))
    assert round_with(strategy, keys, bad)[2] == "wrong-server-key"


@pytest.mark.parametrize("damage", ["not-json", "extra-record", "no-signature",
                                    "huge-header", "wrong-stype"])
def test_malformed_records_are_rejected(keys: FLKeys, damage: str) -> None:
    strategy = wrapped(keys)
    bad = protected_reply(strategy, keys, 2)
    sealed = records.split_sealed(bad.content)
    if damage == "not-json":
        _mutate(bad, header=lambda h: b"\xff" + h)
    elif damage == "extra-record":
        bad.content["metrics"] = MetricRecord({"num-examples": 1})
    elif damage == "no-signature":
        bad.content[records.PROTECT_RECORD] = ConfigRecord({"header": sealed.header})
    elif damage == "huge-header":
        _mutate(bad, header=lambda h: h + b" " * records.MAX_HEADER)
    else:
        from flwr.app import Array

        bad.content[records.SEALED_RECORD] = ArrayRecord(
            {"update": Array(np.frombuffer(sealed.ciphertext, dtype=np.uint8))})
    assert round_with(strategy, keys, bad)[2] == "malformed"


# ---- refused on the client, which can act --------------------------------------------------


def test_client_pinning_another_server_key_refuses_and_server_reports(keys: FLKeys) -> None:
    strategy = wrapped(keys)
    wrong = key_files.generate("X-Wing")
    mod = ProtectUpdatesMod(node_key=keys.node_keys[2], server_key=wrong.public_key())
    ran: list[bool] = []

    def app(msg: Message, ctx: Context) -> Message:
        ran.append(True)
        return train_app(2, 10)(msg, ctx)

    out = mod(offered_instruction(strategy, node_id=102), context(102), app)
    assert out.has_error() and "wrong server key" in out.error.reason
    assert not ran  # nothing was trained, nothing left the node
    assert round_with(strategy, keys, out)[2] == "client-error"


def test_client_without_a_key_refuses(keys: FLKeys) -> None:
    strategy = wrapped(keys)
    out = ProtectUpdatesMod()(offered_instruction(strategy, node_id=102), context(102),
                              train_app(2, 10))
    assert out.has_error() and "pqml-node-key" in out.error.reason
    missing = ProtectUpdatesMod(node_key=keys.directory / "absent.pem",
                                server_key=keys.server_pub)
    out = missing(offered_instruction(strategy, node_id=102), context(102), train_app(2, 10))
    assert out.has_error() and "absent.pem" in out.error.reason
    assert round_with(strategy, keys, out)[2] == "client-error"


def test_client_refuses_a_server_that_offers_no_protection(keys: FLKeys) -> None:
    mod = ProtectUpdatesMod(node_key=keys.node_keys[0], server_key=keys.server_pub)
    msg = instruction(RecordDict({"arrays": ArrayRecord(update(1, 8)),
                                  "config": ConfigRecord()}))
    out = mod(msg, context(), train_app(0, 10))
    assert out.has_error() and "in clear" in out.error.reason


def test_classical_keys_are_refused(keys: FLKeys, tmp_path: Path) -> None:
    x25519 = key_files.generate("X25519", allow_classical=True)
    ed25519 = key_files.generate("Ed25519", allow_classical=True)
    with pytest.raises(FLKeyError, match="not a post-quantum HPKE KEM"):
        UpdateVerifier(x25519, keys.registry)  # type: ignore[arg-type]
    with pytest.raises(FLKeyError, match="not a post-quantum signature"):
        NodeRegistry([ed25519.public_key()])
    key_files.save_public(ed25519, tmp_path / "classical.pub")
    with pytest.raises(FLKeyError, match=r"classical\.pub"):
        NodeRegistry.from_directory(tmp_path)


@pytest.mark.parametrize("offer", [
    {"v": 2, "round": 1, "server-key": "ab", "kem": "X-Wing"},
    {"v": 1, "round": "1", "server-key": "ab", "kem": "X-Wing"},
    {"v": 1, "round": 1, "kem": "X-Wing"},
])
def test_client_refuses_a_malformed_offer(keys: FLKeys, offer: dict[str, Any]) -> None:
    mod = ProtectUpdatesMod(node_key=keys.node_keys[0], server_key=keys.server_pub)
    msg = instruction(RecordDict({"config": ConfigRecord(),
                                  records.PROTECT_RECORD: ConfigRecord(offer)}))
    out = mod(msg, context(), train_app(0, 10))
    assert out.has_error() and "offer is malformed" in out.error.reason

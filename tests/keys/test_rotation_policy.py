"""The ``[keys]`` rotation policy: reading pqml.toml strictly, the effective interval of a
key (shortest asset class, shrunk by measured use, per the formula in the module
docstring), and ``due`` / ``overdue`` over a real keyring."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pqml.keys import rotation_policy as rp
from pqml.keys.errors import RotationPolicyError
from pqml.keys.keyring import AssetRecord, KeyRecord, Keyring
from pqml.keys.states import KeyState

DAY = 86400.0
T0 = 1_800_000_000.0


def key(created: float = T0, operations: int = 0, nbytes: int = 0,
        state: KeyState = KeyState.ACTIVE) -> KeyRecord:
    return KeyRecord("k1", None, "X-Wing", "encrypt", created, None, state, created, None,
                     operations, nbytes, None, None, True)


def assets(*classes: str | None) -> list[AssetRecord]:
    return [AssetRecord(f"/m/{i}", "k1", "encrypt", c, T0, T0) for i, c in enumerate(classes)]


POLICY = rp.parse("""
[keys]
max_age = "365d"
max_operations = 1000
max_bytes = "1GiB"
notice = "7d"
[keys.classes.model]
max_age = "30d"
[keys.classes.dataset]
max_age = "60d"
max_bytes = "100MiB"
""", "test.toml")


# ---- reading --------------------------------------------------------------------------------


def test_parse_reads_every_setting() -> None:
    assert POLICY.default == rp.Limits(365 * DAY, 1000, 1 << 30)
    assert POLICY.notice == 7 * DAY and POLICY.source == "test.toml"
    assert POLICY.limits_for("model") == rp.Limits(30 * DAY, 1000, 1 << 30)
    assert POLICY.limits_for("dataset") == rp.Limits(60 * DAY, 1000, 100 << 20)
    assert POLICY.limits_for(None) == POLICY.default


def test_defaults_without_a_keys_table() -> None:
    policy = rp.parse("[scan]\njobs = 2\n", "p.toml")
    assert policy.default.max_age == 365 * DAY and policy.default.max_operations is None
    assert policy.limits_for("model").max_age == 90 * DAY
    assert policy.limits_for("dataset").max_age == 180 * DAY


def test_a_class_only_ever_shortens_the_top_level_limit() -> None:
    policy = rp.parse('[keys]\nmax_age = "10d"\n[keys.classes.model]\nmax_age = "30d"\n',
                      "p.toml")
    assert policy.limits_for("model").max_age == 10 * DAY
    assert not policy.binds("model", "max_age")


@pytest.mark.parametrize("text,message", [
    ('[keys]\nmax_agee = "30d"\n', "unknown key keys.max_agee"),
    ('[keys]\nmax_age = "30 days"\n', 'keys.max_age must be a duration such as "90d"'),
    ('[keys]\nmax_age = -5\n', "keys.max_age must be a positive duration"),
    ('[keys]\nmax_age = true\n', "keys.max_age must be a duration"),
    ('[keys]\nmax_operations = 0\n', "keys.max_operations must be a positive integer"),
    ('[keys]\nmax_operations = 1.5\n', "keys.max_operations must be a positive integer"),
    ('[keys]\nmax_bytes = "12 parsecs"\n', 'keys.max_bytes must be a size such as "1TiB"'),
    ('[keys.classes.weights]\nmax_age = "1d"\n', "keys.classes.weights: unknown asset class"),
    ('[keys.classes.model]\nnotice = "1d"\n', "unknown key keys.classes.model.notice"),
    ('[keys]\nclasses = 3\n', "[keys.classes] must be a table"),
    ('keys = 3\n', "[keys] must be a table"),
    ("[keys\n", "invalid TOML"),
])
def test_a_typo_is_an_error_not_a_silently_relaxed_policy(text: str, message: str) -> None:
    with pytest.raises(RotationPolicyError) as info:
        rp.parse(text, "bad.toml")
    assert str(info.value).startswith("bad.toml: ") and message in str(info.value)
    assert info.value.exit_code == 2


@pytest.mark.parametrize("text,expected", [
    (1024, 1024), ("1KiB", 1024), ("1.5 MiB", 3 << 19), ("2GB", 2 * 10**9),
    ("1TiB", 1 << 40), ("77", 77),
])
def test_sizes(text: object, expected: int) -> None:
    assert rp.parse_bytes(text) == expected


def test_load_finds_the_working_directory_file_then_pqml_home(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "pqml.toml").write_text('[keys]\nmax_age = "3d"\n')
    monkeypatch.setenv("PQML_HOME", str(home))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert rp.load().default.max_age == 3 * DAY
    (work / "pqml.toml").write_text('[keys]\nmax_age = "5d"\n')
    assert rp.load().default.max_age == 5 * DAY
    explicit = tmp_path / "x.toml"
    explicit.write_text('[keys]\nmax_age = "7d"\n')
    assert rp.load(explicit).default.max_age == 7 * DAY
    with pytest.raises(RotationPolicyError, match="config file not found"):
        rp.load(tmp_path / "absent.toml")


# ---- the interval of one key ----------------------------------------------------------------


def test_the_reason_names_the_assets_the_limit_and_the_age() -> None:
    due = rp.evaluate(key(), assets(*["model"] * 12), POLICY, T0 + 41 * DAY)
    assert due is not None and due.overdue and due.limit == "max_age"
    assert due.reason == ("protects 12 model files: max age 30d for model weights; "
                          "created 41d ago (overdue by 11d)")
    assert due.due_at == T0 + 30 * DAY and due.interval == 30 * DAY


def test_the_shortest_class_of_the_assets_wins() -> None:
    mixed = rp.evaluate(key(), assets("dataset", "model", None), POLICY, T0 + 35 * DAY)
    assert mixed is not None and mixed.due_at == T0 + 30 * DAY
    assert mixed.reason.startswith("protects 1 model file and 1 dataset file and 1 other "
                                   "file: max age 30d for model weights")
    data_only = rp.evaluate(key(), assets("dataset"), POLICY, T0 + 35 * DAY)
    assert data_only is None  # due at day 60: outside the 7-day notice
    assert rp.evaluate(key(), assets("dataset"), POLICY, T0 + 54 * DAY) is not None
    plain = rp.evaluate(key(), [], POLICY, T0 + 359 * DAY)
    assert plain is not None and not plain.overdue
    assert plain.reason == ("protects no recorded asset: max age 365d (default); created "
                            "359d ago (due in 6d)")


def test_measured_use_shrinks_the_interval() -> None:
    # 10 days old, 500 of 1000 operations used: at this rate the cap comes at day 20
    now = T0 + 10 * DAY
    assert rp.evaluate(key(operations=500), assets("model"), POLICY, now) is None
    due = rp.evaluate(key(operations=500), assets("model"), POLICY, T0 + 14 * DAY)
    assert due is None  # 14 days, 500 ops: pace says day 28, the model age cap day 30
    fast = rp.evaluate(key(operations=700), assets("model"), POLICY, T0 + 14 * DAY)
    assert fast is not None and fast.limit == "max_operations"
    assert fast.due_at == pytest.approx(T0 + 14 * DAY * 1000 / 700)
    assert "max 1,000 operations (default); 700 operations in 14d: on pace to reach it " \
           "in 6d" in fast.reason and not fast.overdue


def test_a_reached_cap_is_overdue_now() -> None:
    due = rp.evaluate(key(nbytes=200 << 20), assets("dataset"), POLICY, T0 + 2 * DAY)
    assert due is not None and due.overdue and due.limit == "max_bytes"
    assert "max 100.0 MiB bytes for training data; at 200.0 MiB bytes in 2d, reached" \
        in due.reason
    assert due.due_at <= T0 + 2 * DAY


def test_only_active_keys_are_considered() -> None:
    for state in (KeyState.PENDING, KeyState.RETIRED, KeyState.REVOKED):
        assert rp.evaluate(key(state=state), assets("model"), POLICY, T0 + 400 * DAY) is None


def test_a_brand_new_key_does_not_divide_by_zero() -> None:
    due = rp.evaluate(key(operations=5000), [], POLICY, T0)
    assert due is not None and due.overdue


# ---- over a real keyring --------------------------------------------------------------------


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_due_and_overdue_over_the_keyring(tmp_path: Path) -> None:
    clock = Clock(T0)
    ring = Keyring(clock=clock)
    models = ring.new("X-Wing", label="models")
    data = ring.new("X-Wing", label="data")
    quiet = ring.new("X-Wing", label="quiet")
    retired = ring.new("X-Wing", label="old")
    ring.set_state("old", KeyState.RETIRED)
    for i in range(3):
        ring.record_use("models", operation="encrypt", asset=str(tmp_path / f"m{i}.pt.pqml"))
    ring.record_use("data", operation="encrypt", asset=str(tmp_path / "train.parquet.pqml"))
    ring.record_use("old", operation="encrypt", asset=str(tmp_path / "x.pt.pqml"))
    assert [a.asset_class for a in ring.assets("models")] == ["model"] * 3
    found = rp.due(ring, T0 + 41 * DAY, POLICY)
    assert [d.key.id for d in found] == [models.id]
    assert found[0].reason.startswith("protects 3 model files: max age 30d for model weights")
    later = rp.due(ring, T0 + 55 * DAY, POLICY)
    assert [d.key.id for d in later] == [models.id, data.id]
    assert [d.overdue for d in later] == [True, False]
    assert [d.key.id for d in rp.overdue(ring, T0 + 55 * DAY, POLICY)] == [models.id]
    assert quiet.id not in {d.key.id for d in rp.due(ring, T0 + 300 * DAY, POLICY)}
    assert retired.id not in {d.key.id for d in rp.due(ring, T0 + 900 * DAY, POLICY)}
    record = found[0].to_dict()
    assert record["key"] == models.id and record["overdue"] is True
    assert record["due"] == "2027-02-14T08:00:00Z" and record["limit"] == "max_age"


def test_due_reads_the_policy_file_when_none_is_given(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pqml.toml").write_text('[keys]\nmax_age = "2d"\n')
    ring = Keyring(clock=Clock(T0))
    ring.new("X-Wing", label="k")
    assert len(rp.overdue(ring, T0 + 3 * DAY)) == 1
    os.unlink(tmp_path / "pqml.toml")
    assert rp.overdue(ring, T0 + 3 * DAY) == []


@pytest.mark.parametrize("value", ["9" * 400, 10 ** 400, "1" + "0" * 30 + "TiB"])
def test_a_huge_size_is_a_policy_error_not_a_crash(value: object) -> None:
    with pytest.raises(RotationPolicyError, match="max_bytes is too large"):
        rp.parse_bytes(value)

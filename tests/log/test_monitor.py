"""pqml.log.monitor: each rule fires on what it is for, stays quiet just under its limit,
names the entries behind it and explains itself with the numbers."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pqml.log.entry import Actor, Asset, LogEntry
from pqml.log.errors import LogError
from pqml.log.monitor import Monitor, file_entries, format_alert, scan
from pqml.log.monitor_config import (
    BulkDecrypt,
    MonitorConfig,
    RotationOverdue,
    UnusualDecrypt,
)

T0 = 1_780_000_000.0  # a Thursday; tests add offsets
DAY = 86400.0


def entry(op: str, t: float, *, user: str = "alice", host: str = "ws-1",
          keys: tuple[str, ...] = ("k1",), outcome: str = "ok", asset: str = "m.pqml",
          **details: object) -> LogEntry:
    return LogEntry(op, outcome, T0 + t, Actor(user, host, 4242), keys, (Asset(asset),),
                    details)  # type: ignore[arg-type]


def decrypt(t: float, **kw: object) -> LogEntry:
    size = kw.pop("bytes", 1000)
    return entry("decrypt", t, bytes=size, format="pqml/v1", **kw)  # type: ignore[arg-type]


def state(t: float, key: str, new: str, old: str = "active",
          compromised_at: float | None = None) -> LogEntry:
    return entry("key.state", t, keys=(key,), user="admin", host="kms", **{
        "from": old, "to": new, "reason": "test",
        "compromised_at": None if compromised_at is None else T0 + compromised_at})


def key_new(t: float, key: str, purpose: str = "encrypt") -> LogEntry:
    return entry("key.new", t, keys=(key,), user="admin", host="kms",
                 algorithm="X-Wing" if purpose == "encrypt" else "ML-DSA-65",
                 purpose=purpose, label=None)


def only(config: MonitorConfig, **enabled: bool) -> MonitorConfig:
    """``config`` with every rule off but the ones named (attribute names)."""
    out = {}
    for f in dataclasses.fields(config):
        rule = getattr(config, f.name)
        if hasattr(rule, "enabled"):
            out[f.name] = dataclasses.replace(rule, enabled=enabled.get(f.name, False))
    return dataclasses.replace(config, **out)


def run(entries: list[LogEntry], config: MonitorConfig | None = None, **kw: object):
    return list(Monitor(config).run(enumerate(entries), **kw))  # type: ignore[arg-type]


# -- bulk-decrypt ----------------------------------------------------------------------------

BULK_ONLY = only(MonitorConfig(), bulk_decrypt=True)


def test_bulk_decrypt_fires_just_over_the_limit_once_per_actor() -> None:
    log = [decrypt(i * 10, asset=f"a{i}") for i in range(201)]  # 201 in 2000 s
    alerts = run(log, BULK_ONLY)
    assert sorted(a.subject for a in alerts) == ["host ws-1", "key k1", "user alice"]
    for a in alerts:
        assert a.rule == "bulk-decrypt" and a.severity == "high"
        assert a.entries == tuple(range(201))
        assert a.time == log[-1].time  # log time, not the clock
        assert "decrypted 201 files" in a.explanation
        assert "within 1 h, over the limit of 200" in a.explanation
        assert a.facts["count"] == 201 and a.facts["max_count"] == 200
    assert run(log[:200], BULK_ONLY) == []


def test_bulk_decrypt_window_slides() -> None:
    # 300 decryptions 20 s apart: never more than 180 within an hour.
    assert run([decrypt(i * 20) for i in range(300)], BULK_ONLY) == []


def test_bulk_decrypt_rearms_after_the_window_empties() -> None:
    config = dataclasses.replace(BULK_ONLY, bulk_decrypt=BulkDecrypt(max_count=5, by=("user",)))
    burst = [decrypt(i) for i in range(20)]  # one excursion: one alert
    later = [decrypt(4 * 3600 + i) for i in range(6)]  # hours later: a second one
    alerts = run(burst + later, config)
    assert [a.entries for a in alerts] == [tuple(range(6)), tuple(range(20, 26))]


def test_bulk_decrypt_by_bytes() -> None:
    log = [decrypt(0, bytes=15 << 30), decrypt(60, bytes=15 << 30)]
    alerts = run(log, dataclasses.replace(
        BULK_ONLY, bulk_decrypt=BulkDecrypt(by=("host",))))
    assert len(alerts) == 1
    assert "(30.0 GiB) within 1 h, over the limit of 20.0 GiB" in alerts[0].explanation


def test_bulk_decrypt_counts_each_key_user_and_host_apart() -> None:
    config = dataclasses.replace(BULK_ONLY, bulk_decrypt=BulkDecrypt(max_count=3))
    log = [decrypt(i, user=f"u{i % 2}", host=f"h{i % 2}", keys=(f"k{i % 2}",))
           for i in range(6)]  # 3 each: at the limit, not over
    assert run(log, config) == []


# -- unusual-decrypt -------------------------------------------------------------------------

UNUSUAL = only(MonitorConfig(), unusual_decrypt=True)


def _days(per_day: int, days: int, start: float = 0.0, **kw: object) -> list[LogEntry]:
    return [decrypt(start + d * DAY + 9 * 3600 + i * 60, **kw)
            for d in range(days) for i in range(per_day)]


def test_unusual_decrypt_against_the_actors_own_baseline() -> None:
    config = dataclasses.replace(UNUSUAL, unusual_decrypt=UnusualDecrypt(by=("user",)))
    history = _days(10, 14)
    spike = [decrypt(15 * DAY + 9 * 3600 + i * 30) for i in range(31)]
    alerts = run(history + spike, config)
    assert len(alerts) == 1
    a = alerts[0]
    assert a.rule == "unusual-decrypt" and a.subject == "user alice"
    assert a.facts["count"] == 31 and a.facts["baseline_count"] == 10.0
    assert a.facts["count_threshold"] == 30.0
    assert "decrypted 31 files within 1 d" in a.explanation
    assert "average over its 14 active days of the 14 before was 10.0" in a.explanation
    assert "threshold was 30.0 (3x, at least 20)" in a.explanation
    assert set(a.entries) == set(range(len(history), len(history) + 31))
    # 30 is not over 3x10
    assert run(history + spike[:30], config) == []


def test_unusual_decrypt_needs_history_and_a_floor() -> None:
    config = dataclasses.replace(UNUSUAL, unusual_decrypt=UnusualDecrypt(by=("user",)))
    # Five days of history are not a baseline (min_history 7 d).
    short = _days(2, 5) + [decrypt(6 * DAY + 9 * 3600 + i) for i in range(50)]
    assert run(short, config) == []
    # 3x a tiny baseline is still under min_count (20).
    small = _days(1, 14) + [decrypt(15 * DAY + 9 * 3600 + i) for i in range(20)]
    assert run(small, config) == []
    small.append(decrypt(15 * DAY + 10 * 3600))
    assert [a.facts["count"] for a in run(small, config)] == [21]


def test_unusual_decrypt_baseline_ignores_inactive_days() -> None:
    """Weekends do not dilute a baseline: 5 active days of 10 give 10, not 10*5/7."""
    config = dataclasses.replace(UNUSUAL, unusual_decrypt=UnusualDecrypt(by=("user",)))
    weekdays = [e for week in range(2) for e in _days(10, 5, start=week * 7 * DAY)]
    log = weekdays + [decrypt(14 * DAY + 9 * 3600 + i * 30) for i in range(25)]
    assert run(log, config) == []  # 25 < 30: under 3x the active-day average


# -- key-state-use ---------------------------------------------------------------------------

STATES = only(MonitorConfig(), key_state_use=True)


@pytest.mark.parametrize(("new", "severity"), [("revoked", "high"),
                                               ("compromised", "critical"),
                                               ("destroyed", "high"),
                                               ("disabled", "high")])
def test_decrypting_with_a_key_in_a_closed_state(new: str, severity: str) -> None:
    log = [key_new(0, "k1"), decrypt(10), state(20, "k1", new), decrypt(30, asset="x.pqml")]
    alerts = run(log, STATES)
    assert len(alerts) == 1
    a = alerts[0]
    assert (a.rule, a.severity, a.entries) == ("key-state-use", severity, (2, 3))
    assert f"decrypted x.pqml with key k1, but the key has been {new} since" in a.explanation
    assert "(entry 2)" in a.explanation


def test_retired_keys_open_old_assets_but_protect_nothing_new() -> None:
    log = [key_new(0, "k1"), state(10, "k1", "retired"), decrypt(20),
           entry("encrypt", 30, recipient_algorithms="X-Wing", classical_only=False, bytes=5)]
    alerts = run(log, STATES)
    assert [a.entries for a in alerts] == [(1, 3)]
    assert "encrypted m.pqml to key k1" in alerts[0].explanation
    assert "only an active key may protect new assets" in alerts[0].explanation


def test_a_refused_attempt_is_one_step_less_severe() -> None:
    log = [key_new(0, "k1"), state(10, "k1", "revoked"), decrypt(20, outcome="refused")]
    (a,) = run(log, STATES)
    assert a.severity == "medium"
    assert "tried to decrypt m.pqml with key k1 (outcome refused)" in a.explanation


def test_keys_the_log_never_introduced_are_not_judged() -> None:
    assert run([decrypt(0, keys=("older-than-the-log",))], STATES) == []


def test_a_compromise_reported_late_flags_the_uses_in_between() -> None:
    log = [key_new(0, "k1"), decrypt(100), decrypt(200), decrypt(300, keys=("k2",)),
           decrypt(400), state(500, "k1", "compromised", compromised_at=150)]
    alerts = run(log, STATES)
    assert len(alerts) == 1
    a = alerts[0]
    assert a.severity == "critical" and a.entries == (2, 4, 5)  # not 1 (before 150), not k2
    assert "as of" in a.explanation and "2 uses of it in between (decrypt)" in a.explanation


# -- classical-recipients ----------------------------------------------------------------------

CLASSICAL = only(MonitorConfig(), classical_recipients=True)


def _enc(t: float, algorithms: str, classical_only: bool, op: str = "encrypt",
         outcome: str = "ok") -> LogEntry:
    return entry(op, t, outcome=outcome, recipient_algorithms=algorithms,
                 classical_only=classical_only, bytes=10, format="pqml/v1")


def test_classical_recipients() -> None:
    log = [_enc(0, "X-Wing", False), _enc(1, "X25519", True), _enc(2, "X-Wing,X25519", False,
                                                                  op="rekey"),
           _enc(3, "ML-KEM-768", False, op="migrate"), _enc(4, "X25519", True, outcome="failed"),
           _enc(5, "RSA-OAEP", False), _enc(6, "Mystery-KEM", False)]
    alerts = run(log, CLASSICAL)
    assert [(a.entries, a.severity) for a in alerts] == [((1,), "high"), ((2,), "medium"),
                                                         ((5,), "high")]
    assert "to classical-only recipients (X25519)" in alerts[0].explanation
    assert "re-keyed m.pqml to a quantum-vulnerable recipient (X25519) beside post-quantum " \
           "ones (X-Wing)" in alerts[1].explanation


# -- verify-failures ---------------------------------------------------------------------------

VERIFY = only(MonitorConfig(), verify_failures=True)


def _failed(t: float, host: str = "ci-1") -> LogEntry:
    return entry("verify", t, host=host, outcome="failed", algorithms="ML-DSA-65",
                 root_digest="sha256:00", reason="signature does not verify")


def test_verify_failure_burst() -> None:
    alerts = run([_failed(i * 30) for i in range(4)], VERIFY)
    assert len(alerts) == 1
    assert alerts[0].entries == (0, 1, 2, 3)
    assert "host ci-1 had 4 failed signature verifications within 10 min, over the limit " \
           "of 3 (last reason: signature does not verify)" in alerts[0].explanation
    assert run([_failed(i * 900) for i in range(6)], VERIFY) == []  # spread out
    assert run([_failed(i, host=f"h{i}") for i in range(6)], VERIFY) == []  # one per host
    ok = entry("verify", 0, algorithms="ML-DSA-65", root_digest="sha256:00")
    assert run([ok] * 10, VERIFY) == []


# -- rotation-overdue --------------------------------------------------------------------------

def test_rotation_overdue_fires_once_when_log_time_passes_the_deadline() -> None:
    config = only(MonitorConfig(), rotation_overdue=True)
    config = dataclasses.replace(config, rotation_overdue=RotationOverdue(
        max_age={"encrypt": 30 * DAY, "default": 90 * DAY}))
    log = [key_new(0, "k1"), key_new(0, "k2"), key_new(0, "s1", purpose="sign"),
           state(10 * DAY, "k2", "retired"), decrypt(29 * DAY), decrypt(31 * DAY),
           decrypt(32 * DAY)]
    alerts = run(log, config)
    assert [(a.subject, a.entries) for a in alerts] == [("key k1", (0, 5))]
    assert "its maximum age is 30 d (for encrypt keys in [monitor.rotation-overdue]), so " \
           "it was due for rotation on" in alerts[0].explanation
    log.append(decrypt(91 * DAY))
    assert [a.subject for a in run(log, config)] == ["key k1", "key s1"]


def _enc_to(t: float, key: str, asset: str) -> LogEntry:
    return entry("encrypt", t, keys=(key,), asset=asset, recipient_algorithms="X-Wing",
                 classical_only=False, bytes=100)


def test_rotation_follows_the_keys_policy_per_asset_class() -> None:
    """Without its own max_age the rule takes the [keys] policy: a year by default, 90
    days for a key that protects model weights (pqml.keys.rotation_policy)."""
    config = only(MonitorConfig(), rotation_overdue=True)
    log = [key_new(0, "k-model"), key_new(0, "k-other"),
           _enc_to(DAY, "k-model", "net.safetensors.pqml"), _enc_to(DAY, "k-other", "notes"),
           decrypt(89 * DAY), decrypt(91 * DAY)]
    alerts = run(log, config)
    assert [(a.subject, a.entries) for a in alerts] == [("key k-model", (0, 5))]
    assert "its maximum age is 90 d (for model weights in the [keys] rotation policy)" \
        in alerts[0].explanation
    log.append(decrypt(366 * DAY))
    assert [a.subject for a in run(log, config)] == ["key k-model", "key k-other"]


def test_rotation_use_limits_from_pqml_toml(tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from pqml.log.monitor_config import load

    monkeypatch.chdir(tmp_path)
    (tmp_path / "pqml.toml").write_text('[keys]\nmax_operations = 3\nmax_bytes = "1KiB"\n'
                                        "[monitor.bulk-decrypt]\nenabled = false\n")
    config = only(load(None), rotation_overdue=True)
    log = [key_new(0, "k1"), *(_enc_to(i + 1, "k1", f"f{i}") for i in range(5))]
    alerts = run(log, config)
    assert [(a.facts["limit"], a.entries) for a in alerts] == [("max_operations", (0, 3))]
    assert "has protected 3 (operations) since it was made (entry 0), reaching its limit " \
           "of 3 (the default of the [keys] rotation policy in pqml.toml)" \
        in alerts[0].explanation
    log = [key_new(0, "k1"), *(entry("encrypt", i + 1, recipient_algorithms="X-Wing",
                                     classical_only=False, bytes=600) for i in range(2))]
    (a,) = run(log, config)
    assert a.facts["limit"] == "max_bytes" and "1.2 KiB (bytes)" in a.explanation


def test_rotation_rule_with_neither_limit_source_is_off(
        monkeypatch: pytest.MonkeyPatch) -> None:
    import pqml.log.monitor as mon

    monkeypatch.setattr(mon, "rotation_limits", lambda config: None)
    assert "rotation-overdue" not in {r.id for r in mon.build_rules(MonitorConfig())}
    with_age = dataclasses.replace(MonitorConfig(), rotation_overdue=RotationOverdue(
        max_age={"default": DAY}))
    assert "rotation-overdue" in {r.id for r in mon.build_rules(with_age)}


# -- the engine ------------------------------------------------------------------------------

def test_same_log_same_alerts_and_since_keeps_history() -> None:
    log = [key_new(0, "k1"), state(10, "k1", "revoked"), decrypt(20), decrypt(5000)]
    first = [a.to_json() for a in run(log)]
    assert first == [a.to_json() for a in scan(enumerate(log))]
    assert len(first) == 2
    # --since: the state change before it still counts; only the later alert is reported.
    later = run(log, since=T0 + 1000)
    assert [a.entries for a in later] == [(1, 3)]


def test_format_alert_is_one_line_and_escapes_controls() -> None:
    log = [key_new(0, "k1"), state(1, "k1", "revoked"),
           decrypt(2, user="eve\x1b[2J\nforged", asset="a\rb")]
    (a,) = run(log, STATES)
    line = format_alert(a)
    assert "\n" not in line and "\x1b" not in line and "\r" not in line
    assert line.startswith("2026-") and " HIGH key-state-use: " in line
    assert line.endswith("[entries 1-2]")


# -- a file of entries ----------------------------------------------------------------------

def test_file_entries_reads_lines_and_names_a_bad_one(tmp_path: Path) -> None:
    path = tmp_path / "entries.jsonl"
    good = [decrypt(i).to_bytes() for i in range(3)]
    path.write_bytes(b"\n".join(good) + b"\n")
    assert [i for i, _ in file_entries(path)] == [0, 1, 2]
    path.write_bytes(good[0] + b"\n" + b'{"v":1}\n')
    with pytest.raises(LogError, match=r"entries.jsonl: line 2: malformed log entry"):
        list(file_entries(path))
    path.write_bytes(good[0] + b"\n" + good[1])  # the last line has no newline
    with pytest.raises(LogError, match="line 2 is incomplete"):
        list(file_entries(path))
    with pytest.raises(LogError, match="cannot read entries"):
        list(file_entries(tmp_path / "missing"))


def test_following_a_file_never_reads_half_a_line(tmp_path: Path) -> None:
    path = tmp_path / "entries.jsonl"
    line = decrypt(0).to_bytes() + b"\n"
    path.write_bytes(line + line[:40])  # a writer caught mid-line
    polls = []

    def stop() -> bool:  # called at each end of file: the writer finishes, then we stop
        polls.append(1)
        if len(polls) == 1:
            with path.open("ab") as f:
                f.write(line[40:])
            return False
        return True

    got = list(file_entries(path, follow=True, poll=0.001, stop=stop))
    assert [i for i, _ in got] == [0, 1] and got[1][1] == decrypt(0)


def test_an_oversized_line_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "entries.jsonl"
    path.write_bytes(decrypt(0).to_bytes() + b"\n" + b"x" * (1 << 20) + b"\n")
    with pytest.raises(LogError, match=r"line 2 is over 65536 bytes"):
        list(file_entries(path))

"""bench/monitor_eval.py, small: the rules find every injected incident type of a labelled
synthetic log and raise nothing on the same organisation's clean log; the learned detector
finds the bulk exfiltration with few false alarms. Nothing here is hard-coded: the log is
generated from a seed and scored by the real monitor."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

import pytest

from conftest import REPO

pytest.importorskip("sklearn")


def _bench() -> ModuleType:
    name = "monitor_eval"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, REPO / "bench" / "monitor_eval.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return _bench()


@pytest.mark.parametrize("seed", [0, 1])
def test_rules_detect_every_incident_type_and_nothing_on_a_clean_log(bench: ModuleType,
                                                                     seed: int) -> None:
    log = bench.generate(days=14, users=5, seed=seed, slow_rate=2.0)
    assert {i.kind for i in log.incidents} == set(bench.INCIDENT_TYPES)
    alerts = bench.rule_alerts(log)
    score = bench.score(log, alerts)
    assert score.detected == dict.fromkeys(bench.INCIDENT_TYPES, True)
    assert score.false_alarms == 0
    # Each incident is found by the rule made for it, not by accident.
    by_rule = {a.rule for a in alerts}
    assert {"bulk-decrypt", "unusual-decrypt", "key-state-use", "classical-recipients",
            "verify-failures"} <= by_rule
    clean = bench.generate(days=14, users=5, seed=seed, incidents=False)
    assert clean.incidents == []
    assert bench.rule_alerts(clean) == []


def test_the_synthetic_log_has_a_daily_and_weekly_rhythm(bench: ModuleType) -> None:
    import datetime as dt

    log = bench.generate(days=14, users=5, seed=0, incidents=False)
    people = [e for _, e in log.entries
              if e.operation == "decrypt" and e.actor.user.startswith("user")]
    weekend = [e for e in people
               if dt.datetime.fromtimestamp(e.time, dt.UTC).weekday() >= 5]
    office = [e for e in people if 7 <= dt.datetime.fromtimestamp(e.time, dt.UTC).hour < 20]
    assert len(office) == len(people) and len(weekend) < len(people) / 20
    assert [i for i, _ in log.entries] == list(range(len(log.entries)))
    assert [e.time for _, e in log.entries] == sorted(e.time for _, e in log.entries)
    # Same seed, same log.
    again = bench.generate(days=14, users=5, seed=0, incidents=False)
    assert [e.to_bytes() for _, e in again.entries] == [e.to_bytes() for _, e in log.entries]


def test_learned_detector_finds_the_bulk_exfiltration(bench: ModuleType) -> None:
    log = bench.generate(days=14, users=5, seed=0, slow_rate=2.0)
    alerts = bench.learned_alerts(log)
    score = bench.score(log, alerts)
    assert score.detected["bulk-exfiltration"]
    bulk = next(i for i in log.incidents if i.kind == "bulk-exfiltration")
    hit = next(a for a in alerts if bulk.indices & set(a.entries))
    assert hit.rule == "learned-anomaly" and hit.facts["score"] > hit.facts["threshold"]
    assert {"decryptions", "distinct_assets", "new_assets", "hour_rarity"} & \
        set(hit.facts["drivers"])
    assert score.false_alarms_per_day <= 0.25
    clean = bench.generate(days=14, users=5, seed=0, incidents=False)
    assert len(bench.learned_alerts(clean)) / clean.days <= 0.25


def test_the_bench_prints_its_table(bench: ModuleType, capsys: pytest.CaptureFixture) -> None:
    assert bench.main(["--days", "14", "--users", "4", "--seeds", "0", "--slow-rates", "2",
                       "--no-learned"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("## Monitoring: detection on a labelled synthetic log")
    for kind in ("bulk-exfiltration", "slow-and-low (2/h)", "revoked-key-use",
                 "compromised-key-use", "classical-recipient", "verify-failure-burst"):
        assert f"| {kind} | 1/1 (100%) |" in out
    assert "| false alarms per day (clean log) | 0.00 |" in out

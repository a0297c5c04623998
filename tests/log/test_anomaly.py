"""pqml.log.anomaly: per-window features against each entity's own usual, an Isolation
Forest that flags the window that leaves its pattern, and the features that drove it."""

from __future__ import annotations

import random
import sys

import pytest

from pqml.log.anomaly import FEATURES, LearnedDetector, windows
from pqml.log.entry import Actor, Asset, LogEntry
from pqml.log.monitor_config import Learned
from pqml.primitives.errors import UnavailableAlgorithmError

pytest.importorskip("sklearn")

T0 = 1_780_012_800.0  # midnight UTC
HOUR, DAY = 3600.0, 86400.0


def _decrypt(t: float, host: str, key: str, asset: str, user: str = "u") -> LogEntry:
    return LogEntry("decrypt", "ok", T0 + t, Actor(user, host, 1), (key,), (Asset(asset),),
                    {"bytes": 1_000_000, "format": "pqml/v1"})


def _routine(days: int = 20, seed: int = 0) -> list[LogEntry]:
    """Four hosts, each with its own habit: a few files in office hours, or a nightly job."""
    rng = random.Random(seed)
    log = []
    for d in range(days):
        for h in range(4):
            host, key = f"ws-{h}", f"k{h % 2}"
            for hour in (9, 10, 11, 14, 15, 16):
                for _ in range(rng.randint(1, 3)):
                    log.append(_decrypt(d * DAY + hour * HOUR + rng.uniform(0, 3000), host, key,
                                        f"{host}/a{rng.randrange(6)}"))
        for i in range(rng.randint(40, 60)):  # the nightly job: many shards, every night
            log.append(_decrypt(d * DAY + 2 * HOUR + i * 30, "gpu", "k9",
                                f"shard{rng.randrange(80)}", user="svc"))
    return sorted(log, key=lambda e: e.time)


def test_features_are_measured_against_the_entitys_usual() -> None:
    log = _routine(days=10)
    log.append(_decrypt(8 * DAY + 3 * HOUR, "ws-0", "k0", "never-seen"))
    found = windows(enumerate(log), by=("host",), warmup=0)
    night = next(w for w in found if w.entity == "ws-0" and w.start == T0 + 8 * DAY + 3 * HOUR)
    raw = dict(zip(FEATURES, night.raw, strict=True))
    assert raw["decryptions"] == 1 and raw["new_assets"] == 1
    values = dict(zip(FEATURES, night.values, strict=True))
    assert values["hour_rarity"] > 1  # one of ~60 windows at 03:00, against ~10 at its usual
    assert values["decryptions"] == 0  # not more than usual: only increases count
    gpu = [w for w in found if w.entity == "gpu"]
    # 50 shards a night is the gpu host's own usual: near zero, like a person's 2 files.
    assert all(dict(zip(FEATURES, w.values, strict=True))["decryptions"] < 0.4
               for w in gpu[3:])
    # The warm-up leaves an entity's first days out.
    later = windows(enumerate(log), by=("host",), warmup=7 * DAY)
    assert all(w.start >= T0 + 7 * DAY for w in later)


def test_the_window_that_leaves_its_pattern_is_flagged_and_explained() -> None:
    log = _routine()
    spike_start = len(log)
    log += [_decrypt(15 * DAY + 3 * HOUR + i * 10, "ws-2", "k0", f"loot{i}") for i in range(120)]
    log.sort(key=lambda e: e.time)
    alerts = LearnedDetector(Learned()).alerts(enumerate(log))
    spike = {i for i, e in enumerate(log) if e.assets[0].path.startswith("loot")}
    assert len(spike) == 120 and spike_start
    flagged = [a for a in alerts if spike & set(a.entries)]
    assert {a.subject for a in flagged} == {"host ws-2", "key k0"}
    for a in flagged:
        assert a.rule == "learned-anomaly" and a.severity == "medium"
        assert a.facts["score"] > 0.72 and "over the threshold 0.72" in a.explanation
        assert "decryptions 120 (usual for it" in a.explanation or \
            "assets never touched before 120" in a.explanation
        assert a.facts["drivers"]
    assert len(alerts) - len(flagged) <= 2  # 20 quiet days of 5 entities: almost nothing else
    again = LearnedDetector(Learned()).alerts(enumerate(log))
    assert [a.to_json() for a in again] == [a.to_json() for a in alerts]


def test_too_few_windows_to_learn_from() -> None:
    log = [_decrypt(i * HOUR, "h", "k", f"a{i}") for i in range(5)]
    assert LearnedDetector(Learned(warmup=1)).alerts(enumerate(log)) == []


def test_missing_scikit_learn_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "sklearn.ensemble", None)  # import now fails
    with pytest.raises(UnavailableAlgorithmError,
                       match=r"^the learned detector needs scikit-learn: "
                             r"pip install 'pqml\[monitor\]'$"):
        LearnedDetector()

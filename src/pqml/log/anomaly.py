"""A learned detector of unusual access per key and host (``pqml monitor --learned``).

The rules of :mod:`pqml.log.monitor_rules` catch what someone thought of in advance. This
detector looks for the rest: it cuts the log into windows (an hour by default), describes
what each key and each host did in each window by a few numbers (:data:`FEATURES`), and
scores the windows with an Isolation Forest (scikit-learn, the ``monitor`` extra) fitted
on the log itself. A window whose score is above the threshold becomes an alert.

A score alone explains nothing, so each alert names the features that drove it, measured
by occlusion: the window is scored again with one feature set to its typical (median)
value, and the drop in score is that feature's share. The sentence gives the largest
shares with the window's value and the typical one.

Deterministic: the forest's random state is fixed (``seed``) and time comes from the
entries, so one log always gives the same scores.
"""

from __future__ import annotations

import dataclasses
import math
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from pqml._internal.text import printable
from pqml.log.entry import LogEntry
from pqml.log.monitor_alert import Alert, human_bytes, human_duration, iso
from pqml.log.monitor_config import Learned
from pqml.log.monitor_rules import nbytes, subject_name

# What one entity (a key or a host) did in one window, each against that entity's own
# usual (its median over the windows it was active in): a GPU host that opens 60 shards
# every night is as ordinary as a person who opens 5 files an afternoon, and each stands
# out when it leaves its own pattern. Ratios enter as logarithms, so 10x up and 10x down
# are as far from usual.
FEATURES = (
    "decryptions",       # decrypt entries
    "decrypted_bytes",   # bytes they opened
    "distinct_assets",   # different assets touched
    "new_assets",        # assets this entity had never touched before this window
    "users",             # different users (of a key; on a host)
    "hour_rarity",       # how much rarer this hour of the day is for it than its usual one
    "failures",          # failed or refused operations (decrypt, verify, ...), absolute
)
_RELATIVE = FEATURES[:5]
_LABELS = {
    "decryptions": "decryptions", "decrypted_bytes": "bytes decrypted",
    "distinct_assets": "distinct assets", "new_assets": "assets never touched before",
    "users": "users", "hour_rarity": "share of its active windows at this hour",
    "failures": "failed operations",
}
MIN_WINDOWS = 20  # fewer windows than this per kind: too little to learn what is usual


def _sklearn() -> Any:
    """scikit-learn's IsolationForest; a missing extra is one line, as for the others."""
    try:
        from sklearn.ensemble import IsolationForest
    except ImportError:
        from pqml.primitives.errors import UnavailableAlgorithmError

        raise UnavailableAlgorithmError(
            "the learned detector needs scikit-learn: pip install 'pqml[monitor]'") from None
    return IsolationForest


@dataclasses.dataclass
class _Cell:
    """One entity in one window, while the log is read."""

    decryptions: int = 0
    bytes: int = 0
    failures: int = 0
    assets: set[str] = dataclasses.field(default_factory=set)
    users: set[str] = dataclasses.field(default_factory=set)
    indices: list[int] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(frozen=True)
class Window:
    kind: str          # "key" or "host"
    entity: str
    start: float       # window start, Unix seconds
    values: tuple[float, ...]   # model inputs, in FEATURES order
    raw: tuple[float, ...]      # the same as counts a person reads (hour: a share)
    usual: tuple[float, ...]    # the entity's usual raw values (its medians)
    indices: tuple[int, ...]


def windows(entries: Iterable[tuple[int, LogEntry]], *, window: float = 3600.0,
            by: tuple[str, ...] = ("key", "host"), warmup: float = 0.0) -> list[Window]:
    """Per-window features of every key and host that decrypted or failed something, from
    ``warmup`` seconds after the entity's first window on."""
    cells: dict[tuple[str, str, int], _Cell] = defaultdict(_Cell)
    for index, entry in entries:
        failed = entry.outcome != "ok" and entry.operation in ("decrypt", "verify", "encrypt",
                                                               "sign", "rekey")
        if entry.operation != "decrypt" and not failed:
            continue
        slot = int(entry.time // window)
        for kind in by:
            if kind == "key":
                entities = list(dict.fromkeys(entry.key_ids))
            elif kind == "host":
                entities = [entry.actor.host]
            else:
                entities = [entry.actor.user]
            for entity in entities:
                cell = cells[(kind, entity, slot)]
                cell.indices.append(index)
                cell.users.add(entry.actor.user)
                if failed:
                    cell.failures += 1
                if entry.operation == "decrypt":
                    cell.decryptions += 1
                    cell.bytes += nbytes(entry)
                    cell.assets.update(a.path for a in entry.assets)
    # Per entity: its usual window, the hours it is active, the assets it knew before.
    by_entity: dict[tuple[str, str], list[tuple[int, _Cell]]] = defaultdict(list)
    for (kind, entity, slot), cell in cells.items():
        by_entity[(kind, entity)].append((slot, cell))
    out = []
    for (kind, entity), slots in sorted(by_entity.items()):
        slots.sort(key=lambda item: item[0])
        hours: dict[int, int] = defaultdict(int)
        for slot, _ in slots:
            hours[int(slot * window % 86400 // 3600)] += 1
        seen: set[str] = set()
        raws = []
        for slot, c in slots:
            new = len(c.assets - seen)
            seen |= c.assets
            share = hours[int(slot * window % 86400 // 3600)] / len(slots)
            raws.append((float(c.decryptions), float(c.bytes), float(len(c.assets)),
                         float(new), float(len(c.users)), share, float(c.failures)))
        active = [r for r in raws if r[0] > 0] or raws
        usual = tuple(_median([r[j] for r in active]) for j in range(len(FEATURES)))
        first = slots[0][0] * window
        for (slot, c), raw in zip(slots, raws, strict=True):
            if slot * window - first < warmup:
                continue  # everything is new to an entity at first: not yet its pattern
            # Only more than usual (and a rarer hour) counts: less is not exfiltration.
            values = (*(_step(math.log((raw[j] + _FLOOR[j]) / (usual[j] + _FLOOR[j])))
                        for j in range(5)),
                      _step(math.log(usual[5] / raw[5])), math.log1p(raw[6]))
            out.append(Window(kind, entity, slot * window, values, raw, usual,
                              tuple(c.indices)))
    return out


_FLOOR = (1.0, 1e6, 1.0, 1.0, 1.0)  # added before a ratio: 0 vs 0 is 1x; bytes in MB
_STEP = 0.25  # log-ratio resolution: changes under ~28% are an entity's ordinary jitter


def _step(log_ratio: float) -> float:
    """Only more than usual counts (less is not exfiltration), in steps of :data:`_STEP`:
    an Isolation Forest isolates any unique value, so a host whose nights vary by a few
    percent must not look rarer than people whose counts are small whole numbers."""
    return _STEP * math.floor(max(0.0, log_ratio) / _STEP)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else 0.0


def _readable(feature: str, value: float) -> str:
    """A raw value as a person reads it."""
    if feature == "hour_rarity":
        return f"{value:.0%}"
    if feature == "decrypted_bytes":
        return human_bytes(value)
    return f"{value:g}"


class LearnedDetector:
    """An Isolation Forest per entity kind, fitted on the log's own windows."""

    id = "learned"

    def __init__(self, config: Learned | None = None) -> None:
        self.config = config or Learned()
        self.forest_class = _sklearn()

    def alerts(self, entries: Iterable[tuple[int, LogEntry]]) -> list[Alert]:
        import numpy as np

        c = self.config
        found = windows(entries, window=c.window, by=c.by, warmup=c.warmup)
        alerts = []
        for kind in c.by:
            group = [w for w in found if w.kind == kind]
            if len(group) < MIN_WINDOWS:
                continue
            x = np.array([w.values for w in group], dtype=float)
            forest = self.forest_class(n_estimators=c.trees, random_state=c.seed)
            forest.fit(x)
            scores = -forest.score_samples(x)
            typical = np.median(x, axis=0)
            for row, score in enumerate(scores):
                if score <= c.threshold:
                    continue
                shares = self._shares(forest, x[row], typical, float(score))
                alerts.append(self._alert(group[row], float(score), shares))
        alerts.sort(key=lambda a: (a.time, a.subject))
        return alerts

    @staticmethod
    def _shares(forest: Any, row: Any, typical: Any, score: float) -> list[tuple[int, float]]:
        import numpy as np

        trials = np.repeat(row[None, :], len(FEATURES), axis=0)
        for j in range(len(FEATURES)):
            trials[j, j] = typical[j]
        drops = score + forest.score_samples(trials)  # score - occluded score
        ranked = sorted(enumerate(drops.tolist()), key=lambda p: -p[1])
        return [(j, d) for j, d in ranked if d > 0.005][:3]

    def _alert(self, w: Window, score: float, shares: list[tuple[int, float]]) -> Alert:
        c = self.config
        name = subject_name(w.kind, w.entity)
        drivers = "; ".join(
            f"{_LABELS[FEATURES[j]]} {_readable(FEATURES[j], w.raw[j])} "
            f"(usual for it {_readable(FEATURES[j], w.usual[j])}; +{d:.2f} of the score)"
            for j, d in shares) or "no single feature stands out"
        return Alert(
            "learned-anomaly", c.severity, w.start, name, w.indices,
            f"{name} in the {human_duration(c.window)} from {iso(w.start)}: anomaly score "
            f"{score:.2f} over the threshold {c.threshold:.2f}; driven by {drivers}.",
            {"kind": w.kind, "entity": printable(w.entity), "score": round(score, 4),
             "threshold": c.threshold, "window_start": w.start,
             "features": {f: round(v, 4) for f, v in zip(FEATURES, w.raw, strict=True)},
             "usual": {f: round(v, 4) for f, v in zip(FEATURES, w.usual, strict=True)},
             "drivers": [FEATURES[j] for j, _ in shares]})

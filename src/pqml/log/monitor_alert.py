"""What a monitor rule says when it fires: which rule, how bad, which log entries, and one
sentence a person can check against those entries.

An alert carries its numbers twice: in the sentence (for the person on call) and in
``facts`` (for the machine that routes it), so nothing has to be parsed back out of prose.
Its ``time`` is the log time of the entry that fired it, never the clock, so replaying the
same log gives the same alerts.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pqml.log.monitor_config import SEVERITIES

MAX_LISTED_ENTRIES = 1000  # an alert names at most this many entries (the latest ones)


def severity_rank(severity: str) -> int:
    return SEVERITIES.index(severity)


def lower(severity: str) -> str:
    """One step less severe (a refused attempt weighs less than one that worked)."""
    return SEVERITIES[max(0, severity_rank(severity) - 1)]


@dataclasses.dataclass(frozen=True)
class Alert:
    rule: str                 # rule id, as in pqml.toml: "bulk-decrypt", ...
    severity: str             # low, medium, high or critical
    time: float               # log time of the entry that fired it (Unix seconds)
    subject: str              # "key 3f2a…", "user alice", "host gpu-1"
    entries: tuple[int, ...]  # log indices that make the case, oldest first
    explanation: str          # one sentence, with the numbers and the threshold
    facts: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"unknown severity {self.severity!r}")
        entries = tuple(sorted(set(self.entries)))
        object.__setattr__(self, "entries", entries[-MAX_LISTED_ENTRIES:])

    def at_least(self, severity: str) -> bool:
        return severity_rank(self.severity) >= severity_rank(severity)

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "time": self.time,
            "time_utc": iso(self.time),
            "subject": self.subject,
            "entries": list(self.entries),
            "explanation": self.explanation,
            "facts": dict(self.facts),
        }


def iso(seconds: float) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def ranges(indices: Sequence[int]) -> str:
    """``3, 7-9, 12`` for [3, 7, 8, 9, 12]: entry lists stay readable on one line."""
    parts: list[str] = []
    start = prev = None
    for i in indices:
        if prev is not None and i == prev + 1:
            prev = i
            continue
        if start is not None:
            parts.append(str(start) if start == prev else f"{start}-{prev}")
        start = prev = i
    if start is not None:
        parts.append(str(start) if start == prev else f"{start}-{prev}")
    return ", ".join(parts)


def human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{int(n)} bytes" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError  # pragma: no cover


def human_duration(seconds: float) -> str:
    """``1 h``, ``14 d``, ``10 min``; ``3.2 d`` when not a whole number of the unit."""
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            value = seconds / size
            return f"{int(value)} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{seconds:g} s"

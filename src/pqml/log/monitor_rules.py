"""The monitor's rules: each one reads log entries in order and says, in one sentence with
its numbers, why an entry (or a run of them) is unusual or unsafe.

Rules keep only bounded state (sliding windows, day buckets, a key's state) and read time
from the entries, so a log replayed gives the same alerts in the same order, and a
monitor following the log agrees with one reading it afterwards.

- ``bulk-decrypt``: more decryptions (or bytes) by one key, user or host in a window than
  a fixed limit: the burst of "harvest now, decrypt later" exfiltration.
- ``unusual-decrypt``: more than ``factor`` times the actor's own daily average of the
  days before: the slow-and-low version of the same, which stays under fixed limits.
- ``key-state-use``: a key used in a state that should not allow it (encrypting to a
  retired key, decrypting with a revoked or compromised one), and uses between a key's
  ``compromised_at`` and the entry that marked it compromised.
- ``classical-recipients``: an asset encrypted (or re-keyed, migrated) to a
  quantum-vulnerable recipient.
- ``verify-failures``: a burst of failed signature verifications.
- ``rotation-overdue``: an active key older than its maximum age.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import heapq
from collections.abc import Callable, Iterator
from typing import Protocol

from pqml._internal.text import plural, printable
from pqml.log.entry import LogEntry
from pqml.log.monitor_alert import Alert, human_bytes, human_duration, iso, lower
from pqml.log.monitor_config import (
    BulkDecrypt,
    ClassicalRecipients,
    KeyStateUse,
    RotationOverdue,
    UnusualDecrypt,
    VerifyFailures,
)

DAY = 86400.0
# Operations that put new assets under a key (only an active key may) and that open them.
PROTECTING = frozenset({"encrypt", "rekey", "migrate", "rotate-file-key", "sign"})
OPENING = frozenset({"decrypt", "verify"})
RECIPIENT_OPERATIONS = frozenset({"encrypt", "rekey", "migrate", "rotate-file-key"})
# (past tense, infinitive, preposition before the key): "decrypted m.pqml with key k1".
_VERBS = {"encrypt": ("encrypted", "encrypt", "to"), "rekey": ("re-keyed", "re-key", "to"),
          "migrate": ("migrated", "migrate", "to"),
          "rotate-file-key": ("rotated the file key of", "rotate the file key of", "to"),
          "sign": ("signed", "sign", "with"), "decrypt": ("decrypted", "decrypt", "with"),
          "verify": ("verified", "verify", "with")}
_STATE_WORDS = {"destroy-scheduled": "scheduled for destruction"}
# Recipient types of age files the algorithm registry does not list.
_CLASSICAL_RECIPIENTS = frozenset({"ssh-ed25519", "ssh-rsa"})
MAX_KEY_USES = 256     # uses remembered per key, for a compromise reported late
MAX_WINDOW_ENTRIES = 100_000  # per actor and window: memory stays bounded on any log
MIN_ACTIVE_DAYS = 3  # an actor active on fewer days of its baseline has none yet


def short_key(key_id: str) -> str:
    key_id = printable(key_id)
    return key_id if len(key_id) <= 16 else key_id[:16] + "…"


def who(entry: LogEntry) -> str:
    return f"user {printable(entry.actor.user)} on host {printable(entry.actor.host)}"


def asset_names(entry: LogEntry) -> str:
    if not entry.assets:
        return "an asset"
    first = printable(entry.assets[0].path)
    return first if len(entry.assets) == 1 else f"{first} and {len(entry.assets) - 1} more"


def subjects(entry: LogEntry, by: tuple[str, ...]) -> Iterator[tuple[str, str]]:
    """The (dimension, value) pairs ``entry`` counts towards: its keys, user and host."""
    for dim in by:
        if dim == "key":
            for key_id in dict.fromkeys(entry.key_ids):
                yield "key", key_id
        elif dim == "user":
            yield "user", entry.actor.user
        else:
            yield "host", entry.actor.host


def subject_name(dim: str, value: str) -> str:
    return f"key {short_key(value)}" if dim == "key" else f"{dim} {printable(value)}"


def nbytes(entry: LogEntry) -> int:
    value = entry.details.get("bytes")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


# -- key states, replayed from the log -------------------------------------------------------

@dataclasses.dataclass
class KeyInfo:
    id: str
    state: str | None = None          # None: the log has not said (a key older than it)
    since: float | None = None
    state_index: int | None = None
    created: float | None = None
    created_index: int | None = None
    purpose: str | None = None
    compromised_at: float | None = None
    uses: collections.deque[tuple[int, float, str]] = dataclasses.field(
        default_factory=lambda: collections.deque(maxlen=MAX_KEY_USES))


class KeyStates:
    """Each key's state as the log's ``key.new``, ``key.state`` and ``key.destroy`` entries
    leave it, and its recent uses. Only entries with outcome ``ok`` change anything."""

    def __init__(self) -> None:
        self.keys: dict[str, KeyInfo] = {}

    def get(self, key_id: str) -> KeyInfo | None:
        return self.keys.get(key_id)

    def _info(self, key_id: str) -> KeyInfo:
        info = self.keys.get(key_id)
        if info is None:
            info = self.keys[key_id] = KeyInfo(key_id)
        return info

    def apply(self, index: int, entry: LogEntry) -> None:
        if entry.outcome != "ok":
            return
        op, details = entry.operation, entry.details
        if op in ("key.new", "key.import"):
            for key_id in entry.key_ids:
                info = self._info(key_id)
                info.created, info.created_index = entry.time, index
                purpose = details.get("purpose")
                info.purpose = purpose if isinstance(purpose, str) else None
                state = details.get("state")
                info.state = state if isinstance(state, str) else "active"
                info.since, info.state_index = entry.time, index
        elif op == "key.state":
            new = details.get("to")
            if isinstance(new, str):
                for key_id in entry.key_ids:
                    info = self._info(key_id)
                    info.state, info.since, info.state_index = new, entry.time, index
                    if new == "compromised":
                        at = details.get("compromised_at")
                        info.compromised_at = float(at) if isinstance(at, int | float) \
                            and not isinstance(at, bool) else entry.time
        elif op == "key.destroy":
            for key_id in entry.key_ids:
                info = self._info(key_id)
                info.state, info.since, info.state_index = "destroyed", entry.time, index
        elif op in PROTECTING or op in OPENING:
            for key_id in entry.key_ids:
                self._info(key_id).uses.append((index, entry.time, op))


# -- rules -------------------------------------------------------------------------------------

class Rule(Protocol):
    id: str

    def observe(self, index: int, entry: LogEntry, now: float,
                keys: KeyStates) -> list[Alert]:
        """Alerts ``entry`` (at log position ``index``) fires. ``now`` is the latest entry
        time seen so far; ``keys`` the key states before this entry."""


class _Window:
    """Entries of one actor within a sliding window: (time, index, bytes), with sums."""

    __slots__ = ("armed", "bytes", "items")

    def __init__(self) -> None:
        self.items: collections.deque[tuple[float, int, int]] = collections.deque()
        self.bytes = 0
        self.armed = True  # fires once per excursion over the limit

    def add(self, time: float, index: int, size: int) -> None:
        self.items.append((time, index, size))
        self.bytes += size
        if len(self.items) > MAX_WINDOW_ENTRIES:
            self.bytes -= self.items.popleft()[2]

    def evict(self, start: float) -> None:
        while self.items and self.items[0][0] <= start:
            self.bytes -= self.items.popleft()[2]

    @property
    def count(self) -> int:
        return len(self.items)

    def indices(self) -> list[int]:
        return [i for _, i, _ in self.items]


class BulkDecryptRule:
    """More than ``max_count`` decryptions or ``max_bytes`` decrypted bytes by one key, user
    or host within ``window``. Fires once, then re-arms when the window is back under."""

    id = "bulk-decrypt"

    def __init__(self, config: BulkDecrypt) -> None:
        self.config = config
        self.windows: dict[tuple[str, str], _Window] = {}

    def observe(self, index: int, entry: LogEntry, now: float,
                keys: KeyStates) -> list[Alert]:
        if entry.operation != "decrypt":
            return []
        c = self.config
        alerts = []
        for dim, value in subjects(entry, c.by):
            w = self.windows.setdefault((dim, value), _Window())
            w.evict(now - c.window)
            w.add(entry.time, index, nbytes(entry))
            over_count, over_bytes = w.count > c.max_count, w.bytes > c.max_bytes
            if not (over_count or over_bytes):
                w.armed = True
                continue
            if not w.armed:
                continue
            w.armed = False
            limit = (f"the limit of {c.max_count}" if over_count
                     else f"the limit of {human_bytes(c.max_bytes)}")
            alerts.append(Alert(
                self.id, c.severity, entry.time, subject_name(dim, value), tuple(w.indices()),
                f"{subject_name(dim, value)} decrypted {plural(w.count, 'file')} "
                f"({human_bytes(w.bytes)}) within {human_duration(c.window)}, over {limit}.",
                {"dimension": dim, "actor": value, "count": w.count, "bytes": w.bytes,
                 "window_seconds": c.window, "max_count": c.max_count,
                 "max_bytes": c.max_bytes}))
        return alerts


@dataclasses.dataclass
class _History:
    window: _Window
    first_day: int
    days: dict[int, list[int]]  # day number -> [count, bytes]
    pruned_day: int = -1
    # (start, end) -> (active days, count, bytes): the baseline changes once a day, so it
    # is summed once a day (and again only if an entry lands on a day already summed).
    baseline: tuple[int, int, int, int, int] | None = None


class UnusualDecryptRule:
    """Decryptions by one key, user or host within ``window`` above ``factor`` times that
    actor's own average over the ``baseline`` days before the window (and above
    ``min_count``, so that small numbers do not alert). Bytes are compared too when
    ``min_bytes`` is set: file sizes are heavy-tailed (one large checkpoint makes a day),
    so a byte baseline is noisy and off by default; ``bulk-decrypt`` limits bytes."""

    id = "unusual-decrypt"

    def __init__(self, config: UnusualDecrypt) -> None:
        self.config = config
        self.actors: dict[tuple[str, str], _History] = {}

    def observe(self, index: int, entry: LogEntry, now: float,
                keys: KeyStates) -> list[Alert]:
        if entry.operation != "decrypt":
            return []
        c = self.config
        day = int(entry.time // DAY)
        baseline_days = max(1, round(c.baseline / DAY))
        alerts = []
        for dim, value in subjects(entry, c.by):
            h = self.actors.get((dim, value))
            if h is None:
                h = self.actors[(dim, value)] = _History(_Window(), day, {})
            size = nbytes(entry)
            bucket = h.days.setdefault(day, [0, 0])
            bucket[0] += 1
            bucket[1] += size
            if h.baseline is not None and day < h.baseline[1]:
                h.baseline = None  # a late entry for a day the baseline already counted
            if day != h.pruned_day:
                h.pruned_day = day
                for old in [d for d in h.days
                            if d < day - baseline_days - 2 - c.window // DAY]:
                    del h.days[old]
            h.window.evict(now - c.window)
            h.window.add(entry.time, index, size)
            # The baseline: the actor's active days (any decryption) among the whole days
            # before the window starts, back to `baseline`: weekends and leave do not
            # dilute it, and a day like the busy ones is not news.
            end = int((now - c.window) // DAY)
            start = max(end - baseline_days, h.first_day)
            if end <= start or now - h.first_day * DAY < c.min_history:
                continue
            if h.baseline is None or h.baseline[:2] != (start, end):
                active = [h.days[d] for d in range(start, end) if d in h.days]
                h.baseline = (start, end, len(active), sum(b[0] for b in active),
                              sum(b[1] for b in active))
            _, _, active_days, total_count, total_bytes = h.baseline
            if active_days < MIN_ACTIVE_DAYS:
                continue
            covered = end - start
            scale = c.window / DAY / active_days
            expected_count = total_count * scale
            expected_bytes = total_bytes * scale
            count_limit = max(c.factor * expected_count, c.min_count)
            bytes_limit = max(c.factor * expected_bytes, c.min_bytes)
            over_count = h.window.count > count_limit
            over_bytes = c.min_bytes > 0 and h.window.bytes > bytes_limit
            if not (over_count or over_bytes):
                h.window.armed = True
                continue
            if not h.window.armed:
                continue
            h.window.armed = False
            name = subject_name(dim, value)
            if over_count:
                measure = (f"decrypted {plural(h.window.count, 'file')} within "
                           f"{human_duration(c.window)}; its average over its "
                           f"{plural(active_days, 'active day')} of the {covered} before "
                           f"was {expected_count:.1f}, "
                           f"so the threshold was {count_limit:.1f} "
                           f"({c.factor:g}x, at least {c.min_count})")
            else:
                measure = (f"decrypted {human_bytes(h.window.bytes)} within "
                           f"{human_duration(c.window)}; its average over its "
                           f"{plural(active_days, 'active day')} of the {covered} before "
                           f"was {human_bytes(expected_bytes)}, so the threshold was "
                           f"{human_bytes(bytes_limit)} ({c.factor:g}x, at least "
                           f"{human_bytes(c.min_bytes)})")
            alerts.append(Alert(
                self.id, c.severity, entry.time, name, tuple(h.window.indices()),
                f"{name} {measure}.",
                {"dimension": dim, "actor": value, "count": h.window.count,
                 "bytes": h.window.bytes, "baseline_count": round(expected_count, 3),
                 "baseline_bytes": round(expected_bytes, 1), "baseline_days": covered,
                 "active_days": active_days,
                 "count_threshold": round(count_limit, 3),
                 "bytes_threshold": round(bytes_limit, 1), "factor": c.factor,
                 "window_seconds": c.window}))
        return alerts


class KeyStateUseRule:
    """A key used in a state that does not allow that use, as the log's own key.state
    entries replay it; and, when a key is marked compromised with an earlier
    ``compromised_at``, the uses the log recorded in between."""

    id = "key-state-use"

    def __init__(self, config: KeyStateUse) -> None:
        self.config = config

    def observe(self, index: int, entry: LogEntry, now: float,
                keys: KeyStates) -> list[Alert]:
        op = entry.operation
        if op == "key.state" and entry.outcome == "ok" \
                and entry.details.get("to") == "compromised":
            return self._late_compromise(index, entry, keys)
        if op not in PROTECTING and op not in OPENING:
            return []
        c = self.config
        alerts = []
        for key_id in dict.fromkeys(entry.key_ids):
            info = keys.get(key_id)
            if info is None or info.state is None:
                continue
            if op in PROTECTING:
                if info.state == "active":
                    continue
                why = "only an active key may protect new assets"
            else:
                if info.state not in c.opening_states:
                    continue
                why = f"a {info.state} key should open nothing"
            severity = c.compromised_severity if info.state == "compromised" else c.severity
            past, infinitive, preposition = _VERBS[op]
            if entry.outcome == "ok":
                did = past
            else:
                did = f"tried to {infinitive}"
                severity = lower(severity)  # pqml refused it or it failed: an attempt
            tried = "" if entry.outcome == "ok" else f" (outcome {entry.outcome})"
            since = (f" since {iso(info.since)} (entry {info.state_index})"
                     if info.since is not None else "")
            state = _STATE_WORDS.get(info.state, info.state)
            alerts.append(Alert(
                self.id, severity, entry.time, f"key {short_key(key_id)}",
                (index,) if info.state_index is None else (info.state_index, index),
                f"{who(entry)} {did} {asset_names(entry)} {preposition} key "
                f"{short_key(key_id)}{tried}, but the key has been {state}{since}: {why}.",
                {"key_id": key_id, "state": info.state, "operation": op,
                 "outcome": entry.outcome, "state_entry": info.state_index,
                 "user": entry.actor.user, "host": entry.actor.host}))
        return alerts

    def _late_compromise(self, index: int, entry: LogEntry, keys: KeyStates) -> list[Alert]:
        at = entry.details.get("compromised_at")
        if not isinstance(at, int | float) or isinstance(at, bool) or at >= entry.time:
            return []
        alerts = []
        for key_id in entry.key_ids:
            info = keys.get(key_id)
            late = [(i, op) for i, t, op in (info.uses if info else ()) if t >= at]
            if not late:
                continue
            alerts.append(Alert(
                self.id, self.config.compromised_severity, entry.time,
                f"key {short_key(key_id)}", (index, *(i for i, _ in late)),
                f"key {short_key(key_id)} was marked compromised at {iso(entry.time)} "
                f"(entry {index}) as of {iso(float(at))}; the log has "
                f"{plural(len(late), 'use')} of it in between "
                f"({', '.join(sorted({op for _, op in late}))}).",
                {"key_id": key_id, "compromised_at": float(at), "uses": len(late)}))
        return alerts


@functools.lru_cache(maxsize=256)
def quantum_vulnerable(name: str) -> bool | None:
    """Whether a recipient algorithm falls to a quantum computer; None when unknown."""
    from pqml.primitives import registry
    from pqml.primitives.errors import UnknownAlgorithmError

    if name.strip().lower() in _CLASSICAL_RECIPIENTS:
        return True
    try:
        return registry.get(name).quantum_vulnerable
    except UnknownAlgorithmError:
        return None


class ClassicalRecipientsRule:
    """An asset encrypted, re-keyed or migrated to a quantum-vulnerable recipient: whoever
    records the file today opens it once a quantum computer can break that recipient."""

    id = "classical-recipients"

    def __init__(self, config: ClassicalRecipients) -> None:
        self.config = config

    def observe(self, index: int, entry: LogEntry, now: float,
                keys: KeyStates) -> list[Alert]:
        if entry.operation not in RECIPIENT_OPERATIONS or entry.outcome != "ok":
            return []
        listed = entry.details.get("recipient_algorithms")
        algorithms = [a.strip() for a in listed.split(",") if a.strip()] \
            if isinstance(listed, str) else []
        vulnerable = [a for a in dict.fromkeys(algorithms) if quantum_vulnerable(a)]
        safe = [a for a in dict.fromkeys(algorithms) if quantum_vulnerable(a) is False]
        classical_only = entry.details.get("classical_only") is True or \
            (bool(vulnerable) and not safe)
        if not vulnerable and not classical_only:
            return []
        names = printable(", ".join(vulnerable) or "classical")
        verb = _VERBS[entry.operation][0]
        if classical_only:
            severity = self.config.severity
            text = (f"{who(entry)} {verb} {asset_names(entry)} to classical-only recipients "
                    f"({names}): anyone who stores the file can open it once a quantum "
                    "computer breaks them (harvest now, decrypt later).")
        else:
            severity = self.config.mixed_severity
            text = (f"{who(entry)} {verb} {asset_names(entry)} to a quantum-vulnerable "
                    f"recipient ({names}) beside post-quantum ones "
                    f"({printable(', '.join(safe))}): the file is only as safe as its "
                    "weakest recipient.")
        return [Alert(self.id, severity, entry.time,
                      f"user {printable(entry.actor.user)}", (index,), text,
                      {"operation": entry.operation, "classical_only": classical_only,
                       "vulnerable_algorithms": ",".join(vulnerable),
                       "key_ids": ",".join(entry.key_ids)})]


class VerifyFailuresRule:
    """More than ``max_failures`` failed signature verifications by one host (or key,
    user) within ``window``: someone is feeding tampered models or forged signatures."""

    id = "verify-failures"

    def __init__(self, config: VerifyFailures) -> None:
        self.config = config
        self.windows: dict[tuple[str, str], _Window] = {}

    def observe(self, index: int, entry: LogEntry, now: float,
                keys: KeyStates) -> list[Alert]:
        if entry.operation != "verify" or entry.outcome != "failed":
            return []
        c = self.config
        alerts = []
        for dim, value in subjects(entry, c.by):
            w = self.windows.setdefault((dim, value), _Window())
            w.evict(now - c.window)
            w.add(entry.time, index, 0)
            if w.count <= c.max_failures:
                w.armed = True
                continue
            if not w.armed:
                continue
            w.armed = False
            reason = entry.details.get("reason")
            last = f" (last reason: {printable(str(reason))})" if reason else ""
            name = subject_name(dim, value)
            alerts.append(Alert(
                self.id, c.severity, entry.time, name, tuple(w.indices()),
                f"{name} had {plural(w.count, 'failed signature verification')} within "
                f"{human_duration(c.window)}, over the limit of {c.max_failures}{last}.",
                {"dimension": dim, "actor": value, "count": w.count,
                 "max_failures": c.max_failures, "window_seconds": c.window}))
        return alerts


@dataclasses.dataclass(frozen=True)
class RotationLimits:
    """One key's limits: seconds of age, operations, bytes (None: no such limit), and the
    words that say where they come from ("for model weights, [keys] policy")."""

    max_age: float | None = None
    max_operations: int | None = None
    max_bytes: int | None = None
    source: str = ""


@dataclasses.dataclass
class _Tracked:
    created: float
    created_index: int
    purpose: str | None
    classes: set[str | None]
    limits: RotationLimits
    operations: int = 0
    bytes: int = 0
    done: bool = False  # alerted (once per key)


class RotationOverdueRule:
    """An active key past its rotation limits as the log measures them: older (in log
    time) than its maximum age, or with more protecting operations or bytes than allowed.
    The limits come from ``[monitor.rotation-overdue] max_age`` per purpose, else from
    the keyring's ``[keys]`` rotation policy, per class of the assets the key protects
    (the shortest wins, as ``pqml keys due`` decides). Fires once per key: for age when
    the log's time first passes the deadline, for use at the entry that reaches the limit.
    """

    id = "rotation-overdue"

    def __init__(self, config: RotationOverdue,
                 limits: Callable[[str | None, set[str | None]], RotationLimits] | None = None,
                 classify: Callable[[str], str | None] | None = None) -> None:
        self.config = config
        self.limits = limits or self._configured
        self.classify = classify or (lambda path: None)
        self.keys: dict[str, _Tracked] = {}
        self.deadlines: list[tuple[float, int, str]] = []

    def _configured(self, purpose: str | None, classes: set[str | None]) -> RotationLimits:
        ages = self.config.max_age
        age = ages.get(purpose or "default", ages.get("default"))
        where = f"for {purpose} keys in" if purpose in ages else "the default of"
        return RotationLimits(age, source=f"{where} [monitor.rotation-overdue]")

    def observe(self, index: int, entry: LogEntry, now: float,
                keys: KeyStates) -> list[Alert]:
        alerts = []
        op = entry.operation
        if op in ("key.new", "key.import") and entry.outcome == "ok":
            purpose = entry.details.get("purpose")
            purpose = purpose if isinstance(purpose, str) else None
            for key_id in entry.key_ids:
                t = self.keys[key_id] = _Tracked(entry.time, index, purpose, set(),
                                                 self.limits(purpose, {None}))
                self._schedule(key_id, t)
        elif op in PROTECTING and entry.outcome == "ok":
            classes = {self.classify(a.path) for a in entry.assets}
            for key_id in dict.fromkeys(entry.key_ids):
                t = self.keys.get(key_id)
                if t is None or t.done:
                    continue
                t.operations += 1
                t.bytes += nbytes(entry)
                if not classes <= t.classes:
                    t.classes |= classes
                    t.limits = self.limits(t.purpose, t.classes - {None} or {None})
                    self._schedule(key_id, t)
                alerts += self._over_use(index, entry, key_id, t, keys)
        while self.deadlines and self.deadlines[0][0] < now:
            deadline, _, key_id = heapq.heappop(self.deadlines)
            t = self.keys[key_id]
            info = keys.get(key_id)
            if t.done or t.limits.max_age is None or \
                    deadline != t.created + t.limits.max_age or \
                    info is None or info.state != "active" or info.created_index != t.created_index:
                continue  # rescheduled, rotated, retired or re-created since
            t.done = True
            alerts.append(Alert(
                self.id, self.config.severity, now, f"key {short_key(key_id)}",
                (t.created_index, index),
                f"key {short_key(key_id)} is still active {human_duration(now - t.created)} "
                f"after it was made (entry {t.created_index}); its maximum age is "
                f"{human_duration(t.limits.max_age)} ({t.limits.source}), so it was due for "
                f"rotation on {iso(deadline)}.",
                {"key_id": key_id, "created": t.created, "limit": "max_age",
                 "max_age_seconds": t.limits.max_age, "due": deadline}))
        return alerts

    def _schedule(self, key_id: str, t: _Tracked) -> None:
        if t.limits.max_age is not None:
            heapq.heappush(self.deadlines, (t.created + t.limits.max_age, t.created_index,
                                            key_id))

    def _over_use(self, index: int, entry: LogEntry, key_id: str, t: _Tracked,
                  keys: KeyStates) -> list[Alert]:
        info = keys.get(key_id)
        if info is None or info.state != "active":
            return []
        for limit, used, cap, what in (
                ("max_operations", t.operations, t.limits.max_operations, "operations"),
                ("max_bytes", t.bytes, t.limits.max_bytes, "bytes")):
            if cap is None or used < cap:
                continue
            t.done = True
            shown = human_bytes(used) if what == "bytes" else str(used)
            limit_shown = human_bytes(cap) if what == "bytes" else str(cap)
            return [Alert(
                self.id, self.config.severity, entry.time, f"key {short_key(key_id)}",
                (t.created_index, index),
                f"key {short_key(key_id)} has protected {shown} ({what}) since it was made "
                f"(entry {t.created_index}), reaching its limit of {limit_shown} "
                f"({t.limits.source}): it is due for rotation.",
                {"key_id": key_id, "limit": limit, "used": used, "cap": cap})]
        return []

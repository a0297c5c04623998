"""Watch the transparency log and raise alerts on unusual or unsafe use of keys.

How data flows::

    (index, LogEntry) ... ──► Monitor.feed ──► KeyStates (replayed key.state entries)
                                  │
                                  ├── bulk-decrypt, unusual-decrypt   (monitor_rules)
                                  ├── key-state-use, classical-recipients
                                  ├── verify-failures, rotation-overdue
                                  ▼
                                Alert (rule, severity, entries, one sentence, facts)
                                  │
                     JSON line / text line / post_alert(webhook)

The monitor reads any iterable of ``(index, LogEntry)``: the persistent log
(:func:`store_entries`, once or following it), a file of entry lines
(:func:`file_entries`), or a list in a test. It keeps bounded state and takes time only
from the entries, so the same log always gives the same alerts. The rules and their
limits come from the ``[monitor]`` table of ``pqml.toml`` (:mod:`pqml.log.monitor_config`);
an optional learned detector (:mod:`pqml.log.anomaly`) scores whole logs.
"""

from __future__ import annotations

import json
import time as _time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from pqml.log.entry import MAX_ENTRY_BYTES, LogEntry
from pqml.log.errors import AlertDeliveryError, LogEntryError, LogError
from pqml.log.monitor_alert import Alert
from pqml.log.monitor_config import MonitorConfig
from pqml.log.monitor_rules import (
    BulkDecryptRule,
    ClassicalRecipientsRule,
    KeyStates,
    KeyStateUseRule,
    RotationLimits,
    RotationOverdueRule,
    Rule,
    UnusualDecryptRule,
    VerifyFailuresRule,
)

WEBHOOK_TIMEOUT = 5.0  # seconds per POST: a stuck receiver must not stall the monitor


def rotation_limits(config: MonitorConfig
                    ) -> Callable[[str | None, set[str | None]], RotationLimits] | None:
    """The keyring's ``[keys]`` rotation policy (:mod:`pqml.keys.rotation_policy`) as
    limits per asset class, read from the same settings file as ``config``; None when this
    build has no such module."""
    try:
        from pqml.keys import rotation_policy as rp
    except ImportError:
        return None
    policy = rp.load(config.source) if config.source else rp.load()

    def limits(purpose: str | None, classes: set[str | None]) -> RotationLimits:
        best: dict[str, tuple[float, str | None]] = {}
        for cls in sorted(classes, key=lambda c: (c is None, c or "")):
            for name in rp.LIMITS:
                value = getattr(policy.limits_for(cls), name)
                if value is not None and (name not in best or value < best[name][0]):
                    best[name] = (value, cls if policy.binds(cls, name) else None)
        age = best.get("max_age", (None, None))
        what = (f"for {rp.CLASS_NAMES.get(age[1], age[1])} in" if age[1]
                else "the default of")
        where = f" in {policy.source}" if policy.source else ""
        return RotationLimits(age[0], best.get("max_operations", (None,))[0],
                              best.get("max_bytes", (None,))[0],
                              f"{what} the [keys] rotation policy{where}")

    return limits


def asset_classifier() -> Callable[[str], str | None] | None:
    try:
        from pqml.keys.keyring import asset_class
    except ImportError:
        return None
    return asset_class


def build_rules(config: MonitorConfig) -> list[Rule]:
    """The enabled rules of ``config``, in the order they see each entry."""
    rules: list[Rule] = []
    if config.key_state_use.enabled:
        rules.append(KeyStateUseRule(config.key_state_use))
    if config.classical_recipients.enabled:
        rules.append(ClassicalRecipientsRule(config.classical_recipients))
    if config.bulk_decrypt.enabled:
        rules.append(BulkDecryptRule(config.bulk_decrypt))
    if config.unusual_decrypt.enabled:
        rules.append(UnusualDecryptRule(config.unusual_decrypt))
    if config.verify_failures.enabled:
        rules.append(VerifyFailuresRule(config.verify_failures))
    if config.rotation_overdue.enabled:
        # Its own max_age per purpose, else the [keys] policy; with neither, nothing to check.
        limits = None if config.rotation_overdue.max_age else rotation_limits(config)
        if config.rotation_overdue.max_age or limits is not None:
            rules.append(RotationOverdueRule(config.rotation_overdue, limits,
                                             asset_classifier()))
    return rules


class Monitor:
    """The rules of a :class:`MonitorConfig`, fed one entry at a time."""

    def __init__(self, config: MonitorConfig | None = None,
                 rules: list[Rule] | None = None) -> None:
        self.config = config or MonitorConfig()
        self.rules = build_rules(self.config) if rules is None else rules
        self.keys = KeyStates()
        self.now = float("-inf")  # the latest entry time seen
        self.entries_seen = 0

    def feed(self, index: int, entry: LogEntry) -> list[Alert]:
        """The alerts entry ``index`` fires (rules see key states as they were before it)."""
        self.now = max(self.now, entry.time)
        self.entries_seen += 1
        alerts = []
        for rule in self.rules:
            alerts += rule.observe(index, entry, self.now, self.keys)
        self.keys.apply(index, entry)
        return alerts

    def run(self, entries: Iterable[tuple[int, LogEntry]], *,
            since: float | None = None) -> Iterator[Alert]:
        """Alerts over ``entries`` in log order. With ``since``, every entry still feeds the
        rules (baselines and key states need the history) but only alerts at or after that
        time are yielded."""
        for index, entry in entries:
            for alert in self.feed(index, entry):
                if since is None or alert.time >= since:
                    yield alert


def scan(entries: Iterable[tuple[int, LogEntry]],
         config: MonitorConfig | None = None) -> list[Alert]:
    """Every alert of a whole log (a convenience over :class:`Monitor`)."""
    return list(Monitor(config).run(entries))


# -- sources -----------------------------------------------------------------------------------

def default_log_directory() -> Path:
    """``$PQML_HOME/log``, where :mod:`pqml.log.store` keeps the log."""
    from pqml._internal.home import pqml_home

    return pqml_home() / "log"


def store_entries(directory: Path, *, follow: bool = False, start: int = 0,
                  poll: float = 0.2) -> Iterator[tuple[int, LogEntry]]:
    """The persistent log's entries (:class:`pqml.log.store.LogStore`), once or following
    it (a log not created yet is waited for). Each entry is checked against its record's
    leaf hash as it is read; ``pqml log verify`` checks the rest."""
    from pqml.log.store import LogStore

    store = LogStore(directory)
    try:
        yield from (store.follow(start, poll=poll) if follow else store.entries(start))
    finally:
        store.close()


def file_entries(path: Path, *, follow: bool = False, poll: float = 0.2,
                 stop: Callable[[], bool] | None = None) -> Iterator[tuple[int, LogEntry]]:
    """Entries from a file of canonical entry lines (index = line number from 0). With
    ``follow``, waits for lines appended later until ``stop()`` says so; a line is read
    only once its newline is there, so a writer caught mid-line is not misread."""
    try:
        f = path.open("rb")
    except OSError as exc:
        raise LogError(f"{path}: cannot read entries ({exc.strerror or exc})") from None
    with f:
        index = 0
        pending = b""
        while True:
            chunk = f.readline(MAX_ENTRY_BYTES + 2)
            if chunk:
                pending += chunk
                if len(pending) > MAX_ENTRY_BYTES + 1:
                    raise LogError(f"{path}: line {index + 1} is over {MAX_ENTRY_BYTES} bytes")
                if not pending.endswith(b"\n"):
                    if follow:
                        continue
                    raise LogError(f"{path}: line {index + 1} is incomplete (no newline)")
                line, pending = pending[:-1], b""
                if not line.strip():
                    raise LogError(f"{path}: line {index + 1} is empty")
                try:
                    entry = LogEntry.from_bytes(line)
                except LogEntryError as exc:
                    raise LogError(f"{path}: line {index + 1}: {exc}") from None
                yield index, entry
                index += 1
                continue
            if not follow or (stop is not None and stop()):
                if pending and not follow:
                    raise LogError(f"{path}: line {index + 1} is incomplete (no newline)")
                return
            _time.sleep(poll)  # tailing a file: nothing to wait on but its growth


# -- delivery ----------------------------------------------------------------------------------

def format_alert(alert: Alert) -> str:
    """One readable line: time, severity, rule, the sentence and the entries."""
    from pqml.log.monitor_alert import iso, ranges

    return (f"{iso(alert.time)} {alert.severity.upper()} {alert.rule}: {alert.explanation} "
            f"[entries {ranges(alert.entries)}]")


def alert_json(alert: Alert) -> str:
    return json.dumps(alert.to_json(), sort_keys=True, separators=(",", ":"),
                      ensure_ascii=False)


def post_alert(url: str, alert: Alert, *, timeout: float = WEBHOOK_TIMEOUT) -> None:
    """POST ``alert`` as JSON to ``url``; any answer but 2xx is an error naming the URL."""
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise AlertDeliveryError(f"webhook {url}: only http:// and https:// URLs are allowed")
    request = urllib.request.Request(
        url, data=alert_json(alert).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "pqml-monitor"})
    class _Refuse(urllib.request.HTTPRedirectHandler):
        # urllib would re-send a redirected POST as a bodiless GET whose 200 reads as
        # delivered; a redirect is an answer other than 2xx like any other.
        def redirect_request(self, *args: object, **kwargs: object) -> None:
            return None

    opener = urllib.request.build_opener(_Refuse)
    try:
        with opener.open(request, timeout=timeout) as response:
            status = response.status
            response.read(65536)
    except urllib.error.HTTPError as exc:
        raise AlertDeliveryError(f"webhook {url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise AlertDeliveryError(f"webhook {url}: {reason}") from None
    if not 200 <= status < 300:
        raise AlertDeliveryError(f"webhook {url}: HTTP {status}")

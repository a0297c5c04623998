"""``pqml monitor``: read the transparency log (once, or following it) and raise alerts.

A thin shell over :mod:`pqml.log.monitor` (rules) and :mod:`pqml.log.anomaly` (the learned
detector). Alerts go to stdout, one line each (``--json``: one JSON object per line) and,
with ``--webhook``, as a POST each. Exit codes: 0 ok (alerts below ``--fail-on`` included),
1 an alert at or above ``--fail-on`` (with ``--follow``: at the first one), or a failure
(unreadable log, webhook not answering), 2 usage or a malformed ``[monitor]`` table.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import click

SEVERITIES = ("low", "medium", "high", "critical")
_AGO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")


def _since(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """ISO 8601 date or time (UTC unless it says otherwise), Unix seconds, or a duration
    before now (``24h``, ``7d``)."""
    if value is None:
        return None
    found = _AGO.match(value)
    if found:
        from pqml.log.monitor_config import parse_duration

        return time.time() - parse_duration(value, "--since")
    try:
        return float(value)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date, a time, Unix seconds or a "
                                 "duration such as 24h or 7d") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when.timestamp()


def _webhook(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not value.startswith(("http://", "https://")):
        raise click.BadParameter(f"{value!r} is not an http:// or https:// URL")
    return value


@click.command()
@click.option("--log", "log_dir", type=click.Path(file_okay=False, path_type=Path),
              metavar="DIR", help="The log directory (default: $PQML_HOME/log).")
@click.option("--entries", "entries_file", type=click.Path(dir_okay=False, path_type=Path),
              metavar="FILE",
              help="Read entries from FILE instead, one canonical JSON entry a line.")
@click.option("-f", "--follow", is_flag=True,
              help="Keep reading as entries are appended (until interrupted, or the "
                   "first alert at --fail-on).")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per alert and line.")
@click.option("--webhook", metavar="URL", callback=_webhook,
              help="POST each alert as JSON to URL (default: monitor.webhook in pqml.toml).")
@click.option("--fail-on", type=click.Choice(SEVERITIES), metavar="SEVERITY",
              help="Exit 1 on an alert this severe or worse: low, medium, high, critical "
                   "(default: monitor.fail_on in pqml.toml).")
@click.option("--since", callback=_since, metavar="WHEN",
              help="Report alerts from WHEN on (ISO date or time, Unix seconds, or 24h, 7d "
                   "ago); earlier entries still feed baselines and key states.")
@click.option("--learned", is_flag=True,
              help="Also score each key's and host's hourly access with the learned "
                   "detector (scikit-learn; not with --follow).")
@click.option("--config", "config_path", metavar="FILE",
              help="Settings file (default: pqml.toml in the working directory).")
def monitor(log_dir: Path | None, entries_file: Path | None, follow: bool, as_json: bool,
            webhook: str | None, fail_on: str | None, since: float | None, learned: bool,
            config_path: str | None) -> None:
    """Watch the log and alert on unusual or unsafe use of keys.

    Rules (configurable in the [monitor] table of pqml.toml): bulk or unusual decryption by
    one key, user or host; use of retired, revoked, compromised or destroyed keys;
    classical-only recipients; bursts of failed verifications; keys overdue for rotation.
    Each alert names its rule, severity, the log entries behind it and why, in one
    sentence with the numbers and the threshold.

    \b
    Examples:
      pqml monitor                               # the whole log, once
      pqml monitor --json --fail-on high         # for CI or cron: exit 1 on high alerts
      pqml monitor -f --webhook https://hooks.example/pqml
      pqml monitor --since 2026-06-01 --learned

    Exit codes: 0 ok, 1 an alert at or above --fail-on (or a failure), 2 usage error.
    """
    from pqml.log import monitor as mon
    from pqml.log.monitor_config import load

    if log_dir is not None and entries_file is not None:
        raise click.UsageError("--log and --entries cannot be used together")
    if learned and follow:
        raise click.UsageError("--learned scores a whole log; run it without --follow")
    config = load(config_path)
    webhook = webhook or config.webhook
    fail_on = fail_on or config.fail_on
    detector = None
    if learned:
        from pqml.log.anomaly import LearnedDetector

        detector = LearnedDetector(config.learned)  # fails now if scikit-learn is missing
    if entries_file is not None:
        source = mon.file_entries(entries_file, follow=follow)
    else:
        source = mon.store_entries(log_dir or mon.default_log_directory(), follow=follow)
    kept: list[Any] = []
    if detector is not None:
        source = _keep(source, kept)
    failing = False
    for alert in mon.Monitor(config).run(source, since=since):
        _emit(alert, as_json, webhook)
        if fail_on and alert.at_least(fail_on):
            failing = True
            if follow:
                break
    if detector is not None:
        for alert in detector.alerts(kept):
            if since is not None and alert.time < since:
                continue
            _emit(alert, as_json, webhook)
            failing = failing or bool(fail_on and alert.at_least(fail_on))
    if failing:
        raise SystemExit(1)


def _keep(source: Iterable[Any], kept: list[Any]) -> Iterator[Any]:
    for item in source:
        kept.append(item)
        yield item


def _emit(alert: Any, as_json: bool, webhook: str | None) -> None:
    """Print first, then deliver: an alert the webhook refuses is still on stdout."""
    from pqml.log import monitor as mon

    click.echo(mon.alert_json(alert) if as_json else mon.format_alert(alert))
    sys.stdout.flush()  # following: each alert leaves as it is raised, not when a buffer fills
    if webhook:
        mon.post_alert(webhook, alert)

"""Times and durations as key-lifecycle commands take them (``--not-after``,
``--compromised-at``, ``destroy --after``).

A time is ISO 8601 (``2027-01-31``, ``2027-01-31T12:00:00Z``; a time without a zone is
UTC, never the machine's local zone, so one command means the same on every host), Unix
seconds (``@1767225600``), ``now``, or ``now`` / nothing plus or minus a duration
(``+90d``, ``-2h``). A duration is one or more ``<number><unit>`` with units s, m, h, d, w
(``7d``, ``1d12h``, ``90m``) or a plain number of seconds.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

from pqml.primitives.errors import PqmlError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_RELATIVE = re.compile(r"^(?:now)?\s*([+-])\s*(.+)$")


class TimeSpecError(PqmlError, ValueError):
    """A time or duration on the command line cannot be read (a usage error)."""

    exit_code = 2


def parse_duration(text: str) -> float:
    """Seconds in ``text``: ``7d``, ``1d12h``, ``90m``, ``30s``, ``3600``."""
    spec = text.strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", spec):
        return float(spec)
    pos, total = 0, 0.0
    for match in _PART.finditer(spec):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not spec or pos != len(spec):
        raise TimeSpecError(f"invalid duration {text!r} (e.g. 7d, 12h, 1d12h, 90m, 30s)")
    return total


def parse_time(text: str, *, now: float | None = None) -> float:
    """Unix seconds for ``text``: ISO 8601 (UTC unless it says otherwise), ``@SECONDS``,
    ``now``, or ``now+DURATION`` / ``+DURATION`` / ``-DURATION`` relative to now."""
    spec = text.strip()
    current = time.time() if now is None else now
    if spec.lower() == "now":
        return current
    relative = _RELATIVE.match(spec.lower())
    if relative and not re.match(r"^\d{4}-", spec):
        seconds = parse_duration(relative.group(2))
        return current + seconds if relative.group(1) == "+" else current - seconds
    if spec.startswith("@"):
        try:
            return float(spec[1:])
        except ValueError:
            pass
    else:
        try:
            parsed = datetime.fromisoformat(spec.replace("Z", "+00:00").replace("z", "+00:00"))
        except ValueError:
            pass
        else:
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=UTC)
            return parsed.timestamp()
    raise TimeSpecError(f"invalid time {text!r} (ISO 8601 such as 2027-01-31 or "
                        "2027-01-31T12:00:00Z, @UNIX-SECONDS, now, or now+90d)")


def format_time(seconds: float | None) -> str:
    """``2027-01-31T12:00:00Z`` (UTC, whole seconds); ``-`` for None."""
    if seconds is None:
        return "-"
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

"""The ``[monitor]`` table of ``pqml.toml``: which rules run and where their limits are.

```toml
[monitor]
fail_on = "high"                 # default for --fail-on
webhook = "https://alerts.example/pqml"   # default for --webhook

[monitor.bulk-decrypt]           # many decryptions by one key, user or host in a window
window = "1h"
max_count = 200                  # more than this many decryptions in the window alerts
max_bytes = 21474836480          # or more than this many bytes decrypted (20 GiB)
by = ["key", "user", "host"]
severity = "high"

[monitor.unusual-decrypt]        # against the actor's own daily baseline
window = "24h"
baseline = "14d"                 # the days before the window; their active days averaged
factor = 3.0                     # alert above factor x baseline ...
min_count = 20                   # ... and above this count (small numbers are noise)
min_bytes = 0                    # > 0: bytes too, above factor x baseline and this
min_history = "7d"               # no baseline for an actor seen for less than this

[monitor.key-state-use]          # keys used in a state that should not allow it
opening_states = ["revoked", "compromised", "disabled", "destroy-scheduled", "destroyed"]

[monitor.classical-recipients]   # assets encrypted to quantum-vulnerable recipients
severity = "high"                # every recipient classical
mixed_severity = "medium"        # a classical recipient beside post-quantum ones

[monitor.verify-failures]
window = "10m"
max_failures = 3
by = ["host"]

[monitor.rotation-overdue]       # active keys past their age, operations or bytes limit
max_age = "365d"                 # or { encrypt = "365d", sign = "730d" }; unset: the
                                 # [keys] rotation policy (per asset class, as `pqml keys due`)

[monitor.learned]                # pqml monitor --learned (scikit-learn)
window = "1h"
threshold = 0.72                 # Isolation Forest score (0.5: ordinary)
warmup = "7d"                    # an entity's first days are learned from, not scored
by = ["key", "host"]
```

Every rule takes ``enabled`` and ``severity``. Durations are seconds or a number with a
unit (``s``, ``m``, ``h``, ``d``, ``w``). As in ``[scan]``, an unknown key or a wrong type is
an error naming the setting: a typo in a monitoring policy must not silently switch a
rule off or loosen it.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pqml.log.errors import MonitorConfigError

SEVERITIES = ("low", "medium", "high", "critical")
DIMENSIONS = ("key", "user", "host")
STATES = ("pending", "active", "retired", "revoked", "compromised", "disabled",
          "destroy-scheduled", "destroyed")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")
MAX_CONFIG_BYTES = 1 << 20


@dataclasses.dataclass(frozen=True)
class BulkDecrypt:
    enabled: bool = True
    severity: str = "high"
    window: float = 3600.0
    max_count: int = 200
    max_bytes: int = 20 * (1 << 30)
    by: tuple[str, ...] = DIMENSIONS


@dataclasses.dataclass(frozen=True)
class UnusualDecrypt:
    enabled: bool = True
    severity: str = "medium"
    window: float = 86400.0
    baseline: float = 14 * 86400.0
    factor: float = 3.0
    min_count: int = 20
    min_bytes: int = 0  # 0: bytes not compared (sizes are heavy-tailed; see the rule)
    min_history: float = 7 * 86400.0
    by: tuple[str, ...] = DIMENSIONS


@dataclasses.dataclass(frozen=True)
class KeyStateUse:
    enabled: bool = True
    severity: str = "high"
    compromised_severity: str = "critical"
    # Retired keys exist to open old assets, so opening with one is not an alert.
    opening_states: tuple[str, ...] = ("revoked", "compromised", "disabled",
                                       "destroy-scheduled", "destroyed")


@dataclasses.dataclass(frozen=True)
class ClassicalRecipients:
    enabled: bool = True
    severity: str = "high"
    mixed_severity: str = "medium"


@dataclasses.dataclass(frozen=True)
class VerifyFailures:
    enabled: bool = True
    severity: str = "high"
    window: float = 600.0
    max_failures: int = 3
    by: tuple[str, ...] = ("host",)


@dataclasses.dataclass(frozen=True)
class RotationOverdue:
    enabled: bool = True
    severity: str = "medium"
    # Seconds per purpose ("encrypt", "sign", or "default"); empty: the [keys] rotation
    # policy of pqml.keys.rotation_policy (age, operations, bytes per asset class).
    max_age: Mapping[str, float] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class Learned:
    enabled: bool = True
    severity: str = "medium"
    window: float = 3600.0
    threshold: float = 0.72
    warmup: float = 7 * 86400.0  # an entity's first days are learned from, not scored
    by: tuple[str, ...] = ("key", "host")
    trees: int = 200
    seed: int = 0


@dataclasses.dataclass(frozen=True)
class MonitorConfig:
    bulk_decrypt: BulkDecrypt = BulkDecrypt()
    unusual_decrypt: UnusualDecrypt = UnusualDecrypt()
    key_state_use: KeyStateUse = KeyStateUse()
    classical_recipients: ClassicalRecipients = ClassicalRecipients()
    verify_failures: VerifyFailures = VerifyFailures()
    rotation_overdue: RotationOverdue = RotationOverdue()
    learned: Learned = Learned()
    fail_on: str | None = None
    webhook: str | None = None
    source: str | None = None


# Rule id (as in pqml.toml and in alerts) -> MonitorConfig attribute.
RULE_TABLES = {
    "bulk-decrypt": "bulk_decrypt",
    "unusual-decrypt": "unusual_decrypt",
    "key-state-use": "key_state_use",
    "classical-recipients": "classical_recipients",
    "verify-failures": "verify_failures",
    "rotation-overdue": "rotation_overdue",
    "learned": "learned",
}


def parse_duration(value: Any, where: str) -> float:
    """Seconds from ``90``, ``"90s"``, ``"10m"``, ``"1h"``, ``"14d"`` or ``"2w"``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (found := _DURATION.match(value)):
        seconds = float(found[1]) * _UNITS[found[2] or "s"]
    else:
        raise MonitorConfigError(f"{where} must be a duration such as 600, \"10m\", \"1h\" "
                                 f"or \"14d\", not {value!r}")
    if not 0 < seconds <= 10 * 365 * 86400:
        raise MonitorConfigError(f"{where} must be more than 0 and at most 10 years")
    return seconds


def check_severity(value: Any, where: str) -> str:
    if value not in SEVERITIES:
        raise MonitorConfigError(f"{where} must be one of {', '.join(SEVERITIES)}, "
                                 f"not {value!r}")
    return str(value)


def parse(text: str, source: str) -> MonitorConfig:
    """The ``[monitor]`` table of a ``pqml.toml`` text (other tables are ignored: they
    belong to other commands)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MonitorConfigError(f"{source}: invalid TOML ({exc})") from None
    table = doc.get("monitor", {})
    if not isinstance(table, dict):
        raise MonitorConfigError(f"{source}: [monitor] must be a table")
    try:
        return _monitor(table, source)
    except MonitorConfigError as exc:
        raise MonitorConfigError(f"{source}: {exc}") from None


def load(path: str | None) -> MonitorConfig:
    """The explicit ``--config`` file, else ``pqml.toml`` in the working directory (as
    ``pqml scan`` finds it), else the defaults."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise MonitorConfigError(f"{path}: config file not found")
        return parse(_read(p), path)
    candidate = Path("pqml.toml")
    if candidate.is_file():
        return parse(_read(candidate), str(candidate))
    return MonitorConfig()


def _read(p: Path) -> str:
    try:
        with p.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
        if len(data) > MAX_CONFIG_BYTES:
            raise MonitorConfigError(f"{p}: config file is over {MAX_CONFIG_BYTES} bytes")
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MonitorConfigError(f"{p}: cannot read config ({exc})") from None


def _monitor(table: dict[str, Any], source: str) -> MonitorConfig:
    values: dict[str, Any] = {"source": source}
    for key, value in table.items():
        if key in RULE_TABLES:
            if not isinstance(value, dict):
                raise MonitorConfigError(f"[monitor.{key}] must be a table")
            attr = RULE_TABLES[key]
            default = getattr(MonitorConfig(), attr)
            values[attr] = _rule(key, value, default)
        elif key == "fail_on":
            values["fail_on"] = check_severity(value, "monitor.fail_on")
        elif key == "webhook":
            if not isinstance(value, str) or not value.startswith(("http://", "https://")):
                raise MonitorConfigError("monitor.webhook must be an http:// or https:// URL")
            values["webhook"] = value
        else:
            known = ", ".join([*RULE_TABLES, "fail_on", "webhook"])
            raise MonitorConfigError(f"unknown key monitor.{key} (known: {known})")
    return MonitorConfig(**values)


def _rule(name: str, table: dict[str, Any], default: Any) -> Any:
    fields = {f.name: f for f in dataclasses.fields(default)}
    out: dict[str, Any] = {}
    for key, value in table.items():
        where = f"monitor.{name}.{key}"
        attr = key
        if attr not in fields:
            known = ", ".join(fields)
            raise MonitorConfigError(f"unknown setting {where} (known: {known})")
        out[attr] = _value(attr, value, where, getattr(default, attr))
    rule = dataclasses.replace(default, **out)
    _check_rule(name, rule)
    return rule


def _value(attr: str, value: Any, where: str, default: Any) -> Any:
    if attr in ("enabled",):
        if not isinstance(value, bool):
            raise MonitorConfigError(f"{where} must be true or false")
        return value
    if attr.endswith("severity"):
        return check_severity(value, where)
    if attr in ("window", "baseline", "min_history", "warmup"):
        return parse_duration(value, where)
    if attr == "max_age":
        if isinstance(value, dict):
            ages = {}
            for purpose, age in value.items():
                if purpose not in ("encrypt", "sign", "default"):
                    raise MonitorConfigError(f"{where}.{purpose}: unknown purpose "
                                             "(known: encrypt, sign, default)")
                ages[purpose] = parse_duration(age, f"{where}.{purpose}")
            return ages
        return {"default": parse_duration(value, where)}
    if attr == "by":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not value or \
                any(v not in DIMENSIONS for v in value):
            raise MonitorConfigError(f"{where} must be a non-empty list of "
                                     f"{', '.join(DIMENSIONS)}")
        return tuple(dict.fromkeys(value))
    if attr == "opening_states":
        if not isinstance(value, list) or any(v not in STATES for v in value):
            raise MonitorConfigError(f"{where} must be a list of key states "
                                     f"({', '.join(STATES)})")
        return tuple(value)
    if isinstance(default, bool):  # pragma: no cover - only "enabled" is a bool
        raise MonitorConfigError(f"{where} must be true or false")
    if isinstance(default, int):
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise MonitorConfigError(f"{where} must be a non-negative integer")
        return value
    if isinstance(default, float):
        if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
            raise MonitorConfigError(f"{where} must be a positive number")
        return float(value)
    raise MonitorConfigError(f"{where}: unsupported setting")  # pragma: no cover


def _check_rule(name: str, rule: Any) -> None:
    if name == "unusual-decrypt" and rule.factor < 1:
        raise MonitorConfigError(f"monitor.{name}.factor must be at least 1")
    if name == "learned" and not 0 < rule.threshold < 1:
        raise MonitorConfigError(f"monitor.{name}.threshold must be between 0 and 1")
    if name in ("bulk-decrypt", "verify-failures", "learned") and rule.window < 1:
        raise MonitorConfigError(f"monitor.{name}.window must be at least 1 second")
    if name == "learned" and rule.trees < 1:
        raise MonitorConfigError(f"monitor.{name}.trees must be at least 1")

"""When a key must rotate: the ``[keys]`` policy of ``pqml.toml``, adapted to each key.

```toml
[keys]
max_age = "365d"            # a duration (s, m, h, d, w; "1d12h") or seconds
max_operations = 1000000    # encryptions, rekeys, signatures… counted by the keyring
max_bytes = "1TiB"          # bytes processed (B, KiB, MiB, GiB, TiB, or a number)
notice = "7d"               # listed by `pqml keys due` this long before it is due

[keys.classes.model]        # keys that protect model weights
max_age = "90d"

[keys.classes.dataset]      # keys that protect training data
max_age = "180d"
max_bytes = "10TiB"
```

Without a file (or a ``[keys]`` table) the defaults below apply: a year for any key, 90
days for one that protects model weights, 180 days for training data, no use limits,
seven days' notice. The file is found as ``pqml scan`` finds its own (the explicit
``--config`` file, else ``pqml.toml`` in the working directory), then
``$PQML_HOME/pqml.toml``. Unknown settings and wrong types are errors
(:class:`RotationPolicyError`, exit code 2): a typo must not silently relax the policy.

The effective limit of a key, for each of age, operations and bytes, is the shortest of
the limits of the asset classes of the assets it protects (an asset of no known class,
or a key with no recorded asset, gets the top-level limit; a class setting only ever
shortens it, and a class without its own setting inherits it). Then the key's measured
use shrinks its interval. With ``c`` the key's creation time, ``t`` now,
``e = max(t - c, 1 s)`` its age, ``n`` and ``b`` its counted operations and bytes, and
``A``, ``N``, ``B`` its effective limits::

    due_age   = c + A
    due_ops   = c + e * N / n      (n > 0: when n reaches N at the key's observed rate)
    due_bytes = c + e * B / b      (b > 0: likewise for bytes)
    due_at    = min(due_age, due_ops, due_bytes)      (absent limits drop out)

For example, with N = 1,000,000 and a key 10 days old that did 500,000 operations,
``due_ops`` is day 20, however long ``A`` is; ``due_ops <= t`` exactly when ``n >= N``.
A key is *due* when ``due_at <= t + notice`` and *overdue* when ``due_at <= t``. Only
active keys are considered: a pending key protects nothing yet, and retired or later
ones protect nothing new.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pqml.keys.errors import RotationPolicyError
from pqml.keys.states import KeyState

if TYPE_CHECKING:
    from pqml.keys.keyring import AssetRecord, KeyRecord, Keyring

DAY = 86400.0
CLASSES = ("model", "dataset")
"""The asset classes the keyring records (from the asset's file name)."""
CLASS_NAMES = {"model": "model weights", "dataset": "training data"}
LIMITS = ("max_age", "max_operations", "max_bytes")
_SETTINGS = (*LIMITS, "notice")
_BYTE_UNITS = {"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
               "pib": 1 << 50, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
               "pb": 10**15}


@dataclass(frozen=True)
class Limits:
    """One set of limits; None: no limit of that kind."""

    max_age: float | None = None  # seconds
    max_operations: int | None = None
    max_bytes: int | None = None


@dataclass(frozen=True)
class RotationPolicy:
    """The ``[keys]`` table: top-level limits, per-class overrides, the notice window."""

    default: Limits = Limits(max_age=365 * DAY)
    classes: Mapping[str, Limits] = field(default_factory=lambda: {
        "model": Limits(max_age=90 * DAY), "dataset": Limits(max_age=180 * DAY)})
    notice: float = 7 * DAY
    source: str | None = None  # the file it was read from; None: built-in defaults

    def limits_for(self, asset_class: str | None) -> Limits:
        """The limits of one asset class: the shorter of its own and the top level's (a
        class only ever tightens the policy)."""
        own = self.classes.get(asset_class) if asset_class is not None else None
        if own is None:
            return self.default
        return Limits(*(_shorter(getattr(own, k), getattr(self.default, k))
                        for k in LIMITS))

    def binds(self, asset_class: str | None, limit: str) -> bool:
        """Whether ``asset_class``'s own setting is what sets ``limit`` for it."""
        own = self.classes.get(asset_class) if asset_class is not None else None
        mine = getattr(own, limit) if own is not None else None
        top = getattr(self.default, limit)
        return mine is not None and (top is None or mine <= top)


def _shorter(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


@dataclass(frozen=True)
class Due:
    """A key that is due (or overdue) for rotation, and why, in words."""

    key: KeyRecord
    reason: str
    due_at: float
    overdue: bool
    limit: str = "max_age"  # which limit binds: max_age, max_operations or max_bytes
    interval: float = 0.0  # the effective interval: due_at - created

    def to_dict(self) -> dict[str, Any]:
        from pqml.keys.times import format_time

        return {"key": self.key.id, "label": self.key.label,
                "algorithm": self.key.algorithm, "purpose": self.key.purpose,
                "state": str(self.key.state), "reason": self.reason,
                "due_at": self.due_at, "due": format_time(self.due_at),
                "overdue": self.overdue, "limit": self.limit,
                "interval_days": round(self.interval / DAY, 3)}


# ---- reading pqml.toml ----------------------------------------------------------------------


def _fail(source: str, message: str) -> RotationPolicyError:
    return RotationPolicyError(f"{source}: {message}")


def _duration(value: Any, where: str, source: str) -> float:
    from pqml.keys.times import TimeSpecError, parse_duration

    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except TimeSpecError:
            raise _fail(source, f"{where} must be a duration such as \"90d\" or \"12h\", "
                        f"not {value!r}") from None
    else:
        raise _fail(source, f"{where} must be a duration such as \"90d\" (or seconds)")
    if not math.isfinite(seconds) or seconds <= 0:
        raise _fail(source, f"{where} must be a positive duration")
    return seconds


def _count(value: Any, where: str, source: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise _fail(source, f"{where} must be a positive integer")
    return value


_MAX_BYTES = 1 << 70  # a zebibyte: far beyond any key's use, and finite as a float


def parse_bytes(value: Any, where: str = "max_bytes", source: str = "pqml.toml") -> int:
    """Bytes in ``1099511627776``, ``"1TiB"``, ``"500 GB"``, ``"64MiB"``."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*", value)
        unit = m.group(2).lower() if m else None
        if m is None or unit not in _BYTE_UNITS:
            raise _fail(source, f"{where} must be a size such as \"1TiB\" or \"500GB\", "
                        f"not {value!r}")
        size = float(m.group(1)) * _BYTE_UNITS[unit]
        if not math.isfinite(size) or size > _MAX_BYTES:
            raise _fail(source, f"{where} is too large (at most {_MAX_BYTES} bytes)")
        n = int(size)
    else:
        raise _fail(source, f"{where} must be a size such as \"1TiB\" (or bytes)")
    if n <= 0:
        raise _fail(source, f"{where} must be positive")
    if n > _MAX_BYTES:
        raise _fail(source, f"{where} is too large (at most {_MAX_BYTES} bytes)")
    return n


def _limits(table: Any, where: str, source: str, *, base: Limits | None,
            allowed: tuple[str, ...]) -> tuple[Limits, float | None]:
    if not isinstance(table, dict):
        raise _fail(source, f"[{where}] must be a table")
    values: dict[str, Any] = {} if base is None else {
        k: getattr(base, k) for k in LIMITS}
    notice = None
    for key, value in table.items():
        if key == "classes" and where == "keys":
            continue
        if key not in allowed:
            raise _fail(source, f"unknown key {where}.{key} (known: {', '.join(allowed)})")
        if key == "max_age":
            values[key] = _duration(value, f"{where}.{key}", source)
        elif key == "max_operations":
            values[key] = _count(value, f"{where}.{key}", source)
        elif key == "max_bytes":
            values[key] = parse_bytes(value, f"{where}.{key}", source)
        else:
            notice = _duration(value, f"{where}.{key}", source)
    return Limits(**values), notice


def parse(text: str, source: str) -> RotationPolicy:
    """The policy in the TOML ``text`` (only its ``[keys]`` table is read)."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(source, f"invalid TOML ({exc})") from None
    if "keys" not in doc:
        return replace(RotationPolicy(), source=source)
    table = doc["keys"]
    defaults = RotationPolicy()
    default, notice = _limits(table, "keys", source, base=defaults.default,
                              allowed=_SETTINGS)
    classes = dict(defaults.classes)
    given = table.get("classes", {}) if isinstance(table, dict) else {}
    if not isinstance(given, dict):
        raise _fail(source, "[keys.classes] must be a table of asset classes")
    for name, sub in given.items():
        if name not in CLASSES:
            raise _fail(source, f"keys.classes.{name}: unknown asset class (known: "
                        f"{', '.join(CLASSES)})")
        # a class table replaces the built-in class default; unset limits inherit [keys]
        classes[name], _ = _limits(sub, f"keys.classes.{name}", source, base=None,
                                   allowed=LIMITS)
    return RotationPolicy(default, classes, defaults.notice if notice is None else notice,
                          source)


def load(path: str | Path | None = None, *, home: Path | None = None) -> RotationPolicy:
    """The policy of the explicit ``path``, else ``./pqml.toml``, else
    ``$PQML_HOME/pqml.toml`` (``home``), else the built-in defaults."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise RotationPolicyError(f"{path}: config file not found")
        return parse(_read(p), str(path))
    from pqml._internal.home import pqml_home

    for candidate in (Path("pqml.toml"), (home or pqml_home()) / "pqml.toml"):
        if candidate.is_file():
            return parse(_read(candidate), str(candidate))
    return RotationPolicy()


def _read(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RotationPolicyError(f"{p}: cannot read config ({exc})") from None


# ---- deciding -------------------------------------------------------------------------------


def human_duration(seconds: float) -> str:
    """``41d``, ``6d 16h``, ``3h``, ``12m``, ``40s``: two units at most."""
    s = abs(seconds)
    days, rest = divmod(int(s), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h" if hours and days < 10 else f"{days}d"
    if hours:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    if minutes:
        return f"{minutes}m"
    return f"{secs}s"


def _number(n: int) -> str:
    return f"{n:,}"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _protects(assets: Iterable[AssetRecord]) -> tuple[str, set[str | None]]:
    """``protects 12 model files and 3 other files`` and the classes seen."""
    counts = Counter(a.asset_class for a in assets)
    if not counts:
        return "protects no recorded asset", {None}
    parts = []
    for cls in (*CLASSES, None):
        n = counts.get(cls, 0)
        if n:
            kind = {"model": "model", "dataset": "dataset", None: "other"}.get(cls, cls)
            parts.append(f"{n} {kind} file{'s' if n != 1 else ''}")
    for cls, n in sorted((c, n) for c, n in counts.items()
                         if c not in (*CLASSES, None)):
        parts.append(f"{n} {cls} file{'s' if n != 1 else ''}")
    return "protects " + " and ".join(parts), set(counts)


def _effective(policy: RotationPolicy, classes: set[str | None]
               ) -> dict[str, tuple[Any, str | None]]:
    """Per limit, the shortest over ``classes`` and the class it comes from."""
    out: dict[str, tuple[Any, str | None]] = {}
    for name in LIMITS:
        best: tuple[Any, str | None] = (None, None)
        for cls in sorted(classes, key=lambda c: (c is None, c or "")):
            value = getattr(policy.limits_for(cls), name)
            own = policy.binds(cls, name)
            if value is not None and (best[0] is None or value < best[0]):
                best = (value, cls if own else None)
        out[name] = best
    return out


def _for_what(cls: str | None) -> str:
    return f"for {CLASS_NAMES.get(cls, cls)}" if cls is not None else "(default)"


def evaluate(key: KeyRecord, assets: Iterable[AssetRecord], policy: RotationPolicy,
             now: float) -> Due | None:
    """The key's rotation date and why, if it falls within the notice window (see the
    module docstring for the formula); None if the key is not due yet or not active."""
    if key.state != KeyState.ACTIVE:
        return None
    protects, classes = _protects(assets)
    limits = _effective(policy, classes)
    elapsed = max(now - key.created, 1.0)
    candidates: list[tuple[float, str, str]] = []
    max_age, age_cls = limits["max_age"]
    if max_age is not None:
        candidates.append((key.created + max_age, "max_age",
                           f"max age {human_duration(max_age)} {_for_what(age_cls)}; "
                           f"created {human_duration(now - key.created)} ago"))
    for name, used, what, show in (
            ("max_operations", key.operations, "operations", _number),
            ("max_bytes", key.bytes, "bytes", _size)):
        cap, cls = limits[name]
        if cap is None or used <= 0:
            continue
        at = key.created + elapsed * cap / used
        if used >= cap:
            at = min(at, now)  # reached: due now even within the first second
        pace = (f"at {show(used)} {what} in {human_duration(elapsed)}, reached"
                if used >= cap else
                f"{show(used)} {what} in {human_duration(elapsed)}: on pace to reach it "
                f"in {human_duration(at - now)}")
        candidates.append((at, name, f"max {show(cap)} {what} {_for_what(cls)}; {pace}"))
    if not candidates:
        return None
    due_at, limit, why = min(candidates)
    if due_at > now + policy.notice:
        return None
    overdue = due_at <= now
    when = (f"overdue by {human_duration(now - due_at)}" if overdue
            else f"due in {human_duration(due_at - now)}")
    return Due(key, f"{protects}: {why} ({when})", due_at, overdue, limit,
               due_at - key.created)


def due(keyring: Keyring, now: float, policy: RotationPolicy | None = None) -> list[Due]:
    """Every active key due for rotation within the notice window, soonest first."""
    policy = load() if policy is None else policy
    found = []
    for key in keyring.list(state=KeyState.ACTIVE):
        item = evaluate(key, keyring.assets(key.id), policy, now)
        if item is not None:
            found.append(item)
    return sorted(found, key=lambda d: (d.due_at, d.key.id))


def overdue(keyring: Keyring, now: float, policy: RotationPolicy | None = None) -> list[Due]:
    """The keys past their rotation date (what ``pqml keys status --check`` fails on)."""
    return [d for d in due(keyring, now, policy) if d.overdue]

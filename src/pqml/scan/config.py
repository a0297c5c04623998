"""``pqml.toml``: scan settings a repository keeps next to its code.

```toml
[scan]
ignore = ["tests/fixtures/**", "*.min.js"]   # added to --ignore
fail_on = ["deadline-2030", "unprotected-model"]
baseline = ".pqml-baseline.json"
jobs = 2
default_excludes = true                      # skip .git, node_modules, .venv, ...
gitignore = true                             # honour .gitignore files (--no-gitignore)

[scan.risk]
crqc_year = 2035          # z: the year a cryptographically relevant quantum computer exists
current_year = 2026       # default: this year
frameworks = ["nist-ir-8547", "cnsa-2.0"]
cnsa_category = "auto"    # or one of CNSA_CATEGORIES
migration_years = 3       # y, or a table per asset class (see risk.ASSET_CLASSES)
shelf_life_years = { model = 10, dataset = 15 }   # x, per asset class
```

Unknown keys and wrong types are errors (exit code 2): a typo in a policy file must not
silently relax the policy.

A ``pqml.toml`` found by looking in the scanned tree (or the working directory) is the
repository's own and so untrusted (``from_repository``): its ``ignore`` patterns and
baseline never hide ML artifact findings (a repository could otherwise hide its own
malicious pickle), the report says it was applied, and ``--no-repo-config`` skips it.
An explicit ``--config`` file is the user's and is applied as is.
"""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pqml.scan.errors import ScanError

FAIL_ON = ("quantum-vulnerable", "deadline-2030", "deadline-2035", "critical", "high",
           "unprotected-model", "code-execution", "any", "none")
FRAMEWORKS = ("nist-ir-8547", "cnsa-2.0")
CNSA_CATEGORIES = ("auto", "software-signing", "web-cloud", "networking", "operating-systems",
                   "niche", "custom-legacy")


@dataclass
class RiskConfig:
    """Mosca parameters and compliance frameworks (documented in risk.py)."""

    crqc_year: int = 2035
    current_year: int = field(default_factory=lambda: dt.date.today().year)
    frameworks: tuple[str, ...] = FRAMEWORKS
    cnsa_category: str = "auto"
    migration_years: dict[str, float] = field(default_factory=dict)
    shelf_life_years: dict[str, float] = field(default_factory=dict)

    @property
    def years_to_crqc(self) -> float:
        return float(self.crqc_year - self.current_year)


@dataclass
class ScanConfig:
    ignore: list[str] = field(default_factory=list)
    fail_on: list[str] = field(default_factory=list)
    baseline: str | None = None
    jobs: int | None = None
    default_excludes: bool = True
    gitignore: bool = True
    risk: RiskConfig = field(default_factory=RiskConfig)
    source: str | None = None
    from_repository: bool = False  # found in the scanned tree, not named by --config


def _fail(source: str, message: str) -> ScanError:
    return ScanError(f"{source}: {message}")


def _str_list(value: Any, where: str, source: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _fail(source, f"{where} must be a string or a list of strings")
    return list(value)


def _years(value: Any, where: str, source: str) -> dict[str, float]:
    from pqml.scan.risk import ASSET_CLASSES

    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"default": float(value)}
    if not isinstance(value, dict):
        raise _fail(source, f"{where} must be a number or a table of numbers")
    out = {}
    for k, v in value.items():
        if k not in (*ASSET_CLASSES, "default"):
            raise _fail(source, f"{where}.{k}: unknown asset class (known: "
                        f"{', '.join((*ASSET_CLASSES, 'default'))})")
        if not isinstance(v, int | float) or isinstance(v, bool) or v < 0:
            raise _fail(source, f"{where}.{k} must be a non-negative number")
        out[k] = float(v)
    return out


def parse(text: str, source: str) -> ScanConfig:
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _fail(source, f"invalid TOML ({exc})") from None
    scan = doc.get("scan", {})
    if not isinstance(scan, dict):
        raise _fail(source, "[scan] must be a table")
    cfg = ScanConfig(source=source)
    for key, value in scan.items():
        if key == "ignore":
            cfg.ignore = _str_list(value, "scan.ignore", source)
        elif key == "fail_on":
            cfg.fail_on = _str_list(value, "scan.fail_on", source)
            check_fail_on(cfg.fail_on, f"{source}: scan.fail_on")
        elif key == "baseline":
            if not isinstance(value, str):
                raise _fail(source, "scan.baseline must be a path string")
            cfg.baseline = value
        elif key == "jobs":
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise _fail(source, "scan.jobs must be a positive integer")
            cfg.jobs = value
        elif key == "default_excludes":
            if not isinstance(value, bool):
                raise _fail(source, "scan.default_excludes must be true or false")
            cfg.default_excludes = value
        elif key == "gitignore":
            if not isinstance(value, bool):
                raise _fail(source, "scan.gitignore must be true or false")
            cfg.gitignore = value
        elif key == "risk":
            cfg.risk = _risk(value, source)
        else:
            raise _fail(source, f"unknown key scan.{key}")
    return cfg


def _risk(table: Any, source: str) -> RiskConfig:
    if not isinstance(table, dict):
        raise _fail(source, "[scan.risk] must be a table")
    risk = RiskConfig()
    for key, value in table.items():
        if key in ("crqc_year", "current_year"):
            if not isinstance(value, int) or isinstance(value, bool) or not 2000 <= value <= 2100:
                raise _fail(source, f"scan.risk.{key} must be a year between 2000 and 2100")
            setattr(risk, key, value)
        elif key == "frameworks":
            names = _str_list(value, "scan.risk.frameworks", source)
            for n in names:
                if n not in FRAMEWORKS:
                    raise _fail(source, f"scan.risk.frameworks: unknown framework {n!r} "
                                f"(known: {', '.join(FRAMEWORKS)})")
            risk.frameworks = tuple(names)
        elif key == "cnsa_category":
            if value not in CNSA_CATEGORIES:
                raise _fail(source, f"scan.risk.cnsa_category must be one of "
                            f"{', '.join(CNSA_CATEGORIES)}")
            risk.cnsa_category = value
        elif key in ("migration_years", "shelf_life_years"):
            setattr(risk, key, _years(value, f"scan.risk.{key}", source))
        else:
            raise _fail(source, f"unknown key scan.risk.{key}")
    return risk


def check_fail_on(values: list[str], where: str) -> None:
    for v in values:
        if v not in FAIL_ON:
            raise ScanError(f"{where}: unknown value {v!r} (choose from {', '.join(FAIL_ON)})")


def load(path: str | None, search_dirs: list[str], repo_config: bool = True) -> ScanConfig:
    """The explicit ``--config`` file, else (unless ``repo_config`` is False) ``pqml.toml``
    in the first scanned directory or the working directory, else defaults."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ScanError(f"{path}: config file not found")
        return parse(_read(p), path)
    if not repo_config:
        return ScanConfig()
    for d in [*search_dirs, "."]:
        candidate = Path(d) / "pqml.toml"
        if candidate.is_file():
            cfg = parse(_read(candidate), str(candidate))
            cfg.from_repository = True
            return cfg
    return ScanConfig()


def _read(p: Path) -> str:
    try:
        return p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScanError(f"{p}: cannot read config ({exc})") from None

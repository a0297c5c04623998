"""``--fail-on``: which findings make ``pqml scan`` exit with code 1 in CI.

Policies (any number, combined with OR; baselined findings never match):

* ``quantum-vulnerable`` -- any quantum-vulnerable algorithm, key, certificate or protocol
* ``deadline-2030`` / ``deadline-2035`` -- a compliance deadline (see risk.py) in or before
  that year, already-passed ones included
* ``critical`` / ``high`` -- risk level at least that
* ``unprotected-model`` -- a model or dataset file neither signed nor encrypted
* ``code-execution`` -- a pickle-based artifact or one whose pickle imports os/subprocess/eval
* ``any`` -- any finding at all; ``none`` -- never fail (overrides ``pqml.toml``)
"""

from __future__ import annotations

from pqml.scan.model import Finding

_LEVELS = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


def matches(f: Finding, policy: str) -> bool:
    if f.baselined:
        return False
    risk = f.risk
    if policy == "any":
        return True
    if policy == "quantum-vulnerable":
        return f.quantum_vulnerable
    if policy.startswith("deadline-"):
        year = int(policy.split("-", 1)[1])
        return risk is not None and risk.deadline_year is not None and risk.deadline_year <= year
    if policy in ("critical", "high"):
        return risk is not None and _LEVELS[risk.level] >= _LEVELS[policy]
    art = f.details.get("artifact") if f.kind == "artifact" else None
    if policy == "unprotected-model":
        return art is not None and art.get("category") in ("model", "dataset") and (
            f.details.get("protection", {}).get("status") == "none")
    if policy == "code-execution":
        return art is not None and bool(art.get("code_execution_risk") or art.get(
            "dangerous_imports"))
    return False


def failing(findings: list[Finding], policies: list[str]) -> list[Finding]:
    if not policies or "none" in policies:
        return []
    return [f for f in findings if any(matches(f, p) for p in policies)]

"""``--format json``: the findings and everything needed to act on them, for machines.

``{"findings": [...]}`` is the contract (each finding: path, line, algorithm, primitive,
parameter, quantum_vulnerable, usage, confidence, evidence, plus location, pq_safe, kind,
asset_type, status, root, fingerprint, details and risk); ``summary``, ``warnings``,
``risk_model`` and (with ``--plan``) ``plan`` sit beside it. ``location`` is what the
other reports show: ``path:line``, joined to its root when several roots were scanned.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pqml.scan.runner import ScanResult

FORMAT = "pqml-scan/1"


def document(result: ScanResult, plan: bool = False) -> dict[str, Any]:
    from pqml import __version__

    risk = result.config.risk
    doc: dict[str, Any] = {
        "format": FORMAT,
        "tool": {"name": "pqml", "version": __version__},
        "generated": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "roots": result.roots,
        "summary": result.summary(),
        "risk_model": {
            "crqc_year": risk.crqc_year,
            "current_year": risk.current_year,
            "years_to_crqc": risk.years_to_crqc,
            "frameworks": list(risk.frameworks),
            "cnsa_category": risk.cnsa_category,
        },
        "findings": [{"location": result.location(f), **f.as_dict()} for f in result.active],
        "warnings": [w.as_dict() for w in result.warnings],
    }
    if plan:
        from pqml.scan.plan import build_plan

        doc["plan"] = [item.as_dict()
                       for item in build_plan(result.findings, result.display_path)]
    return doc


def render(result: ScanResult, plan: bool = False) -> str:
    return json.dumps(document(result, plan), indent=2, ensure_ascii=False) + "\n"

"""Baselines: findings a team has reviewed and accepted, so CI fails only on new ones.

A baseline file lists fingerprints (see :func:`model.assign_fingerprints`: path, algorithm,
usage and normalized evidence -- not line numbers, so edits elsewhere in a file keep old
findings matched) with enough context to be reviewed in a pull request.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from pqml.scan.errors import ScanError
from pqml.scan.model import Finding

FORMAT = "pqml-scan-baseline/1"


def load(path: str) -> set[str]:
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ScanError(f"{path}: baseline file not found (create it with "
                        "--write-baseline)") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ScanError(f"{path}: not a baseline file ({exc})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(
            data.get("findings"), list):
        raise ScanError(f"{path}: not a baseline file (expected format {FORMAT!r})")
    out = set()
    for i, item in enumerate(data["findings"]):
        fp = item.get("fingerprint") if isinstance(item, dict) else None
        if not isinstance(fp, str) or not fp:
            raise ScanError(f"{path}: findings[{i}] has no fingerprint")
        out.add(fp)
    return out


def apply(findings: list[Finding], accepted: set[str]) -> int:
    n = 0
    for f in findings:
        if f.fingerprint in accepted:
            f.baselined = True
            n += 1
    return n


def write(path: str, findings: list[Finding]) -> None:
    items = [{"fingerprint": f.fingerprint, "path": f.path, "line": f.line,
              "algorithm": f.algorithm, "usage": f.usage, "evidence": f.evidence}
             for f in sorted(findings, key=lambda f: (f.path, f.line, f.algorithm))]
    text = json.dumps({"format": FORMAT, "findings": items}, indent=2) + "\n"
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".pqml-baseline-", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
    except OSError as exc:
        raise ScanError(f"{path}: cannot write baseline ({exc.strerror or exc})") from None

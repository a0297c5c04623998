"""``--format sarif``: SARIF 2.1.0 for code-scanning tools (GitHub, GitLab, Azure DevOps).

One rule per finding kind and risk category (``code/quantum-vulnerable``,
``artifact/pickle-code-execution``, ``config/broken-algorithm`` ...), so a dashboard can
filter "quantum-vulnerable code" apart from "unprotected models". Result levels follow the
risk level (critical/high -> error, medium -> warning, low/info -> note); GitHub's
``security-severity`` is the risk score / 10. ``partialFingerprints`` carry the same stable
fingerprint as the baseline, so alerts survive unrelated edits. Paths are relative to the
scanned root, resolved through ``originalUriBaseIds``; with several roots (``pqml scan a/
b/``) they are the root-joined paths every report shows (``a/x.py``), relative to the
working directory (``SRCROOT``), since ``x.py`` alone could be in either.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pqml.scan.model import Finding
from pqml.scan.runner import ScanResult

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {"critical": "error", "high": "error", "medium": "warning", "low": "note",
          "info": "note"}
_CATEGORY_TEXT = {
    "quantum-vulnerable": ("Quantum-vulnerable cryptography",
                           "A public-key algorithm a cryptographically relevant quantum "
                           "computer breaks (RSA, elliptic curves, finite-field DH)."),
    "broken-algorithm": ("Broken or disallowed algorithm",
                         "An algorithm or protocol version that is classically broken or no "
                         "longer approved (MD5, SHA-1, DES, 3DES, RC4, DSA, TLS < 1.2)."),
    "weak-algorithm": ("Weak algorithm or mode", "A weak cipher or mode (ECB, 64-bit blocks)."),
    "malicious-pickle": ("Pickle importing dangerous callables",
                         "A pickle-based file whose opcodes import os, subprocess, eval or "
                         "similar: loading it runs arbitrary code."),
    "pickle-code-execution": ("Model format that executes code when loaded",
                              "Pickle-based formats (pickle, joblib, torch) and Keras Lambda "
                              "layers run code when loaded; verify before load."),
    "unprotected-model": ("Unprotected model or dataset",
                          "An ML artifact that is neither signed nor encrypted."),
    "crypto-dependency": ("Cryptographic dependency",
                          "A dependency providing cryptography; classical-only libraries "
                          "cannot be migrated in place."),
    "post-quantum": ("Post-quantum cryptography", "A post-quantum algorithm (inventory)."),
    "inventory": ("Cryptography inventory", "A cryptographic use without a known issue."),
}
_DEFAULT_LEVEL = {"quantum-vulnerable": "warning", "broken-algorithm": "error",
                  "weak-algorithm": "warning", "malicious-pickle": "error",
                  "pickle-code-execution": "error", "unprotected-model": "warning",
                  "crypto-dependency": "note", "post-quantum": "note", "inventory": "note"}


def rule_id(f: Finding) -> str:
    return f"{f.kind}/{f.risk.category if f.risk else 'inventory'}"


def _rule(rid: str) -> dict[str, Any]:
    kind, category = rid.split("/", 1)
    title, text = _CATEGORY_TEXT.get(category, (category, category))
    name = "".join(p.capitalize() for p in rid.replace("/", "-").split("-"))
    return {
        "id": rid,
        "name": name,
        "shortDescription": {"text": f"{title} ({kind})"},
        "fullDescription": {"text": text},
        "help": {"text": f"{text} Run `pqml scan --plan` for the replacement and the pqml "
                         "command that performs it."},
        "defaultConfiguration": {"level": _DEFAULT_LEVEL.get(category, "note")},
        "properties": {"tags": ["security", "cryptography", "post-quantum", kind],
                       "precision": "high" if kind in ("code", "certificate", "pem",
                                                       "ssh-key", "artifact") else "medium"},
    }


def _message(f: Finding) -> str:
    what = f"{f.algorithm}" + (f" ({f.parameter})" if f.parameter else "")
    parts = [f"{what} used for {f.usage}"]
    if f.risk is not None:
        if f.risk.reasons:
            parts.append("; ".join(f.risk.reasons))
        if f.risk.deadline_year:
            parts.append(f"deadline {f.risk.deadline_year}")
        if f.risk.replacement:
            parts.append(f"replace with {f.risk.replacement}")
    return ". ".join(parts) + "."


def document(result: ScanResult) -> dict[str, Any]:
    from pqml import __version__

    findings = result.active
    rule_ids = sorted({rule_id(f) for f in findings})
    index = {rid: i for i, rid in enumerate(rule_ids)}
    multi_root = len(result.roots) > 1
    base_uris: dict[str, str] = {}  # uriBaseId -> URI
    root_ids: dict[str, str] = {}   # root -> its uriBaseId (one root)
    if multi_root:
        base_uris["SRCROOT"] = Path(os.getcwd()).as_uri().rstrip("/") + "/"
    for i, root in enumerate([] if multi_root else result.roots):
        base = Path(root).resolve()
        if base.is_file():
            base = base.parent
        root_ids[root] = f"ROOT{i}"
        base_uris[f"ROOT{i}"] = base.as_uri().rstrip("/") + "/"
    results = []
    for f in findings:
        if multi_root:
            shown = result.display_path(f)
            artifact = ({"uri": Path(shown).as_uri()} if os.path.isabs(shown)
                        else {"uri": shown, "uriBaseId": "SRCROOT"})
        else:
            artifact = {"uri": f.path, "uriBaseId": root_ids[f.root]}
        level = _LEVEL[f.risk.level] if f.risk else "note"
        region: dict[str, Any] = {"startLine": max(1, f.line)}
        if f.kind not in ("artifact", "signature-bundle") and f.evidence:
            region["snippet"] = {"text": f.evidence}
        results.append({
            "ruleId": rule_id(f),
            "ruleIndex": index[rule_id(f)],
            "level": level,
            "message": {"text": _message(f)},
            "locations": [{"physicalLocation": {
                "artifactLocation": artifact,
                "region": region,
            }}],
            "partialFingerprints": {"pqmlFingerprint/v1": f.fingerprint},
            "properties": {
                "algorithm": f.algorithm, "parameter": f.parameter, "primitive": f.primitive,
                "usage": f.usage, "quantumVulnerable": f.quantum_vulnerable,
                "pqSafe": f.pq_safe, "location": result.location(f),
                "confidence": f.confidence,
                "riskLevel": f.risk.level if f.risk else None,
                "deadlineYear": f.risk.deadline_year if f.risk else None,
                "security-severity": f"{(f.risk.score if f.risk else 0) / 10:.1f}",
            },
        })
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "pqml",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule(r) for r in rule_ids],
            }},
            "originalUriBaseIds": {bid: {"uri": uri} for bid, uri in base_uris.items()},
            "invocations": [{"executionSuccessful": True,
                             "workingDirectory": {"uri": Path(os.getcwd()).as_uri() + "/"},
                             "toolExecutionNotifications": [
                                 {"level": "warning", "message": {"text": w.message},
                                  "locations": [{"physicalLocation": {
                                      "artifactLocation": {"uri": w.path}}}]}
                                 for w in result.warnings]}],
            "columnKind": "unicodeCodePoints",
            "results": results,
        }],
    }


def render(result: ScanResult) -> str:
    return json.dumps(document(result), indent=2, ensure_ascii=False) + "\n"

"""One file in, its findings out: pick the detectors that apply to this kind of file.

This runs in worker processes, so it takes plain paths and returns plain data. Detectors
are chosen by name first (cheap) and content second: binary files are only looked at as
ML artifacts or DER certificates; text files get PEM / SSH-key detection everywhere and
the language- or config-specific detector their name calls for.

Each text file has a time budget (:data:`FILE_BUDGET`). It is checked between detector
steps and, inside the PEM, config and shell detectors, before each block or line: a
check is a clock read, so nothing is killed mid-way (no threads, and no signals, which
only work in the main thread of a library caller). The per-step cost is bounded apart
from this (linear patterns, bounded line length), so a check comes round often. Running
out of budget is a warning (the interrupted detector's findings are dropped, those of
finished ones kept); if the key detectors had not finished, also a finding that says
the file was not fully analysed. ML artifacts are one step (their readers bound their
own reads), so the budget does not cut them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from pqml.scan.files import artifacts
from pqml.scan.model import Finding, unique_by

MAX_TEXT = 8 << 20            # larger text files are skipped (generated data, logs)
_PY = (".py", ".pyw", ".pyi")
_CONF_TEXT = (".conf", ".cnf", ".cfg", ".ini", ".env", ".yaml", ".yml", ".toml",
              ".properties", ".json")
_SHELL = (".sh", ".bash", ".zsh", ".mk", ".ps1", ".yml", ".yaml")
_SHELL_NAMES = ("dockerfile", "makefile", "containerfile", "justfile", "procfile")
_DER_EXTS = (".der", ".cer", ".crt", ".cert")
#: Seconds of analysis one text file may take before its remaining detectors are skipped.
FILE_BUDGET = 20.0


class _OverBudget(Exception):
    """Raised by :meth:`_Budget.tick` when the file's time is spent."""


@dataclass(slots=True)
class _Budget:
    started: float
    seconds: float
    step: str = "start"
    keys_done: bool = False  # PEM, SSH and JWK key detection have finished

    def enter(self, step: str) -> None:
        self.step = step
        self.tick()

    def tick(self) -> None:
        if time.monotonic() - self.started >= self.seconds:
            raise _OverBudget(self.step)


@dataclass(slots=True)
class FileResult:
    rel: str
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bundle: object | None = None       # oms_bundles.BundleRecord
    python_lines: int = 0
    is_python: bool = False


def _is_text(head: bytes) -> bool:
    return b"\x00" not in head[:8192]


def scan_file(path: str, rel: str, size: int) -> FileResult:
    """Findings of one file. A detector failing on odd input costs that file's findings
    (reported as a warning), never the scan."""
    try:
        return _scan_file(path, rel, size)
    except Exception as exc:
        result = FileResult(rel)
        result.warnings.append(f"not analysed ({type(exc).__name__}: {str(exc)[:160]})")
        return result


def _scan_file(path: str, rel: str, size: int) -> FileResult:
    result = FileResult(rel)
    name = rel.rsplit("/", 1)[-1]
    low = name.lower()
    try:
        with open(path, "rb") as f:
            head = f.read(artifacts.HEAD_SIZE)
            if artifacts.is_candidate(name, head):
                _artifact(Path(path), name, head, size, result)
                return result
            if low.endswith(_DER_EXTS) and head[:1] == b"\x30":
                _der_certificate(head + f.read(), result)
                return result
            if not _is_text(head):
                return result
            if size > MAX_TEXT:
                result.warnings.append(f"text file over {MAX_TEXT >> 20} MiB, skipped")
                return result
            data = head + f.read()
    except OSError as exc:
        result.warnings.append(f"cannot read: {exc.strerror or exc}")
        return result
    text = data.decode("utf-8", errors="replace")
    budget = _Budget(time.monotonic(), FILE_BUDGET)
    try:
        _text(text, rel, name, low, result, budget)
    except _OverBudget:
        _over_budget(result, budget)
    return result


def _over_budget(result: FileResult, budget: _Budget) -> None:
    """The file's time ran out: keep what was found, say so, and if keys may be missed,
    report the file itself so that an unread key cannot pass as "no findings"."""
    result.warnings.append(
        f"not fully analysed: over the {FILE_BUDGET:g} s per-file time budget in the "
        f"{budget.step} step; later detectors skipped, findings of finished ones kept")
    if budget.keys_done:
        return
    result.findings.append(Finding(
        path=result.rel, line=1, kind="pem", algorithm="unknown", primitive="unknown",
        usage="storage", evidence=f"not fully analysed: time budget ran out in the "
                                  f"{budget.step} step, before key detection finished",
        confidence="low", details={"not_fully_analysed": True, "step": budget.step}))


def _artifact(path: Path, name: str, head: bytes, size: int, result: FileResult) -> None:
    try:
        if artifacts.is_encrypted_header(head):
            if len(head) < size:  # post-quantum stanzas are long: read the whole header
                with path.open("rb") as f:
                    head = f.read(1 << 20)
            info = artifacts.encrypted_info(head, name)
        else:
            info = artifacts.identify(path, name, head, size)
    except Exception as exc:  # corrupt archives, streams, MemoryError: fail closed
        result.warnings.append(f"artifact not inspected: {str(exc)[:120] or type(exc).__name__}")
        info = artifacts.unanalysed_info(name, exc)
    if info is None:
        return
    info["size_bytes"] = size
    result.findings.append(artifacts.finding(result.rel, info))


def _der_certificate(data: bytes, result: FileResult) -> None:
    from pqml.scan.files import pem
    from pqml.scan.files.x509_certs import describe_certificate, looks_like_der_certificate

    if not looks_like_der_certificate(data[:16]):
        return
    info = describe_certificate(data)
    if info is not None and info.get("key_algorithm"):
        result.findings.append(pem.certificate_finding(info, result.rel, 1,
                                                       f"DER certificate {info['subject']}"))


def _text(text: str, rel: str, name: str, low: str, result: FileResult,
          budget: _Budget) -> None:
    from pqml.scan.code import notebooks, shell_commands
    from pqml.scan.code.python_ast import scan_python
    from pqml.scan.files import configs, dependencies, jwk, oms_bundles, pem, ssh_keys

    out = result.findings
    warnings, tick = result.warnings, budget.tick
    if low.endswith(_PY):
        budget.enter("python")
        result.is_python = True
        result.python_lines = text.count("\n") + (0 if text.endswith("\n") or not text else 1)
        found, warning = scan_python(text, rel)
        out += found
        if warning:
            result.warnings.append(warning)
    elif low.endswith(".ipynb"):
        budget.enter("notebook")
        found, nb_warnings = notebooks.findings(text, rel)
        out += found
        result.warnings += nb_warnings
    budget.enter("pem")
    out += pem.findings(text, rel, tick=tick)
    budget.enter("ssh-key")
    role = low if low in ("authorized_keys", "known_hosts", "authorized_keys2") else None
    out += ssh_keys.findings(text, rel, role)
    budget.keys_done = not low.endswith((".json", ".jwk", ".jwks"))
    if low.endswith(_PY) or low.endswith(".ipynb"):
        return
    budget.enter("oms-bundle")
    if oms_bundles.is_bundle_name(low):
        try:
            result.bundle = oms_bundles.parse(text.encode("utf-8"), rel)
        except ValueError as exc:  # BundleFormatError is a ValueError
            result.warnings.append(f"not a valid OMS bundle: {' '.join(str(exc).split())}")
        if result.bundle is not None:
            out += bundle_findings(result.bundle)  # type: ignore[arg-type]
            return
    jwk_file = False
    if low.endswith((".json", ".jwk", ".jwks")):
        budget.enter("jwk")
        found_keys = jwk.findings(text, rel)
        jwk_file = bool(found_keys)
        out += found_keys
        budget.keys_done = True
    if dependencies.is_dependency_file(name):
        budget.enter("dependencies")
        out += dependencies.findings(name, text, rel)
    budget.enter("config")
    parts = rel.lower().split("/")
    if low in ("sshd_config", "ssh_config") or (len(parts) > 1 and parts[-2] in (
            "sshd_config.d", "ssh_config.d")):
        out += configs.sshd(text, rel, warnings, tick)
        return
    if low.endswith((".cnf",)) or low in ("openssl.conf", "openssl.cfg"):
        out += configs.openssl_cnf(text, rel, warnings, tick)
        return
    if low.endswith((".conf", ".nginx", ".vhost", ".htaccess")) or "nginx" in parts or any(
            p in ("sites-available", "sites-enabled", "conf.d") for p in parts):
        out += configs.nginx(text, rel, warnings, tick)
        out += configs.apache(text, rel, warnings, tick)
    if "haproxy" in low and low.endswith((".cfg", ".conf")):
        out += configs.haproxy(text, rel, warnings, tick)
    if (low.endswith(_CONF_TEXT) or low.startswith(".env") or low.endswith(".env")) and (
            not jwk_file):
        out += configs.jose_settings(text, rel, warnings, tick)
    if low.endswith(_SHELL) or low.startswith(_SHELL_NAMES) or low.endswith(".dockerfile"):
        budget.enter("shell")
        out += shell_commands.findings(text, rel, warnings, tick)


def bundle_findings(record: object) -> list[Finding]:
    from pqml.scan.facts import lookup
    from pqml.scan.files.oms_bundles import BundleRecord

    assert isinstance(record, BundleRecord)
    out = []
    for sig in unique_by(record.signatures, lambda s: (s.algorithm, s.parameter)):
        facts = lookup(sig.algorithm, sig.parameter, "sign")
        out.append(Finding(
            path=record.path, line=1, kind="signature-bundle", algorithm=sig.algorithm,
            primitive=facts.primitive if facts.primitive != "unknown" else "signature",
            usage="sign", evidence=f"OMS bundle ({record.method}), subject "
                                   f"{record.subject_name!r}",
            confidence="high" if sig.source in ("certificate", "keyDetails") else "medium",
            parameter=sig.parameter, quantum_vulnerable=facts.quantum_vulnerable,
            asset_type="algorithm", library="model_signing", status=facts.status,
            details={"bundle": record.as_dict(), "signature_source": sig.source},
        ))
    return out

"""Hostile text cannot stall ``pqml scan`` (issue 18, item 2).

Each adversarial file is scanned in a child process whose only deadline is a generous hang
guard: before the fix every one of them ran for minutes (super-linear regular expressions,
or a megabyte search from every PEM BEGIN marker); now each takes well under a second. A
real finding placed after the hostile lines shows the whole file was still analysed. The
per-file time budget is tested with a fake clock, never with timing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from pqml.scan import ScanOptions, detect, scan
from pqml.scan.files import configs, pem, ssh_keys

HANG_GUARD = 60  # seconds; only catches a hang, the fixed scans take well under one

_CHILD = """
import json, sys
from pqml.scan import ScanOptions, scan
r = scan([sys.argv[1]], ScanOptions(jobs=1))
print(json.dumps({"findings": [[f.path, f.kind, f.algorithm] for f in r.findings],
                  "warnings": [[w.path, w.message] for w in r.warnings]}))
"""


def _scan_in_child(root: Path) -> dict:
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(root)], capture_output=True,
                              text=True, timeout=HANG_GUARD)
    except subprocess.TimeoutExpired:
        pytest.fail(f"scan of {root.name} still running after {HANG_GUARD} s")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(proc.stdout)


def _public_key_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def _write(tmp_path: Path, name: str, hostile: str, real: str) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    (root / name).write_text(hostile + real)
    return root


def test_pem_string_seam_after_a_run_of_spaces(tmp_path: Path) -> None:
    # five adjacent \s* in the string-concatenation seam: O(n^5), 175 bytes took 12 s
    hostile = "-----BEGIN PUBLIC KEY-----\n'" + " " * 2000 + "x\n-----END PUBLIC KEY-----\n"
    root = _write(tmp_path, "notes.txt", hostile, _public_key_pem())
    out = _scan_in_child(root)
    assert out["warnings"] == []
    assert [f[:2] for f in out["findings"]] == [["notes.txt", "pem"]]


def test_pem_begin_markers_without_end(tmp_path: Path) -> None:
    # every BEGIN searched up to 1 MiB ahead for its END: 1.3 MB took 50 s
    hostile = "-----BEGIN A-----" * 200_000 + "\n"
    root = _write(tmp_path, "notes.txt", hostile, _public_key_pem())
    out = _scan_in_child(root)
    assert out["warnings"] == []
    assert [f[:2] for f in out["findings"]] == [["notes.txt", "pem"]]


@pytest.mark.parametrize(("name", "line", "count"), [
    # a setting followed by spaces and junk: "\s*,?\s*$" is quadratic in the run
    ("app.env", "alg=b" + " " * 16000 + "x", 200),
    # "[\w.\-]*?alg[\w.\-]*" tries every split of a long key (the setting-list pattern)
    ("app.yaml", "alg" * 5300, 150),
    # "(?:tls|ssl).*(?:version|protocol)" searched from every "tls" (the TLS-key pattern)
    ("app.env", "tls" * 5300 + "=1", 150),
])
def test_config_lines_near_the_length_bound(tmp_path: Path, name: str, line: str,
                                            count: int) -> None:
    root = _write(tmp_path, name, (line + "\n") * count, "JWT_ALGORITHM: RS256\n")
    out = _scan_in_child(root)
    assert len(line) <= configs.MAX_LINE  # analysed, not skipped: the patterns are linear
    assert out["warnings"] == []
    assert out["findings"] == [[name, "config", "RSA"]]


def test_shell_genrsa_with_a_run_of_spaces(tmp_path: Path) -> None:
    # a lazy gap and a "(?=\s*...)" lookahead: quadratic in a run of spaces
    hostile = ("openssl genrsa" + " " * 16000 + "x\n") * 60
    root = _write(tmp_path, "build.sh", hostile, "openssl genrsa -out k.pem 1024\n")
    out = _scan_in_child(root)
    assert out["warnings"] == []
    assert ["build.sh", "config", "RSA"] in out["findings"]


def test_over_long_config_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    text = "ssl_ciphers " + "A" * configs.MAX_LINE + ";\nssl_protocols TLSv1 TLSv1.2;\n"
    (tmp_path / "site.conf").write_text(text)
    result = scan([str(tmp_path)], ScanOptions(jobs=1))
    assert [(f.line, f.algorithm) for f in result.findings] == [(2, "TLS")]
    assert [(w.path, w.message) for w in result.warnings] == [
        ("site.conf", f"1 line(s) over {configs.MAX_LINE} characters not analysed by the "
                      "config detectors (first: line 1)")]


def test_over_long_shell_line_is_skipped_with_a_warning(tmp_path: Path) -> None:
    text = "openssl req -newkey rsa:2048 " * 1000 + "\nssh-keygen -t ed25519\n"
    (tmp_path / "keys.sh").write_text(text)
    result = scan([str(tmp_path)], ScanOptions(jobs=1))
    assert [(f.line, f.algorithm) for f in result.findings] == [(2, "Ed25519")]
    assert [w.message for w in result.warnings] == [
        f"1 line(s) over {configs.MAX_LINE} characters not analysed by the config detectors "
        "(first: line 1)"]


class _Clock:
    """A monotonic clock that only moves when a test says so."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _spend_budget_in(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    """Make the detector ``module.name`` use up the whole file budget."""
    clock = _Clock()
    monkeypatch.setattr(detect.time, "monotonic", clock)
    real = getattr(module, name)

    def slow(*args, **kwargs):
        found = real(*args, **kwargs)
        clock.now += detect.FILE_BUDGET
        return found

    monkeypatch.setattr(module, name, slow)


def test_budget_spent_before_key_detection_is_a_finding(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    _spend_budget_in(monkeypatch, pem, "findings")  # spent in PEM: SSH keys never looked at
    (tmp_path / "notes.txt").write_text(_public_key_pem() + "ssh-ed25519 AAAA\n")
    result = scan([str(tmp_path)], ScanOptions(jobs=1))
    kinds = sorted((f.kind, f.algorithm, f.details.get("not_fully_analysed", False))
                   for f in result.findings)
    assert kinds == [("pem", "ECDSA", False), ("pem", "unknown", True)]
    assert [w.message for w in result.warnings] == [
        f"not fully analysed: over the {detect.FILE_BUDGET:g} s per-file time budget in the "
        "ssh-key step; later detectors skipped, findings of finished ones kept"]


def test_budget_spent_after_key_detection_is_a_warning(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    _spend_budget_in(monkeypatch, ssh_keys, "findings")
    (tmp_path / "site.conf").write_text(_public_key_pem() + "ssl_protocols TLSv1;\n")
    result = scan([str(tmp_path)], ScanOptions(jobs=1))
    assert [(f.kind, f.algorithm) for f in result.findings] == [("pem", "ECDSA")]
    assert [w.message for w in result.warnings] == [
        f"not fully analysed: over the {detect.FILE_BUDGET:g} s per-file time budget in the "
        "oms-bundle step; later detectors skipped, findings of finished ones kept"]


def test_budget_checked_between_lines_of_one_detector(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """One detector on a long file is stopped between lines, not only between detectors
    (the interrupted detector's findings are lost; those of finished ones are kept)."""
    clock = _Clock()
    monkeypatch.setattr(detect.time, "monotonic", clock)
    real = configs.tls_version

    def slow(value: str):  # each TLS line parsed takes the whole budget
        clock.now += detect.FILE_BUDGET
        return real(value)

    monkeypatch.setattr(configs, "tls_version", slow)
    (tmp_path / "app.env").write_text("MIN_TLS_VERSION=TLSv1.2\n" * 5)
    result = scan([str(tmp_path)], ScanOptions(jobs=1))
    assert result.findings == []
    assert [w.message for w in result.warnings] == [
        f"not fully analysed: over the {detect.FILE_BUDGET:g} s per-file time budget in the "
        "config step; later detectors skipped, findings of finished ones kept"]

"""Output that goes to a pipe or a file is complete, and a reader that goes away is quiet.

rich sizes tables to the terminal, and to 80 columns when there is none: piped or
redirected, cells were cut ("deadlin", years "203"), columns dropped and plan commands
split across lines. Off a terminal pqml now prints every column at its full width, and a
command never carries a line break. Every case runs the real ``pqml`` process with its
standard output on a pipe or a file.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pqml.primitives import registry

PQML = [sys.executable, "-m", "pqml.cli.main"]
DEEP = "a_rather_long_package_name/with_a_deeply_nested_module_path"
APP = """\
import hashlib
from cryptography.hazmat.primitives.asymmetric import rsa
def make():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)
def digest(b):
    return hashlib.sha1(b).hexdigest()
"""


def pqml(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([*PQML, *args], capture_output=True, text=True, cwd=cwd, env=env,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / DEEP).mkdir(parents=True)
    (root / DEEP / "and_a_long_file_name.py").write_text(APP)
    (root / DEEP / "model_weights_for_production.safetensors").write_bytes(
        b"\x10\0\0\0\0\0\0\0{}" + b" " * 14)
    return root


def test_algorithms_table_on_a_pipe_has_every_column_whole() -> None:
    res = pqml("algorithms")
    assert res.returncode == 0, res.stderr
    header = next(line for line in res.stdout.splitlines() if "name" in line)
    for column in ("name", "family", "standard", "cat", "pq-safe", "pk", "sk", "ct/sig",
                   "status", "backend"):
        assert f" {column} " in f" {header.replace('┃', ' ')} ", header
    assert "…" not in res.stdout
    rows = {line.split("│")[1].strip() for line in res.stdout.splitlines()
            if line.startswith("│")}
    assert {a.name for a in registry.all_algorithms(None)} <= rows


def test_scan_table_redirected_to_a_file_keeps_whole_cells(project: Path,
                                                             tmp_path: Path) -> None:
    out = tmp_path / "f.txt"
    with out.open("w") as f:
        res = subprocess.run([*PQML, "scan", str(project)], stdout=f, stderr=subprocess.PIPE,
                             text=True, stdin=subprocess.DEVNULL)
    assert res.returncode == 0, res.stderr
    text = out.read_text()
    assert "…" not in text
    header = text.splitlines()[1]
    for column in ("risk", "location", "algorithm", "usage", "pq-safe", "deadline", "kind",
                   "evidence"):
        assert column in header, header
    rows = [line for line in text.splitlines() if line.startswith("│")]
    rsa = next(r for r in rows if "RSA 2048" in r)
    assert f"{DEEP}/and_a_long_file_name.py:4" in rsa and " 2030 " in rsa
    assert "rsa.generate_private_key(public_exponent=65537, key_size=2048)" in rsa
    assert len(rows) == 3  # one line per finding: nothing wrapped


@pytest.mark.parametrize("to_file", [False, True], ids=["pipe", "-o plan.txt"])
def test_plan_commands_stay_on_one_line(project: Path, tmp_path: Path, to_file: bool) -> None:
    doc = json.loads(pqml("scan", str(project), "--plan", "-f", "json").stdout)
    commands = [item["command"] for item in doc["plan"] if item["command"]]
    assert any(len(c) > 200 for c in commands)  # longer than any terminal line
    if to_file:
        plan = tmp_path / "plan.txt"
        res = pqml("scan", str(project), "--plan", "-o", str(plan))
        text = plan.read_text()
    else:
        res = pqml("scan", str(project), "--plan")
        text = res.stdout
    assert res.returncode == 0, res.stderr
    lines = text.splitlines()
    for command in commands:
        assert f"   run: {command}" in lines
    assert f"   at: {DEEP}/and_a_long_file_name.py:4" in lines


def test_bench_table_on_a_pipe_is_whole() -> None:
    res = pqml("bench", "primitives", "-a", "ML-KEM-768", "--budget", "0.01")
    assert res.returncode == 0, res.stderr
    assert "…" not in res.stdout
    assert "backend ops/s" in res.stdout and "overhead" in res.stdout
    assert sum("ML-KEM-768" in line for line in res.stdout.splitlines()) == 3


def run_into_closed_pipe(*args: str, cwd: Path | None = None) -> tuple[int, str]:
    """Run pqml with a standard output whose reader has already gone, as `| head -1` is
    once it has its line: the first write fails with EPIPE."""
    read, write = os.pipe()
    os.close(read)
    try:
        res = subprocess.run([*PQML, *args], stdout=write, stderr=subprocess.PIPE,
                             text=True, stdin=subprocess.DEVNULL, cwd=cwd)
    finally:
        os.close(write)
    return res.returncode, res.stderr


@pytest.mark.parametrize("args", [
    ["algorithms"],
    ["algorithms", "--json"],
    ["keygen", "--alg", "ML-DSA-44"],
    ["--help"],
    ["scan", "--help"],
], ids=" ".join)
def test_broken_pipe_is_quiet(args: list[str]) -> None:
    assert run_into_closed_pipe(*args) == (141, "")


def test_broken_pipe_never_reuses_the_findings_code(project: Path) -> None:
    for fmt in ("table", "json"):
        code, err = run_into_closed_pipe("scan", str(project), "-f", fmt, "--fail-on", "any")
        assert code == 141, err
        assert "Traceback" not in err and "Exception ignored" not in err
        assert "Broken pipe" not in err


@pytest.mark.parametrize("args", [
    ["scan", "{proj}", "-o", "-"],
    ["scan", "{proj}", "-f", "json", "-o", "-"],
    ["scan", "{proj}", "--plan", "-o", "-"],
    ["keygen", "--alg", "ML-DSA-44", "-o", "-"],
    ["convert", "--to", "age", "{key}", "-o", "-"],
    ["encrypt", "-a", "-r", "{key}", "-o", "-", "{plain}"],
    ["decrypt", "-i", "{key}", "-o", "-", "{enc}"],
], ids=lambda a: " ".join(x for x in a if not x.startswith("{")))
def test_dash_output_is_standard_output(project: Path, tmp_path: Path, args: list[str]) -> None:
    """``-o -`` is standard output in every command that has -o, never a file named "-"."""
    work = tmp_path / "cwd"
    work.mkdir()
    key, plain, enc = tmp_path / "k.pem", tmp_path / "plain.txt", tmp_path / "plain.pqml"
    assert pqml("keygen", "-o", str(key)).returncode == 0
    plain.write_text("some plaintext")
    assert pqml("encrypt", "-r", str(key), "-o", str(enc), str(plain)).returncode == 0
    fill = {"proj": str(project), "key": str(key), "plain": str(plain), "enc": str(enc)}
    res = pqml(*[a.format(**fill) for a in args], cwd=work)
    assert res.returncode == 0, res.stderr
    assert not (work / "-").exists()
    expected = {"scan": "RSA", "keygen": "PRIVATE KEY", "convert": "AGE-SECRET-KEY-PQ-1",
                "encrypt": "-----BEGIN PQML ENCRYPTED FILE-----",
                "decrypt": "some plaintext"}[args[0]]
    assert expected in res.stdout

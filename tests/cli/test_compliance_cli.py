"""``pqml compliance`` on real files: models signed (or not) by ``pqml sign``, datasets
encrypted by ``pqml encrypt``, code the scanner reads; exit codes for CI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from conftest import cli_run as run
from conftest import signing_key_files


def report(*args: object) -> tuple[int, dict]:
    res = run("compliance", "--json", *args)
    return res.exit_code, json.loads(res.stdout)


def control(data: dict, name: str) -> dict:
    return next(c for c in data["controls"] if c["id"] == name)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "model").mkdir(parents=True)
    (root / "model" / "weights.safetensors").write_bytes(
        b"\x0e\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\":{}}"[:8] + b"{}" + b"\0" * 6)
    return root


def test_unsigned_model_fails_and_signing_it_passes(project: Path, tmp_path: Path) -> None:
    code, data = report(project / "model", "--no-record")
    assert code == 1
    assert control(data, "models-signed-pq")["status"] == "fail"
    assert control(data, "models-signed-pq")["items"] == ["weights.safetensors: not signed"]

    key, _ = signing_key_files(tmp_path, "ML-DSA-65")
    assert run("sign", project / "model", "-k", key).exit_code == 0
    code, data = report(project / "model", "--no-record")
    assert control(data, "models-signed-pq")["status"] == "pass", data
    # the same signature is not enough for CNSA 2.0, which asks for ML-DSA-87
    code, data = report(project / "model", "--no-record", "--profile", "cnsa2")
    assert code == 1 and control(data, "models-signed-pq")["status"] == "fail"


def test_datasets_encrypted_to_classical_recipients_fail(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    plain = tmp_path / "train.parquet"
    plain.write_bytes(b"PAR1" + os.urandom(64) + b"PAR1")
    pq = run("keygen", "-a", "X-Wing", "-o", tmp_path / "pq.key")
    classical = run("keygen", "-a", "X25519", "--allow-classical", "--format", "age",
                    "-o", tmp_path / "c.key")
    assert pq.exit_code == 0 and classical.exit_code == 0
    (tmp_path / "pq.pub").write_text(pq.stdout)
    (tmp_path / "c.pub").write_text(classical.stdout)
    assert run("encrypt", "-r", tmp_path / "pq.pub", "-o", root / "train.parquet.pqml",
               plain).exit_code == 0
    code, data = report(root, "--no-record")
    assert control(data, "datasets-encrypted-pq")["status"] == "pass", data
    assert control(data, "encryption-pq")["status"] == "pass"

    assert run("encrypt", "--format", "age", "--allow-classical", "-r", tmp_path / "c.pub",
               "-o", root / "eval.parquet.age", plain).exit_code == 0
    code, data = report(root, "--no-record")
    assert code == 1
    assert control(data, "datasets-encrypted-pq")["items"] == [
        "eval.parquet.age: encrypted to X25519"]
    assert control(data, "encryption-pq")["status"] == "fail"


def test_code_past_its_deadline_fails_only_after_the_deadline(tmp_path: Path) -> None:
    root = tmp_path / "src"
    root.mkdir()
    (root / "auth.py").write_text(
        "from cryptography.hazmat.primitives.asymmetric import rsa\n"
        "key = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n")
    code, data = report(root, "--no-record", "--as-of", "2026-12-04")
    assert control(data, "code-crypto-deadlines")["status"] == "warn"
    assert code == 0  # a warning does not fail CI unless fail_on = "warn"
    code, data = report(root, "--no-record", "--as-of", "2031-01-02")
    assert control(data, "code-crypto-deadlines")["status"] == "fail"
    assert code == 1
    (root / "pqml.toml").write_text('[compliance]\nfail_on = "warn"\n')
    code, _ = report(root, "--no-record", "--as-of", "2026-12-04")
    assert code == 1


def test_history_gives_a_trend_and_no_record_leaves_it_alone(project: Path) -> None:
    home = Path(os.environ["PQML_HOME"])
    report(project / "model")
    _, data = report(project / "model")
    assert len(data["trend"]) == 2
    lines = (home / "compliance-history.jsonl").read_text().splitlines()
    assert len(lines) == 2
    report(project / "model", "--no-record")
    assert len((home / "compliance-history.jsonl").read_text().splitlines()) == 2


def test_html_report_is_written_whole_and_not_overwritten(project: Path,
                                                          tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    res = run("compliance", project / "model", "--no-record", "--html", page)
    assert res.exit_code == 1  # the unsigned model
    text = page.read_text()
    assert text.startswith("<!DOCTYPE html>") and "models-signed-pq" in text
    again = run("compliance", project / "model", "--no-record", "--html", page)
    assert again.exit_code == 1 and "already exists" in again.stderr
    assert run("compliance", project / "model", "--no-record", "--html", page,
               "--force").exit_code == 1
    assert page.read_text().startswith("<!DOCTYPE html>")


@pytest.mark.parametrize(("args", "toml", "message"), [
    (["--as-of", "tomorrow"], None, "invalid value for --as-of"),
    ([], "[compliance]\nprofile = 'fips'\n", "profile must be one of"),
    ([], "[compliance\n", "not a valid TOML file"),
])
def test_bad_input_is_one_line_with_exit_2(tmp_path: Path, args: list[str],
                                           toml: str | None, message: str) -> None:
    if toml is not None:
        (tmp_path / "pqml.toml").write_text(toml)
    res = run("compliance", tmp_path, "--no-record", *args)
    assert res.exit_code == 2, res.output
    assert message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_table_output(project: Path) -> None:
    res = run("compliance", project / "model", "--no-record")
    assert res.exit_code == 1
    assert "models-signed-pq" in res.stdout and "weights.safetensors: not signed" in res.stdout
    assert "NIST IR 8547" in res.stdout


def test_keyring_and_log_evidence(tmp_path: Path) -> None:
    """The key controls judge the real keyring, the log controls the real log."""
    assert run("keys", "new", "--label", "team").exit_code == 0
    assert run("keys", "new", "-a", "X25519", "--allow-classical", "--label",
               "legacy").exit_code == 0
    plain = tmp_path / "p.bin"
    plain.write_bytes(b"p")
    assert run("encrypt", "--allow-classical", "-r", "legacy", "-o", tmp_path / "p.age",
               "--format", "age", plain).exit_code == 0
    assert run("keys", "revoke", "legacy").exit_code == 0
    code, data = report("--no-record")
    assert control(data, "keys-post-quantum")["status"] == "pass"  # legacy is not active
    assert control(data, "keys-compromised-in-use")["status"] == "fail"
    assert control(data, "keys-compromised-in-use")["items"][0].endswith(
        "revoked, still protects 1 asset")
    assert control(data, "log-intact")["status"] == "pass"
    assert control(data, "log-classical-recipients")["status"] == "warn"
    assert code == 1

    # an edited log entry fails the log control and names the entry
    entries = Path(os.environ["PQML_HOME"]) / "log" / "entries.jsonl"
    text = entries.read_text()
    entries.write_text(text.replace('"outcome":"ok"', '"outcome":"OK"', 1))
    code, data = report("--no-record")
    assert control(data, "log-intact")["status"] == "fail"
    assert "entry 0" in control(data, "log-intact")["summary"]


def test_a_key_over_its_rotation_policy_fails_keys_rotated(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """The keys-rotated control asks the real rotation policy (pqml.toml [keys])."""
    assert run("keys", "new", "--label", "busy").exit_code == 0
    plain = tmp_path / "p.bin"
    plain.write_bytes(b"p")
    for n in range(3):
        assert run("encrypt", "-r", "busy", "-o", tmp_path / f"p{n}.pqml", plain).exit_code == 0
    _, data = report("--no-record")
    assert control(data, "keys-rotated")["status"] == "pass"
    (tmp_path / "pqml.toml").write_text("[keys]\nmax_operations = 2\n")
    monkeypatch.chdir(tmp_path)  # the policy is read from the working directory
    code, data = report("--no-record")
    rotated = control(data, "keys-rotated")
    assert rotated["status"] == "fail" and code == 1
    assert rotated["items"][0].split(" ")[1] == "(busy):"

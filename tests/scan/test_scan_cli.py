"""``pqml scan`` end to end: formats, relative paths, ignores, config, baseline, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from pqml.cli.main import cli

APP = '''\
import hashlib
from cryptography.hazmat.primitives.asymmetric import rsa, ec
def make():
    return rsa.generate_private_key(65537, 2048)
def digest(b):
    return hashlib.sha256(b).hexdigest()
'''


def run(*args: str):
    return CliRunner().invoke(cli, ["scan", *args], catch_exceptions=False)


def assert_one_line_error(result, code: int, match: str) -> None:
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pqml: error: "), result.stderr
    assert match in lines[0] and "Traceback" not in result.output


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "app.py").write_text(APP)
    (root / "tests" / "fixtures").mkdir(parents=True)
    (root / "tests" / "fixtures" / "old.py").write_text("import hashlib\nhashlib.md5(b'x')\n")
    (root / "weights.safetensors").write_bytes(b"\x10\0\0\0\0\0\0\0{}" + b" " * 14)
    return root


def findings(result) -> list[dict]:
    return json.loads(result.stdout)["findings"]


def test_json_paths_are_relative_to_the_scanned_root(project: Path) -> None:
    res = run(str(project), "-f", "json", "--no-progress")
    assert res.exit_code == 0, res.output
    got = {(f["path"], f["line"], f["algorithm"]) for f in findings(res)}
    assert ("src/pkg/app.py", 4, "RSA") in got
    assert ("tests/fixtures/old.py", 2, "MD5") in got
    assert ("weights.safetensors", 1, "none") in got
    one = run(str(project / "src" / "pkg" / "app.py"), "-f", "json")
    assert {f["path"] for f in findings(one)} == {"app.py"}


def test_ignore_globs_anchored_and_unanchored(project: Path) -> None:
    res = run(str(project), "-f", "json", "--ignore", "tests/**", "--ignore", "*.safetensors")
    paths = {f["path"] for f in findings(res)}
    assert paths == {"src/pkg/app.py"}
    res = run(str(project), "-f", "json", "--ignore", "fixtures")
    assert "tests/fixtures/old.py" not in {f["path"] for f in findings(res)}


def test_fail_on_exit_codes(project: Path) -> None:
    assert run(str(project), "-f", "json").exit_code == 0
    res = run(str(project), "-f", "json", "--fail-on", "quantum-vulnerable")
    assert res.exit_code == 1 and "match --fail-on" in res.stderr
    assert run(str(project), "-f", "json", "--fail-on", "deadline-2030").exit_code == 1
    assert run(str(project), "-f", "json", "--fail-on", "unprotected-model").exit_code == 1
    clean = project / "src"
    assert run(str(clean), "-f", "json", "--fail-on", "unprotected-model,code-execution",
               "--ignore", "app.py").exit_code == 0
    assert_one_line_error(run(str(project), "--fail-on", "sometimes"), 2, "unknown value")


def test_baseline_accepts_reviewed_findings_and_survives_line_moves(project: Path,
                                                                    tmp_path: Path) -> None:
    baseline = tmp_path / "baseline.json"
    res = run(str(project), "--write-baseline", str(baseline))
    assert res.exit_code == 0 and baseline.exists()
    data = json.loads(baseline.read_text())
    assert data["format"] == "pqml-scan-baseline/1" and len(data["findings"]) >= 3
    res = run(str(project), "-f", "json", "--baseline", str(baseline), "--fail-on", "any")
    assert res.exit_code == 0 and findings(res) == []
    app = project / "src" / "pkg" / "app.py"
    app.write_text("# a new header line\n\n" + APP + "\ndef h(b):\n    return hashlib.sha1(b)\n")
    res = run(str(project), "-f", "json", "--baseline", str(baseline), "--fail-on", "any")
    assert res.exit_code == 1
    assert [(f["path"], f["algorithm"]) for f in findings(res)] == [("src/pkg/app.py", "SHA-1")]
    assert_one_line_error(run(str(project), "--baseline", str(tmp_path / "nope.json")), 2,
                          "baseline file not found")
    (tmp_path / "bad.json").write_text("[1, 2]")
    assert_one_line_error(run(str(project), "--baseline", str(tmp_path / "bad.json")), 2,
                          "not a baseline file")


def test_config_file_sets_ignores_policy_and_risk(project: Path, tmp_path: Path) -> None:
    (project / "pqml.toml").write_text(
        '[scan]\nignore = ["tests/**"]\nfail_on = ["high"]\n'
        "[scan.risk]\ncrqc_year = 2029\ncurrent_year = 2026\n"
        "shelf_life_years = { default = 1 }\n")
    res = run(str(project), "-f", "json")
    doc = json.loads(res.stdout)
    assert doc["risk_model"]["crqc_year"] == 2029 and doc["risk_model"]["years_to_crqc"] == 3
    assert all(not f["path"].startswith("tests/") for f in doc["findings"])
    rsa = next(f for f in doc["findings"] if f["algorithm"] == "RSA")
    assert rsa["risk"]["mosca"] == {"shelf_life_years": 1.0, "migration_years": 3.0,
                                    "years_to_crqc": 3.0, "at_risk": True}
    assert res.exit_code in (0, 1)
    assert run(str(project), "-f", "json", "--fail-on", "none").exit_code == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("[scan]\nignroe = []\n")
    assert_one_line_error(run(str(project), "--config", str(bad)), 2, "unknown key scan.ignroe")
    bad.write_text("[scan.risk]\ncrqc_year = 'soon'\n")
    assert_one_line_error(run(str(project), "--config", str(bad)), 2, "crqc_year")


def test_every_format_writes_its_file(project: Path, tmp_path: Path) -> None:
    for fmt, check in (("json", lambda t: json.loads(t)["findings"]),
                       ("cbom", lambda t: json.loads(t)["specVersion"] == "1.6"),
                       ("sarif", lambda t: json.loads(t)["version"] == "2.1.0"),
                       ("html", lambda t: t.startswith("<!DOCTYPE html>")),
                       ("table", lambda t: "src/pkg/app.py:4" in t)):
        out = tmp_path / f"report.{fmt}"
        res = run(str(project), "-f", fmt, "-o", str(out))
        assert res.exit_code == 0, res.output
        assert res.stdout == "" and "findings" in res.stderr
        assert check(out.read_text()), fmt


def test_table_and_plan_on_stdout(project: Path) -> None:
    res = run(str(project))
    assert res.exit_code == 0 and "src/pkg/app.py:4" in res.stdout and "findings" in res.stdout
    res = run(str(project), "--plan")
    assert res.exit_code == 0
    assert "Migration plan" in res.stdout and "pqml keygen --alg ML-DSA-65" in res.stdout
    assert "pqml sign" in res.stdout  # the unprotected weights
    doc = json.loads(run(str(project), "-f", "json", "--plan").stdout)
    assert doc["plan"][0]["command"] or doc["plan"][0]["replacement"]


def test_usage_errors_are_one_line_with_exit_2(project: Path, tmp_path: Path) -> None:
    assert_one_line_error(run(str(tmp_path / "missing")), 2, "no such file or directory")
    assert_one_line_error(run(str(project), "--plan", "-f", "sarif"), 2, "--plan")
    assert_one_line_error(run(str(project), "--config", str(tmp_path / "none.toml")), 2,
                          "config file not found")
    res = CliRunner().invoke(cli, ["scan", str(project), "-f", "xml"])
    assert res.exit_code == 2


def test_jobs_two_gives_the_same_findings(tmp_path: Path) -> None:
    for i in range(60):  # enough files for the parallel path
        (tmp_path / f"m{i}.py").write_text(APP)
    one = findings(run(str(tmp_path), "-f", "json", "-j", "1"))
    two = findings(run(str(tmp_path), "-f", "json", "-j", "2"))
    assert one == two and len(one) == 120


def test_inline_suppression(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("import hashlib\nhashlib.md5(b'x')  # pqml: ignore\n"
                                   "hashlib.sha1(b'y')\n")
    assert [f["algorithm"] for f in findings(run(str(tmp_path), "-f", "json"))] == ["SHA-1"]


def test_cyclonedx_is_imported_only_for_cbom(project: Path) -> None:
    import subprocess
    import sys

    probe = ("import sys; from click.testing import CliRunner; from pqml.cli.main import cli; "
             "r = CliRunner().invoke(cli, ['scan', sys.argv[1], '-f', sys.argv[2]]); "
             "print(r.exit_code, 'cyclonedx' in sys.modules)")
    for fmt, expected in (("json", "False"), ("html", "False"), ("cbom", "True")):
        out = subprocess.run([sys.executable, "-c", probe, str(project), fmt],
                             capture_output=True, text=True, check=True).stdout.split()
        assert out == ["0", expected], (fmt, out)


def test_pipfile_dependencies(tmp_path: Path) -> None:
    (tmp_path / "Pipfile").write_text('[packages]\nrequests = "*"\nPyNaCl = "==1.5.0"\n'
                                      '[dev-packages]\npytest = "*"\n')
    got = [(f["path"], f["line"], f["algorithm"]) for f in findings(
        run(str(tmp_path), "-f", "json"))]
    assert got == [("Pipfile", 3, "pynacl")]

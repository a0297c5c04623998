"""Where a finding is, what protects an artifact, and the plan's order -- the same in every
report: with several roots every location names its root (``a/x.py:3``, never a bare
``x.py:3`` that could be in either); a plaintext, unsigned model is "unprotected", not
post-quantum safe; ML files are charted by what protects them; one plan step per
replacement, worst risk first, then earliest deadline."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pqml.cli.main import cli
from pqml.scan import ScanOptions, scan
from pqml.scan.runner import ScanResult

CODE = '''\
from cryptography.hazmat.primitives.asymmetric import rsa
import hashlib
k = rsa.generate_private_key(65537, 2048)
hashlib.md5(b"x")
'''


def _age_header(stanza: str) -> bytes:
    """The first bytes of an age file encrypted to one recipient of this stanza type: all
    the scanner reads (keyless)."""
    b64 = base64.b64encode(b"\x01" * 32).decode().rstrip("=")
    return f"age-encryption.org/v1\n-> {stanza} {b64}\n{b64}\n--- {b64}\n".encode() + b"\0" * 64


@pytest.fixture
def two_roots(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``a/x.py`` and ``b/x.py`` (the same file name in two roots), plus model files in
    ``a/``: a plaintext shard, one encrypted to X-Wing, one to X25519 only."""
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "x.py").write_text(CODE)
    (tmp_path / "a" / "w.safetensors").write_bytes(b"\x10\0\0\0\0\0\0\0{}" + b" " * 14)
    (tmp_path / "a" / "pq.safetensors.age").write_bytes(_age_header("mlkem768x25519"))
    (tmp_path / "a" / "classical.safetensors.age").write_bytes(_age_header("X25519"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli, ["scan", *args, "--no-progress"], catch_exceptions=False)


def test_table_and_plan_name_the_root_of_each_location(two_roots: Path) -> None:
    table = run("a/", "b", "-o", "t.txt")
    assert table.exit_code == 0, table.output
    text = Path("t.txt").read_text()
    for loc in ("a/x.py:3", "b/x.py:3", "a/x.py:4", "b/x.py:4", "a/w.safetensors:1"):
        assert loc in text
    plan = run("a/", "b", "--plan", "-o", "p.txt")
    assert plan.exit_code == 0, plan.output
    text = Path("p.txt").read_text()
    assert "a/x.py:3, b/x.py:3" in text and "a/x.py:4, b/x.py:4" in text
    assert not re.search(r"(?<![ab/])x\.py:", text)  # no bare, ambiguous x.py:N
    # the single-file command names the file where the user can reach it
    assert "pqml sign a/w.safetensors" in text


def test_json_sarif_cbom_and_html_name_the_root_of_each_location(two_roots: Path) -> None:
    doc = json.loads(run("a", "b", "-f", "json", "--plan").stdout)
    locs = {f["location"] for f in doc["findings"]}
    assert {"a/x.py:3", "b/x.py:3", "a/w.safetensors:1"} <= locs
    assert {f["path"] for f in doc["findings"] if f["root"] == "b"} == {"x.py"}  # unchanged
    step = next(p for p in doc["plan"] if p["title"].startswith("RSA"))
    assert step["locations"] == ["a/x.py:3", "b/x.py:3"]

    sarif = json.loads(run("a", "b", "-f", "sarif").stdout)
    (sarif_run,) = sarif["runs"]
    uris = {(r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
             r["locations"][0]["physicalLocation"]["region"]["startLine"])
            for r in sarif_run["results"]}
    assert {("a/x.py", 3), ("b/x.py", 3)} <= uris
    base = sarif_run["originalUriBaseIds"]["SRCROOT"]["uri"]
    assert base == two_roots.resolve().as_uri() + "/"
    for r in sarif_run["results"]:
        assert r["locations"][0]["physicalLocation"]["artifactLocation"]["uriBaseId"] == "SRCROOT"
        assert r["properties"]["location"].startswith(("a/", "b/"))

    absolute = json.loads(run(str(two_roots / "a"), str(two_roots / "b"), "-f", "sarif").stdout)
    artifacts = [r["locations"][0]["physicalLocation"]["artifactLocation"]
                 for r in absolute["runs"][0]["results"]]
    assert {"uri": (two_roots / "b" / "x.py").as_uri()} in artifacts  # absolute: no base

    cbom = json.loads(run("a", "b", "-f", "cbom").stdout)
    occurrences = {(o["location"], o["line"]) for c in cbom["components"]
                   for o in c.get("evidence", {}).get("occurrences", [])}
    assert {("a/x.py", 3), ("b/x.py", 3)} <= occurrences

    page = run("a", "b", "-f", "html").stdout
    table = page.split('id="findings"', 1)[1].replace("<wbr>", "")  # wrap points, no text
    assert ">a/x.py:3<" in table and ">b/x.py:3<" in table
    plan = page.split('class="plan"', 1)[1].split("</ol>", 1)[0]
    assert "a/x.py:3, b/x.py:3" in plan


def test_file_roots_show_their_own_path(two_roots: Path) -> None:
    """``pqml scan a/x.py b/x.py``: each finding's location is the file as named, not
    ``a/x.py/x.py``."""
    doc = json.loads(run("a/x.py", "b/x.py", "-f", "json").stdout)
    assert {f["location"] for f in doc["findings"]} == {"a/x.py:3", "a/x.py:4",
                                                        "b/x.py:3", "b/x.py:4"}


def test_one_root_keeps_root_relative_locations(two_roots: Path) -> None:
    doc = json.loads(run("a", "-f", "json", "--plan").stdout)
    assert {f["location"] for f in doc["findings"]} >= {"x.py:3", "w.safetensors:1"}
    assert next(p for p in doc["plan"] if p["title"].startswith("RSA"))["locations"] == ["x.py:3"]


@pytest.fixture
def result(two_roots: Path) -> ScanResult:
    return scan(["a"], ScanOptions(jobs=1))


def test_unprotected_model_is_not_labelled_pq_safe(two_roots: Path, result: ScanResult) -> None:
    by_path = {f.path: f for f in result.findings if f.kind == "artifact"}
    assert by_path["w.safetensors"].pq_safe == "unprotected"
    assert by_path["pq.safetensors.age"].pq_safe == "yes"
    assert by_path["classical.safetensors.age"].pq_safe == "no"
    doc = json.loads(run("a", "-f", "json").stdout)
    shard = next(f for f in doc["findings"] if f["path"] == "w.safetensors")
    assert shard["pq_safe"] == "unprotected"
    assert next(f for f in doc["findings"] if f["algorithm"] == "RSA")["pq_safe"] == "no"

    table = run("a", "-o", "t.txt")
    assert table.exit_code == 0
    row = next(ln for ln in Path("t.txt").read_text().splitlines() if "w.safetensors" in ln)
    cells = [c.strip() for c in row.split("│")]
    assert "unprotected" in cells and "yes" not in cells

    page = run("a", "-f", "html").stdout
    findings_table = page.split('id="findings"', 1)[1].split("</table>", 1)[0]
    (html_row,) = [r for r in findings_table.split("<tr") if ">w.safetensors:1<" in r]
    assert "<td>unprotected</td>" in html_row and "<td>yes</td>" not in html_row


def _chart_bars(page: str) -> dict[str, str]:
    """label -> bar colour of the "Findings by algorithm" chart."""
    svg = re.search(r"<svg[^>]*Findings by algorithm.*?</svg>", page, re.S).group(0)
    return {label: colour for label, colour in re.findall(
        r"<title>([^<]+): \d+</title>.*?fill=\"(#[0-9a-f]+)\"", svg)}


def test_chart_colours_ml_files_by_what_protects_them(result: ScanResult) -> None:
    from pqml.scan.report import html_report
    from pqml.scan.report.charts import SAFE

    bars = _chart_bars(html_report.render(result))
    assert bars["ML: PQ-protected"] == SAFE                    # X-Wing
    assert bars["ML: PQ-vulnerable"] == html_report.VULNERABLE  # X25519 only
    assert bars["ML: unprotected"] not in (SAFE, html_report.VULNERABLE)
    assert bars["RSA"] == html_report.VULNERABLE

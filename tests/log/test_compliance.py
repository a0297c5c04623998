"""Compliance controls judged from evidence: each control fails on the evidence that
should fail it, passes otherwise, and is "n/a" (never "pass") when its source is absent."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from pqml.log.compliance import (
    CONTROLS,
    PROFILES,
    ArtifactFact,
    CodeFact,
    Evidence,
    KeyFact,
    LogFact,
    Policy,
    evaluate,
)
from pqml.log.compliance_evidence import append_history, read_history
from pqml.log.compliance_report import html, table
from pqml.log.errors import ComplianceError

TODAY = dt.date(2026, 12, 4)
NIST = Policy()
CNSA = Policy(PROFILES["cnsa2"])


def status(report, control: str) -> str:  # type: ignore[no-untyped-def]
    return next(c.status for c in report.controls if c.id == control)


def result(report, control: str):  # type: ignore[no-untyped-def]
    return next(c for c in report.controls if c.id == control)


def test_nothing_looked_at_is_not_a_pass() -> None:
    report = evaluate(Evidence(), NIST, TODAY)
    assert {c.status for c in report.controls} == {"n/a"}
    assert report.status == "n/a"
    assert not report.failed("warn")


@pytest.mark.parametrize(("signatures", "policy", "expected"), [
    ((), NIST, "fail"),
    (("ECDSA",), NIST, "fail"),
    (("ECDSA", "ML-DSA-65"), NIST, "pass"),
    (("ML-DSA-65",), CNSA, "fail"),   # CNSA 2.0 accepts ML-DSA-87 only
    (("ML-DSA-87",), CNSA, "pass"),
    (("SLH-DSA-SHA2-128s",), NIST, "pass"),
])
def test_models_signed_pq(signatures: tuple[str, ...], policy: Policy, expected: str) -> None:
    ev = Evidence(artifacts=[ArtifactFact("m.safetensors", "model", False, (), signatures),
                             ArtifactFact("data.parquet.pqml", "dataset", True, ("X-Wing",))])
    report = evaluate(ev, policy, TODAY)
    assert status(report, "models-signed-pq") == expected
    if expected == "fail":
        assert result(report, "models-signed-pq").items[0].startswith("m.safetensors: ")


@pytest.mark.parametrize(("fact", "policy", "expected"), [
    (ArtifactFact("d.parquet", "dataset", False), NIST, "fail"),
    (ArtifactFact("d.parquet.age", "dataset", True, ("X25519",)), NIST, "fail"),
    (ArtifactFact("d.parquet.pqml", "dataset", True, ("X-Wing", "X25519")), NIST, "fail"),
    (ArtifactFact("d.parquet.pqml", "dataset", True, ("X-Wing",)), NIST, "pass"),
    (ArtifactFact("d.parquet.pqml", "dataset", True, ("X-Wing",)), CNSA, "fail"),
    (ArtifactFact("d.parquet.pqml", "dataset", True, ("ML-KEM-1024",)), CNSA, "pass"),
    (ArtifactFact("d.parquet.pqml", "dataset", True, ()), NIST, "fail"),
])
def test_datasets_encrypted_pq(fact: ArtifactFact, policy: Policy, expected: str) -> None:
    report = evaluate(Evidence(artifacts=[fact]), policy, TODAY)
    assert status(report, "datasets-encrypted-pq") == expected
    assert status(report, "encryption-pq") == (
        "pass" if expected == "pass" or not fact.encrypted else "fail")


def test_one_classical_stanza_fails_encryption_even_beside_a_pq_one() -> None:
    ev = Evidence(artifacts=[ArtifactFact("m.pt.age", "model", True, ("X-Wing", "X25519"))])
    control = result(evaluate(ev, NIST, TODAY), "encryption-pq")
    assert control.status == "fail"
    assert "X25519" in control.items[0] and "harvest now" in control.items[0]


def test_code_deadlines_warn_before_and_fail_after() -> None:
    ev = Evidence(code=[CodeFact("a.py", 3, "RSA", 2030), CodeFact("b.py", 9, "ECDSA", 2035)])
    before = evaluate(ev, NIST, TODAY)
    assert status(before, "code-crypto-deadlines") == "warn"
    assert not before.failed("fail") and before.failed("warn")
    after = evaluate(ev, NIST, dt.date(2031, 1, 1))
    control = result(after, "code-crypto-deadlines")
    assert control.status == "fail"
    assert control.items == ["a.py:3: RSA (deadline 2030)"]  # only what is past due
    assert after.failed("fail")
    assert status(evaluate(Evidence(code=[]), NIST, TODAY), "code-crypto-deadlines") == "pass"


def test_key_controls() -> None:
    keys = [KeyFact("aa11", "team", "X-Wing", "active", 3),
            KeyFact("bb22", None, "X25519", "active", 1),
            KeyFact("cc33", "old", "ML-DSA-65", "revoked", 2),
            KeyFact("dd44", "late", "ML-DSA-87", "active", 0, overdue="max age 30d")]
    report = evaluate(Evidence(keys=keys), NIST, TODAY)
    pq = result(report, "keys-post-quantum")
    assert pq.status == "warn" and pq.items == ["bb22 (no label): X25519"]
    assert status(evaluate(Evidence(keys=keys), CNSA, TODAY), "keys-post-quantum") == "fail"
    # after NIST's 2030 deprecation a classical active key fails under nist too
    assert status(evaluate(Evidence(keys=keys), NIST, dt.date(2031, 6, 1)),
                  "keys-post-quantum") == "fail"
    assert result(report, "keys-rotated").items == ["dd44 (late): max age 30d"]
    assert result(report, "keys-compromised-in-use").items == [
        "cc33 (old): revoked, still protects 2 assets"]


def test_log_controls() -> None:
    ok = evaluate(Evidence(log=LogFact(12)), NIST, TODAY)
    assert status(ok, "log-intact") == "pass"
    bad = evaluate(Evidence(log=LogFact(0, "entry 7 was edited")), NIST, TODAY)
    assert status(bad, "log-intact") == "fail"
    assert result(bad, "log-intact").items == ["entry 7 was edited"]
    recent = evaluate(Evidence(log=LogFact(12, None, (3, 5))), NIST, TODAY)
    assert status(recent, "log-classical-recipients") == "warn"


def test_only_required_controls_decide() -> None:
    ev = Evidence(artifacts=[ArtifactFact("m.pt", "model", False)])
    assert evaluate(ev, NIST, TODAY).failed("fail")
    lenient = Policy(require=frozenset(CONTROLS) - {"models-signed-pq"})
    report = evaluate(ev, lenient, TODAY)
    assert not report.failed("fail")
    assert not result(report, "models-signed-pq").required


@pytest.mark.parametrize(("table_", "message"), [
    ({"profil": "nist"}, "unknown setting 'profil'"),
    ({"profile": "fips"}, "profile must be one of"),
    ({"require": ["models-signed"]}, "unknown control 'models-signed'"),
    ({"require": "models-signed-pq"}, "must be a list"),
    ({"fail_on": "error"}, "fail_on must be"),
])
def test_bad_settings_are_named(table_: dict, message: str) -> None:
    with pytest.raises(ComplianceError, match=message) as info:
        Policy.from_settings(table_, "pqml.toml")
    assert str(info.value).startswith("pqml.toml: ")
    assert info.value.exit_code == 2


def test_history_round_trip_and_trend(tmp_path: Path) -> None:
    ev = Evidence(scope=("/m",), artifacts=[ArtifactFact("m.pt", "model", False)])
    first = evaluate(ev, NIST, TODAY, read_history(tmp_path))
    append_history(tmp_path, first.snapshot())
    assert (tmp_path / "compliance-history.jsonl").stat().st_mode & 0o777 == 0o600
    ev.artifacts = [ArtifactFact("m.pt", "model", False, (), ("ML-DSA-65",))]
    second = evaluate(ev, NIST, dt.date(2026, 12, 5), read_history(tmp_path))
    assert [s["status"] for s in second.trend] == ["fail", "pass"]
    other_scope = evaluate(Evidence(scope=("/x",)), NIST, TODAY, read_history(tmp_path))
    assert len(other_scope.trend) == 1  # only reports of the same scope make a trend


def test_a_tampered_history_line_is_named(tmp_path: Path) -> None:
    append_history(tmp_path, evaluate(Evidence(), NIST, TODAY).snapshot())
    with (tmp_path / "compliance-history.jsonl").open("a") as f:
        f.write("not json\n")
    with pytest.raises(ComplianceError, match="line 2 is not a compliance snapshot"):
        read_history(tmp_path)


def test_history_reading_is_bounded(tmp_path: Path) -> None:
    snap = evaluate(Evidence(), NIST, TODAY).snapshot()
    line = json.dumps(snap) + "\n"
    (tmp_path / "compliance-history.jsonl").write_text(line * 3000)
    assert len(read_history(tmp_path)) <= 500


def test_reports_escape_what_files_name(tmp_path: Path) -> None:
    evil = "<script>alert(1)</script>[bold]x[/bold].pt"
    report = evaluate(Evidence(artifacts=[ArtifactFact(evil, "model", False)]), NIST, TODAY)
    page = html(report)
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    out = tmp_path / "t.txt"
    with out.open("w") as f:
        table(report, f)
    assert "[bold]x[/bold].pt: not signed" in out.read_text()  # printed, not styled


def test_table_lists_every_failing_item_up_to_its_cap(tmp_path: Path) -> None:
    arts = [ArtifactFact(f"m{i:03d}.pt", "model", False) for i in range(25)]
    report = evaluate(Evidence(artifacts=arts), NIST, TODAY)
    out = tmp_path / "t.txt"
    with out.open("w") as f:
        table(report, f)
    text = out.read_text()
    assert "m019.pt: not signed" in text and "m020.pt" not in text
    assert "and 5 more (--json lists them all)" in text
    assert len(result(report, "models-signed-pq").items) == 25

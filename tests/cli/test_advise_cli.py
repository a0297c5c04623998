"""``pqml advise``: recommendations from real measurements (``bench compare --json``) and
constraints; the numbers shown are the measured ones; impossible constraints are one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pqml.bench import advise as advice_mod
from pqml.bench import compare
from pqml.errors import PolicyError

from conftest import cli_run as run

ALGS = ["X-Wing", "ML-KEM-768", "ML-KEM-1024", "X25519", "ML-DSA-44", "ML-DSA-65",
        "ML-DSA-87", "Falcon-512", "SLH-DSA-SHA2-128f", "ECDSA-P256"]


@pytest.fixture(scope="module")
def measurements(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("advise") / "m.json"
    res = run("bench", "compare", *[a for alg in ALGS for a in ("-a", alg)],
              "--budget", "0.003", "--json")
    assert res.exit_code == 0, res.stderr
    path.write_text(res.stdout)
    return path


def advise(measurements: Path, *args: object) -> dict:  # type: ignore[type-arg]
    res = run("advise", "--measurements", measurements, *args, "--json")
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def _rec(data: dict, role: str) -> dict:  # type: ignore[type-arg]
    return next(r for r in data["recommendations"] if r["role"] == role)


def _one_line_error(res) -> str:  # type: ignore[no-untyped-def]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pqml: error: "), res.stderr
    return lines[0].removeprefix("pqml: error: ")


def test_server_defaults_with_measured_numbers(measurements: Path) -> None:
    data = advise(measurements)
    assert data["profile"] == "default"
    kem, sig = _rec(data, "kem"), _rec(data, "signature")
    assert (kem["algorithm"], sig["algorithm"]) == ("X-Wing", "ML-DSA-65")
    assert "pqml's default profile signature default" in sig["reason"]
    measured = json.loads(measurements.read_text())
    row = next(r for r in measured["results"] if r["algorithm"] == "ML-DSA-65")
    assert sig["numbers"]["verify_us"] == round(row["median_us"]["verify"], 1)
    assert sig["numbers"]["signature_bytes"] == row["output_bytes"] == 3309
    assert sig["numbers"]["verify_overhead_pct"] == round(row["overhead_pct"]["verify"], 1)
    assert {e["algorithm"] for e in sig["excluded"]} == {"ECDSA-P256"}


def test_edge_prefers_small_signatures_and_ciphertexts(measurements: Path) -> None:
    data = advise(measurements, "--device", "edge")
    assert _rec(data, "signature")["algorithm"] == "Falcon-512"
    assert _rec(data, "kem")["algorithm"] == "ML-KEM-768"  # 1088 + 1184 bytes: the fewest
    # Falcon left out for a 10-year lifetime (not a final standard): the next smallest
    data = advise(measurements, "--device", "edge", "--lifetime", "10")
    sig = _rec(data, "signature")
    assert sig["algorithm"] == "ML-DSA-44"
    assert {"algorithm": "Falcon-512", "why": "verification lifetime 10 years"} in sig["excluded"]


def test_long_lifetime_and_cnsa2(measurements: Path) -> None:
    sig = _rec(advise(measurements, "--lifetime", "30"), "signature")
    assert sig["algorithm"] == "SLH-DSA-SHA2-128f"
    assert "30-year verification lifetime" in sig["reason"]
    data = advise(measurements, "--cnsa2")
    assert data["profile"] == "cnsa2"
    assert (_rec(data, "kem")["algorithm"], _rec(data, "signature")["algorithm"]) == (
        "ML-KEM-1024", "ML-DSA-87")
    # a size cap leaves only algorithms CNSA 2.0 does not allow: nothing left
    res = run("advise", "--measurements", measurements, "--cnsa2", "--max-signature-bytes",
              "4000")
    assert res.exit_code == 2
    assert _one_line_error(res) == (
        "no signature algorithm meets CNSA 2.0 and max signature bytes 4000 together: "
        "max signature bytes 4000 leaves ML-DSA-44, ML-DSA-65, Falcon-512; CNSA 2.0 allows "
        "none of ML-DSA-44, ML-DSA-65, Falcon-512")
    res = run("advise", "--measurements", measurements, "--max-ciphertext-bytes", "1000")
    assert _one_line_error(res) == ("no key encapsulation algorithm meets max ciphertext "
                                    "bytes 1000: the smallest ciphertext is ML-KEM-768's "
                                    "1088 bytes (its largest)")


def test_byte_limit_uses_the_largest_signature(measurements: Path) -> None:
    """A Falcon-512 signature measured at ~655 bytes can be 752: a 751 limit excludes it."""
    res = run("advise", "--measurements", measurements, "--device", "edge",
              "--max-signature-bytes", "751")
    assert res.exit_code == 2
    assert _one_line_error(res) == ("no signature algorithm meets max signature bytes 751: "
                                    "the smallest signature is Falcon-512's 752 bytes "
                                    "(its largest)")
    sig = _rec(advise(measurements, "--device", "edge", "--max-signature-bytes", "752"),
               "signature")
    assert sig["algorithm"] == "Falcon-512"


def test_verify_time_and_category_limits(measurements: Path) -> None:
    measured = json.loads(measurements.read_text())
    verify = {r["algorithm"]: r["median_us"]["verify"] for r in measured["results"]
              if r["role"] == "signature" and not r["quantum_vulnerable"]}
    fastest = min(verify, key=verify.__getitem__)
    limit_ms = verify[fastest] / 1000 / 2
    res = run("advise", "--measurements", measurements, "--max-verify-ms", f"{limit_ms:.6f}")
    assert res.exit_code == 2
    assert _one_line_error(res).startswith(
        f"no signature algorithm meets max verify time {limit_ms:.6f}".rstrip("0"))
    assert f"the fastest verify is {fastest}'s" in res.stderr
    data = advise(measurements, "--category", "5")
    assert _rec(data, "kem")["algorithm"] == "ML-KEM-1024"
    assert _rec(data, "signature")["algorithm"] == "ML-DSA-87"
    kem = _rec(advise(measurements, "--max-ciphertext-bytes", "1100"), "kem")
    assert kem["algorithm"] == "ML-KEM-768"
    assert "X-Wing is excluded" in kem["reason"]


def test_text_output(measurements: Path) -> None:
    res = run("advise", "--measurements", measurements, "--device", "edge")
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0] == "key encapsulation: ML-KEM-768"
    assert "signature: Falcon-512" in lines
    assert "profile: default (pqml ... --profile default)" in lines
    assert any(line.startswith("  measured: public_key_bytes=897") for line in lines)


def test_bad_inputs(tmp_path: Path, measurements: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    res = run("advise", "--measurements", bad)
    assert res.exit_code == 1 and f"{bad}: not JSON" in _one_line_error(res)
    other = tmp_path / "other.json"
    other.write_text('{"results": []}')
    res = run("advise", "--measurements", other)
    assert res.exit_code == 1 and "not the JSON of 'pqml bench compare --json'" in res.stderr
    res = run("advise", "--measurements", measurements, "--device", "toaster")
    assert res.exit_code == 2
    res = run("advise", "--measurements", measurements, "--category", "7")
    assert res.exit_code == 2


def test_classical_only_measurements_are_refused(tmp_path: Path) -> None:
    measured = compare.run(algorithms=["X25519", "Ed25519"], budget=0.001)
    with pytest.raises(PolicyError, match="no post-quantum key encapsulation algorithm"):
        advice_mod.advise(measured, advice_mod.Constraints())


def test_measures_when_no_file_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without --measurements it measures now (a shorter list here to keep the test fast)."""
    monkeypatch.setattr(compare, "default_algorithms",
                        lambda: ["ML-KEM-768", "X25519", "ML-DSA-44", "Ed25519"])
    res = run("advise", "--budget", "0.002", "--json")
    assert res.exit_code == 0, res.stderr
    data = json.loads(res.stdout)
    assert _rec(data, "kem")["algorithm"] == "ML-KEM-768"
    assert _rec(data, "signature")["algorithm"] == "ML-DSA-44"
    assert data["machine"]["processor"]


def test_help_first_line() -> None:
    res = run("advise", "--help")
    assert "Recommend algorithms per role from measurements and constraints." in res.stdout

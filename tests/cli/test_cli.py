"""The CLI end to end: real key files, real output, and one-line errors for bad input."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pqml import __version__

from conftest import REPO
from conftest import cli_run as run


def pqml_subprocess(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pqml.cli.main", *args], capture_output=True,
                          text=True, cwd=cwd)


def assert_one_line_error(result, code: int | None = None, match: str = "") -> None:
    assert result.exit_code != 0
    if code is not None:
        assert result.exit_code == code
    err = result.stderr if hasattr(result, "stderr") else result.output
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("pqml: error: ")
    assert "Traceback" not in err
    assert match in lines[0]


def test_version() -> None:
    res = run("--version")
    assert res.exit_code == 0 and __version__ in res.output


def test_algorithms_json_lists_the_registry() -> None:
    res = run("algorithms", "--json")
    assert res.exit_code == 0
    data = json.loads(res.output)
    names = {a["name"] for a in data["algorithms"]}
    assert {"X-Wing", "ML-DSA-65", "SLH-DSA-SHAKE-256f", "AES-256-GCM", "BLAKE3"} <= names
    xwing = next(a for a in data["algorithms"] if a["name"] == "X-Wing")
    assert xwing["hpke_kem_id"] == 0x647A and xwing["quantum_vulnerable"] is False
    assert data["profiles"]["cnsa2"]["defaults"]["signature"] == "ML-DSA-87"


def test_algorithms_filters() -> None:
    data = json.loads(run("algorithms", "--json", "--family", "kem").output)
    assert {a["family"] for a in data["algorithms"]} == {"kem"}
    data = json.loads(run("algorithms", "--json", "--profile", "cnsa2").output)
    names = {a["name"] for a in data["algorithms"]}
    assert "ML-KEM-1024" in names and "X-Wing" not in names


def test_algorithms_table_shows_quantum_status() -> None:
    res = run("algorithms", "--family", "signature")
    assert res.exit_code == 0
    assert "ML-DSA-65" in res.output and "Ed25519" in res.output


def test_committed_algorithms_doc_is_current() -> None:
    doc = REPO / "docs" / "ALGORITHMS.md"
    assert doc.read_text() == run("algorithms", "--markdown").output, (
        "docs/ALGORITHMS.md is stale: run `make docs`"
    )


def test_keygen_default_is_xwing_with_age_recipient(tmp_path: Path) -> None:
    key = tmp_path / "me.pem"
    res = run("keygen", "-o", str(key))
    assert res.exit_code == 0, res.output
    assert res.stdout.strip().startswith("age1pq1")
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in key.read_bytes()
    again = run("pubkey", "--age", str(key))
    assert again.stdout.strip() == res.stdout.strip()


def test_keygen_mldsa_pem_loads_in_pyca(tmp_path: Path) -> None:
    from cryptography.hazmat.primitives.asymmetric import mldsa
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = tmp_path / "signer.pem"
    res = run("keygen", "--alg", "mldsa65", "-o", str(key))
    assert res.exit_code == 0
    assert res.stdout.startswith("-----BEGIN PUBLIC KEY-----")
    loaded = load_pem_private_key(key.read_bytes(), None)
    assert isinstance(loaded, mldsa.MLDSA65PrivateKey)


def test_keygen_profile_roles(tmp_path: Path) -> None:
    res = run("keygen", "--profile", "cnsa2", "--alg", "signature", "-o", str(tmp_path / "k"),
              "--json")
    assert res.exit_code == 0
    assert json.loads(res.stdout)["algorithm"] == "ML-DSA-87"


def test_keygen_to_stdout_prints_private_and_public(tmp_path: Path) -> None:
    res = run("keygen", "--alg", "ML-KEM-768")
    assert res.exit_code == 0
    assert res.stdout.startswith("-----BEGIN PRIVATE KEY-----")
    assert "BEGIN PUBLIC KEY" in res.stderr


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    key.write_text("precious")
    res = run("keygen", "-o", str(key))
    assert_one_line_error(res, match="exists")
    assert key.read_text() == "precious"


def test_keygen_classical_needs_opt_in(tmp_path: Path) -> None:
    res = run("keygen", "--alg", "Ed25519", "-o", str(tmp_path / "a"))
    assert_one_line_error(res, match="quantum-vulnerable")
    assert not (tmp_path / "a").exists()
    res = run("keygen", "--alg", "Ed25519", "--allow-classical", "-o", str(tmp_path / "b"))
    assert res.exit_code == 0
    assert "quantum-vulnerable" in res.stderr


def test_keygen_unknown_algorithm_and_policy_errors(tmp_path: Path) -> None:
    assert_one_line_error(run("keygen", "--alg", "rot13"), code=2, match="unknown algorithm")
    assert_one_line_error(run("keygen", "--profile", "cnsa2", "--alg", "X-Wing"), code=2,
                          match="not allowed by profile")
    assert_one_line_error(run("keygen", "--alg", "AES-256-GCM"), match="not a key-pair")
    assert_one_line_error(run("keygen", "--profile", "nope"), code=2, match="unknown profile")


def test_age_format_only_for_age_algorithms(tmp_path: Path) -> None:
    res = run("keygen", "--alg", "ML-DSA-44", "--format", "age", "-o", str(tmp_path / "x"))
    assert_one_line_error(res, match="age defines no encoding")
    assert not (tmp_path / "x").exists()


def test_age_identity_file_like_age_keygen(tmp_path: Path) -> None:
    key = tmp_path / "id.txt"
    res = run("keygen", "--format", "age", "-o", str(key))
    assert res.exit_code == 0
    lines = key.read_text().splitlines()
    assert lines[0].startswith("# created: ")
    assert lines[1] == f"# public key: {res.stdout.strip()}"
    assert lines[2].startswith("AGE-SECRET-KEY-PQ-1")


def test_convert_round_trip_pem_age_pem(tmp_path: Path) -> None:
    pem = tmp_path / "k.pem"
    run("keygen", "-o", str(pem))
    age = tmp_path / "k.age"
    assert run("convert", "--to", "age", str(pem), "-o", str(age)).exit_code == 0
    assert stat.S_IMODE(os.stat(age).st_mode) == 0o600
    back = tmp_path / "back.pem"
    assert run("convert", "--to", "pem", str(age), "-o", str(back)).exit_code == 0
    assert back.read_bytes() == pem.read_bytes()


def test_convert_public_key_to_age_recipient(tmp_path: Path) -> None:
    pem = tmp_path / "k.pem"
    recipient = run("keygen", "-o", str(pem)).stdout.strip()
    pub = tmp_path / "k.pub"
    pub.write_text(run("pubkey", str(pem)).stdout)
    assert run("convert", "--to", "age", str(pub)).stdout.strip() == recipient


def test_pubkey_of_private_equals_pubkey_of_public(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    run("keygen", "--alg", "ML-DSA-44", "-o", str(key))
    pub = tmp_path / "k.pub"
    pub.write_text(run("pubkey", str(key)).stdout)
    assert run("pubkey", str(pub)).stdout == pub.read_text()
    info = json.loads(run("pubkey", "--json", str(pub)).stdout)
    assert info["algorithm"] == "ML-DSA-44" and info["private"] is False


def test_pubkey_from_stdin(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    recipient = run("keygen", "-o", str(key)).stdout.strip()
    res = run("pubkey", "--age", "-", input=key.read_bytes())
    assert res.stdout.strip() == recipient


def test_passphrase_protected_key(tmp_path: Path) -> None:
    pw = tmp_path / "pw"
    pw.write_text("correct horse battery staple\n")
    key = tmp_path / "k.pem"
    assert run("keygen", "--alg", "ML-DSA-65", "--passphrase-file", str(pw), "-o",
               str(key)).exit_code == 0
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    assert_one_line_error(run("pubkey", str(key)), match="passphrase")
    assert run("pubkey", "--passphrase-file", str(pw), str(key)).exit_code == 0
    bad = tmp_path / "bad"
    bad.write_text("wrong")
    assert_one_line_error(run("pubkey", "--passphrase-file", str(bad), str(key)))


@pytest.mark.parametrize(
    ("content", "match"),
    [(b"", ""), (b"not a key", ""), (b"-----BEGIN PRIVATE KEY-----\nAAAA\n", ""),
     (b"\x00\x01garbage", "")],
)
def test_pubkey_bad_input_is_one_line(tmp_path: Path, content: bytes, match: str) -> None:
    f = tmp_path / "bad"
    f.write_bytes(content)
    assert_one_line_error(run("pubkey", str(f)), match=match)


def test_pubkey_age_for_non_age_algorithm(tmp_path: Path) -> None:
    key = tmp_path / "k.pem"
    run("keygen", "--alg", "ML-DSA-44", "-o", str(key))
    assert_one_line_error(run("pubkey", "--age", str(key)), match="age defines no encoding")


def test_real_process_errors_have_no_traceback(tmp_path: Path) -> None:
    missing = pqml_subprocess("pubkey", str(tmp_path / "nope"))
    assert missing.returncode != 0 and "Traceback" not in missing.stderr
    garbage = tmp_path / "g"
    garbage.write_bytes(os.urandom(64))
    res = pqml_subprocess("pubkey", str(garbage))
    assert res.returncode == 1 and "Traceback" not in res.stderr
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("pqml: error: ")


def test_help_imports_no_crypto_backend() -> None:
    """Start-up stays cheap: --help must not pull in cryptography or pqcrypto."""
    code = ("import sys; from pqml.cli.main import cli; "
            "import contextlib, io\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    cli(['--help'])\n"
            "print([m for m in ('cryptography','pqcrypto','pqc','rich') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_bench_primitives_json_for_one_algorithm() -> None:
    res = run("bench", "primitives", "-a", "ML-KEM-768", "--budget", "0.05", "--json")
    assert res.exit_code == 0
    data = json.loads(res.stdout)
    ops = {r["operation"]: r for r in data["results"]}
    assert set(ops) == {"keygen", "encaps", "decaps"}
    for r in ops.values():
        assert r["pqml_us"] > 0 and r["backend_us"] > 0 and r["overhead_pct"] is not None
    assert data["machine"]["cryptography"]


def test_bench_rejects_bad_budget() -> None:
    res = run("bench", "primitives", "--budget", "0")
    assert res.exit_code == 2

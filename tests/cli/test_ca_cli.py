"""``pqml ca`` end to end from the shell: init, issue, sign, verify, revoke, crl."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from conftest import cli_run


@pytest.fixture
def work(tmp_path: Path) -> Path:
    model = tmp_path / "my-model"
    model.mkdir()
    (model / "weights.bin").write_bytes(b"\x02" * 4096)
    return tmp_path


def ok(*args: object) -> str:
    res = cli_run(*args)
    assert res.exit_code == 0, res.output
    return res.stdout


def fails(*args: object) -> str:
    res = cli_run(*args)
    assert res.exit_code == 1, res.output
    lines = res.stderr.strip().splitlines()
    assert lines[-1].startswith("pqml: error: "), res.stderr
    return lines[-1]


def test_release_flow(work: Path) -> None:
    out = ok("ca", "init", work / "root")
    assert "SLH-DSA-SHA2-128s" in out
    assert stat.S_IMODE((work / "root" / "ca.key.pem").stat().st_mode) == 0o600
    ok("ca", "init", work / "rel", "--parent", work / "root", "--subject", "CN=Release CA")
    info = json.loads(ok("ca", "issue", work / "rel", "--subject", "CN=release-bot",
                         "--san", "email:bot@example.com", "--new-key", work / "bot.pem",
                         "-o", work / "bot.crt", "--json"))
    assert info["kind"] == "signing" and info["algorithm"] == "ML-DSA-65"
    assert stat.S_IMODE((work / "bot.pem").stat().st_mode) == 0o600
    ok("sign", work / "my-model", "-k", work / "bot.pem", "--certificate", work / "bot.crt",
       "--certificate-chain", work / "rel" / "chain.pem")
    out = ok("verify", work / "my-model", "--certificate-chain", work / "root" / "ca.cert.pem")
    assert "certificate CN=release-bot" in out and "<- CN=Release CA" in out
    ok("ca", "crl", work / "rel")
    out = ok("verify", work / "my-model", "--certificate-chain",
             work / "root" / "ca.cert.pem", "--crl", work / "rel" / "crl.pem")
    assert "not revoked" in out
    assert "CN=release-bot" in ok("ca", "revoke", work / "rel", "0x1", "--reason",
                                  "key-compromise")
    ok("ca", "crl", work / "rel")
    line = fails("verify", work / "my-model", "--certificate-chain",
                 work / "root" / "ca.cert.pem", "--crl", work / "rel" / "crl.pem")
    assert "certificate CN=release-bot (serial 0x1) is revoked since" in line


def test_cnsa2_intermediate_and_public_key_issue(work: Path) -> None:
    ok("ca", "init", work / "root", "--profile", "cnsa2", "--alg", "ML-DSA-87")
    ok("keygen", "--alg", "ML-DSA-87", "-o", work / "k.pem")
    out = json.loads(ok("ca", "issue", work / "root", "--subject", "CN=Sub",
                        "--public-key", work / "k.pem", "--intermediate", "--path-len", "0",
                        "-o", work / "sub.crt", "--json"))
    assert out["kind"] == "intermediate" and out["algorithm"] == "ML-DSA-87"


def test_bad_usage_and_errors(work: Path) -> None:
    ok("ca", "init", work / "root", "--alg", "ML-DSA-44")
    res = cli_run("ca", "issue", work / "root", "--subject", "CN=x", "-o", work / "x.crt")
    assert res.exit_code == 2 and "exactly one of --public-key and --new-key" in res.output
    res = cli_run("ca", "revoke", work / "root", "twelve")
    assert res.exit_code == 2
    assert "no certificate with serial 12" in fails("ca", "revoke", work / "root", "12")
    assert "not a pqml CA directory" in fails("ca", "issue", work / "my-model",
                                              "--subject", "CN=x", "--new-key",
                                              work / "n.pem", "-o", work / "n.crt")
    assert not (work / "n.pem").exists()
    ok("ca", "issue", work / "root", "--subject", "CN=x", "--new-key", work / "x.pem",
       "-o", work / "x.crt")
    assert "already exists" in fails("ca", "issue", work / "root", "--subject", "CN=y",
                                     "--new-key", work / "y.pem", "-o", work / "x.crt")
    assert not (work / "y.pem").exists()
    assert len(json.loads((work / "root" / "ca.json").read_text())["certificates"]) == 1
    res = cli_run("sign", work / "my-model", "-k", work / "x.pem", "--certificate-chain",
                  work / "root" / "chain.pem")
    assert res.exit_code == 2 and "--certificate-chain needs --certificate" in res.output
    ok("keygen", "--alg", "ML-DSA-44", "-o", work / "other.pem")
    line = fails("sign", work / "my-model", "-k", work / "other.pem", "--certificate",
                 work / "x.crt")
    assert "certificate CN=x (serial 0x2) is not for the signing key" in line


def test_help_first_line() -> None:
    res = cli_run("ca", "--help")
    assert res.exit_code == 0
    assert "Run a post-quantum certificate authority for model signing." in res.stdout

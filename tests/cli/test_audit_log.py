"""Every sensitive command lands on the transparency log, failures and refusals included,
with key ids and paths but nothing secret; PQML_LOG=off turns it off; a log that cannot
be written is a warning, never a lost result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from pqml.log.store import LogStore, default_directory

from conftest import cli_run as run


def entries() -> list:  # type: ignore[type-arg]
    with LogStore(default_directory()) as store:
        return [e for _, e in store.entries()]


def ops() -> list[tuple[str, str]]:
    return [(e.operation, e.outcome) for e in entries()]


@pytest.fixture
def team(tmp_path: Path) -> Path:
    assert run("keys", "new", "--label", "team").exit_code == 0
    plain = tmp_path / "weights.bin"
    plain.write_bytes(b"secret weights " * 100)
    return plain


def test_encrypt_decrypt_and_a_failure_are_logged(team: Path, tmp_path: Path) -> None:
    enc = tmp_path / "weights.bin.pqml"
    assert run("encrypt", "-r", "team", "-o", enc, team).exit_code == 0
    assert run("decrypt", "-i", "team", "-o", tmp_path / "back", enc).exit_code == 0
    stranger = tmp_path / "stranger.pem"
    assert run("keygen", "-o", stranger).exit_code == 0
    assert run("decrypt", "-i", stranger, "-o", tmp_path / "no", enc).exit_code == 1
    assert ops() == [("key.new", "ok"), ("encrypt", "ok"), ("decrypt", "ok"),
                     ("decrypt", "failed")]
    new, encrypt, decrypt, failed = entries()
    team_id = new.key_ids[0]
    assert encrypt.key_ids == (team_id,) and decrypt.key_ids == (team_id,)
    assert encrypt.assets[0].path == str(enc)
    assert encrypt.details["recipient_algorithms"] == "X-Wing"
    assert encrypt.details["classical_only"] is False
    assert decrypt.details["bytes"] == len(team.read_bytes())
    assert failed.details["error"] and failed.assets[0].path == str(enc)
    # nothing secret: no plaintext, no key material anywhere in the log's files
    for path in default_directory().rglob("entries*"):
        assert b"secret weights" not in path.read_bytes()


def test_a_refusal_by_key_state_is_logged_as_refused(team: Path, tmp_path: Path) -> None:
    assert run("keys", "retire", "team").exit_code == 0
    assert run("encrypt", "-r", "team", "-o", tmp_path / "e", team).exit_code == 1
    assert ops()[-2:] == [("key.state", "ok"), ("encrypt", "refused")]
    state = entries()[-2]
    assert state.details["from"] == "active" and state.details["to"] == "retired"


def test_rekey_sign_and_verify_are_logged(team: Path, tmp_path: Path) -> None:
    enc = tmp_path / "w.pqml"
    assert run("encrypt", "-r", "team", "-o", enc, team).exit_code == 0
    assert run("keys", "new", "--label", "bob").exit_code == 0
    assert run("rekey", "-i", "team", "--add", "bob", enc).exit_code == 0
    model = tmp_path / "model"
    model.mkdir()
    (model / "m.bin").write_bytes(b"m")
    assert run("keys", "new", "-a", "ML-DSA-65", "--label", "signer").exit_code == 0
    assert run("sign", model, "-k", "signer").exit_code == 0
    assert run("verify", model, "-k", "signer").exit_code == 0
    (model / "m.bin").write_bytes(b"tampered")
    assert run("verify", model, "-k", "signer").exit_code == 1
    log = entries()
    rekey = next(e for e in log if e.operation == "rekey")
    bob = next(e for e in log if e.operation == "key.new" and e.details["label"] == "bob")
    assert rekey.key_ids == bob.key_ids and rekey.details["new_file_key"] is False
    sign = next(e for e in log if e.operation == "sign")
    assert sign.details["bundle_digest"].startswith("sha256:")
    assert sign.assets[0].digest == sign.details["root_digest"]
    verifies = [(e.outcome, e.key_ids) for e in log if e.operation == "verify"]
    assert verifies == [("ok", sign.key_ids), ("failed", ())]


def test_logging_off_writes_nothing(team: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    before = len(entries())
    monkeypatch.setenv("PQML_LOG", "off")
    assert run("encrypt", "-r", "team", "-o", tmp_path / "e", team).exit_code == 0
    monkeypatch.delenv("PQML_LOG")
    assert len(entries()) == before


def test_an_unwritable_log_warns_and_the_operation_stands(tmp_path: Path) -> None:
    """Root writes through permission bits, so the log is made impossible instead: its
    home lies under a regular file."""
    key = tmp_path / "k.pem"
    assert run("keygen", "-o", key).exit_code == 0
    (tmp_path / "k.pub").write_text(run("pubkey", key).stdout)
    plain = tmp_path / "p"
    plain.write_bytes(b"p")
    (tmp_path / "not-a-dir").write_text("")
    env = {**os.environ, "PQML_HOME": str(tmp_path / "not-a-dir" / "home")}
    res = subprocess.run([sys.executable, "-m", "pqml.cli.main", "encrypt", "-r",
                          tmp_path / "k.pub", "-o", tmp_path / "e", plain], env=env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "e").exists()
    lines = res.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("pqml: warning: not logged: "), lines

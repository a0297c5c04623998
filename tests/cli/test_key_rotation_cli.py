"""``pqml keys due`` and ``pqml keys rotate`` from the shell: the policy's verdict and
reasons, exit codes for cron and CI, the journalled rotation of files encrypted to a
keyring key, and a rotation killed mid-way finished by ``--resume``."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pqml.keys import rotation
from pqml.keys.keyring import Keyring
from pqml.keys.states import KeyState

from conftest import cli_run

DAY = 86400.0


def old_key(label: str, days: float) -> str:
    """A key made ``days`` ago (the keyring's clock, not a sleep)."""
    ring = Keyring(clock=lambda: time.time() - days * DAY)
    return ring.new("X-Wing", label=label).id


@pytest.fixture()
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def encrypt_to(workdir: Path, key: str, n: int) -> list[Path]:
    files = []
    for i in range(n):
        plain = workdir / f"w{i}.safetensors"
        plain.write_bytes(os.urandom(2000 + i))
        res = cli_run("encrypt", "-r", key, "-o", workdir / f"w{i}.safetensors.pqml", plain)
        assert res.exit_code == 0, res.output
        files.append(workdir / f"w{i}.safetensors.pqml")
    return files


def test_due_with_nothing_due(workdir: Path) -> None:
    res = cli_run("keys", "due", "--check")
    assert res.exit_code == 0 and res.stdout == "no key is due for rotation\n"


def test_due_lists_what_is_due_and_why(workdir: Path) -> None:
    (workdir / "pqml.toml").write_text('[keys]\nmax_age = "90d"\n'
                                       '[keys.classes.model]\nmax_age = "30d"\n')
    kid = old_key("models", 41)
    old_key("fresh", 1)
    ring = Keyring()
    for i in range(12):
        ring.record_use("models", operation="encrypt", asset=str(workdir / f"m{i}.pt.pqml"))
    res = cli_run("keys", "due")
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["KEY", "LABEL", "ALGORITHM", "STATUS", "DUE", "WHY"]
    assert len(lines) == 2 and lines[1].startswith(kid) and " OVERDUE " in lines[1]
    assert lines[1].endswith("protects 12 model files: max age 30d for model weights; "
                             "created 41d ago (overdue by 11d)")
    data = json.loads(cli_run("keys", "due", "--json").stdout)
    assert data["policy"] == "pqml.toml"
    assert [(d["key"], d["overdue"], d["limit"]) for d in data["due"]] == [
        (kid, True, "max_age")]


def test_due_check_and_status_check_fail_when_a_key_is_overdue(workdir: Path) -> None:
    (workdir / "pqml.toml").write_text('[keys]\nmax_age = "30d"\n')
    old_key("stale", 31)
    res = cli_run("keys", "due", "--check")
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines()[-1].startswith(
        "pqml: error: 1 key overdue for rotation: ")
    status = cli_run("keys", "status", "--check")
    assert status.exit_code == 1 and "overdue for rotation" in status.stderr
    (workdir / "pqml.toml").write_text('[keys]\nmax_age = "60d"\n')
    assert cli_run("keys", "due", "--check").exit_code == 0


def test_a_bad_policy_is_a_usage_error(workdir: Path) -> None:
    (workdir / "pqml.toml").write_text('[keys]\nmax_age = "forever"\n')
    res = cli_run("keys", "due")
    assert res.exit_code == 2
    assert res.stderr.startswith("pqml: error: pqml.toml: keys.max_age must be a duration")
    assert len(res.stderr.strip().splitlines()) == 1


def test_rotate_moves_the_files_and_the_label(workdir: Path) -> None:
    old = Keyring().new("X-Wing", label="team").id
    files = encrypt_to(workdir, "team", 3)
    res = cli_run("keys", "rotate", "team", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["old"] == old and data["moved"] == 3 and data["mode"] == "rewrap"
    assert f"rotated key {old} to {data['successor']} (header rewrap): 3 assets moved" \
        in res.stderr
    ring = Keyring()
    assert ring.get("team").id == data["successor"]
    assert ring.get(old).state is KeyState.RETIRED
    for path in files:  # "-i team" is now the successor, and it opens every file
        out = workdir / (path.name + ".out")
        assert cli_run("decrypt", "-i", "team", "-o", out, path).exit_code == 0
    again = cli_run("keys", "rotate", old)
    assert again.exit_code == 0 and "was already rotated to" in again.stderr


def test_rotate_with_a_new_file_key(workdir: Path) -> None:
    Keyring().new("X-Wing", label="team")
    encrypt_to(workdir, "team", 2)
    res = cli_run("keys", "rotate", "team", "--new-file-key")
    assert res.exit_code == 0, res.output
    assert "(file-key rotation): 2 assets moved" in res.stderr


def test_rotate_reports_missing_files(workdir: Path) -> None:
    Keyring().new("X-Wing", label="team")
    files = encrypt_to(workdir, "team", 2)
    files[0].unlink()
    res = cli_run("keys", "rotate", "team")
    assert res.exit_code == 0, res.output
    assert f"{files[0]}: missing: no such file" in res.stderr
    assert "(header rewrap): 1 asset moved, 1 missing" in res.stderr


@pytest.mark.parametrize("args,code,message", [
    (["--rewrap", "--new-file-key", "team"], 2, "--rewrap and --new-file-key exclude each "
                                                "other"),
    ([], 2, "give the KEY to rotate"),
    (["nosuchkey"], 1, "nosuchkey"),
])
def test_rotate_bad_input(workdir: Path, args: list[str], code: int, message: str) -> None:
    Keyring().new("X-Wing", label="team")
    res = cli_run("keys", "rotate", *args)
    assert res.exit_code == code
    assert res.stderr.startswith("pqml: error: ") and message in res.stderr
    assert Keyring().get("team").state is KeyState.ACTIVE


def test_resume_with_nothing_to_resume(workdir: Path) -> None:
    res = cli_run("keys", "rotate", "--resume")
    assert res.exit_code == 0 and "no interrupted rotation" in res.stderr


def test_a_killed_rotation_is_finished_by_resume(workdir: Path) -> None:
    old = Keyring().new("X-Wing", label="team").id
    files = encrypt_to(workdir, "team", 4)
    env = {**os.environ, rotation.DIE_AT_ENV: "after-rekey:2"}
    proc = subprocess.run([sys.executable, "-m", "pqml.cli.main", "keys", "rotate", "team"],
                          env=env, capture_output=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    assert rotation.pending(Keyring().home) == [old]
    res = cli_run("keys", "rotate", "--resume", "--json")
    assert res.exit_code == 0, res.output
    [data] = json.loads(res.stdout)
    assert data["resumed"] and data["moved"] == 4
    statuses = [a["status"] for a in data["assets"]]
    # files rekeyed before the kill (threads rekey several at once) are found done
    assert "already" in statuses and set(statuses) <= {"already", "rewrapped"}
    assert rotation.pending(Keyring().home) == []
    for path in files:
        assert cli_run("decrypt", "-i", "team", "-o", workdir / (path.name + ".o"),
                       path).exit_code == 0

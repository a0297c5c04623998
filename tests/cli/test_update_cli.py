"""``pqml update apply / rollback / status``: output, JSON, and refusals as one line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pqml.signing import signing

from conftest import cli_run as run
from conftest import signing_key_files


def _release(tmp: Path, version: str, key: Path, name: str = "detector") -> Path:
    root = tmp / version / name
    root.mkdir(parents=True)
    (root / "weights.bin").write_bytes(version.encode() * 5000)
    (root / "VERSION").write_text(version)
    signing.sign_model(root, [key])
    return root


def _error_line(res) -> str:  # type: ignore[no-untyped-def]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pqml: error: "), res.stderr
    return lines[0]


@pytest.fixture
def keypair(tmp_path: Path) -> tuple[Path, Path]:
    keydir = tmp_path / "keys"
    keydir.mkdir()
    return signing_key_files(keydir, "ML-DSA-44")


def test_apply_status_rollback(tmp_path: Path, keypair: tuple[Path, Path]) -> None:
    sk, pk = keypair
    d = tmp_path / "device"
    res = run("update", "apply", _release(tmp_path, "v1", sk), d, "-k", pk)
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith(f"{d}: now serving version 1 'detector' sha256:")
    assert "verified: ML-DSA-44" in res.stdout
    res = run("update", "apply", _release(tmp_path, "v2", sk), d, "-k", pk, "--json")
    data = json.loads(res.stdout)
    assert data["changed"] and data["current"]["version"] == 2
    assert data["previous"]["version"] == 1
    assert data["verification"]["algorithms"] == ["ML-DSA-44"]
    res = run("update", "status", d)
    assert res.stdout.splitlines()[0].startswith("current   version 2 'detector' sha256:")
    assert res.stdout.splitlines()[1].startswith("previous  version 1 'detector' sha256:")
    res = run("update", "rollback", d, "-k", pk)
    assert res.exit_code == 0, res.stderr
    assert res.stdout.startswith(f"{d}: rolled back to version 1")
    assert (d / "current" / "VERSION").read_text() == "v1"
    st = json.loads(run("update", "status", d, "--json").stdout)
    assert (st["current"]["version"], st["previous"]["version"]) == (1, 2)
    res = run("update", "apply", tmp_path / "v1" / "detector", d, "-k", pk)
    assert "already serving version 1" in res.stdout
    res = run("update", "apply", _release(tmp_path, "v3", sk), d, "-k", pk)
    assert res.exit_code == 0, res.stderr
    res = run("update", "apply", tmp_path / "v1" / "detector", d, "-k", pk)  # a replay
    assert res.exit_code == 1 and "was replaced by a later update" in _error_line(res)
    res = run("update", "apply", tmp_path / "v1" / "detector", d, "-k", pk,
              "--allow-downgrade")
    assert res.exit_code == 0 and (d / "current" / "VERSION").read_text() == "v1"


def test_update_for_another_model_is_one_line(tmp_path: Path,
                                              keypair: tuple[Path, Path]) -> None:
    sk, pk = keypair
    d = tmp_path / "device"
    run("update", "apply", _release(tmp_path, "v1", sk), d, "-k", pk)
    other = _release(tmp_path, "cam", sk, name="camera")
    res = run("update", "apply", other, d, "-k", pk)
    assert res.exit_code == 1
    assert _error_line(res) == (f"pqml: error: {other}: model.sig: the bundle signs model "
                                "'camera', expected 'detector'")
    assert (d / "current" / "VERSION").read_text() == "v1"


def test_wrong_key_and_tampered_are_one_line(tmp_path: Path,
                                             keypair: tuple[Path, Path]) -> None:
    sk, pk = keypair
    d = tmp_path / "device"
    run("update", "apply", _release(tmp_path, "v1", sk), d, "-k", pk)
    otherdir = tmp_path / "other-keys"
    otherdir.mkdir()
    other_sk, _ = signing_key_files(otherdir, "ML-DSA-44")
    res = run("update", "apply", _release(tmp_path, "forged", other_sk), d, "-k", pk)
    assert res.exit_code == 1 and "no signature verified" in _error_line(res)
    v2 = _release(tmp_path, "v2", sk)
    (v2 / "weights.bin").write_bytes(b"x" * 10)
    res = run("update", "apply", v2, d, "-k", pk)
    assert res.exit_code == 1 and "weights.bin" in _error_line(res)
    assert (d / "current" / "VERSION").read_text() == "v1"
    assert sorted(os.listdir(d / "versions")) == ["1"]


def test_usage_errors(tmp_path: Path, keypair: tuple[Path, Path]) -> None:
    sk, _ = keypair
    v1 = _release(tmp_path, "v1", sk)
    res = run("update", "apply", v1, tmp_path / "d")  # no -k
    assert res.exit_code == 2
    assert res.stderr.splitlines()[0] == \
        "pqml: error: missing option --key or --certificate-chain"
    res = run("update", "apply", tmp_path / "missing", tmp_path / "d", "-k", sk)
    assert res.exit_code == 1  # a missing input file is a failure, as everywhere in pqml
    assert "missing" in _error_line(res)
    assert not (tmp_path / "d").exists()
    res = run("update", "rollback", tmp_path / "nowhere", "-k", sk)
    assert res.exit_code == 1 and "nowhere" in _error_line(res)


def test_status_of_a_non_update_directory(tmp_path: Path) -> None:
    (tmp_path / "stuff.txt").write_text("x")
    res = run("update", "status", tmp_path)
    assert res.exit_code == 1 and "not an update directory" in _error_line(res)


def test_help_first_line() -> None:
    res = run("update", "--help")
    assert "Verify a model update and swap it in atomically, with rollback." in res.stdout

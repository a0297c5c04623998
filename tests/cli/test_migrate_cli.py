"""``pqml migrate``: the report (table and --json), --apply, exit codes, keyring keys, and
the ``pqml scan --plan`` proposals that lead to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pqml
from pqml.cli.main import COMMANDS
from pqml.keys import key_files

from conftest import cli_run

PLAINTEXT = b"weights" * 1000


@pytest.fixture
def classical(tmp_path: Path) -> dict[str, Path | str]:
    x = pqml.generate_key("X25519", allow_classical=True)
    key_files.save_private(x, tmp_path / "x25519.txt", "age")
    xw = pqml.generate_key("X-Wing")
    key_files.save_private(xw, tmp_path / "xwing.txt", "age")
    src = tmp_path / "model.safetensors"
    src.write_bytes(PLAINTEXT)
    enc = tmp_path / "model.safetensors.age"
    pqml.encrypt_file(src, enc, [str(tmp_path / "x25519.txt")], format="age",
                      allow_classical=True)
    src.unlink()
    return {"file": enc, "x25519": tmp_path / "x25519.txt", "xwing": tmp_path / "xwing.txt",
            "xwing_pub": key_files.public_text(xw, age=True)}


def _sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_first_help_line_is_the_command_summary() -> None:
    res = cli_run("migrate", "--help")
    assert res.exit_code == 0
    first = res.output.split("\n\n")[1].strip()
    assert first == COMMANDS["migrate"].summary


def test_dry_run_table_then_apply(classical) -> None:
    f = classical["file"]
    before = _sha(f)
    res = cli_run("migrate", f, "--to", classical["xwing_pub"], "-i", classical["x25519"])
    assert res.exit_code == 0, res.output
    assert "dry run" in res.stdout and "X25519 (quantum-vulnerable)" in res.stdout
    assert str(f) in res.stdout  # the table is not truncated off a terminal
    assert "ready" in res.stdout and "rekey --reset" in res.stdout
    assert _sha(f) == before
    res = cli_run("migrate", f, "--to", classical["xwing_pub"], "-i", classical["x25519"],
                  "--apply", "--json")
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["applied"] and doc["ok"] and doc["journal"] is None
    (a,) = doc["artifacts"]
    assert (a["kind"], a["status"]) == ("age", "migrated")
    assert pqml.inspect(f)["post_quantum"]
    res = cli_run("migrate", f, "--to", classical["xwing_pub"], "-i", classical["x25519"],
                  "--apply", "--json")
    assert json.loads(res.stdout)["artifacts"][0]["status"] == "nothing to do"


def test_errors_are_one_line_with_exit_codes(classical, tmp_path: Path) -> None:
    f = classical["file"]
    junk = tmp_path / "notes.txt"
    junk.write_text("hello\n")
    res = cli_run("migrate", f, junk, "--to", classical["xwing_pub"], "-i",
                  classical["x25519"])
    assert res.exit_code == 1
    assert res.stderr.strip().splitlines()[-1].startswith(
        "pqml: error: 1 of 2 artifacts cannot be migrated: ")
    res = cli_run("migrate", f, "--to", classical["x25519"], "-i", classical["x25519"])
    assert res.exit_code != 0 and "quantum-vulnerable" in res.stderr
    assert "Traceback" not in res.stderr
    res = cli_run("migrate", f, "--to", classical["xwing_pub"], "-i", classical["xwing"],
                  "--apply")
    assert res.exit_code == 1 and "no identity" in res.stderr
    res = cli_run("migrate", f, "--layout", "tink")
    assert res.exit_code == 2


def test_keyring_references(classical, tmp_path: Path) -> None:
    """--to and --sign-key name keyring keys; their use is recorded per artifact."""
    from pqml.keys.keyring import Keyring

    ring = Keyring()
    ring.new("X-Wing", label="team")
    signer = ring.new("ML-DSA-65", label="signer")
    f = classical["file"]
    res = cli_run("migrate", f, "--to", "team", "-i", classical["x25519"], "--apply")
    assert res.exit_code == 0, res.output
    assert [s["kem"] for s in pqml.inspect(f)["stanzas"]] == ["X-Wing"]
    assets = ring.assets("team")
    assert [(a.path, a.operation) for a in assets] == [(os.path.abspath(f), "migrate")]
    assert ring.get("team").operations == 1
    # a classical bundle co-signed with the keyring's ML-DSA key
    model = tmp_path / "m"
    model.mkdir()
    (model / "w.bin").write_bytes(b"\x01" * 100)
    ec = pqml.generate_key("ECDSA-P256", allow_classical=True)
    pqml.save_private_key(ec, tmp_path / "ec.pem")
    pqml.save_public_key(ec, tmp_path / "ec.pub")
    pqml.sign_model(model, [tmp_path / "ec.pem"])
    res = cli_run("migrate", model, "--trust-key", tmp_path / "ec.pub", "--sign-key",
                  "signer", "--apply", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["artifacts"][0]["status"] == "migrated"
    pqml.verify_model(model, [ring.public_key(signer.id)], require_pq=True)
    assert [a.path for a in ring.assets("signer")] == [os.path.abspath(model)]
    # a retired key protects nothing new
    from pqml.keys.states import KeyState

    ring.set_state("team", KeyState.RETIRED)
    other = tmp_path / "o.age"
    pqml.encrypt_file(tmp_path / "ec.pub", other, [str(classical["x25519"])], format="age",
                      allow_classical=True)
    res = cli_run("migrate", other, "--to", "team", "-i", classical["x25519"])
    assert res.exit_code == 1 and "team" in res.stderr and "retired" in res.stderr


def test_unknown_keyring_reference_is_named(classical) -> None:
    from pqml.keys.keyring import Keyring

    Keyring().new("X-Wing", label="team")
    res = cli_run("migrate", classical["file"], "--to", "nobody", "-i", classical["x25519"])
    assert res.exit_code == 1 and "nobody" in res.stderr


def test_scan_plan_proposes_migrate(classical, tmp_path: Path) -> None:
    model = tmp_path / "bundle-model"
    model.mkdir()
    (model / "w.safetensors").write_bytes(b"\x00" * 64)
    ec = pqml.generate_key("ECDSA-P256", allow_classical=True)
    pqml.save_private_key(ec, tmp_path / "ec.pem")
    pqml.sign_model(model, [tmp_path / "ec.pem"])
    res = cli_run("scan", tmp_path, "--plan", "-f", "json", "--no-progress")
    assert res.exit_code in (0, 1), res.output
    doc = json.loads(res.stdout)
    commands = [p["command"] or "" for p in doc["plan"]]
    age_cmd = next(c for c in commands if "model.safetensors.age" in c)
    assert age_cmd.startswith("pqml migrate ") and "--to <age1pq1" in age_cmd
    assert any("pqml migrate" in c and "--sign-key mldsa.pem" in c for c in commands)
    per_finding = {f["path"]: (f.get("risk") or {}).get("command") or "" for f in
                   doc["findings"]}
    assert per_finding["bundle-model/model.sig"].endswith(
        "pqml migrate bundle-model/model.sig --trust-key classical.pub "
        "--sign-key mldsa.pem --apply")


def test_subprocess_dry_run_is_a_real_command(classical) -> None:
    exe = Path(sys.executable).with_name("pqml")
    done = subprocess.run([str(exe), "migrate", str(classical["file"]), "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    (a,) = json.loads(done.stdout)["artifacts"]
    assert a["status"] == "needs" and a["quantum_vulnerable"] is True


def test_scan_plan_for_hybrid_bundles_and_pqml_files(tmp_path: Path) -> None:
    """A bundle that has an ML-DSA signature needs no co-signature (verify --require-pq);
    a pqml/v1 file with an x25519 stanza is migrated to a PEM recipient."""
    model = tmp_path / "hybrid"
    model.mkdir()
    (model / "w.safetensors").write_bytes(b"\x00" * 64)
    for name, alg in (("ec", "ECDSA-P256"), ("ml", "ML-DSA-65"), ("x", "X25519")):
        pqml.save_private_key(pqml.generate_key(alg, allow_classical=True),
                              tmp_path / f"{name}.pem")
    pqml.sign_model(model, [tmp_path / "ec.pem", tmp_path / "ml.pem"])
    src = tmp_path / "data.parquet"
    src.write_bytes(b"PAR1" * 10)
    pqml.encrypt_file(src, tmp_path / "data.parquet.pqml", [str(tmp_path / "x.pem")],
                      allow_classical=True)
    res = cli_run("scan", tmp_path, "--plan", "-f", "json", "--no-progress")
    commands = {f["path"]: (f.get("risk") or {}).get("command") or ""
                for f in json.loads(res.stdout)["findings"] if f["quantum_vulnerable"]}
    assert "--require-pq" in commands["hybrid/model.sig"]
    assert "pqml migrate" not in commands["hybrid/model.sig"]
    assert commands["data.parquet.pqml"] == (
        "pqml migrate data.parquet.pqml -i identity.txt --to recipient.pub.pem --apply")

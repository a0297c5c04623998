"""``pqml keys`` end to end, and keyring references in the commands that take key files:
every subcommand, --json, one-line errors with their exit codes, and state enforcement
(a retired key encrypts nothing, a revoked signer is reported by verify)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pqml.keys.keyring import Keyring

from conftest import cli_run as run
from conftest import signing_key_files


def error_line(result, code: int = 1) -> str:  # type: ignore[no-untyped-def]
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pqml: error: "), result.stderr
    return lines[0][len("pqml: error: "):]


def new_key(*args: str) -> str:
    res = run("keys", "new", *args)
    assert res.exit_code == 0, res.output
    return res.stdout.strip()


def test_help_summary_and_subcommands() -> None:
    from pqml.cli.keyring import keys

    assert (keys.help or "").splitlines()[0] == \
        "Manage keys in the keyring: states, rotation, revocation, usage."
    res = run("keys", "--help")
    assert res.exit_code == 0
    for name in ("new", "list", "show", "import", "export", "promote", "retire", "revoke",
                 "disable", "enable", "destroy", "status"):
        assert f"  {name} " in res.stdout, name


def test_rotation_commands_join_the_group_when_present() -> None:
    import importlib.util

    import click

    from pqml.cli.keyring import keys

    names = keys.list_commands(click.Context(keys))
    if importlib.util.find_spec("pqml.cli.key_rotation") is None:
        assert "due" not in names and "rotate" not in names
    else:
        from pqml.cli import key_rotation  # type: ignore[attr-defined]

        for name in ("due", "rotate"):
            if isinstance(getattr(key_rotation, name, None), click.Command):
                assert name in names


def test_new_list_show_json_and_filters() -> None:
    enc = new_key("--label", "team-a")
    sig = new_key("--alg", "ML-DSA-65", "--label", "signer", "--not-after", "2030-01-01")
    pend = new_key("--label", "next", "--pending")
    res = run("keys", "list")
    assert res.exit_code == 0
    lines = res.stdout.splitlines()
    assert lines[0].split() == ["ID", "LABEL", "ALGORITHM", "PURPOSE", "STATE", "CREATED",
                                "NOT", "AFTER", "OPERATIONS", "BYTES"]
    assert [ln.split()[0] for ln in lines[1:]] == [enc, sig, pend]  # full ids, oldest first
    assert "2030-01-01" in lines[2]
    data = json.loads(run("keys", "list", "--json").stdout)
    assert [d["label"] for d in data] == ["team-a", "signer", "next"]
    assert data[1]["purpose"] == "sign" and data[1]["not_after"] == 1893456000.0
    assert [d["id"] for d in json.loads(run("keys", "list", "--json", "--state", "pending")
                                        .stdout)] == [pend]
    assert [d["id"] for d in json.loads(run("keys", "list", "--json", "--purpose", "sign")
                                        .stdout)] == [sig]
    shown = run("keys", "show", "team-a")
    assert f"id:           {enc}" in shown.stdout and "recipient:    age1pq1" in shown.stdout
    facts = json.loads(run("keys", "show", enc[:6], "--json").stdout)
    assert facts["id"] == enc and facts["history"][0]["to"] == "active"
    assert facts["file_problems"] == [] and facts["quantum_vulnerable"] is False
    res = run("keys", "list", "--state", "destroyed")
    assert res.exit_code == 0 and res.stdout == "" and "no keys match" in res.stderr


def test_list_is_never_cut_when_piped() -> None:
    """A real process with stdout on a pipe: 64-digit ids and long labels whole."""
    new_key("--alg", "ML-DSA-44", "--label", "a-rather-long-label-for-a-signing-key-2027")
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    out = subprocess.run([sys.executable, "-m", "pqml.cli.main", "keys", "list"], env=env,
                         capture_output=True, text=True, check=True).stdout
    row = out.splitlines()[1].split()
    assert len(row[0]) == 64 and row[1] == "a-rather-long-label-for-a-signing-key-2027"


def test_state_verbs_and_destroy(tmp_path: Path) -> None:
    kid = new_key("--label", "k", "--pending")
    assert run("keys", "promote", "k").stdout == f"key {kid} (k): pending -> active\n"
    assert run("keys", "retire", "k", "--reason", "rotated").exit_code == 0
    assert error_line(run("keys", "promote", "k")) == (
        f"key {kid} (k): cannot go from retired to active (allowed from retired: "
        "compromised, disabled, revoked)")
    assert run("keys", "disable", "k").exit_code == 0
    res = run("keys", "enable", "k", "--json")
    assert json.loads(res.stdout)["state"] == "retired"
    assert error_line(run("keys", "destroy", "k")).startswith(
        f"key {kid} (k): cannot go from retired to destroy-scheduled")
    run("keys", "disable", "k")
    res = run("keys", "destroy", "k", "--after", "2h")
    assert res.exit_code == 0 and "--now" in res.stderr
    assert error_line(run("keys", "destroy", "k")).endswith("(--now after that, or --cancel)")
    assert "not before" in error_line(run("keys", "destroy", "k", "--now"))
    assert run("keys", "destroy", "k", "--cancel").stdout == \
        f"key {kid} (k): destroy-scheduled -> disabled\n"
    assert "not destroy-scheduled" in error_line(run("keys", "destroy", "k", "--now"))
    assert run("keys", "destroy", "k", "--after", "0s").exit_code == 0
    assert run("keys", "destroy", "k", "--now").exit_code == 0
    kr = Keyring()
    assert not (kr.keys_dir / f"{kid}.pem").exists() and (kr.keys_dir / f"{kid}.pub").exists()
    assert error_line(run("keys", "destroy", "k", "--after", "soon"), 2) == \
        "invalid duration 'soon' (e.g. 7d, 12h, 1d12h, 90m, 30s)"
    assert error_line(run("keys", "destroy", "k", "--cancel", "--now"), 2) == \
        "--cancel and --now cannot be combined"


def test_revoke_and_compromised_at() -> None:
    new_key("--label", "bob")
    new_key("--label", "eve")
    res = run("keys", "revoke", "bob", "--reason", "left the team", "--json")
    assert json.loads(res.stdout)["state"] == "revoked"
    assert Keyring().history("bob")[-1].reason == "left the team"
    res = run("keys", "revoke", "eve", "--compromised-at", "2026-06-01T00:00:00Z", "--json")
    data = json.loads(res.stdout)
    assert (data["state"], data["compromised_at"]) == ("compromised", 1780272000.0)
    assert error_line(run("keys", "revoke", "eve", "--compromised-at", "june"), 2) \
        .startswith("invalid time 'june'")


def test_import_export_roundtrip(tmp_path: Path) -> None:
    _, pub = signing_key_files(tmp_path, "ML-DSA-44")
    res = run("keys", "import", pub, "--label", "their-signer")
    assert res.exit_code == 0 and "public key only" in res.stderr
    kid = res.stdout.strip()
    assert run("keys", "export", "their-signer").stdout == pub.read_text()
    assert "no private key" in error_line(run("keys", "export", kid, "--private"))
    (tmp_path / "pw").write_text("hunter2\n")
    assert run("keygen", "-o", tmp_path / "x.pem", "--passphrase-file", tmp_path / "pw") \
        .exit_code == 0
    assert "passphrase-protected" in error_line(run("keys", "import", tmp_path / "x.pem"))
    res = run("keys", "import", tmp_path / "x.pem", "--passphrase-file", tmp_path / "pw",
              "--label", "mine")
    assert res.exit_code == 0
    out = tmp_path / "out.pem"
    assert run("keys", "export", "mine", "--private", "-o", out).exit_code == 0
    assert out.read_bytes() == (Keyring().keys_dir / f"{res.stdout.strip()}.pem").read_bytes()
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    assert "already exists" in error_line(run("keys", "export", "mine", "-o", out))
    age = run("keys", "export", "mine", "--age").stdout
    assert age.startswith("age1pq1")
    assert "already in the keyring" in error_line(run("keys", "import", pub))


def test_one_line_errors_for_bad_references() -> None:
    assert error_line(run("keys", "show", "nobody")) == (
        f"no key 'nobody' in the keyring {os.environ['PQML_HOME']} (the keyring is empty)")
    new_key("--label", "alice")
    assert error_line(run("keys", "show", "alcie")).endswith("(did you mean alice?)")
    assert "already used" in error_line(run("keys", "new", "--label", "alice"))
    assert error_line(run("keys", "new", "--label", "dead"), 1).startswith(
        "invalid key label 'dead'")
    assert error_line(run("keys", "list", "--state", "asleep"), 2).startswith(
        "invalid value for --state")
    assert error_line(run("keys", "new", "--alg", "X25519"), 2).startswith("X25519 is "
                                                                           "quantum-vulnerable")


def test_status_and_check(tmp_path: Path) -> None:
    res = run("keys", "status", "--json")
    assert json.loads(res.stdout)["keys"] == 0
    kid = new_key("--label", "k")
    new_key("--label", "old", "--not-after", "@1000")
    res = run("keys", "status")
    assert "active             2" in res.stdout and "expired but still active" in res.stdout
    res = run("keys", "status", "--check")
    assert "1 expired active keys" in error_line(res)
    run("keys", "retire", "old")
    assert run("keys", "status", "--check").exit_code == 0
    pub = Keyring().keys_dir / f"{kid}.pub"
    pub.write_text(pub.read_text().replace("A", "B", 1))
    res = run("keys", "status", "--check", "--json")
    assert res.exit_code == 1
    assert "was changed" in json.loads(res.stdout)["file_problems"][0]


# ---- keyring references in the other commands ----------------------------------------------


def test_encrypt_decrypt_with_keyring_references(tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    kid = new_key("--label", "team")
    plain = tmp_path / "weights.safetensors"
    plain.write_bytes(b"w" * 1000)
    enc = tmp_path / "weights.safetensors.pqml"
    assert run("encrypt", "-r", "team", "-o", enc, plain).exit_code == 0
    stanzas = json.loads(run("inspect", "--json", enc).stdout)["stanzas"]
    assert [s["key_id"] for s in stanzas] == [kid]
    out = tmp_path / "out"
    assert run("decrypt", "-i", kid[:6], "-o", out, enc).exit_code == 0
    assert out.read_bytes() == plain.read_bytes()
    rec = Keyring().get("team")
    assert (rec.operations, rec.bytes) == (2, 2000)
    assert [(a.path, a.operation, a.asset_class) for a in Keyring().assets("team")] == \
        [(str(enc), "encrypt", "model")]
    # -R takes a reference too; stdin to stdout counts the use without an asset
    res = run("encrypt", "-R", "team", "-a", input=b"hello")
    assert res.exit_code == 0 and Keyring().get("team").operations == 3
    # a directory tree: one asset per file, one transaction
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("a.bin", "b.csv"):
        (tree / name).write_bytes(b"x" * 10)
    assert run("encrypt", "-r", "team", "-o", tmp_path / "enc-tree", tree).exit_code == 0
    assert {a.asset_class for a in Keyring().assets("team")} == {"model", "dataset"}
    # state: retired keys decrypt but encrypt nothing new
    run("keys", "retire", "team")
    assert error_line(run("encrypt", "-r", "team", "-o", tmp_path / "e2", plain)) == (
        f"key {kid} (team) is retired: it cannot encrypt new assets (only an active key can)")
    assert not (tmp_path / "e2").exists()
    assert run("decrypt", "-i", "team", "-o", tmp_path / "out2", enc).exit_code == 0
    run("keys", "disable", "team")
    assert error_line(run("decrypt", "-i", "team", "-o", tmp_path / "o3", enc)) == \
        f"key {kid} (team) is disabled: it cannot decrypt"
    # a file of the same name as a label is never taken silently for the key (nor the
    # key for the file): the bare name is refused, ./team names the file
    (tmp_path / "team").write_text("not a key")
    monkeypatch.chdir(tmp_path)
    assert error_line(run("encrypt", "-r", "team", "-o", "e4", plain)).startswith(
        f"team: is both a file here and keyring key {kid} (team): write ./team for the file")
    assert error_line(run("encrypt", "-r", "./team", "-o", "e4", plain)).startswith(
        "./team: unrecognized key format")


def test_unknown_and_wrong_kind_of_keyring_reference(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"x")
    # no keyring yet: the usual "no such key file" error, as before keyrings existed
    assert error_line(run("encrypt", "-r", "nosuchfile", "-o", tmp_path / "e",
                          tmp_path / "p")) == \
        "nosuchfile: no such key file (and not an age recipient string)"
    new_key("--label", "team")
    new_key("--alg", "ML-DSA-44", "--label", "signer")
    assert error_line(run("encrypt", "-r", "taem", "-o", tmp_path / "e", tmp_path / "p")) \
        .startswith("taem: no such key file, and no key 'taem' in the keyring")
    assert error_line(run("encrypt", "-r", "signer", "-o", tmp_path / "e", tmp_path / "p")) \
        .endswith("(signer) is an ML-DSA-44 signing key, not an encryption key")
    assert "not a signing key" in error_line(run("sign", tmp_path / "p", "-k", "team"))


def test_passphrase_protected_keyring_key(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    new_key("--label", "locked", "--passphrase-file", str(tmp_path / "pw"))
    (tmp_path / "p").write_bytes(b"data")
    assert run("encrypt", "-r", "locked", "-o", tmp_path / "e", tmp_path / "p").exit_code == 0
    assert "PQML_KEY_PASSPHRASE" in error_line(run("decrypt", "-i", "locked", "-o",
                                                   tmp_path / "o", tmp_path / "e"))
    assert run("decrypt", "-i", "locked", "--key-passphrase-file", tmp_path / "pw", "-o",
               tmp_path / "o", tmp_path / "e").exit_code == 0
    monkeypatch.setenv("PQML_KEY_PASSPHRASE", "s3cret")
    assert run("decrypt", "-i", "locked", "-o", tmp_path / "o2", tmp_path / "e").exit_code == 0
    monkeypatch.setenv("PQML_KEY_PASSPHRASE", "wrong")
    assert "wrong passphrase" in error_line(run("decrypt", "-i", "locked", "-o",
                                                tmp_path / "o3", tmp_path / "e"))


def test_rekey_add_and_remove_keyring_keys(tmp_path: Path) -> None:
    new_key("--label", "alice")
    bob = new_key("--label", "bob")
    (tmp_path / "p").write_bytes(b"data")
    enc = tmp_path / "e.pqml"
    assert run("encrypt", "-r", "alice", "-o", enc, tmp_path / "p").exit_code == 0
    res = run("rekey", "-i", "alice", "--add", "bob", enc)
    assert res.exit_code == 0, res.output
    assert bob in {s["key_id"] for s in json.loads(run("inspect", "--json", enc).stdout)
                   ["stanzas"]}
    assert [a.operation for a in Keyring().assets("bob")] == ["rekey"]
    run("keys", "revoke", "bob")
    assert "is revoked" in error_line(run("rekey", "-i", "alice", "--add", "bob", enc))
    res = run("rekey", "-i", "alice", "--remove", "bob", enc)  # removing a revoked key: fine
    assert res.exit_code == 0, res.output
    assert bob not in {s["key_id"] for s in json.loads(run("inspect", "--json", enc).stdout)
                       ["stanzas"]}


def test_sign_verify_pubkey_with_keyring_references(tmp_path: Path) -> None:
    kid = new_key("--alg", "ML-DSA-44", "--label", "signer")
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"\x01" * 100)
    assert run("sign", model, "-k", "signer").exit_code == 0
    res = run("verify", model, "-k", kid[:8])
    assert res.exit_code == 0 and "key state" not in res.stdout
    rec = Keyring().get("signer")
    assert rec.operations == 2 and [a.operation for a in Keyring().assets("signer")] == ["sign"]
    facts = json.loads(run("pubkey", "--json", "signer").stdout)
    assert facts["algorithm"] == "ML-DSA-44" and facts["private"] is False
    assert run("pubkey", "signer").stdout == run("keys", "export", "signer").stdout
    run("keys", "revoke", "signer", "--reason", "key left with its holder")
    assert error_line(run("sign", model, "-k", "signer", "--force")) == (
        f"key {kid} (signer) is revoked: it cannot sign new assets (only an active key can)")
    res = run("verify", model, "-k", "signer")
    # signed, logged and revoked within the same second: the log cannot prove the
    # signature came first, so it is refused and verify says why (a signature logged a
    # second or more before the revocation is accepted: tests/log/test_signature_time.py)
    assert res.exit_code == 1
    assert f"signature by key {kid} (signer), revoked at" in res.stderr
    assert "after the revocation" in res.stderr
    run("keys", "disable", "signer")
    assert error_line(run("verify", model, "-k", "signer")) == \
        f"key {kid} (signer) is disabled: it cannot verify"


def test_verify_reports_a_compromised_and_an_expired_signer(tmp_path: Path) -> None:
    new_key("--alg", "ML-DSA-44", "--label", "s1")
    new_key("--alg", "ML-DSA-44", "--label", "s2", "--not-after", "now+1h")
    model = tmp_path / "model"
    model.mkdir()
    (model / "w.bin").write_bytes(b"\x02" * 10)
    assert run("sign", model, "-k", "s1", "-k", "s2").exit_code == 0
    # dated a few seconds ahead: the log's checkpoint (whole seconds) precedes it
    run("keys", "revoke", "s1", "--compromised-at", "now+3s")
    kr = Keyring()
    import sqlite3

    con = sqlite3.connect(kr.index)  # let s2's expiry pass without waiting an hour
    con.execute("UPDATE keys SET not_after = 1000 WHERE label = 's2'")
    con.commit()
    con.close()
    res = run("verify", model, "-k", "s1", "-k", "s2")
    assert res.exit_code == 0
    # s1's signature was logged under a checkpoint before its compromise: accepted, and
    # verify says why (tests/log/test_signature_time.py has the refused cases)
    assert "(s1), compromised at" in res.stdout and "accepted: log entry" in res.stdout
    assert "(s2) expired on 1970" in res.stdout


def test_removed_and_dropped_keys_no_longer_protect_the_files(tmp_path: Path) -> None:
    """rekey --remove KEYREF and --drop-revoked unlink the key from the files it left, so
    the keyring (and compliance) stop counting them as protected by it."""
    new_key("--label", "team")
    new_key("--label", "carol")
    new_key("--label", "dave")
    plain = tmp_path / "p"
    plain.write_bytes(b"p" * 100)
    files = [tmp_path / "a.pqml", tmp_path / "b.pqml"]
    for f in files:
        assert run("encrypt", "-r", "team", "-r", "carol", "-r", "dave", "-o", f,
                   plain).exit_code == 0
    ring = Keyring()
    assert len(ring.assets("carol")) == 2 and len(ring.assets("dave")) == 2
    assert run("rekey", "-i", "team", "--remove", "carol", files[0]).exit_code == 0
    assert [a.path for a in ring.assets("carol")] == [str(files[1])]
    assert run("keys", "revoke", "dave").exit_code == 0
    assert run("rekey", "-i", "team", "--drop-revoked", *files).exit_code == 0
    assert ring.assets("dave") == []
    assert len(ring.assets("team")) == 2  # the key that stays keeps its links

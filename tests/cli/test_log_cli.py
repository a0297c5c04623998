"""``pqml log``: show, verify (naming the tampered index), checkpoint, proof, check-proof,
key, cosign, recover — each with its failure modes as one line and exit 1."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pqml.log.entry import Asset, LogEntry
from pqml.log.store import LogStore, default_directory

from conftest import cli_run as run


def _entry(i: int, operation: str = "decrypt", asset: str = "/m/model.safetensors",
           key: str = "3f2a9c1e5b7d") -> LogEntry:
    return LogEntry(operation, "ok", time=1.7e9 + i, key_ids=(key,),
                    assets=(Asset(asset, "sha256:" + f"{i:02x}" * 32),), details={"i": i})


@pytest.fixture
def logged() -> Path:
    store = LogStore(default_directory(), checkpoint_every=4)
    store.append(_entry(0, "key.new", asset="/keys/k.pem"))
    store.append(_entry(1, "encrypt"))
    store.append(_entry(2, "sign", asset="/m/model.safetensors", key="aaaa0000bbbb"))
    for i in range(3, 10):
        store.append(_entry(i))
    store.close()
    return store.directory


def _error_line(res) -> str:  # type: ignore[no-untyped-def]
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("pqml: error: "), res.stderr
    return lines[0]


def test_help_summary() -> None:
    res = run("log", "--help")
    assert res.exit_code == 0
    assert res.stdout.splitlines()[2].strip() == \
        "Show, verify and prove entries of the transparency log."


def test_show_table_and_filters(logged: Path) -> None:
    res = run("log", "show")
    assert res.exit_code == 0, res.output
    rows = res.stdout.splitlines()
    assert rows[0].split() == ["INDEX", "TIME", "OPERATION", "OUTCOME", "ACTOR", "KEYS",
                               "ASSETS"]
    assert len(rows) == 11 and rows[1].split()[2] == "key.new"
    res = run("log", "show", "--operation", "sign", "--json")
    assert [e["index"] for e in json.loads(res.stdout)] == [2]
    res = run("log", "show", "--key", "aaaa0", "--json")
    assert [e["index"] for e in json.loads(res.stdout)] == [2]
    res = run("log", "show", "--asset", "/keys/k.pem", "--json")
    assert [e["index"] for e in json.loads(res.stdout)] == [0]
    res = run("log", "show", "--asset", "sha256:" + "05" * 32, "--json")
    assert [e["index"] for e in json.loads(res.stdout)] == [5]


def test_show_refuses_bad_filters(logged: Path) -> None:
    assert run("log", "show", "--operation", "steal").exit_code == 2
    assert run("log", "show", "--key", "ab").exit_code == 2


def test_show_of_an_empty_home_is_an_empty_table() -> None:
    res = run("log", "show")
    assert res.exit_code == 0 and res.stdout.split() == ["INDEX", "TIME", "OPERATION",
                                                          "OUTCOME", "ACTOR", "KEYS", "ASSETS"]


def test_verify_ok_then_signs_the_tail(logged: Path) -> None:
    res = run("log", "verify", "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["ok"] and report["size"] == 10 and report["signed_checkpoint"]
    res = run("log", "verify")
    assert res.exit_code == 0 and res.stdout.startswith("ok: 10 entries verified")


def test_verify_names_the_edited_entry(logged: Path) -> None:
    path = logged / "entries.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"i":6}', b'"i":60}'))
    res = run("log", "verify")
    assert res.exit_code == 1
    assert "entry 6 was edited" in _error_line(res)
    res = run("log", "verify", "--json")
    assert res.exit_code == 1 and "entry 6 was edited" in _error_line(res)
    finding = json.loads(res.stdout)
    assert finding["ok"] is False and (finding["index"], finding["kind"]) == (6, "edited")


def test_verify_against_a_saved_checkpoint(logged: Path, tmp_path: Path) -> None:
    saved = tmp_path / "cp.txt"
    assert run("log", "checkpoint", "-o", saved).exit_code == 0
    assert saved.read_text().splitlines()[1] == "10"
    res = run("log", "verify", "--checkpoint", saved)
    assert res.exit_code == 0 and "extends" in res.stdout
    for name in ("entries.jsonl", "records"):  # cut the last entries, checkpoints too
        data = (logged / name).read_bytes()
        size = 64 * 7 if name == "records" else len(b"".join(
            data.split(b"\n")[:7])) + 7
        (logged / name).write_bytes(data[:size])
    for f in (logged / "checkpoints").iterdir():
        if f.name == "latest" or int(f.name) > 7:
            f.unlink()
    res = run("log", "verify", "--checkpoint", saved)
    assert res.exit_code == 1 and "truncated" in _error_line(res)


def test_verify_refuses_a_checkpoint_of_another_log(logged: Path, tmp_path: Path) -> None:
    other = LogStore(tmp_path / "other")
    other.append(_entry(0))
    (tmp_path / "cp").write_bytes(other.checkpoint())
    res = run("log", "verify", "--checkpoint", tmp_path / "cp")
    assert res.exit_code == 1 and "another log" in _error_line(res)
    res = run("log", "verify", "--checkpoint", tmp_path / "missing")
    assert res.exit_code == 1 and "cannot read" in _error_line(res)


def test_verify_without_a_log_is_one_line() -> None:
    res = run("log", "verify")
    assert res.exit_code == 1 and "no transparency log" in _error_line(res)


def test_proof_by_asset_checked_elsewhere_with_only_the_key(
        logged: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    proof, vkey = tmp_path / "p.tlog-proof", tmp_path / "log.vkey"
    res = run("log", "proof", "/m/model.safetensors", "--operation", "sign", "-o", proof)
    assert res.exit_code == 0, res.output
    assert "entry 2" in res.stderr
    vkey.write_text(run("log", "key").stdout)
    monkeypatch.setenv("PQML_HOME", str(tmp_path / "another-home"))  # no log there at all
    res = run("log", "check-proof", proof, "--key", vkey, "--json")
    assert res.exit_code == 0, res.output
    facts = json.loads(res.stdout)
    assert facts["index"] == 2 and facts["entry"]["operation"] == "sign"
    res = run("log", "check-proof", proof, "--key", vkey.read_text().strip())
    assert res.exit_code == 0 and res.stdout.startswith("ok: entry 2 of ")


def test_proof_by_index_and_its_failures(logged: Path, tmp_path: Path) -> None:
    proof = tmp_path / "p"
    assert run("log", "proof", "--index", "9", "-o", proof).exit_code == 0
    res = run("log", "proof", "--index", "9", "-o", proof)
    assert res.exit_code == 1 and "already exists" in _error_line(res)
    assert run("log", "proof", "--index", "9", "-o", proof, "--force").exit_code == 0
    assert run("log", "proof", "-o", proof).exit_code == 2  # neither ASSET nor --index
    res = run("log", "proof", "--index", "10", "-o", tmp_path / "q")
    assert res.exit_code == 1 and "no entry 10" in _error_line(res)
    res = run("log", "proof", "/nowhere", "-o", tmp_path / "q")
    assert res.exit_code == 1 and "no log entry names" in _error_line(res)


def test_check_proof_failures_are_one_line(logged: Path, tmp_path: Path) -> None:
    proof = tmp_path / "p"
    assert run("log", "proof", "--index", "3", "-o", proof).exit_code == 0
    other = LogStore(tmp_path / "other")
    other.append(_entry(0))
    res = run("log", "check-proof", proof, "--key", str(other.vkey))
    assert res.exit_code == 1 and "another log" in _error_line(res)
    tampered = tmp_path / "t"
    data = proof.read_bytes()
    tampered.write_bytes(data.replace(b"index 3", b"index 4"))
    vkey = run("log", "key").stdout.strip()
    res = run("log", "check-proof", tampered, "--key", vkey)
    assert res.exit_code == 1 and "not entry 4" in _error_line(res)
    res = run("log", "check-proof", proof, "--key", "garbage")
    assert res.exit_code == 1 and "verifier key" in _error_line(res)


def test_cosign_then_check_proof_requires_the_cosigner(logged: Path, tmp_path: Path) -> None:
    witness = tmp_path / "w.pem"
    assert run("keygen", "--alg", "ML-DSA-44", "-o", witness).exit_code == 0
    note = tmp_path / "cp"
    note.write_text(run("log", "checkpoint").stdout)
    cosigned = tmp_path / "cp2"
    vkey_file = tmp_path / "log.vkey"
    vkey_file.write_text(run("log", "key").stdout)
    res = run("log", "cosign", note, "--key", witness, "--name", "audit.example/w1",
              "--log-key", vkey_file, "-o", cosigned)
    assert res.exit_code == 0, res.output
    cosigner = res.stderr.split("cosigner key: ")[1].strip()
    assert cosigned.read_text().count("\u2014 ") == 2
    store = LogStore(default_directory())
    assert store.check_checkpoint(cosigned.read_bytes())[0].size == 10
    from pqml.formats.tlog import TlogProof, parse_tlog_proof

    plain = parse_tlog_proof(store.prove(4))
    proof = tmp_path / "p"
    proof.write_bytes(TlogProof(4, plain.path, cosigned.read_bytes(), plain.extra).to_bytes())
    vkey = str(store.vkey)
    assert run("log", "check-proof", proof, "--key", vkey, "--cosigner", cosigner
               ).exit_code == 0
    (tmp_path / "plain").write_bytes(store.prove(4))
    res = run("log", "check-proof", tmp_path / "plain", "--key", vkey, "--cosigner", cosigner)
    assert res.exit_code == 1 and "not cosigned by audit.example/w1" in _error_line(res)


def test_recover_cuts_only_a_partial_record(logged: Path) -> None:
    assert run("log", "recover").stdout.strip() == "nothing to recover"
    with open(logged / "records", "ab") as f:
        f.write(b"\x00" * 10)
    res = run("log", "recover")
    assert res.exit_code == 0 and "removed a partial record of 10 bytes" in res.stdout
    assert (logged / "records").stat().st_size == 640
    assert run("log", "verify").exit_code == 0


def test_verify_with_the_trusted_key(logged: Path, tmp_path: Path) -> None:
    vkey = tmp_path / "log.vkey"
    vkey.write_text(run("log", "key").stdout)
    assert run("log", "verify", "--key", vkey).exit_code == 0
    other = LogStore(tmp_path / "other")
    other.append(_entry(0))
    res = run("log", "verify", "--key", str(other.vkey))
    assert res.exit_code == 1 and "not the trusted key" in _error_line(res)

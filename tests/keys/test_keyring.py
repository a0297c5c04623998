"""The keyring API: every method, and what bad input gets (an unknown or ambiguous
reference, a wrong state, a keyring locked by another real process, a corrupt index, a
newer schema, a key file changed behind the index's back)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pqml.formats.errors import PassphraseRequiredError, WrongKeyPassphraseError
from pqml.keys import key_files, keyring
from pqml.keys.errors import (
    KeyringCorruptError,
    KeyringError,
    KeyringLockedError,
    KeyStateError,
    UnknownKeyError,
)
from pqml.keys.keyring import Keyring, asset_class, key_id_of
from pqml.keys.states import KeyState

S = KeyState


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ring(tmp_path: Path) -> Keyring:
    with Keyring(tmp_path / "home") as kr:
        yield kr  # type: ignore[misc]


# ---- creating and finding keys -------------------------------------------------------------


def test_nothing_is_created_until_the_first_change(tmp_path: Path) -> None:
    kr = Keyring(tmp_path / "home")
    assert kr.list() == [] and kr.counts()["active"] == 0
    with pytest.raises(UnknownKeyError, match="the keyring is empty"):
        kr.get("alice")
    assert not (tmp_path / "home").exists()


def test_new_key_files_modes_and_ids(ring: Keyring) -> None:
    from pqml.formats import keyfile, oms
    from pqml.formats.pqml_v1 import hpke_stanza

    enc = ring.new(label="team-a")
    assert (enc.algorithm, enc.purpose, enc.state, enc.has_private) == \
        ("X-Wing", "encrypt", S.ACTIVE, True)
    pub = ring.public_key(enc.id)
    assert enc.id == hpke_stanza.key_id(hpke_stanza.BY_ALGORITHM["X-Wing"], pub)  # type: ignore[arg-type]
    sig = ring.new(purpose="sign", label="signer")
    assert (sig.algorithm, sig.purpose) == ("ML-DSA-65", "sign")
    assert sig.id == oms.key_hint(keyfile.public_key_to_der(ring.public_key("signer")))
    assert stat.S_IMODE(ring.home.stat().st_mode) == 0o700
    assert stat.S_IMODE(ring.keys_dir.stat().st_mode) == 0o700
    for name in (f"{enc.id}.pem", f"{enc.id}.pub", f"{sig.id}.pem"):
        assert stat.S_IMODE((ring.keys_dir / name).stat().st_mode) == 0o600
    assert stat.S_IMODE(ring.index.stat().st_mode) == 0o600
    con = sqlite3.connect(ring.index)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()
    assert [r.id for r in ring.list()] == [enc.id, sig.id]


def test_key_id_matches_what_other_commands_show(ring: Keyring, tmp_path: Path) -> None:
    from conftest import cli_run

    rec = ring.new("ML-KEM-768")
    res = cli_run("pubkey", "--json", ring.keys_dir / f"{rec.id}.pub")
    import json

    assert json.loads(res.stdout)["key_id"] == rec.id
    x25519 = ring.new("X25519", allow_classical=True)
    assert len(x25519.id) == 16  # a pqml/v1 stanza type exists for X25519
    ed = ring.new("Ed25519", allow_classical=True)
    assert ed.purpose == "sign" and len(ed.id) == 64


def test_bad_new_requests(ring: Keyring) -> None:
    from pqml.primitives.errors import PolicyError

    ring.new(label="alice")
    with pytest.raises(KeyringError, match="label 'alice' is already used"):
        ring.new(label="alice")
    for bad in ("", "has space", "-dash", "a/b", "x" * 65):
        with pytest.raises(KeyringError, match="invalid key label"):
            ring.new(label=bad)
    with pytest.raises(KeyringError, match="reads as a key id prefix"):
        ring.new(label="cafe")
    with pytest.raises(KeyringError, match="for encrypting, not signing"):
        ring.new("X-Wing", purpose="sign")
    with pytest.raises(KeyStateError, match="starts active or pending"):
        ring.new(state=S.RETIRED)
    with pytest.raises(PolicyError, match="quantum-vulnerable"):
        ring.new("X25519")
    assert len(ring.list()) == 1  # nothing half-added
    assert sorted(os.listdir(ring.keys_dir)) == sorted(
        f"{ring.get('alice').id}{s}" for s in (".pem", ".pub"))


def test_references_id_prefix_label_ambiguous_unknown(ring: Keyring) -> None:
    a = ring.new(label="alice")
    assert ring.get(a.id) == a == ring.get(a.id[:4]) == ring.get(a.id.upper()) \
        == ring.get("alice")
    with pytest.raises(UnknownKeyError, match="at least 4 hex digits"):
        ring.get(a.id[:3])
    with pytest.raises(UnknownKeyError, match=r"did you mean alice\?"):
        ring.get("alcie")
    with pytest.raises(UnknownKeyError, match="no key 'bob' in the keyring"):
        ring.get("bob")
    # A second key sharing the first 4 digits (made by copying the row: ids are hashes,
    # so a real collision on 4 digits needs hundreds of keys).
    twin = a.id[:4] + ("0" if a.id[4] != "0" else "1") + a.id[5:]
    con = sqlite3.connect(ring.index)
    con.execute("INSERT INTO keys (id, algorithm, purpose, created, state, state_since, "
                "public_file, public_sha256) SELECT ?, algorithm, purpose, created, state, "
                "state_since, public_file, public_sha256 FROM keys WHERE id = ?", (twin, a.id))
    con.commit()
    con.close()
    with pytest.raises(UnknownKeyError, match=f"'{a.id[:4]}' is ambiguous: it matches .*"
                       f"{a.id} \\(alice\\), {twin}|{twin}, {a.id}"):
        ring.get(a.id[:4])
    assert ring.get(a.id[:5]) == a


def test_import_private_public_and_protected(ring: Keyring, tmp_path: Path) -> None:
    key = key_files.generate("ML-DSA-44")
    key_files.save_private(key, tmp_path / "k.pem", passphrase=b"s3cret")
    key_files.save_public(key, tmp_path / "k.pub")
    pub_only = ring.import_key(tmp_path / "k.pub", label="theirs")
    assert not pub_only.has_private and pub_only.id == key_id_of(key)
    with pytest.raises(KeyringError, match="no private key in the keyring"):
        ring.private_key("theirs", use="sign")
    with pytest.raises(KeyringError, match="already in the keyring"):
        ring.import_key(tmp_path / "k.pub")
    other = key_files.generate("X-Wing")
    key_files.save_private(other, tmp_path / "x.pem", passphrase=b"pw")
    with pytest.raises(PassphraseRequiredError):
        ring.import_key(tmp_path / "x.pem")
    rec = ring.import_key(tmp_path / "x.pem", passphrase=b"pw", label="mine")
    assert rec.has_private and rec.encrypted
    stored = (ring.keys_dir / f"{rec.id}.pem").read_bytes()
    assert b"ENCRYPTED PRIVATE KEY" in stored  # importing never strips protection
    with pytest.raises(PassphraseRequiredError, match="PQML_KEY_PASSPHRASE"):
        ring.private_key("mine", use="decrypt")
    with pytest.raises(WrongKeyPassphraseError, match=f"key {rec.id} \\(mine\\): wrong"):
        ring.private_key("mine", use="decrypt", passphrase=b"nope")
    assert key_id_of(ring.private_key("mine", use="decrypt", passphrase=b"pw")) == rec.id
    age = tmp_path / "id.txt"
    age.write_bytes(key_files.private_bytes(key_files.generate("X-Wing"), "age"))
    assert ring.import_key(age).has_private


def test_new_with_passphrase(ring: Keyring) -> None:
    rec = ring.new("ML-DSA-65", passphrase=b"pw")
    assert rec.encrypted
    assert b"ENCRYPTED" in (ring.keys_dir / f"{rec.id}.pem").read_bytes()
    assert ring.private_key(rec.id, use="sign", passphrase=b"pw").algorithm == "ML-DSA-65"


# ---- states --------------------------------------------------------------------------------


def test_state_changes_history_and_use(tmp_path: Path) -> None:
    clock = Clock()
    kr = Keyring(tmp_path / "h", clock=clock)
    rec = kr.new(label="k", state=S.PENDING)
    with pytest.raises(KeyStateError, match=r"key \w+ \(k\) is pending: it cannot encrypt"):
        kr.private_key("k", use="encrypt")
    assert kr.set_state("k", S.ACTIVE).state is S.ACTIVE
    kr.private_key("k", use="encrypt")
    assert kr.disable("k", reason="audit").state_before_disabled is S.ACTIVE
    with pytest.raises(KeyStateError, match="is disabled: it cannot decrypt"):
        kr.private_key("k", use="decrypt")
    back = kr.enable("k")
    assert (back.state, back.state_before_disabled) == (S.ACTIVE, None)
    kr.set_state("k", S.REVOKED, reason="left")
    kr.disable("k")
    with pytest.raises(KeyStateError, match="was revoked before it was disabled"):
        kr.set_state("k", S.RETIRED)  # no laundering a revocation
    with pytest.raises(KeyStateError, match="cannot go from disabled to active"):
        kr.set_state("k", S.ACTIVE)
    sched = kr.schedule_destroy("k", after=3600)
    assert sched.destroy_after == clock.now + 3600
    with pytest.raises(KeyStateError, match=r"scheduled for destruction at .* not before"):
        kr.destroy("k")
    assert kr.cancel_destroy("k").state is S.DISABLED
    assert kr.enable("k").state is S.REVOKED  # what it was before, through the cancel
    kr.disable("k")
    kr.schedule_destroy("k", after=60)
    clock.now += 61
    gone = kr.destroy("k")
    assert (gone.state, gone.has_private) == (S.DESTROYED, False)
    assert not (kr.keys_dir / f"{rec.id}.pem").exists()
    assert kr.public_key("k").algorithm == "X-Wing"  # the public key stays
    later = kr.set_state("k", S.COMPROMISED, at=clock.now - 86400)
    assert later.compromised_at == clock.now - 86400
    history = [(h.from_state, h.to_state, h.reason) for h in kr.history("k")]
    assert history[0] == (None, S.PENDING, "key.new")
    assert (S.ACTIVE, S.REVOKED, "left") in history and history[-1][1] is S.COMPROMISED
    with pytest.raises(KeyStateError, match="cannot go from compromised to active"):
        kr.set_state("k", S.ACTIVE)


def test_compromise_time_and_expiry(tmp_path: Path) -> None:
    clock = Clock()
    kr = Keyring(tmp_path / "h", clock=clock)
    kr.new(label="a")
    with pytest.raises(KeyringError, match="is in the future"):
        kr.set_state("a", S.COMPROMISED, at=clock.now + 86400)
    assert kr.get("a").state is S.ACTIVE
    kr.new("ML-DSA-44", label="old", not_after=clock.now - 1)
    with pytest.raises(KeyStateError, match=r"\(old\) expired on .*: it cannot sign"):
        kr.private_key("old", use="sign")
    kr.private_key("old", use="verify")  # opening old assets stays possible


def test_emit_seam_sees_every_change(ring: Keyring, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str, dict[str, object]]] = []
    monkeypatch.setattr(keyring, "_emit", lambda e, r, **d: seen.append((e, str(r.state), d)))
    ring.new(label="k")
    ring.set_state("k", S.RETIRED, reason="rotated")
    ring.disable("k")
    ring.schedule_destroy("k", after=0)
    ring.destroy("k")
    assert [(e, s) for e, s, _ in seen] == [
        ("key.new", "active"), ("key.state", "retired"), ("key.state", "disabled"),
        ("key.state", "destroy-scheduled"), ("key.destroy", "destroyed")]
    assert seen[1][2] == {"from": "active", "to": "retired", "reason": "rotated",
                          "compromised_at": None}


# ---- use, assets, links --------------------------------------------------------------------


def test_record_use_assets_move_and_successor(ring: Keyring, tmp_path: Path) -> None:
    old = ring.new(label="old")
    ring.record_use("old", operation="encrypt", asset="w.safetensors.pqml", nbytes=100)
    ring.record_use("old", operation="encrypt", asset="w.safetensors.pqml", nbytes=50)
    ring.record_use("old", operation="encrypt", asset="s3://bucket/data.parquet.pqml",
                    nbytes=7)
    ring.record_use("old", operation="decrypt", asset="w.safetensors.pqml", nbytes=100)
    rec = ring.get("old")
    assert (rec.operations, rec.bytes) == (4, 257) and rec.last_used is not None
    assets = {a.path: a for a in ring.assets("old")}
    local = os.path.abspath("w.safetensors.pqml")
    assert set(assets) == {local, "s3://bucket/data.parquet.pqml"}
    assert assets[local].asset_class == "model"
    assert assets["s3://bucket/data.parquet.pqml"].asset_class == "dataset"
    with pytest.raises(ValueError, match="unknown key operation"):
        ring.record_use("old", operation="steal")
    new = ring.new(label="new", state=S.PENDING)
    ring.move_asset(local, "old", "new")
    ring.move_asset(local, "old", "new")  # idempotent: a journal may replay it
    assert [a.path for a in ring.assets("new")] == [local]
    assert assets[local].first_seen == ring.assets("new")[0].first_seen
    assert [a.path for a in ring.assets("old")] == ["s3://bucket/data.parquet.pqml"]
    ring.link_successor("old", "new")
    ring.link_successor("old", "new")
    assert (ring.get("old").successor, ring.get("new").predecessor) == (new.id, old.id)
    third = ring.new()
    with pytest.raises(KeyringError, match="already has successor"):
        ring.link_successor("old", third.id)
    with pytest.raises(UnknownKeyError):
        ring.move_asset(local, "new", "nobody")


def test_list_filters_and_counts(ring: Keyring) -> None:
    ring.new(label="e1")
    ring.new(label="e2", state=S.PENDING)
    ring.new("ML-DSA-44", label="s1")
    ring.set_state("e1", S.RETIRED)
    assert [r.label for r in ring.list(state=S.PENDING)] == ["e2"]
    assert [r.label for r in ring.list(state=["retired", "pending"])] == ["e1", "e2"]
    assert [r.label for r in ring.list(purpose="sign")] == ["s1"]
    assert ring.list(state="active", purpose="encrypt") == []
    counts = ring.counts()
    assert (counts["active"], counts["retired"], counts["pending"], counts["destroyed"]) == \
        (1, 1, 1, 0)
    with pytest.raises(ValueError):
        ring.list(state="bogus")


def test_asset_class_guesses() -> None:
    assert asset_class("/m/model.safetensors") == "model"
    assert asset_class("/m/model.safetensors.pqml") == "model"
    assert asset_class("train.parquet.age") == "dataset"
    assert asset_class("/m/README") is None and asset_class(".pqml") is None


# ---- damage and contention -----------------------------------------------------------------


def test_tampered_and_missing_key_files(ring: Keyring) -> None:
    rec = ring.new(label="k")
    pub = ring.keys_dir / f"{rec.id}.pub"
    other = key_files.public_text(key_files.generate("X-Wing")).encode()
    os.chmod(pub, 0o600)
    pub.write_bytes(other)
    with pytest.raises(KeyringCorruptError, match=f"{pub}: key file of key .* was changed"):
        ring.public_key("k")
    assert ring.verify_files("k") and "was changed" in ring.verify_files("k")[0]
    priv = ring.keys_dir / f"{rec.id}.pem"
    priv.unlink()
    with pytest.raises(KeyringCorruptError, match=f"{priv}: key file of key .* is missing"):
        ring.private_key("k", use="decrypt")


def _index_digest(kr: Keyring) -> str:
    return hashlib.sha256(kr.index.read_bytes()).hexdigest()


def test_corrupt_index_is_refused_and_left_alone(tmp_path: Path) -> None:
    home = tmp_path / "h"
    home.mkdir()
    (home / "keyring.sqlite3").write_bytes(b"this is not a database" * 100)
    kr = Keyring(home)
    before = _index_digest(kr)
    for call in (kr.list, lambda: kr.get("x"), lambda: kr.new()):
        with pytest.raises(KeyringCorruptError, match=f"{kr.index}: the keyring index is "
                           "unreadable .*nothing was changed"):
            call()
    assert _index_digest(kr) == before
    other = tmp_path / "o"
    other.mkdir()
    con = sqlite3.connect(other / "keyring.sqlite3")
    con.execute("CREATE TABLE stuff (x)")
    con.commit()
    con.close()
    with pytest.raises(KeyringCorruptError, match="not a pqml keyring index"):
        Keyring(other).list()


def test_newer_schema_is_refused_never_altered(tmp_path: Path) -> None:
    kr = Keyring(tmp_path / "h")
    kr.new(label="k")
    kr.close()
    con = sqlite3.connect(kr.index)
    con.execute("INSERT INTO schema_version VALUES (99, 0)")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    before = _index_digest(kr)
    with pytest.raises(KeyringCorruptError, match="schema version 99 is newer than this pqml "
                       r"understands \(1\)"):
        Keyring(tmp_path / "h").get("k")
    assert _index_digest(kr) == before


def test_forward_migration_keeps_keys(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    kr = Keyring(tmp_path / "h")
    rec = kr.new(label="k")
    kr.close()
    step = ("ALTER TABLE keys ADD COLUMN note TEXT",
            "UPDATE keys SET note = 'migrated'")
    monkeypatch.setattr(keyring, "MIGRATIONS", [*keyring.MIGRATIONS, step])
    again = Keyring(tmp_path / "h")
    assert again.get("k") == rec
    con = sqlite3.connect(again.index)
    assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 2
    assert con.execute("SELECT note FROM keys").fetchone()[0] == "migrated"
    con.close()
    # a migration that fails leaves the old version, whole
    monkeypatch.setattr(keyring, "MIGRATIONS", [*keyring.MIGRATIONS, ("BOGUS SQL",)])
    with pytest.raises(KeyringCorruptError):
        Keyring(tmp_path / "h").list()
    con = sqlite3.connect(again.index)
    assert con.execute("SELECT max(version) FROM schema_version").fetchone()[0] == 2
    con.close()


HOLD_LOCK = """
import sqlite3, sys
con = sqlite3.connect(sys.argv[1], isolation_level=None)
con.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.read()
con.execute("ROLLBACK")
"""


def test_a_lock_held_by_another_process(tmp_path: Path) -> None:
    kr = Keyring(tmp_path / "h", timeout=0.3)
    kr.new(label="k")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(kr.index)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        with pytest.raises(KeyringLockedError, match=f"{kr.index}: the keyring is locked by "
                           r"another process \(waited 0.3 s\)"):
            kr.record_use("k", operation="encrypt", nbytes=1)
        with pytest.raises(KeyringLockedError):
            kr.set_state("k", S.RETIRED)
        assert kr.get("k").state is S.ACTIVE  # readers go on (WAL)
        assert kr.get("k").operations == 0
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        holder.wait(timeout=30)
    kr.record_use("k", operation="encrypt", nbytes=1)
    assert kr.get("k").operations == 1

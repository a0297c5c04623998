"""The two honest verbs: a header rewrap keeps the file key (a removed holder who kept it
still decrypts the rewrapped file), file-key rotation (``new_file_key``, ``--new-file-key``)
re-encrypts the payload under a fresh one (they cannot), streaming and crash-safe; and
``drop`` (``--drop-revoked``) removes the stanzas of revoked or compromised keys."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tracemalloc
from pathlib import Path
from typing import Any

import pytest

from pqml.encryption import encrypt as feature
from pqml.encryption import encrypted_formats as fmts
from pqml.encryption.encryption_keys import Passphrase
from pqml.encryption.rekey import (
    NEW_FILE_KEY_GUARANTEE,
    REWRAP_GUARANTEE,
    keyring_public_keys,
    rekey,
    rekey_many,
    revoked_keys,
)
from pqml.errors import NoIdentityMatchError, PqmlError, RekeyError, RekeyManyError
from pqml.formats import pqml_v1
from pqml.formats.age import stream
from pqml.formats.age._io import Source
from pqml.formats.keyfile import private_key_to_pem, public_key_to_pem
from pqml.keys.keyring import Keyring
from pqml.keys.states import KeyState
from pqml.primitives import registry

from conftest import cli_run

A = registry.scheme("X-Wing").generate()
B = registry.scheme("X-Wing").generate()
C = registry.scheme("X-Wing").generate()
DATA = os.urandom(300_001)  # 19 chunks of 16 KiB, the last one partial
FORMATS = [("pqml", False), ("pqml", True), ("age", False), ("age", True)]


def encrypted(path: Path, recipients: list[Any], fmt: str = "pqml", armor: bool = False,
              data: bytes = DATA) -> Path:
    src = path.with_name(path.name + ".plain")
    src.write_bytes(data)
    feature.encrypt_file(src, path, recipients, format=fmt, armor=armor)  # type: ignore[arg-type]
    src.unlink()
    return path


def decrypts(path: Path, identity: Any) -> bytes | None:
    out = path.with_name(path.name + ".out")
    try:
        feature.decrypt_file(path, out, [identity], force=True)
    except NoIdentityMatchError:
        return None
    data = out.read_bytes()
    out.unlink()
    return data


def file_key(path: Path, identity: Any) -> bytes:
    """The file key ``identity`` unwraps: what a recipient can keep after decrypting once."""
    with open(path, "rb") as f:
        probe = Source(f)
        detected = fmts.detect(probe.peek(64))
        source = fmts.unarmored(detected, probe)
        ids = fmts.prepare_identities(detected.format, [identity])
        located = fmts.open_header(detected.format, source, ids)
    assert located.file_key is not None
    return located.file_key


def decrypt_with_file_key(path: Path, key: bytes) -> bytes:
    """Decrypt the payload with a kept file key alone, as a removed holder could."""
    import io

    with open(path, "rb") as f:
        probe = Source(f)
        detected = fmts.detect(probe.peek(64))
        source = fmts.unarmored(detected, probe)
        located = fmts.open_header(detected.format, source)
        out = io.BytesIO()
        if detected.format == "pqml":
            if not detected.armored:
                f.seek(located.payload_offset)
                source = Source(f)
            pqml_v1.decrypt_payload(key, source, out)
        else:
            nonce = source.read(stream.NONCE_SIZE)
            stream.decrypt_payload(key, nonce, source, out)
    return out.getvalue()


@pytest.mark.parametrize("fmt,armor", FORMATS)
def test_a_rewrap_leaves_the_file_key_to_a_removed_holder(tmp_path: Path, fmt: str,
                                                         armor: bool) -> None:
    path = encrypted(tmp_path / "f", [A.public_key(), C.public_key()], fmt, armor)
    kept = file_key(path, C)  # C decrypted once and kept the file key
    result = rekey(path, [A, C], remove=[C.public_key() if fmt == "pqml" else C])
    assert decrypts(path, C) is None  # C's stanza is gone...
    assert decrypt_with_file_key(path, kept) == DATA  # ...but the file key still opens it
    assert result.removed_may_still_decrypt is True and not result.file_key_rotated
    assert result.guarantee == REWRAP_GUARANTEE


@pytest.mark.parametrize("fmt,armor", FORMATS)
def test_a_new_file_key_locks_a_removed_holder_out(tmp_path: Path, fmt: str,
                                                   armor: bool) -> None:
    path = encrypted(tmp_path / "f", [A.public_key(), C.public_key()], fmt, armor)
    kept = file_key(path, C)
    before = path.read_bytes()
    result = rekey(path, [A, C], remove=[C.public_key() if fmt == "pqml" else C],
                   add=[B.public_key()], new_file_key=True)
    assert decrypts(path, A) == DATA and decrypts(path, B) == DATA
    assert decrypts(path, C) is None
    with pytest.raises(PqmlError):
        decrypt_with_file_key(path, kept)
    assert file_key(path, A) != kept
    after = path.read_bytes()
    assert after != before and fmts.detect(after[:64]) == fmts.detect(before[:64])
    assert result.file_key_rotated and result.removed_may_still_decrypt is False
    assert (result.stanzas_before, result.stanzas_after, result.removed) == (2, 2, 1)
    assert result.guarantee == NEW_FILE_KEY_GUARANTEE
    assert result.to_dict()["removed_may_still_decrypt"] is False


def test_nothing_removed_means_no_guarantee_to_state(tmp_path: Path) -> None:
    path = encrypted(tmp_path / "f", [A.public_key()])
    result = rekey(path, [A], new_file_key=True)  # same recipients, fresh file key
    assert result.removed_may_still_decrypt is None and result.guarantee is None
    assert result.file_key_rotated and decrypts(path, A) == DATA


def test_the_mode_of_the_file_is_kept(tmp_path: Path) -> None:
    path = encrypted(tmp_path / "f", [A.public_key()])
    path.chmod(0o640)
    rekey(path, [A], add=[B.public_key()], new_file_key=True)
    assert path.stat().st_mode & 0o777 == 0o640


def test_a_large_file_gets_its_header_area_back(tmp_path: Path) -> None:
    plain = tmp_path / "big"
    with open(plain, "wb") as f:
        f.truncate(64 * 1024 * 1024 + 3)  # sparse: 64 MiB of zeros, cheap to make
    path = tmp_path / "big.pqml"
    feature.encrypt_file(plain, path, [A.public_key(), C.public_key()])
    area = rekey(path, [A], add=[B.public_key()]).header_area  # in place, as before
    assert area
    tracemalloc.start()
    try:
        result = rekey(path, [A, B], remove=[C.public_key()], new_file_key=True)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # streamed in 4 MiB blocks (about 36 MiB of buffers, the same for 200 MiB), never
    # the 64 MiB file at once
    assert peak < 48 * 1024 * 1024
    assert result.header_area == area and result.file_key_rotated
    info = cli_run("inspect", "--json", path)
    assert json.loads(info.stdout)["header_area"]["slot_size"] == area
    # the next rewrap is in place again
    assert rekey(path, [A], add=[C.public_key()]).in_place
    out = tmp_path / "back"
    feature.decrypt_file(path, out, [B])
    assert out.stat().st_size == 64 * 1024 * 1024 + 3
    with open(out, "rb") as f:
        assert not f.read(1 << 20).strip(b"\0")


def test_a_passphrase_stanza_is_kept_with_its_passphrase(tmp_path: Path) -> None:
    path = encrypted(tmp_path / "f", [Passphrase(b"correct horse", (1, 64, 1))])
    kept = file_key(path, Passphrase(b"correct horse"))
    rekey(path, [Passphrase(b"correct horse")], new_file_key=True)
    assert decrypts(path, Passphrase(b"correct horse")) == DATA
    assert file_key(path, Passphrase(b"correct horse")) != kept


def test_a_kept_recipient_without_a_known_public_key_is_refused(tmp_path: Path) -> None:
    path = encrypted(tmp_path / "f", [A.public_key(), C.public_key()])
    before = path.read_bytes()
    with pytest.raises(RekeyError, match=r"cannot keep the xwing recipient with key id "
                       r"[0-9a-f]+ under a new file key: its public key is unknown"):
        rekey(path, [A], new_file_key=True)
    assert path.read_bytes() == before
    # given by the caller (or by a finder such as the keyring) it works
    rekey(path, [A], keep=[C.public_key()], new_file_key=True)
    assert decrypts(path, C) == DATA


def test_a_finder_that_answers_with_another_key_is_not_believed(tmp_path: Path) -> None:
    path = encrypted(tmp_path / "f", [A.public_key(), C.public_key()])
    with pytest.raises(RekeyError, match="public key is unknown"):
        rekey(path, [A], new_file_key=True, find_public=lambda kid: B.public_key())
    assert decrypts(path, C) == DATA


def test_the_keyring_finds_kept_recipients(tmp_path: Path) -> None:
    ring = Keyring()
    record = ring.new("X-Wing", label="carol")
    path = encrypted(tmp_path / "f", [A.public_key(), ring.public_key(record.id)])
    rekey(path, [A], new_file_key=True, find_public=keyring_public_keys(ring))
    assert decrypts(path, ring.private_key(record.id, use="decrypt")) == DATA


def test_an_age_stanza_nobody_given_opens_cannot_be_kept(tmp_path: Path) -> None:
    path = encrypted(tmp_path / "f", [A.public_key(), C.public_key()], "age")
    before = path.read_bytes()
    with pytest.raises(RekeyError, match="age stanzas do not name their recipient"):
        rekey(path, [A], new_file_key=True)
    assert path.read_bytes() == before


@pytest.mark.parametrize("damage", ["flip", "truncate"])
def test_a_damaged_payload_leaves_the_file_as_it_was(tmp_path: Path, damage: str) -> None:
    path = encrypted(tmp_path / "f", [A.public_key()])
    data = bytearray(path.read_bytes())
    if damage == "flip":
        data[len(data) // 2] ^= 1
    else:
        del data[-100:]
    path.write_bytes(bytes(data))
    with pytest.raises(PqmlError):
        rekey(path, [A], add=[B.public_key()], new_file_key=True)
    assert path.read_bytes() == bytes(data)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # no temporary left


def test_several_files_are_all_checked_before_any_is_reencrypted(tmp_path: Path) -> None:
    good = encrypted(tmp_path / "good", [A.public_key()])
    unknown = encrypted(tmp_path / "unknown", [A.public_key(), C.public_key()])
    before = good.read_bytes(), unknown.read_bytes()
    with pytest.raises(RekeyManyError) as info:
        rekey_many([good, unknown], [A], add=[B.public_key()], new_file_key=True)
    assert (good.read_bytes(), unknown.read_bytes()) == before
    assert [o.status for o in info.value.outcomes] == ["unchanged", "failed"]


# ---- --drop-revoked -------------------------------------------------------------------------


def test_drop_revoked_removes_the_stanzas_of_revoked_and_compromised_keys(
        tmp_path: Path) -> None:
    ring = Keyring()
    ok, bad, worse = (ring.new("X-Wing", label=n) for n in ("ok", "bad", "worse"))
    pub = {r.label: ring.public_key(r.id) for r in (ok, bad, worse)}
    ring.set_state("bad", KeyState.REVOKED, reason="left the team")
    ring.set_state("worse", KeyState.COMPROMISED)
    mine = ring.private_key("ok", use="decrypt")
    pqml_file = encrypted(tmp_path / "f.pqml", [pub["ok"], pub["bad"], pub["worse"]])
    age_file = encrypted(tmp_path / "f.age", [pub["ok"], pub["bad"]], "age")
    clean = encrypted(tmp_path / "clean.pqml", [pub["ok"]])
    clean_before = clean.read_bytes()
    drops = revoked_keys(ring)
    assert {(d.key_id, d.state) for d in drops} == {(bad.id, "revoked"),
                                                     (worse.id, "compromised")}
    outcomes = rekey_many([pqml_file, age_file, clean], [mine], drop=drops)
    assert [o.status for o in outcomes] == ["changed", "changed", "skipped"]
    assert sorted(outcomes[0].result.dropped) == sorted([bad.id, worse.id])  # type: ignore[union-attr]
    assert outcomes[1].result.dropped == [bad.id]  # type: ignore[union-attr]
    assert "no stanza of a revoked or compromised key" in (outcomes[2].reason or "")
    for path in (pqml_file, age_file):
        assert decrypts(path, mine) == DATA
        assert decrypts(path, ring.private_key("bad", use="decrypt")) is None
    assert clean.read_bytes() == clean_before


def test_cli_drop_revoked(tmp_path: Path) -> None:
    ring = Keyring()
    ring.new("X-Wing", label="ok")
    ring.new("X-Wing", label="bad")
    ring.set_state("bad", KeyState.REVOKED)
    (tmp_path / "me.pem").write_bytes(private_key_to_pem(ring.private_key("ok", use="decrypt")))
    path = encrypted(tmp_path / "f.pqml", [ring.public_key("ok"), ring.public_key("bad")])
    res = cli_run("rekey", "-i", tmp_path / "me.pem", "--drop-revoked", "--json", path)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["dropped"] == [ring.get("bad").id]
    assert "dropped revoked or compromised 1 key" in res.stderr
    assert decrypts(path, ring.private_key("bad", use="decrypt")) is None


# ---- the CLI says which guarantee the user got ----------------------------------------------


@pytest.fixture()
def keys(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "keys"
    d.mkdir()
    (d / "a.pem").write_bytes(private_key_to_pem(A))
    (d / "b.pub").write_bytes(public_key_to_pem(B.public_key()))
    (d / "c.pub").write_bytes(public_key_to_pem(C.public_key()))
    return {p.name: p for p in d.iterdir()}


def test_cli_rewrap_warns_that_a_removed_holder_may_still_decrypt(
        tmp_path: Path, keys: dict[str, Path]) -> None:
    path = encrypted(tmp_path / "f.pqml", [A.public_key(), C.public_key()])
    res = cli_run("rekey", "-i", keys["a.pem"], "--remove", keys["c.pub"], path)
    assert res.exit_code == 0, res.output
    assert f"pqml: warning: {path}: the header was rewrapped, the file key is unchanged: " \
           "a removed recipient who already had the file key can still decrypt" in res.stderr
    assert "--new-file-key" in res.stderr


def test_cli_new_file_key_says_the_removed_recipient_is_locked_out(
        tmp_path: Path, keys: dict[str, Path]) -> None:
    path = encrypted(tmp_path / "f.pqml", [A.public_key(), C.public_key()])
    res = cli_run("rekey", "-i", keys["a.pem"], "--remove", keys["c.pub"], "--add",
                  keys["b.pub"], "--new-file-key", "--json", path)
    assert res.exit_code == 0, res.output
    record = json.loads(res.stdout)[0]
    assert record["file_key_rotated"] is True
    assert record["removed_may_still_decrypt"] is False
    assert record["guarantee"] == NEW_FILE_KEY_GUARANTEE
    assert "can no longer decrypt this file's new version" in res.stderr
    assert "warning" not in res.stderr
    assert "payload re-encrypted under a fresh file key" in res.stderr
    assert decrypts(path, B) == DATA and decrypts(path, C) is None


def test_cli_json_of_a_plain_rewrap_carries_the_fact(tmp_path: Path,
                                                     keys: dict[str, Path]) -> None:
    path = encrypted(tmp_path / "f.pqml", [A.public_key(), C.public_key()])
    res = cli_run("rekey", "-i", keys["a.pem"], "--remove", keys["c.pub"], "--json", path)
    record = json.loads(res.stdout)[0]
    assert record["removed_may_still_decrypt"] is True
    assert record["file_key_rotated"] is False and record["guarantee"] == REWRAP_GUARANTEE


# ---- SIGKILL during the re-encryption -------------------------------------------------------

STOPPER = r'''
import os, signal, sys
from pqml._internal import output_file as of
point, count = sys.argv[1], int(sys.argv[2])
calls = 0
owner, name = (of.AtomicOutput, "write") if point == "written" else (of.AtomicOutput, "commit")
real = getattr(owner, name)
def hooked(*a, **kw):
    global calls
    calls += 1
    if calls == count:
        os.kill(os.getpid(), signal.SIGSTOP)  # the test sees the stop, then SIGKILLs us
    return real(*a, **kw)
setattr(owner, name, hooked)
from pqml.cli.main import cli
cli.main(sys.argv[3:], prog_name="pqml")
'''


@pytest.mark.parametrize("point,count", [("written", 1), ("written", 3), ("committing", 1)])
def test_killed_during_reencryption_the_old_file_is_intact(
        tmp_path: Path, keys: dict[str, Path], point: str, count: int) -> None:
    path = encrypted(tmp_path / "f.pqml", [A.public_key(), C.public_key()],
                     data=os.urandom(9 * 1024 * 1024))
    before = path.read_bytes()
    args = ["rekey", "-i", str(keys["a.pem"]), "--remove", str(keys["c.pub"]),
            "--new-file-key", str(path)]
    proc = subprocess.Popen([sys.executable, "-c", STOPPER, point, str(count), *args],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), proc.stderr.read() if proc.stderr else b""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert path.read_bytes() == before  # the old file, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.pqml", "keys"]
    res = cli_run(*args)
    assert res.exit_code == 0, res.output
    assert decrypts(path, C) is None and decrypts(path, A) is not None

"""Journalled key rotation: the successor takes over every asset, and a process killed
with SIGKILL at any step (injected points and random times, real processes) leaves a
state the next run completes, with no asset lost, no second successor, and no file
rewrapped twice."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pqml.encryption import encrypt as feature
from pqml.encryption import encrypted_formats as fmts
from pqml.errors import NoIdentityMatchError
from pqml.formats import age, pqml_v1
from pqml.formats.age._io import Source
from pqml.keys import rotation
from pqml.keys.errors import RotationError
from pqml.keys.keyring import Keyring
from pqml.keys.states import KeyState

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="SIGKILL and flock semantics of Linux")

KINDS = [("pqml", False), ("pqml", True), ("age", False)]


class Sink:
    """A write-only file that only hashes what it is given (64 MiB stay out of memory)."""

    def __init__(self, digest: Any) -> None:
        self.digest = digest

    def write(self, data: Any) -> int:
        self.digest.update(data)
        return len(data)


class Setup:
    """A keyring with key ``team`` protecting ``n`` files (pqml/v1, armored, age), and a
    key ``other`` that is a second recipient of each (found in the keyring when the
    file key is rotated)."""

    def __init__(self, tmp_path: Path, n: int = 6, big: bool = False) -> None:
        self.ring = Keyring()
        self.team = self.ring.new("X-Wing", label="team")
        self.other = self.ring.new("X-Wing", label="other")
        self.dir = tmp_path / "assets"
        self.dir.mkdir()
        self.plain: dict[Path, bytes] = {}
        recipients = [self.ring.public_key("team"), self.ring.public_key("other")]
        for i in range(n):
            fmt, armor = KINDS[i % len(KINDS)]
            data = os.urandom(1000 + 37 * i)
            self.add(self.dir / f"m{i}.safetensors.{fmt}", data, recipients, fmt, armor)
        if big:  # 64 MiB: a header area, rewrapped in place
            src = tmp_path / "big.bin"
            with open(src, "wb") as f:
                f.truncate(64 * 1024 * 1024)
            path = self.dir / "big.bin.pqml"
            feature.encrypt_file(src, path, recipients)
            src.unlink()
            self.plain[path] = b""  # checked by size, not content
            self.ring.record_use("team", operation="encrypt", asset=str(path))
        self.keys_before = len(self.ring.list())

    def add(self, path: Path, data: bytes, recipients: list[object], fmt: str = "pqml",
            armor: bool = False) -> None:
        src = path.with_suffix(".plain")
        src.write_bytes(data)
        feature.encrypt_file(src, path, recipients, format=fmt, armor=armor)  # type: ignore[arg-type]
        src.unlink()
        self.plain[path] = data
        self.ring.record_use("team", operation="encrypt", asset=str(path), nbytes=len(data))

    def opens(self, path: Path, key_ref: str) -> bool:
        """Whether ``key_ref`` decrypts ``path`` (to its plaintext, checked)."""
        key = self.ring.private_key(key_ref, use="decrypt")
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            probe = Source(f)
            detected = fmts.detect(probe.peek(64))
            try:
                if detected.format == "pqml":
                    pqml_v1.decrypt([key], fmts.unarmored(detected, probe), Sink(digest))
                else:
                    age.decrypt([key], probe, Sink(digest))
            except NoIdentityMatchError:
                return False
        big = hashlib.sha256(bytes(64 * 1024 * 1024)).digest() if not self.plain[path] \
            else None
        assert digest.digest() == (big or hashlib.sha256(self.plain[path]).digest())
        return True

    def check_rotated(self, missing: tuple[Path, ...] = ()) -> str:
        """The end state of a complete rotation of ``team``; returns the successor id."""
        old = self.ring.get(self.team.id)
        assert old.state is KeyState.RETIRED and old.label is None
        new = self.ring.get("team")
        assert new.state is KeyState.ACTIVE and new.id != old.id
        assert (old.successor, new.predecessor) == (new.id, old.id)
        assert new.algorithm == old.algorithm and new.purpose == old.purpose
        assert len(self.ring.list()) == self.keys_before + 1  # one successor, no orphan
        assert self.ring.list(state=KeyState.PENDING) == []
        present = [p for p in self.plain if p not in missing]
        for path in present:
            assert self.opens(path, new.id), path
            assert not self.opens(path, old.id), path  # the old stanza is gone
            assert self.opens(path, "other"), path
        assert sorted(a.path for a in self.ring.assets(new.id)) == sorted(map(str, present))
        assert sorted(a.path for a in self.ring.assets(old.id)) == sorted(map(str, missing))
        assert rotation.pending(self.ring.home) == []
        return new.id


@pytest.fixture()
def setup(tmp_path: Path) -> Setup:
    return Setup(tmp_path)


@pytest.mark.parametrize("mode", ["rewrap", "new-file-key"])
def test_rotation_moves_every_asset(tmp_path: Path, mode: str) -> None:
    s = Setup(tmp_path, n=6, big=True)
    big = s.dir / "big.bin.pqml"
    before = big.stat().st_ino
    result = rotation.rotate(s.ring, "team", mode=mode)  # type: ignore[arg-type]
    new = s.check_rotated()
    assert result.successor == new and result.moved == 7 and not result.resumed
    expected = "rewrapped" if mode == "rewrap" else "re-encrypted"
    assert {a.status for a in result.assets} == {expected}
    # a header rewrap of a file with a header area is in place; re-encryption replaces it
    assert (big.stat().st_ino == before) is (mode == "rewrap")
    journal = Path(result.journal)
    assert journal.name.endswith(".done.jsonl") and journal.stat().st_mode & 0o777 == 0o600
    steps = [json.loads(line)["step"] for line in journal.read_text().splitlines()]
    assert steps == ["begin", "successor", *["asset"] * 7, "promoted", "complete"]


def test_missing_assets_are_reported_and_skipped(setup: Setup) -> None:
    gone = next(iter(setup.plain))
    gone.unlink()
    result = rotation.rotate(setup.ring, "team")
    assert [a.path for a in result.assets if a.status == "missing"] == [str(gone)]
    setup.check_rotated(missing=(gone,))


def test_a_file_that_fails_keeps_its_link_and_a_second_run_moves_it(setup: Setup) -> None:
    locked = next(iter(setup.plain))
    with open(locked, "rb") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # another rekey is busy with it
        result = rotation.rotate(setup.ring, "team")
    failed = [a for a in result.assets if a.status == "failed"]
    assert [a.path for a in failed] == [str(locked)]
    assert "another rekey is changing this file" in (failed[0].reason or "")
    old = setup.ring.get(setup.team.id)
    assert old.state is KeyState.RETIRED  # rotated anyway; it still decrypts the file
    assert [a.path for a in setup.ring.assets(old.id)] == [str(locked)]
    again = rotation.rotate(setup.ring, setup.team.id)
    assert again.already_rotated and [a.status for a in again.assets] == ["rewrapped"]
    setup.check_rotated()


def test_a_second_rotation_of_the_same_key_at_once_is_refused(setup: Setup) -> None:
    journal = rotation.Journal(rotation.journal_path(setup.ring.home, setup.team.id), "x")
    try:
        with pytest.raises(RotationError, match="another rotation of this key is running"):
            rotation.rotate(setup.ring, "team")
    finally:
        journal.close()
    assert setup.ring.get("team").id == setup.team.id  # nothing happened


def test_rotating_a_retired_key_without_successor_is_refused(setup: Setup) -> None:
    setup.ring.set_state("team", KeyState.RETIRED)
    with pytest.raises(RotationError, match="is retired: only an active key can be rotated"):
        rotation.rotate(setup.ring, "team")


def test_a_passphrase_protected_key_needs_its_passphrase(tmp_path: Path) -> None:
    ring = Keyring()
    ring.new("X-Wing", label="locked", passphrase=b"pw")
    with pytest.raises(RotationError, match="passphrase-protected"):
        rotation.rotate(ring, "locked")
    assert rotation.pending(ring.home) == []
    result = rotation.rotate(ring, "locked", passphrase=b"pw")
    assert ring.get(result.successor).encrypted


def test_a_signature_key_rotates_and_its_assets_stay_signed(tmp_path: Path) -> None:
    ring = Keyring()
    ring.new("ML-DSA-65", label="signer")
    ring.record_use("signer", operation="sign", asset=str(tmp_path / "model"))
    result = rotation.rotate(ring, "signer")
    assert [a.status for a in result.assets] == ["kept"]
    new = ring.get("signer")
    assert new.id == result.successor and new.algorithm == "ML-DSA-65"
    assert new.state is KeyState.ACTIVE and new.purpose == "sign"


def test_a_damaged_journal_stops_the_rotation(setup: Setup) -> None:
    path = rotation.journal_path(setup.ring.home, setup.team.id)
    path.parent.mkdir(parents=True)
    begin = json.dumps({"step": "begin", "key": setup.team.id, "mode": "rewrap"})
    path.write_text(f'{begin}\nnot json\n{{"step":"complete"}}\n')
    with pytest.raises(RotationError, match="line 2 is not a journal record"):
        rotation.rotate(setup.ring, "team")
    assert setup.ring.get("team").id == setup.team.id


def test_a_torn_last_record_is_ignored(setup: Setup) -> None:
    path = rotation.journal_path(setup.ring.home, setup.team.id)
    path.parent.mkdir(parents=True)
    begin = json.dumps({"step": "begin", "key": setup.team.id, "mode": "rewrap",
                        "label": "team"})
    path.write_text(f'{begin}\n{{"step":"succ')
    result = rotation.rotate(setup.ring, "team")
    assert result.resumed
    setup.check_rotated()


# ---- SIGKILL ---------------------------------------------------------------------------------

SCRIPT = r"""
import sys
from pqml.keys.keyring import Keyring
from pqml.keys.rotation import rotate
ring = Keyring()
print("ready", flush=True)
rotate(ring, sys.argv[1], mode=sys.argv[2] if sys.argv[2] != "-" else None)
"""


def run_rotation(key: str, mode: str | None = None, die_at: str | None = None
                 ) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.pop(rotation.DIE_AT_ENV, None)
    if die_at is not None:
        env[rotation.DIE_AT_ENV] = die_at
    return subprocess.Popen([sys.executable, "-c", SCRIPT, key, mode or "-"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def killed_at(key: str, point: str, mode: str | None = None) -> None:
    proc = run_rotation(key, mode, point)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL, err.decode()


POINTS = ["after-begin", "successor-made", "after-successor", "after-rekey:0",
          "after-rekey:3", "after-links:0", "after-batch:0", "before-promote",
          "after-activate", "after-link-successor", "after-label", "after-retire",
          "after-complete"]


@pytest.mark.parametrize("point", POINTS)
def test_killed_at_each_step_the_next_run_completes(setup: Setup, point: str) -> None:
    killed_at(setup.team.id, point)
    result = rotation.rotate(setup.ring, setup.team.id)
    setup.check_rotated()
    statuses = [a.status for a in result.assets]
    assert len(statuses) == 6 and set(statuses) <= {"rewrapped", "already"}
    if point.startswith(("after-rekey:", "after-links:")):  # rekeyed, not journalled
        assert "already" in statuses
    assert result.resumed or point == "after-complete"


@pytest.mark.parametrize("point", ["after-rekey:1", "after-links:0", "before-promote"])
def test_killed_during_file_key_rotation(setup: Setup, point: str) -> None:
    killed_at(setup.team.id, point, "new-file-key")
    with pytest.raises(RotationError, match="in mode new-file-key is to be finished first"):
        rotation.rotate(setup.ring, setup.team.id, mode="rewrap")
    result = rotation.rotate(setup.ring, setup.team.id)
    assert result.mode == "new-file-key" and result.resumed
    setup.check_rotated()


def test_killed_twice_then_resumed(setup: Setup) -> None:
    killed_at(setup.team.id, "after-rekey:1")
    killed_at(setup.team.id, "after-rekey:2")  # the resumed run's 3rd asset
    with pytest.raises(RotationError, match="no interrupted rotation"):
        rotation.rotate(setup.ring, "other", resume_only=True)
    result = rotation.rotate(setup.ring, setup.team.id, resume_only=True)
    assert result.resumed
    setup.check_rotated()


def test_killed_between_batches(tmp_path: Path) -> None:
    s = Setup(tmp_path, n=rotation.BATCH + 8)
    killed_at(s.team.id, "after-batch:0")
    result = rotation.rotate(s.ring, s.team.id)
    assert result.resumed and result.moved == rotation.BATCH + 8
    s.check_rotated()


def test_an_asset_recorded_during_the_rotation_is_moved_too(setup: Setup) -> None:
    killed_at(setup.team.id, "after-batch:0")
    late = setup.dir / "late.pqml"
    setup.add(late, b"late weights", [setup.ring.public_key(setup.team.id),
                                      setup.ring.public_key("other")])
    rotation.rotate(setup.ring, setup.team.id)
    setup.check_rotated()


def test_an_asset_linked_just_before_the_old_key_is_retired_is_moved_too(
        setup: Setup, monkeypatch: pytest.MonkeyPatch) -> None:
    # An encryption that chose the still-active key and linked its file after the last
    # sweep over the old key's assets, just before promotion retires the key.
    late = setup.dir / "late.pqml"
    recipients = [setup.ring.public_key(setup.team.id), setup.ring.public_key("other")]
    real = rotation._checkpoint

    def checkpoint(point: str) -> None:
        if point == "before-promote":
            setup.add(late, b"weights linked at the last moment", recipients)
        real(point)

    monkeypatch.setattr(rotation, "_checkpoint", checkpoint)
    result = rotation.rotate(setup.ring, setup.team.id)
    assert str(late) in {a.path for a in result.assets if a.status == "rewrapped"}
    setup.check_rotated()


def test_killed_at_random_times(tmp_path: Path) -> None:
    s = Setup(tmp_path, n=30, big=True)
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    kills = 0
    for _ in range(4):
        proc = run_rotation(s.team.id)
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"  # imported; the rotation starts now
        time.sleep(rng.uniform(0, 0.4))  # a random moment of the rotation, on purpose
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=120)
        kills += proc.returncode == -signal.SIGKILL
        if proc.returncode == 0:
            break
    result = rotation.rotate(s.ring, s.team.id)
    assert kills >= 1 or result.already_rotated
    s.check_rotated()

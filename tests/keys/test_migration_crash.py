"""SIGKILL during ``pqml migrate --apply`` (real processes), then a rerun completes it.

Kills are injected at the journal's three points (``PQML_FAULT_KILL_AT``) and at a
moment chosen by the test from outside (after some artifacts are done); after each, a
rerun of the same command must leave every artifact migrated exactly once, its data
intact, its record made once, and no journal behind. Then a third run changes nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from migration_kit import PLAINTEXT, Keys, classical_file, decrypt, make_keys, snapshot

import pqml
from pqml.keys import migration
from pqml.keys.migration import FAULT_ENV, migrate
from pqml.keys.migration_journal import Journal, journals_dir

PQML = Path(sys.executable).with_name("pqml")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("crash-keys"))


def _files(d: Path, keys: Keys, n: int) -> list[Path]:
    return [classical_file(d / f"m{i:02d}.{'age' if i % 2 else 'pqml'}", keys,
                           "age" if i % 2 else "pqml", PLAINTEXT + bytes([i]))
            for i in range(n)]


def _argv(files: list[Path], keys: Keys) -> list[str]:
    return [str(PQML), "migrate", *map(str, files), "--to", keys.xwing_pub, "-i",
            str(keys.x25519), "--apply"]


def _journal() -> dict[str, str] | None:
    """path -> last state, as the journal (JSON lines) records it; None if there is none."""
    found = list(journals_dir().glob("migrate-*.json"))
    if not found:
        return None
    states: dict[str, str] = {}
    for line in found[0].read_text().splitlines():
        record = json.loads(line)
        states[record["path"]] = record["state"]
    return states


def _rerun(files: list[Path], keys: Keys, monkeypatch: pytest.MonkeyPatch
           ) -> tuple[list[str], list[str]]:
    """The same migration in process; (statuses, paths recorded through _emit)."""
    emitted: list[str] = []
    monkeypatch.setattr(migration, "_emit",
                        lambda event, **details: emitted.append(details["path"]))
    report = migrate(files, to=[keys.xwing_pub], identities=[keys.x25519], apply=True)
    return [a.status for a in report.artifacts], emitted


def _all_migrated(files: list[Path], keys: Keys) -> None:
    for i, f in enumerate(files):
        assert pqml.inspect(f)["post_quantum"], f
        assert decrypt(f, keys.xwing) == PLAINTEXT + bytes([i])
        assert not [p for p in f.parent.iterdir() if "pqml-tmp" in p.name]


def test_kill_after_replace_before_journal(tmp_path: Path, keys: Keys,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """The window the journal exists for: file 2 is replaced, its record not made."""
    files = _files(tmp_path, keys, 4)
    done = subprocess.run(_argv(files, keys), capture_output=True, timeout=120,
                          env={**os.environ, FAULT_ENV: "migrate.replaced:2"})
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert [pqml.inspect(f)["post_quantum"] for f in files] == [True, True, False, False]
    journal = _journal()
    assert journal is not None
    assert list(journal.values()) == ["done", "planned"]
    statuses, emitted = _rerun(files, keys, monkeypatch)
    assert statuses == ["nothing to do", "completed", "migrated", "migrated"]
    assert emitted == [os.path.abspath(f) for f in files[1:]]  # each record exactly once
    assert _journal() is None
    _all_migrated(files, keys)
    before = snapshot(files)
    statuses, emitted = _rerun(files, keys, monkeypatch)
    assert statuses == ["nothing to do"] * 4 and emitted == []
    assert snapshot(files) == before


@pytest.mark.parametrize("point", ["migrate.planned:1", "migrate.recorded:2"])
def test_kill_at_other_journal_points(tmp_path: Path, keys: Keys, point: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    files = _files(tmp_path, keys, 3)
    done = subprocess.run(_argv(files, keys), capture_output=True, timeout=120,
                          env={**os.environ, FAULT_ENV: point})
    assert done.returncode == -signal.SIGKILL, done.stderr
    statuses, emitted = _rerun(files, keys, monkeypatch)
    if point.startswith("migrate.planned"):  # killed before touching the first file
        assert statuses == ["migrated"] * 3
        assert len(emitted) == 3
    else:  # file 2 was replaced and recorded, not yet marked done: recorded again
        assert statuses == ["nothing to do", "completed", "migrated"]
        assert emitted == [os.path.abspath(f) for f in files[1:]]
    assert _journal() is None
    _all_migrated(files, keys)


@pytest.mark.parametrize("after_done", [1, 6])
def test_sigkill_from_outside_mid_run(tmp_path: Path, keys: Keys, after_done: int,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Killed at a moment the test does not control exactly: after at least
    ``after_done`` artifacts are done, wherever the process then is (inside a rekey's
    copy, between journal writes, ...)."""
    files = _files(tmp_path, keys, 30)
    proc = subprocess.Popen(_argv(files, keys), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            journal = _safe_journal()
            if journal and list(journal.values()).count("done") >= after_done:
                break
            with contextlib.suppress(subprocess.TimeoutExpired):  # the poll interval
                proc.wait(timeout=0.005)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
        assert proc.stderr is not None
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    left = [f for f in files if not pqml.inspect(f)["post_quantum"]]
    assert left, "nothing was left to resume"
    statuses, emitted = _rerun(files, keys, monkeypatch)
    assert statuses.count("migrated") + statuses.count("completed") == len(emitted)
    assert set(emitted) | {os.path.abspath(f) for f, s in zip(files, statuses, strict=True)
                           if s == "nothing to do"} == {os.path.abspath(f) for f in files}
    assert _journal() is None
    _all_migrated(files, keys)


def _safe_journal() -> dict | None:
    """The journal while another process appends to it (a line may be half written)."""
    try:
        return _journal()
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def test_a_second_run_at_the_same_time_is_refused(tmp_path: Path, keys: Keys) -> None:
    files = _files(tmp_path, keys, 1)
    request = migration.MigrationRequest.build([keys.xwing_pub], [keys.x25519])
    with Journal.open(request.run_id(files)), \
            pytest.raises(migration.MigrationError, match="another pqml migrate"):
        migrate(files, request=request, apply=True)
    assert not pqml.inspect(files[0])["post_quantum"]


def test_corrupt_journal_is_named_and_nothing_changes(tmp_path: Path, keys: Keys) -> None:
    files = _files(tmp_path, keys, 1)
    request = migration.MigrationRequest.build([keys.xwing_pub], [keys.x25519])
    path = journals_dir() / f"migrate-{request.run_id(files)}.json"
    path.parent.mkdir(parents=True)
    path.write_text('{not json\n{"v": 1}\n')  # a bad line that is not the last
    before = snapshot(files)
    with pytest.raises(migration.MigrationError, match="journal is unreadable"):
        migrate(files, request=request, apply=True)
    assert snapshot(files) == before


def test_a_torn_last_journal_line_is_ignored(tmp_path: Path, keys: Keys) -> None:
    """A crash in the middle of an append leaves a partial last line: never synced, so
    nothing after it happened; the run goes on from the lines before it."""
    files = _files(tmp_path, keys, 2)
    request = migration.MigrationRequest.build([keys.xwing_pub], [keys.x25519])
    path = journals_dir() / f"migrate-{request.run_id(files)}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"v": 1, "path": str(files[0]), "kind": "pqml/v1",
                                "state": "done", "before": "x"}) + '\n{"v": 1, "pa')
    report = migrate(files, request=request, apply=True)
    assert [a.status for a in report.artifacts] == ["migrated", "migrated"]
    assert report.journal is None and not path.exists()

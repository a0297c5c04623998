"""The log on disk: layout and keys, batched checkpoints, proofs, readers, several writer
processes at once, and writers killed mid-append."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from log_helpers import entry, filled, leaf_hashes, lines

from pqml.formats.signed_note import TYPE_COSIGNATURE_MLDSA44, parse_vkey
from pqml.formats.tlog import parse_tlog_proof, verify_checkpoint
from pqml.log import merkle
from pqml.log.entry import LogEntry
from pqml.log.errors import LogError, LogTamperedError
from pqml.log.log import verify_proof
from pqml.log.store import RECORD_SIZE, LogStore
from pqml.log.verify import verify_log

SRC = Path(__file__).resolve().parents[2] / "src"


def test_first_append_creates_the_log_and_its_keys_privately(tmp_path: Path) -> None:
    d = tmp_path / "log"
    store = LogStore(d)
    assert store.append(entry(0)) == 0
    assert store.append(entry(1)) == 1
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    for name in ("log.key", "entry-tag.key", "records", "entries.jsonl"):
        assert stat.S_IMODE((d / name).stat().st_mode) == 0o600, name
    vkey = parse_vkey((d / "log.vkey").read_text().strip())
    assert vkey == store.vkey and vkey.type == TYPE_COSIGNATURE_MLDSA44
    assert len(vkey.public_key) == 1312  # ML-DSA-44
    assert b"PRIVATE KEY" in (d / "log.key").read_bytes()
    assert [e for _, e in store.entries()] == [entry(0), entry(1)]
    assert lines(d) == [entry(0).to_bytes(), entry(1).to_bytes()]


def test_reading_a_missing_log_creates_nothing(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "nothing")
    assert list(store.entries()) == [] and store.size == 0
    with pytest.raises(LogError, match="no transparency log"):
        store.vkey  # noqa: B018
    assert not (tmp_path / "nothing").exists()


def test_default_directory_is_under_pqml_home(monkeypatch: pytest.MonkeyPatch,
                                              tmp_path: Path) -> None:
    monkeypatch.setenv("PQML_HOME", str(tmp_path / "home"))
    LogStore().append(entry(0))
    assert (tmp_path / "home" / "log" / "records").stat().st_size == RECORD_SIZE


def test_checkpoints_are_batched_signed_and_cover_the_tree(tmp_path: Path) -> None:
    store = filled(tmp_path / "log", 9, every=4)
    sizes = [cp.size for cp in store.checkpoints()]
    assert sizes == [1, 4, 8]  # the first append (no checkpoint yet), then every 4
    note = store.checkpoint()  # on demand: covers all 9
    head = verify_checkpoint(note, store.origin, [store.vkey])
    assert head.size == 9 and head.root_hash == merkle.tree_head(leaf_hashes(store.directory))
    assert store.checkpoint() == note  # nothing new: the same checkpoint
    assert (store.directory / "checkpoints" / f"{9:020d}").read_bytes() == note


def test_time_batching_signs_when_the_newest_checkpoint_is_old(tmp_path: Path) -> None:
    store = LogStore(tmp_path / "log", checkpoint_every=1000, checkpoint_seconds=0)
    for i in range(3):
        store.append(entry(i))
    assert [cp.size for cp in store.checkpoints()] == [1, 2, 3]


def test_every_proof_verifies_offline_with_the_reference_verifier(tmp_path: Path) -> None:
    store = filled(tmp_path / "log", 37)
    note = store.checkpoint()
    for i in range(37):
        proof = store.prove(i, checkpoint=note)
        assert parse_tlog_proof(proof).extra == store.entry_bytes(i)
        assert verify_proof(proof, store.entry_bytes(i), store.origin, [store.vkey]) == i


def test_proofs_survive_a_lost_or_corrupted_tree_cache(tmp_path: Path) -> None:
    store = filled(tmp_path / "log", 40)
    store.checkpoint()
    for f in (store.directory / "tree").iterdir():
        f.write_bytes(b"\xff" * f.stat().st_size)  # poison every cached node
    proof = store.prove(5)
    assert verify_proof(proof, store.entry_bytes(5), store.origin, [store.vkey]) == 5
    for f in (store.directory / "tree").iterdir():
        f.unlink()
    fresh = LogStore(store.directory)
    assert verify_proof(fresh.prove(33), fresh.entry_bytes(33), fresh.origin, [fresh.vkey]) == 33


def test_a_proof_of_an_entry_not_in_the_tree_is_refused(tmp_path: Path) -> None:
    store = filled(tmp_path / "log", 10)
    old = store.checkpoint()
    store.append(entry(10))
    with pytest.raises(LogError, match="not covered by checkpoint 10"):
        store.prove(10, checkpoint=old)
    with pytest.raises(LogError, match="no entry 11"):
        store.prove(11)


def test_consistency_proofs_between_sizes(tmp_path: Path) -> None:
    store = filled(tmp_path / "log", 21)
    store.checkpoint()
    hashes = leaf_hashes(store.directory)
    for old in (0, 1, 7, 8, 20, 21):
        assert store.consistency(old, 21) == merkle.consistency_proof(hashes, old)


def test_follow_yields_entries_appended_later(tmp_path: Path) -> None:
    store = filled(tmp_path / "log", 3)
    follower = LogStore(store.directory).follow(start=1)
    assert [next(follower)[0], next(follower)[0]] == [1, 2]
    LogStore(store.directory).append(entry(3))  # another writer
    index, got = next(follower)  # waits for the append to be committed
    assert (index, got) == (3, entry(3))
    follower.close()


def test_entries_notices_an_edited_entry(tmp_path: Path) -> None:
    store = filled(tmp_path / "log", 4)
    data = (store.directory / "entries.jsonl").read_bytes()
    (store.directory / "entries.jsonl").write_bytes(data.replace(b'"i":2', b'"i":7'))
    with pytest.raises(LogTamperedError, match="entry 2"):
        list(LogStore(store.directory).entries())


def test_uncommitted_bytes_from_a_dead_writer_are_skipped(tmp_path: Path) -> None:
    store = filled(tmp_path / "log", 3)
    with open(store.directory / "entries.jsonl", "ab") as f:
        f.write(entry(99).to_bytes()[:40])  # a line cut off before its record was written
    assert store.append(entry(3)) == 3
    assert [i for i, _ in store.entries()] == [0, 1, 2, 3]
    assert store.entry(3) == entry(3)
    assert lines(store.directory)[3] == entry(99).to_bytes()[:40]  # left alone, on its line
    report = verify_log(store.directory)
    assert report.size == 4 and "cut off by a crash" in report.warnings[0]


def test_a_partial_record_stops_appends_until_an_explicit_recovery(tmp_path: Path) -> None:
    store = filled(tmp_path / "log", 3)
    with open(store.directory / "records", "ab") as f:
        f.write(b"\x01" * 30)  # a power loss mid-record
    assert store.size == 3
    with pytest.raises(LogError, match=r"partial record.*pqml log recover"):
        store.append(entry(3))
    assert "partial record" in verify_log(store.directory, sign=False).warnings[0]
    done = store.recover()
    assert len(done) == 1 and "30 bytes" in done[0]
    assert "01" * 30 in (store.directory / "recovery.log").read_text()
    assert store.append(entry(3)) == 3 and store.recover() == []
    assert verify_log(store.directory).size == 4


def test_an_unwritable_log_fails_with_a_log_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(LogError, match="cannot lock"):
        LogStore(tmp_path / "file" / "log").append(entry(0))


def test_a_copy_without_the_keys_reads_but_cannot_append(tmp_path: Path) -> None:
    store = filled(tmp_path / "log", 3)
    (store.directory / "entry-tag.key").unlink()
    copy = LogStore(store.directory)
    assert [i for i, _ in copy.entries()] == [0, 1, 2]
    with pytest.raises(LogError, match="cannot be appended"):
        copy.append(entry(3))


def _python(code: str, *args: str, **kw: object) -> subprocess.Popen[str]:
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code), *args], env=env,
                            text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            **kw)  # type: ignore[call-overload]


WRITER = """
    import sys
    from pqml.log.entry import LogEntry
    from pqml.log.store import LogStore
    store = LogStore(sys.argv[1])
    w, count = int(sys.argv[2]), int(sys.argv[3])
    for i in range(count):
        store.append(LogEntry("decrypt", "ok", details={"w": w, "i": i}))
"""


def test_eight_writer_processes_lose_and_duplicate_nothing(tmp_path: Path) -> None:
    d, per = tmp_path / "log", 300
    procs = [_python(WRITER, str(d), str(w), str(per)) for w in range(8)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
    store = LogStore(d)
    seen = sorted((e.details["w"], e.details["i"]) for _, e in store.entries())
    assert seen == [(w, i) for w in range(8) for i in range(per)]
    report = verify_log(d)
    assert report.size == 8 * per and report.warnings == []
    assert report.latest is not None and report.latest.size == 8 * per


KILLED_BETWEEN_WRITES = """
    import os, signal, sys
    from pqml.log.entry import LogEntry
    from pqml.log.store import LogStore
    store = LogStore(sys.argv[1])
    real_pwrite, real_write = os.pwrite, os.write
    def pwrite(fd, data, offset):  # the record: die before it is written
        os.kill(os.getpid(), signal.SIGKILL)
    def write(fd, data):  # the entry line: write half of it, then die
        real_write(fd, bytes(data)[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGKILL)
    if sys.argv[2] == "record":
        os.pwrite = pwrite
    else:
        os.write = write
    store.append(LogEntry("decrypt", "ok", details={"doomed": True}))
"""


@pytest.mark.parametrize("where", ["record", "entry"])
def test_a_writer_killed_mid_append_leaves_a_log_that_verifies(tmp_path: Path,
                                                               where: str) -> None:
    store = filled(tmp_path / "log", 5)
    store.close()
    p = _python(KILLED_BETWEEN_WRITES, str(store.directory), where)
    p.communicate(timeout=60)
    assert p.returncode == -signal.SIGKILL
    after = LogStore(store.directory)
    assert after.size == 5
    assert verify_log(after).size == 5
    assert after.append(entry(5)) == 5 and after.entry(5) == entry(5)
    assert verify_log(after).size == 6


LOOPING_WRITER = """
    import sys
    from pqml.log.entry import LogEntry
    from pqml.log.store import LogStore
    store = LogStore(sys.argv[1], checkpoint_every=50)
    i = 0
    while True:
        store.append(LogEntry("decrypt", "ok", details={"i": i}))
        i += 1
        if i % 100 == 0:
            print(i, flush=True)
"""


def test_sigkill_at_a_random_moment_never_breaks_the_log(tmp_path: Path) -> None:
    d = tmp_path / "log"
    for _ in range(3):
        p = _python(LOOPING_WRITER, str(d))
        assert p.stdout is not None
        while int(p.stdout.readline() or "-1") < 300:  # a real condition: 300 appended
            assert p.poll() is None, p.stderr.read() if p.stderr else ""
        p.kill()
        p.communicate(timeout=60)
    report = verify_log(d)
    assert report.size >= 900
    assert LogStore(d).append(entry(0)) == report.size


def test_threads_sharing_one_store_lose_nothing(tmp_path: Path) -> None:
    import threading

    store = LogStore(tmp_path / "log", checkpoint_every=50)

    def work(w: int) -> None:
        for i in range(100):
            store.append(LogEntry("decrypt", "ok", details={"w": w, "i": i}))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = sorted((e.details["w"], e.details["i"]) for _, e in store.entries())
    assert seen == [(w, i) for w in range(4) for i in range(100)]
    assert verify_log(store.directory).size == 400


def test_a_record_pointing_past_the_entries_is_refused_without_reading_it(
        tmp_path: Path) -> None:
    import struct

    store = filled(tmp_path / "log", 3)
    raw = bytearray((store.directory / "records").read_bytes())
    struct.pack_into(">Q", raw, 64 * 2 + 40, 2**62)  # entry 2's offset
    (store.directory / "records").write_bytes(bytes(raw))
    with pytest.raises(LogTamperedError, match="outside the entries"):
        list(LogStore(store.directory).entries())
    struct.pack_into(">QI", raw, 64 * 2 + 40, 0, 2**31)  # and a huge length
    (store.directory / "records").write_bytes(bytes(raw))
    with pytest.raises(LogTamperedError, match="claims"):
        LogStore(store.directory).entry(2)


def test_an_oversized_checkpoint_file_is_refused(tmp_path: Path) -> None:
    store = filled(tmp_path / "log", 3)
    (store.directory / "checkpoints" / f"{2:020d}").write_bytes(b"x" * 100_000)
    with pytest.raises(LogTamperedError, match="larger than any checkpoint"):
        store.checkpoints()


def test_a_copy_without_the_keys_proves_under_its_newest_checkpoint(tmp_path: Path) -> None:
    store = filled(tmp_path / "log", 10, every=4)
    for name in ("entry-tag.key", "log.key"):
        (store.directory / name).unlink()
    copy = LogStore(store.directory)
    proof = copy.prove(5)  # newest stored checkpoint: size 8
    assert verify_proof(proof, copy.entry_bytes(5), copy.origin, [copy.vkey]) == 5
    with pytest.raises(LogError, match="not covered by checkpoint 8"):
        copy.prove(9)

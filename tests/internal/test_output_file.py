"""output_file: outputs have no name until complete, never clobber unless asked, and the
temporaries a dead run left are removed by the next one (and only those)."""

from __future__ import annotations

import errno
import fcntl
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pqml._internal import output_file
from pqml._internal.errors import OutputExistsError, OutputPathError
from pqml._internal.output_file import (
    TEMP_SUFFIX,
    AtomicOutput,
    atomic_output,
    atomic_path,
    atomic_tree,
    clean_stale,
    write_atomic,
)


def names(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*"))


@pytest.fixture
def no_tmpfile(monkeypatch: pytest.MonkeyPatch) -> None:
    """A filesystem without O_TMPFILE (as NFS and some FUSE ones): open() says so."""
    real_open = os.open

    def fake_open(path: object, flags: int, *args: object, **kw: object) -> int:
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
        return real_open(path, flags, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(output_file.os, "open", fake_open)


# ---- unnamed until complete -----------------------------------------------------------------


def test_an_output_has_no_name_until_commit(tmp_path: Path) -> None:
    out = AtomicOutput(tmp_path / "t", mode=0o640)
    out.write(b"secret plaintext")
    assert names(tmp_path) == []  # nothing on disk carries the bytes under any name
    assert not out.named and Path(out.temp).read_bytes() == b"secret plaintext"
    out.commit()
    assert names(tmp_path) == ["t"] and (tmp_path / "t").read_bytes() == b"secret plaintext"
    assert stat.S_IMODE((tmp_path / "t").stat().st_mode) == 0o640


def test_a_failed_block_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_output(tmp_path / "t") as out:
        out.write(b"half")
        raise RuntimeError
    assert names(tmp_path) == []


def test_write_atomic_is_unnamed_until_synced_and_linked(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    seen = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        seen.append(names(tmp_path))
        real_fsync(fd)

    monkeypatch.setattr(output_file.os, "fsync", fsync)
    write_atomic(tmp_path / "bundle.sig", b"{}")
    assert seen == [[]] and (tmp_path / "bundle.sig").read_bytes() == b"{}"


# ---- no silent overwrite --------------------------------------------------------------------


def test_refuses_an_existing_target_up_front(tmp_path: Path) -> None:
    (tmp_path / "t").write_bytes(b"old")
    with pytest.raises(OutputExistsError, match=f"^{tmp_path / 't'}: already exists; "
                                                "refusing .*--force"):
        AtomicOutput(tmp_path / "t", overwrite=False)
    assert (tmp_path / "t").read_bytes() == b"old" and names(tmp_path) == ["t"]


@pytest.mark.parametrize("tmpfile", [True, False])
def test_a_target_that_appears_meanwhile_is_not_clobbered(tmp_path: Path, tmpfile: bool,
                                                          request: pytest.FixtureRequest
                                                          ) -> None:
    if not tmpfile:
        request.getfixturevalue("no_tmpfile")
    out = AtomicOutput(tmp_path / "t", overwrite=False)
    out.write(b"new")
    (tmp_path / "t").write_bytes(b"someone else's")  # appears while we work
    with pytest.raises(OutputExistsError, match="already exists"):
        out.commit()
    assert (tmp_path / "t").read_bytes() == b"someone else's" and names(tmp_path) == ["t"]


@pytest.mark.parametrize("tmpfile", [True, False])
def test_overwrite_replaces(tmp_path: Path, tmpfile: bool,
                            request: pytest.FixtureRequest) -> None:
    if not tmpfile:
        request.getfixturevalue("no_tmpfile")
    (tmp_path / "t").write_bytes(b"old")
    with atomic_output(tmp_path / "t", overwrite=True) as out:
        out.write(b"new")
    assert (tmp_path / "t").read_bytes() == b"new" and names(tmp_path) == ["t"]


def test_a_directory_target_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    with pytest.raises(OutputPathError, match="is a directory"):
        AtomicOutput(tmp_path / "d", overwrite=True)


# ---- fallback: a named temporary, locked ----------------------------------------------------


def test_fallback_is_named_locked_and_0600(tmp_path: Path, no_tmpfile: None) -> None:
    out = AtomicOutput(tmp_path / "t", mode=0o644)
    out.write(b"x")
    temp = Path(out.temp)
    assert out.named and temp.parent == tmp_path
    assert temp.name.startswith(".t.") and temp.name.endswith(TEMP_SUFFIX)
    assert stat.S_IMODE(temp.stat().st_mode) == 0o600
    assert clean_stale(tmp_path / "t") == [] and temp.exists()  # a live writer's: kept
    out.commit()
    assert names(tmp_path) == ["t"] and stat.S_IMODE((tmp_path / "t").stat().st_mode) == 0o644


def test_a_writer_whose_new_temp_a_cleaner_removed_makes_another(
        tmp_path: Path, no_tmpfile: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The instant between mkstemp and flock: a cleaner may take the file for stale; the
    writer notices (its file is gone when it gets the lock) and creates another."""
    real = output_file.tempfile.mkstemp
    calls = []

    def mkstemp(**kw: object) -> tuple[int, str]:
        fd, path = real(**kw)  # type: ignore[call-overload]
        calls.append(path)
        if len(calls) == 1:
            assert clean_stale(tmp_path / "t") == [Path(path)]  # not locked yet: removed
        return fd, path

    monkeypatch.setattr(output_file.tempfile, "mkstemp", mkstemp)
    with atomic_output(tmp_path / "t") as out:
        out.write(b"ok")
    assert len(calls) == 2 and (tmp_path / "t").read_bytes() == b"ok"
    assert names(tmp_path) == ["t"]


# ---- stale temporaries ----------------------------------------------------------------------


def test_clean_stale_removes_only_dead_runs_temporaries(tmp_path: Path) -> None:
    dead = tmp_path / f".t.abcd1234{TEMP_SUFFIX}"
    dead.write_bytes(b"partial plaintext")
    dead_dir = tmp_path / f".t.zz_y9876{TEMP_SUFFIX}"
    (dead_dir / "sub").mkdir(parents=True)
    (dead_dir / "sub" / "f").write_bytes(b"x")
    alive = tmp_path / f".t.live0000{TEMP_SUFFIX}"
    alive.write_bytes(b"being written")
    keep = [tmp_path / f".other.abcd1234{TEMP_SUFFIX}",   # another output's
            tmp_path / f".t.abcd12345{TEMP_SUFFIX}",      # not pqml's pattern
            tmp_path / ".t.abcd1234.tmp",                 # not pqml's suffix
            tmp_path / "t"]                               # the output itself
    for path in keep:
        path.write_bytes(b"keep")
    link = tmp_path / f".t.link1234{TEMP_SUFFIX}"
    link.symlink_to(tmp_path / "t")
    # a live writer in another process holds its lock
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, sys; f = open(sys.argv[1], 'rb'); "
         "fcntl.flock(f, fcntl.LOCK_EX); print('locked', flush=True); sys.stdin.read()",
         str(alive)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        removed = clean_stale(tmp_path / "t")
        assert sorted(removed) == sorted([dead, dead_dir])
        assert alive.exists() and link.is_symlink() and all(p.exists() for p in keep)
    finally:
        holder.communicate("")
    assert clean_stale(tmp_path / "t") == [alive]  # its writer died: now it is stale


def test_atomic_path_suffix_mode_and_failure(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "model.pt") as tmp:
        assert tmp.name.startswith(".model.pt.") and tmp.name.endswith(TEMP_SUFFIX + ".pt")
        assert stat.S_IMODE(tmp.stat().st_mode) == 0o600
        with open(tmp, "rb") as other, pytest.raises(BlockingIOError):  # held by us
            fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)
        tmp.write_bytes(b"weights")
    assert names(tmp_path) == ["model.pt"]
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.pt") as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError
    assert names(tmp_path) == ["model.pt"]
    with pytest.raises(OutputExistsError), atomic_path(tmp_path / "model.pt",
                                                       overwrite=False) as tmp:
        pass
    stale = tmp_path / f".model.pt.abcdefgh{TEMP_SUFFIX}.pt"
    stale.write_bytes(b"left by a SIGKILL")
    with atomic_path(tmp_path / "model.pt") as tmp:
        assert not stale.exists()
        tmp.write_bytes(b"again")
    assert (tmp_path / "model.pt").read_bytes() == b"again"


@pytest.mark.parametrize(("call", "overwrite"), [
    ("fsync", True), ("fsync", False), ("chmod", True), ("chmod", False),
    ("replace", True), ("link", False)])
def test_atomic_path_commit_failure_is_a_typed_error_naming_the_target(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, call: str, overwrite: bool) -> None:
    """A full disk at fsync, chmod or the final rename/link is an OutputPathError that
    names the target (the OSError chained as its cause), and no partial file is left."""
    target = tmp_path / "model.pt"
    if overwrite:
        target.write_bytes(b"old")
    full = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def fail(*args: object, **kwargs: object) -> None:
        raise full

    with (pytest.raises(OutputPathError, match=r"model\.pt: cannot write: ") as info,
          atomic_path(target, overwrite=overwrite) as tmp):
        tmp.write_bytes(b"new weights")
        monkeypatch.setattr(os, call, fail)
    monkeypatch.undo()
    assert not isinstance(info.value, OutputExistsError)
    assert info.value.__cause__ is full
    assert names(tmp_path) == (["model.pt"] if overwrite else [])
    if overwrite:
        assert target.read_bytes() == b"old"


# ---- trees ----------------------------------------------------------------------------------


def test_a_tree_appears_whole(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with atomic_tree(target) as tree:
        for rel in ("a", "sub/b", "sub/deeper/c"):
            with tree.file(rel, mode=0o600) as out:
                out.write(rel.encode())
            assert not target.exists()
        # the hidden directory holds directories only: no file has a name yet
        assert [p for p in tree.temp.rglob("*") if not p.is_dir()] == []
    assert names(tmp_path) == ["out", "out/a", "out/sub", "out/sub/b", "out/sub/deeper",
                               "out/sub/deeper/c"]
    assert (target / "sub/deeper/c").read_bytes() == b"sub/deeper/c"


def test_a_failed_tree_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), atomic_tree(tmp_path / "out") as tree:
        with tree.file("a", mode=0o600) as out:
            out.write(b"a")
        raise RuntimeError
    assert names(tmp_path) == []


def test_tree_existing_targets(tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.mkdir()  # an empty directory holds nothing to lose: filled
    with atomic_tree(target) as tree, tree.file("a", mode=0o600) as out:
        out.write(b"1")
    assert names(target) == ["a"]
    with pytest.raises(OutputExistsError, match=f"^{target}: already exists.*--force"):
        atomic_tree(target).__enter__()
    with atomic_tree(target, overwrite=True) as tree, tree.file("b", mode=0o600) as out:
        out.write(b"2")
    assert names(tmp_path) == ["out", "out/b"]  # the old tree is gone, not merged
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(OutputPathError, match="exists and is not a directory"):
        atomic_tree(tmp_path / "file", overwrite=True).__enter__()


def test_tree_target_that_fills_meanwhile_is_not_clobbered(tmp_path: Path) -> None:
    target = tmp_path / "out"
    with pytest.raises(OutputExistsError), atomic_tree(target) as tree:
        with tree.file("a", mode=0o600) as out:
            out.write(b"ours")
        target.mkdir()
        (target / "theirs").write_bytes(b"theirs")
    assert names(tmp_path) == ["out", "out/theirs"]


def test_tree_two_inputs_for_one_output(tmp_path: Path) -> None:
    with pytest.raises(OutputPathError, match="two inputs map to this output"), \
            atomic_tree(tmp_path / "out") as tree:
        for _ in range(2):
            with tree.file("a", mode=0o600, source="x") as out:
                out.write(b"a")
    assert names(tmp_path) == []


def test_many_files_are_linked_into_the_hidden_directory_beyond_the_limit(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(output_file, "_pending_limit", lambda: 3)
    with atomic_tree(tmp_path / "out") as tree:
        for i in range(7):
            with tree.file(f"f{i}", mode=0o600) as out:
                out.write(b"%d" % i)
        assert len(tree._pending) == 1  # two batches of 3 linked, one still unnamed
        assert sorted(p.name for p in tree.temp.iterdir()) == [f"f{i}" for i in range(6)]
    assert names(tmp_path / "out") == [f"f{i}" for i in range(7)]


def test_a_dead_runs_tree_directory_is_removed_by_the_next(tmp_path: Path) -> None:
    stale = tmp_path / f".out.abcdefgh{TEMP_SUFFIX}"
    (stale / "sub").mkdir(parents=True)
    (stale / "sub" / "x").write_bytes(b"complete plaintext of a killed run")
    with atomic_tree(tmp_path / "out") as tree, tree.file("a", mode=0o600) as out:
        out.write(b"a")
    assert names(tmp_path) == ["out", "out/a"]


def test_the_current_directory_is_refused_as_a_tree(tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    for target in (".", str(tmp_path)):
        with pytest.raises(OutputPathError, match="current directory"):
            atomic_tree(target, overwrite=True).__enter__()


def test_a_dangling_symlink_is_an_existing_tree_target(tmp_path: Path) -> None:
    """As for files: a symlink to nothing is something at the name, not a redirect; the
    tree is not written wherever the link points."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (tmp_path / "out").symlink_to(elsewhere / "victim")
    for overwrite in (False, True):
        with pytest.raises((OutputExistsError, OutputPathError)), \
                atomic_tree(tmp_path / "out", overwrite=overwrite) as tree, \
                tree.file("a", mode=0o600) as out:
            out.write(b"plain")
        assert list(elsewhere.iterdir()) == []
        assert (tmp_path / "out").is_symlink()


def test_ctrl_c_while_swapping_trees_puts_the_old_tree_back(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--force: a KeyboardInterrupt out of the rename that brings the new tree in must not
    leave the old tree under a hidden name (which the next run deletes)."""
    target = tmp_path / "out"
    target.mkdir()
    (target / "old").write_bytes(b"keep")
    real_rename = os.rename
    calls = []

    def rename(src: object, dst: object) -> None:
        calls.append(dst)
        if len(calls) == 2:  # old tree aside (1), then new tree in (2)
            raise KeyboardInterrupt
        real_rename(src, dst)  # type: ignore[arg-type]

    with pytest.raises(KeyboardInterrupt), atomic_tree(target, overwrite=True) as tree:
        with tree.file("new", mode=0o600) as out:
            out.write(b"x")
        monkeypatch.setattr(output_file.os, "rename", rename)
    monkeypatch.undo()
    assert (target / "old").read_bytes() == b"keep"
    assert names(tmp_path) == ["out", "out/old"]

"""The journal that lets ``pqml migrate --apply`` resume after a crash.

Each artifact is replaced atomically (a complete, checked new version renamed over it),
so a crash never leaves a half-migrated file. What a crash can lose is the bookkeeping
after the rename: recording the migration (keyring usage, the lead's log seam) happens
once per artifact, and a process killed between the rename and that record would, on
rerun, find an artifact that is already post-quantum and say "nothing to do", so the
record would be lost. The journal closes that window. It is a JSON-lines file, appended
and ``fdatasync``-ed, one record per step (constant cost per artifact, whatever the
number of artifacts):

``planned``  before the artifact is touched, with its fingerprint (``before``);
``done``     after the new version is in place and recorded.

A rerun of the same migration (same paths and targets: the journal's name is a digest of
them) finds the journal, and for an artifact left ``planned`` whose file no longer has its
``before`` fingerprint (the rename happened) finishes the record instead of migrating
again; one still at ``before`` is migrated as if new. A crash between the record and
``done`` records that artifact twice (at least once, never lost). A last line cut short
by a crash is ignored (it was never synced, so nothing after it happened); any other bad
line makes the journal unreadable (:class:`MigrationError`, nothing changed). When every
artifact is ``done`` the journal is removed, so a rerun after success finds nothing to
resume and nothing to change. One process at a time works on a journal (an exclusive
``flock`` on its lock file); a second gets :class:`MigrationError` at once.

Fingerprints are SHA-256 over the size, the first MiB and the last 64 KiB: cheap for a
100 GB file, and they tell the old version from the new one for every kind migrated
here (the header, at the start, always changes; a bundle grows by a signature).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pqml.keys.errors import MigrationError

VERSION = 1
HEAD, TAIL = 1 << 20, 64 << 10
State = Literal["planned", "done"]


def journals_dir(home: Path | None = None) -> Path:
    """``$PQML_HOME/journals`` (:func:`pqml._internal.home.pqml_home` without ``home``)."""
    from pqml._internal.home import pqml_home

    return Path(home if home is not None else pqml_home()) / "journals"


def fingerprint(path: str | os.PathLike[str]) -> str:
    """``size:sha256`` of the size, first MiB and last 64 KiB of ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        h.update(size.to_bytes(8, "big"))
        h.update(f.read(HEAD))
        if size > HEAD:
            f.seek(max(HEAD, size - TAIL))
            h.update(f.read(TAIL))
    return f"{size}:{h.hexdigest()}"


@dataclass
class Entry:
    path: str
    kind: str
    state: State
    before: str


class Journal:
    """The journal of one migration run, locked by this process while it is open."""

    def __init__(self, path: Path, lock_fd: int, entries: dict[str, Entry]) -> None:
        self.path = path
        self._lock_fd = lock_fd
        self.entries = entries

    @classmethod
    @contextlib.contextmanager
    def open(cls, run_id: str, home: Path | None = None) -> Iterator[Journal]:
        """The journal named ``run_id`` (new, or left by an interrupted run), locked."""
        from pqml._internal.home import ensure_private_dir

        directory = journals_dir(home)
        try:
            ensure_private_dir(directory)
        except OSError as exc:
            raise MigrationError(f"{directory}: cannot create the journal directory: "
                                 f"{exc.strerror or exc}") from None
        path = directory / f"migrate-{run_id}.json"
        lock_path = directory / f"migrate-{run_id}.lock"
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EACCES):
                    raise MigrationError(f"{path}: another pqml migrate is running this "
                                         "migration right now; run again when it has "
                                         "finished") from None
                raise
            journal = cls(path, fd, cls._load(path))
            yield journal
        finally:
            os.close(fd)  # releases the lock; the lock file itself is harmless

    @staticmethod
    def _load(path: Path) -> dict[str, Entry]:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return {}
        entries: dict[str, Entry] = {}
        lines = data.split(b"\n")
        complete = data.endswith(b"\n")
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if record.get("v") != VERSION:
                    raise ValueError(f"version {record.get('v')!r}")
                entry = entries.get(record["path"])
                if entry is None:
                    entries[record["path"]] = Entry(record["path"], record["kind"],
                                                    record["state"], record["before"])
                else:
                    entry.state = record["state"]
                    entry.before = record.get("before") or entry.before
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                if number == len(lines) and not complete:
                    break  # the unsynced tail of an append a crash cut short
                raise MigrationError(f"{path}: the migration journal is unreadable (line "
                                     f"{number}: {exc}); check the artifacts it names, "
                                     "then delete it") from None
        return entries

    def _append(self, entry: Entry) -> None:
        line = json.dumps({"v": VERSION, **asdict(entry)}, separators=(",", ":")) + "\n"
        flags = os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o600)
            try:
                if os.fstat(fd).st_size and not self._ends_with_newline(fd):
                    os.write(fd, b"\n")  # after a torn line: start a fresh one
                os.write(fd, line.encode())
                os.fdatasync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise MigrationError(f"{self.path}: cannot write the migration journal: "
                                 f"{exc.strerror or exc}") from None

    @staticmethod
    def _ends_with_newline(fd: int) -> bool:
        size = os.fstat(fd).st_size
        return os.pread(fd, 1, size - 1) == b"\n"

    def mark(self, path: str, kind: str, state: State, *, before: str | None = None) -> None:
        """Record ``state`` for ``path`` durably (appended and synced)."""
        entry = self.entries.get(path)
        if entry is None:
            if before is None:
                raise MigrationError(f"{path}: not in the migration journal")
            entry = self.entries[path] = Entry(path, kind, state, before)
        entry.state = state
        if before is not None:
            entry.before = before
        self._append(entry)

    def pending(self, path: str) -> Entry | None:
        """The entry of an artifact a previous run started and did not finish."""
        entry = self.entries.get(path)
        return entry if entry is not None and entry.state != "done" else None

    def finish(self) -> bool:
        """Remove the journal if every artifact is done; True if it was removed (or never
        written)."""
        if any(e.state != "done" for e in self.entries.values()):
            return False
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        return True

    def as_dict(self) -> dict[str, Any]:
        return {"journal": str(self.path),
                "artifacts": [asdict(e) for e in self.entries.values()]}

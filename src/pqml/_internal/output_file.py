"""Outputs that appear whole or not at all, never over an input, and never over an
existing output unless the caller said so.

Three shapes of the same rule. :class:`AtomicOutput` (and :func:`atomic_output`,
:func:`write_atomic`) is a write-only file for streams: on Linux it is an *unnamed* file
(``O_TMPFILE``) in the destination directory, mode 0600, given its name only by
:meth:`AtomicOutput.commit` after the whole input was read and authenticated. Until
then no name exists on disk, so even SIGKILL leaves nothing: the kernel frees an
unnamed file when its last descriptor closes (a journaling filesystem, after a
crash). :class:`AtomicTree` builds a directory tree in a hidden temporary directory
whose files stay unnamed until the whole tree is done, then renames it into place.
:func:`atomic_path` yields a temporary *path* for libraries that open files themselves
(``torch.save``, ``joblib.dump``): an unnamed file cannot be handed to them, so that one
is a named ``.NAME.XXXXXXXX.pqml-tmp.SUFFIX``, 0600, deleted on any exception; a SIGKILL
can leave it (the clean-up below removes it on the next write of the same output).

Where ``O_TMPFILE`` is missing (not Linux, no ``/proc``, or a filesystem that returns
EOPNOTSUPP/EISDIR/EINVAL, e.g. some network and FUSE filesystems), outputs fall back to
a named temporary ``.NAME.XXXXXXXX.pqml-tmp`` beside the target. A SIGKILL can leave such
a file, so every new output first removes the stale temporaries pqml left for the same
name (:func:`clean_stale`). "Stale" is decided by a lock, not by age or pid: the writer
holds ``flock(LOCK_EX)`` on its temporary for its whole life and the kernel drops the lock
when the writer dies, even by SIGKILL. An age limit would delete the file of a live
writer stalled on a slow pipe, and a pid is reused and means nothing to another NFS
client; a lock has neither problem.

Refusing to overwrite is race-free: without ``overwrite`` the file gets its name through
``link(2)``, which fails with EEXIST if anything appeared there meanwhile; with it,
through a rename over the old file, which a reader sees as old or new, never a mix.

Write errors become :class:`OutputPathError` naming the target, so "disk full" is one
line that says which output could not be written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pqml._internal.errors import OutputExistsError, OutputPathError

TEMP_SUFFIX = ".pqml-tmp"
"""Every temporary name pqml creates (files and directories) contains this."""

_NO_TMPFILE = {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EISDIR, errno.EINVAL, errno.ENOSYS}
_NO_HARDLINK = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS}
MAX_PENDING = 1024
"""At most this many finished tree files are held unnamed at once (a quarter of the
open-file limit if lower); beyond, finished files are linked into the hidden directory."""


def exists_message(target: str | os.PathLike[str]) -> str:
    return (f"{target}: already exists; refusing to overwrite it (use --force, or "
            "force=True, to replace it)")


def _refuse_existing(target: Path, shown: Path) -> None:
    if os.path.lexists(target):
        if target.is_dir() and not target.is_symlink():
            raise OutputPathError(f"{shown}: is a directory (name a file as the output)")
        raise OutputExistsError(exists_message(shown))


def _write_error(target: Path, exc: OSError) -> OutputPathError:
    return OutputPathError(f"{target}: cannot write: {exc.strerror or exc} "
                           "(no output was left)")


# ---- locks and stale temporaries ------------------------------------------------------------


def _lock(fd: int, *, wait: bool) -> bool:
    """flock ``fd``; False if another process holds it (or, for the non-waiting
    cleaner, if the filesystem cannot lock: then nobody can tell it is stale)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: no clean-up, no lock
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except OSError:
        return False
    return True


def _temp_pattern(name: str) -> re.Pattern[str]:
    suffix = Path(name).suffix
    tail = f"(?:{re.escape(suffix)})?" if suffix else ""
    # ``tempfile``'s random part: 8 characters of [a-z0-9_]
    return re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}{re.escape(TEMP_SUFFIX)}{tail}")


def clean_stale(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries (files or directories) that dead pqml processes left for
    ``target``: ``.NAME.XXXXXXXX.pqml-tmp[.SUFFIX]`` beside it, owned by us, not locked
    by a live writer. Returns what was removed; errors leave a file in place."""
    path = Path(target)
    parent = path.parent
    pattern = _temp_pattern(path.name)
    removed = []
    try:
        names = [e.name for e in os.scandir(parent) if pattern.fullmatch(e.name)]
    except OSError:
        return []
    for name in names:
        if _remove_if_stale(parent / name):
            removed.append(parent / name)
    return removed


def _remove_if_stale(path: Path) -> bool:
    try:
        st = os.lstat(path)
        if st.st_uid != os.geteuid():
            return False
        if stat.S_ISREG(st.st_mode):
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        elif stat.S_ISDIR(st.st_mode):
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC)
        else:
            return False
    except OSError:
        return False
    try:
        held = os.fstat(fd)
        if (held.st_dev, held.st_ino) != (st.st_dev, st.st_ino) or not _lock(fd, wait=False):
            return False
        # Locked: its writer is dead. Remove it while holding the lock, so a writer that
        # created it an instant ago and is waiting for the lock sees it gone and retries.
        if stat.S_ISDIR(st.st_mode):
            _rmtree(path)
            return not os.path.lexists(path)
        os.unlink(path)
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


def _locked(fd: int, path: Path) -> bool:
    """Lock our new temporary ``path`` (open as ``fd``); False if a cleaner removed it
    between its creation and our lock (then create another)."""
    _lock(fd, wait=True)
    try:
        now, held = os.stat(path, follow_symlinks=False), os.fstat(fd)
    except FileNotFoundError:
        return False
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)


def _named_temp(parent: Path, name: str, suffix: str = "") -> tuple[int, Path]:
    """A new locked ``.NAME.XXXXXXXX.pqml-tmp[SUFFIX]`` file in ``parent``, mode 0600."""
    while True:
        fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=TEMP_SUFFIX + suffix,
                                   dir=parent)
        if _locked(fd, Path(tmp)):
            return fd, Path(tmp)
        os.close(fd)


def _unnamed_temp(parent: Path) -> int | None:
    """An unnamed (``O_TMPFILE``) file in ``parent``, mode 0600; None where the system or
    filesystem has none (an OSError of another kind is raised)."""
    flag = getattr(os, "O_TMPFILE", 0)
    if not flag or not os.path.isdir("/proc/self/fd"):
        return None
    try:
        fd = os.open(parent, flag | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        if exc.errno in _NO_TMPFILE:
            return None
        raise
    _lock(fd, wait=True)  # only matters once linked under a temporary name (commit)
    return fd


def _link_fd(fd: int, parent: Path, name: str) -> None:
    """Give the unnamed file ``fd`` the name ``parent/name`` (EEXIST if taken):
    linkat(AT_SYMLINK_FOLLOW) through /proc, which needs no privilege."""
    dir_fd = os.open(parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.link(f"/proc/self/fd/{fd}", name, dst_dir_fd=dir_fd, follow_symlinks=True)
    finally:
        os.close(dir_fd)


def _link_named(temp: Path, target: Path) -> None:
    """Link the finished named temporary ``temp`` to ``target`` without replacing
    anything (EEXIST if taken), then drop ``temp``. Filesystems without hard links get
    an existence check and a rename: the one case where a file created in between
    could be replaced."""
    try:
        os.link(temp, target, follow_symlinks=False)
    except OSError as exc:
        if exc.errno not in _NO_HARDLINK:
            raise
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST)) from None
        os.rename(temp, target)
        return
    with contextlib.suppress(OSError):  # the output is in place: a leftover name is harmless
        os.unlink(temp)


# ---- one file -------------------------------------------------------------------------------


class AtomicOutput:
    """A write-only binary file that becomes ``target`` on :meth:`commit`.

    ``overwrite=False`` refuses an existing target, up front and again, race-free, at
    commit (:class:`OutputExistsError`). ``shown_as`` is the name errors give (a tree's
    final path while the file is built in its hidden directory). ``temp`` is a path any
    process of this user can open for writing (the parallel workers do): the named
    temporary, or ``/proc/PID/fd/N`` for an unnamed one."""

    def __init__(self, target: str | os.PathLike[str], *, mode: int = 0o600,
                 overwrite: bool = True, shown_as: str | os.PathLike[str] | None = None,
                 clean: bool = True) -> None:
        self.path = Path(target)
        self.target = Path(shown_as) if shown_as is not None else self.path
        self._mode = mode
        self._overwrite = overwrite
        self.size = 0
        parent = self.path.parent
        if not parent.is_dir():
            raise OutputPathError(f"{self.target}: the output directory does not exist")
        if self.path.is_dir():
            raise OutputPathError(f"{self.target}: is a directory (name a file as the output)")
        if not overwrite:
            _refuse_existing(self.path, self.target)
        if clean:
            clean_stale(self.path)
        try:
            fd = _unnamed_temp(parent)
            if fd is None:
                fd, self.temp = _named_temp(parent, self.path.name)
                self.named = True
            else:
                self.temp = Path(f"/proc/{os.getpid()}/fd/{fd}")
                self.named = False
        except OSError as exc:
            raise OutputPathError(f"{self.target}: cannot create the output: "
                                  f"{exc.strerror or exc}") from None
        self._file: Any = os.fdopen(fd, "wb", buffering=0)
        self._fd = fd

    def write(self, data: Any) -> int:
        view = memoryview(data)
        try:
            while len(view):
                n = self._file.write(view)
                if n is None or n <= 0:  # pragma: no cover - raw files block
                    raise OSError(errno.EIO, "short write")
                view = view[n:]
                self.size += n
        except OSError as exc:
            raise _write_error(self.target, exc) from None
        return len(data)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return int(self._file.fileno())

    def flush(self) -> None:
        return None

    def commit(self) -> None:
        """Name the finished file ``target`` (with ``mode``): a link that fails if the
        target appeared meanwhile, or with ``overwrite`` a rename over it."""
        try:
            os.fchmod(self._fd, self._mode)
            if self.named:
                if self._overwrite:
                    os.replace(self.temp, self.path)
                else:
                    _link_named(self.temp, self.path)
            elif self._overwrite:
                self._replace_unnamed()
            else:
                _link_fd(self._fd, self.path.parent, self.path.name)
        except FileExistsError:
            self.discard()
            raise OutputExistsError(exists_message(self.target)) from None
        except OSError as exc:
            self.discard()
            raise _write_error(self.target, exc) from None
        with contextlib.suppress(OSError):
            self._file.close()

    def _replace_unnamed(self) -> None:
        """link(2) cannot replace: link under a fresh temporary name (still locked by
        us, and already complete), then rename that over the target."""
        parent = self.path.parent
        while True:
            name = f".{self.path.name}.{_random_part()}{TEMP_SUFFIX}"
            try:
                _link_fd(self._fd, parent, name)
                break
            except FileExistsError:
                continue
        try:
            os.replace(parent / name, self.path)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(parent / name)
            raise

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        if self.named:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.temp)


def _random_part() -> str:
    """8 characters like ``tempfile``'s (its pattern is what :func:`clean_stale` matches),
    from the system's randomness: a program's ``random.seed`` must not make them collide."""
    import random

    return "".join(random.SystemRandom().choices("abcdefghijklmnopqrstuvwxyz0123456789_",
                                                 k=8))


def _rmtree(path: Path) -> None:
    import shutil  # only trees need it

    shutil.rmtree(path, ignore_errors=True)


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike[str], *, mode: int = 0o600,
                  overwrite: bool = True) -> Iterator[AtomicOutput]:
    """``with atomic_output(path) as out: out.write(...)`` — named only if the block
    completes; gone on any exception, KeyboardInterrupt included. ``overwrite=True``
    (for rekey, torch/joblib/safetensors saves) replaces an existing target; pass
    ``False`` to refuse it."""
    out = AtomicOutput(target, mode=mode, overwrite=overwrite)
    try:
        yield out
    except BaseException:
        out.discard()
        raise
    out.commit()


def write_atomic(target: str | os.PathLike[str], data: bytes, *, mode: int = 0o644,
                 overwrite: bool = True) -> None:
    """Write ``data`` to ``target`` whole or not at all, synced before it is named."""
    with atomic_output(target, mode=mode, overwrite=overwrite) as out:
        out.write(data)
        try:
            os.fsync(out.fileno())
        except OSError as exc:
            raise _write_error(out.target, exc) from None


# ---- inputs ---------------------------------------------------------------------------------


def same_file(a: str | os.PathLike[str], b: str | os.PathLike[str]) -> bool:
    """True if ``b`` exists and is ``a`` (by inode), or both name the same path."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def check_not_input(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """Refuse to write an output over its own input (inputs are never modified)."""
    if same_file(src, dst):
        raise OutputPathError(f"{dst}: the output is the input file; refusing to overwrite "
                              "an input (choose another -o)")


def is_inside(child: str | os.PathLike[str], parent: str | os.PathLike[str]) -> bool:
    c, p = Path(child).resolve(), Path(parent).resolve()
    return c == p or p in c.parents


# ---- a path for libraries -------------------------------------------------------------------


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, mode: int = 0o644,
                overwrite: bool = True) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``target`` (same suffix, so tools that pick a
    format from the extension still do); on success it is fsynced and renamed over it.

    The limit: a library opens the path itself, so the file must have a name while it
    is written. It is 0600 from birth and deleted on any exception; a SIGKILL can leave
    it, and the next write of ``target`` removes it (its lock is gone). A failed fsync,
    chmod or rename (disk full) is an OutputPathError naming ``target``."""
    path = Path(target)
    parent = path.parent
    if not overwrite:
        _refuse_existing(path, path)
    clean_stale(path)
    try:
        fd, tmp = _named_temp(parent, path.name, path.suffix)
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot create the output: "
                              f"{exc.strerror or exc}") from None
    try:
        yield tmp
        try:
            with open(tmp, "rb+") as handle:
                os.fsync(handle.fileno())
            os.chmod(tmp, mode)
            if overwrite:
                os.replace(tmp, path)
            else:
                try:
                    _link_named(tmp, path)
                except FileExistsError:
                    raise OutputExistsError(exists_message(path)) from None
        except OutputExistsError:
            raise
        except OSError as exc:
            raise _write_error(path, exc) from exc
    finally:
        os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


# ---- a directory tree -----------------------------------------------------------------------


def _pending_limit() -> int:
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    except (ImportError, OSError, ValueError):  # pragma: no cover - not POSIX
        return 64
    if soft == resource.RLIM_INFINITY or soft <= 0:
        return MAX_PENDING
    return max(8, min(MAX_PENDING, soft // 4))


def _default_dir_mode() -> int:
    """What ``mkdir`` would give: 0777 less the umask (read without changing it where
    /proc tells it, since changing it is visible to every thread)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o777 & ~int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o777 & ~mask


class AtomicTree:
    """A directory tree that appears under ``target`` whole or not at all.

    It is built in a hidden, locked ``.NAME.XXXXXXXX.pqml-tmp`` directory beside
    ``target``; each finished file stays unnamed until :meth:`commit` (up to
    :data:`MAX_PENDING` of them, then they are linked into the hidden directory), which
    links them in and renames the directory into place. A killed run leaves at most that
    hidden directory (holding only subdirectories, for trees of up to MAX_PENDING files;
    whole files if killed in the instant between linking and renaming), removed by the
    next :class:`AtomicTree` for the same target.

    An existing ``target`` must be an empty directory unless ``overwrite``: then the old
    tree is moved aside under a locked hidden name, the new one renamed in, the old one
    deleted (a crash in between leaves no target and the old tree hidden, removed by the
    next run)."""

    def __init__(self, target: str | os.PathLike[str], *, overwrite: bool = False) -> None:
        self.target = Path(target)
        self._final = Path(os.path.realpath(self.target))  # ".", "..", a symlinked dir
        self._overwrite = overwrite
        self._pending: list[AtomicOutput] = []
        self._names: dict[Path, str] = {}
        self._limit = _pending_limit()
        parent = self._final.parent
        if not parent.is_dir():
            raise OutputPathError(f"{self.target}: the parent directory does not exist")
        inside = False
        with contextlib.suppress(OSError):  # no current directory: nothing to protect
            inside = is_inside(os.getcwd(), self._final)
        if inside:
            raise OutputPathError(f"{self.target}: is the current directory or contains it; "
                                  "choose another output directory")
        if os.path.islink(self.target) and not os.path.exists(self.target):
            # a symlink to nothing is something at the name (as for files), not a
            # redirect: the tree would otherwise appear wherever the link points
            raise OutputPathError(f"{self.target}: is a symbolic link to nothing; remove it "
                                  "or choose another output directory")
        if os.path.lexists(self._final):
            if not self._final.is_dir():
                raise OutputPathError(f"{self.target}: exists and is not a directory")
            with os.scandir(self._final) as entries:
                empty = next(entries, None) is None
            if not empty and not overwrite:
                raise OutputExistsError(exists_message(self.target))
        clean_stale(self._final)
        try:
            self._fd, self.temp = _locked_dir(parent, self._final.name)
        except OSError as exc:
            raise OutputPathError(f"{self.target}: cannot create the output: "
                                  f"{exc.strerror or exc}") from None

    def output(self, rel: str | os.PathLike[str], *, mode: int, source: str = ""
               ) -> AtomicOutput:
        """A new unnamed file for ``rel`` (relative to the tree); hand it back to
        :meth:`finished` once complete, or :meth:`AtomicOutput.discard` it. ``source``
        names the input, for the error when two inputs map to one output."""
        rel = Path(rel)
        shown = self.target / rel
        if rel in self._names:
            raise OutputPathError(f"{shown}: two inputs map to this output "
                                  f"({self._names[rel]} and {source})")
        self._names[rel] = source
        dest = self.temp / rel
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _write_error(shown, exc) from None
        return AtomicOutput(dest, mode=mode, overwrite=False, shown_as=shown, clean=False)

    @contextlib.contextmanager
    def file(self, rel: str | os.PathLike[str], *, mode: int, source: str = ""
             ) -> Iterator[AtomicOutput]:
        """``with tree.file(rel, mode=...) as out:`` — :meth:`output`, handed to
        :meth:`finished` if the block completes, discarded on any exception."""
        out = self.output(rel, mode=mode, source=source)
        try:
            yield out
        except BaseException:
            out.discard()
            raise
        self.finished(out)

    def finished(self, out: AtomicOutput) -> None:
        self._pending.append(out)
        if len(self._pending) >= self._limit:
            self._link_pending()

    def _link_pending(self) -> None:
        while self._pending:
            self._pending.pop().commit()

    def commit(self) -> None:
        """Link the pending files in and rename the tree into place (over nothing or an
        empty directory; with ``overwrite``, swapping the old tree out)."""
        try:
            self._link_pending()
            os.chmod(self.temp, _default_dir_mode())
            if self._overwrite and os.path.lexists(self._final):
                self._swap()
            else:
                os.rename(self.temp, self._final)  # fails over anything but an empty dir
        except OSError as exc:
            self.discard()
            if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
                raise OutputExistsError(exists_message(self.target)) from None
            raise _write_error(self.target, exc) from None
        except BaseException:
            self.discard()
            raise
        os.close(self._fd)

    def _swap(self) -> None:
        """Old tree aside under a hidden name, locked (so only a later run, after we
        died, may delete it), new tree in, old tree deleted."""
        old_fd = os.open(self._final, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            _lock(old_fd, wait=True)
            while True:
                old = self._final.parent / f".{self._final.name}.{_random_part()}{TEMP_SUFFIX}"
                if not os.path.lexists(old):
                    break
            os.rename(self._final, old)
            try:
                os.rename(self.temp, self._final)
            except BaseException:  # Ctrl-C too: a hidden old tree is deleted by the next run
                with contextlib.suppress(OSError):
                    os.rename(old, self._final)
                raise
            _rmtree(old)
        finally:
            os.close(old_fd)

    def discard(self) -> None:
        for out in self._pending:
            out.discard()
        self._pending.clear()
        _rmtree(self.temp)
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _locked_dir(parent: Path, name: str) -> tuple[int, Path]:
    """A new locked, empty ``.NAME.XXXXXXXX.pqml-tmp`` directory (0700) in ``parent``."""
    while True:
        path = Path(tempfile.mkdtemp(prefix=f".{name}.", suffix=TEMP_SUFFIX, dir=parent))
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        if _locked(fd, path):
            return fd, path
        os.close(fd)


@contextlib.contextmanager
def atomic_tree(target: str | os.PathLike[str], *, overwrite: bool = False
                ) -> Iterator[AtomicTree]:
    """``with atomic_tree(dir) as tree: ...`` — the tree appears only if the block
    completes; the hidden directory is deleted on any exception."""
    tree = AtomicTree(target, overwrite=overwrite)
    try:
        yield tree
    except BaseException:
        tree.discard()
        raise
    tree.commit()

"""List and open a model's files without ever leaving the model root.

A model is a single regular file or a directory tree. Names are POSIX paths relative to the
root, as OMS resources record them; a single-file model has the one name ``"."``.

Why this module is strict:

* **Symlinks** are refused unless the caller allows them, and then followed only when the
  target is a regular file inside the model root: a link to ``~/.ssh/id_ed25519`` must never
  be hashed into a signature, and a link swapped in after signing must never be loaded.
* **Opening** walks the name one component at a time with ``O_NOFOLLOW`` relative to the
  parent directory's descriptor, so a directory renamed or replaced by a link between listing
  and opening cannot redirect the read outside the root (the hole model_signing's PR #647
  closed in name handling; this closes it in file access too).
* **Special files** are never read: every open is non-blocking (a FIFO would otherwise
  block until a writer appears) and ``fstat`` must show a regular file before a byte is
  read (``/dev/zero`` never ends).
* **Names** come only from this listing or from a statement already validated by
  :mod:`pqml.formats.oms` (no ``..``, absolute paths or backslashes).
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from pqml._internal.text import printable
from pqml.primitives.errors import PqmlError
from pqml.signing.errors import UnsafePathError

SINGLE_FILE = "."
# What model_signing ignores by default (its --ignore-git-paths), recorded as ignore paths.
GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")
# Suffixes of formats that are (or may wrap) pickles: loading one runs arbitrary code.
PICKLE_SUFFIXES = frozenset({
    ".pkl", ".pickle", ".p", ".pt", ".pth", ".bin", ".ckpt", ".joblib", ".jbl", ".npy",
    ".npz", ".dill", ".sav", ".cloudpickle",
})

_O_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_O_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_O_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_O_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # opening a FIFO must not wait for a writer
_BENEATH = bool(_O_NOFOLLOW and _O_DIRECTORY) and os.open in os.supports_dir_fd


@dataclass(frozen=True)
class Listing:
    """The files of a model as found on disk, after ignore paths and exclusions."""

    root: Path
    single_file: bool
    files: dict[str, int]  # name -> size in bytes
    ignored: tuple[str, ...] = ()  # top-most entries an ignore path covered


def display(name: str, root: str | os.PathLike[str] | None = None) -> str:
    """A printable form of a file name (undecodable bytes and control characters shown as
    escapes: a name from an untrusted model must not drive the terminal). Given the model
    ``root``, a single-file model's ``"."`` is shown as that file's name."""
    if name == SINGLE_FILE and root is not None:
        name = Path(root).name or os.path.basename(os.path.realpath(root))
    return printable(name.encode("utf-8", "backslashreplace").decode("utf-8"))


def is_covered(name: str, paths: Iterable[str]) -> bool:
    """True if ``name`` is one of ``paths`` or lies under one (model_signing's rule)."""
    return any(name == p or name.startswith(p + "/") for p in paths)


def normalize_relative(path: str | os.PathLike[str], root: Path) -> str:
    """A user-given path inside the model as a canonical relative name.

    Relative paths are taken relative to the model root; absolute ones must lie inside it.
    """
    raw = os.fspath(path)
    if os.path.isabs(raw):
        base = os.path.realpath(root)
        # Resolve the directories only: a final-component link keeps its own (signed) name.
        target = os.path.join(os.path.realpath(os.path.dirname(raw)), os.path.basename(raw))
        if not _inside(target, base):
            raise UnsafePathError(f"{raw}: not inside the model directory {root}")
        raw = os.path.relpath(target, base)
    if os.sep != "/":
        raw = raw.replace(os.sep, "/")
    name = PurePosixPath(raw).as_posix()  # drops "./", trailing and doubled slashes
    check_name(name, f"{root}: path {raw!r}")
    return name


def check_name(name: str, where: str) -> None:
    """Refuse names a signature cannot carry safely (delegates to the OMS name rule)."""
    from pqml.formats import oms

    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnsafePathError(f"{where}: file name {display(name)!r} is not valid UTF-8") from None
    try:
        oms.check_relative_path(name, "name")
    except oms.BundleFormatError as exc:
        problem = str(exc).split("name: ", 1)[-1]
        raise UnsafePathError(f"{where}: {problem}") from None


def may_hold_pickle(name: str, head: bytes = b"") -> bool:
    """Whether loading this file could unpickle: by suffix, or by pickle / NumPy magic."""
    suffixes = {s.lower() for s in PurePosixPath(name).suffixes}
    if suffixes & PICKLE_SUFFIXES:
        return True
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:  # pickle PROTO opcode
        return True
    return head.startswith(b"\x93NUMPY")  # .npy with allow_pickle can hold objects


def _inside(target: str, base: str) -> bool:
    return target == base or target.startswith(base.rstrip(os.sep) + os.sep)


def list_model(
    root: str | os.PathLike[str],
    *,
    ignore_paths: Iterable[str] = (),
    allow_symlinks: bool = False,
    exclude: Iterable[str] = (),
) -> Listing:
    """Every regular file of the model, with its size.

    ``ignore_paths`` (relative names) and ``exclude`` are skipped without being opened or
    even descended into. Symlinks raise :class:`UnsafePathError` unless ``allow_symlinks``;
    then a link counts as the file it points to, which must lie inside the root. Sockets,
    FIFOs and devices always raise.
    """
    path = Path(root)
    try:
        st = os.stat(path)  # the root itself may be a link: it is the caller's explicit choice
    except FileNotFoundError:
        raise PqmlError(f"{path}: no such file or directory") from None
    if stat.S_ISREG(st.st_mode):
        return Listing(path, True, {SINGLE_FILE: st.st_size})
    if not stat.S_ISDIR(st.st_mode):
        raise UnsafePathError(f"{path}: not a regular file or directory")
    ignore = tuple(ignore_paths)
    skip = frozenset(exclude)
    real_root = os.path.realpath(path)
    files: dict[str, int] = {}
    ignored: list[str] = []
    stack: list[tuple[str, str]] = [("", os.fspath(path))]
    while stack:
        rel_dir, abs_dir = stack.pop()
        with os.scandir(abs_dir) as entries:
            items = sorted(entries, key=lambda e: e.name)
        for entry in items:
            name = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            if is_covered(name, ignore):
                ignored.append(name)
                continue
            if name in skip:
                continue
            if entry.is_symlink():
                files[name] = _link_target_size(path, real_root, name, entry.path, allow_symlinks)
            elif entry.is_dir(follow_symlinks=False):
                stack.append((name, entry.path))
            elif entry.is_file(follow_symlinks=False):
                files[name] = entry.stat(follow_symlinks=False).st_size
            else:
                raise UnsafePathError(
                    f"{path}: {display(name)} is not a regular file (FIFO, socket or device)"
                )
    return Listing(path, False, files, tuple(sorted(ignored)))


def _link_target_size(root: Path, real_root: str, name: str, link: str, allowed: bool) -> int:
    shown = display(name)
    if not allowed:
        raise UnsafePathError(
            f"{root}: {shown} is a symbolic link; links are refused unless --allow-symlinks "
            "is given"
        )
    target = os.path.realpath(link)
    if not _inside(target, real_root):
        raise UnsafePathError(f"{root}: symbolic link {shown} points outside the model")
    try:
        st = os.stat(target)
    except FileNotFoundError:
        raise UnsafePathError(f"{root}: symbolic link {shown} is dangling") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafePathError(
            f"{root}: symbolic link {shown} does not point to a regular file "
            "(links to directories are not followed)"
        )
    return st.st_size


def open_file(root: Path, name: str, *, allow_symlinks: bool = False) -> int:
    """An ``O_RDONLY`` descriptor for the regular file ``name`` beneath ``root``.

    Raises FileNotFoundError if it is missing, :class:`UnsafePathError` if any component is
    a symlink (a final-component link is allowed with ``allow_symlinks`` when its target is
    a regular file inside the root) or the object is not a regular file.
    """
    if name == SINGLE_FILE:
        fd = os.open(root, os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC)
        return _regular(fd, root, name)
    check_name(name, str(root))
    parts = name.split("/")
    if not _BENEATH:
        return _open_by_path(root, name, allow_symlinks)
    dir_fd = os.open(root, os.O_RDONLY | _O_DIRECTORY | _O_CLOEXEC)
    try:
        for part in parts[:-1]:
            try:
                next_fd = os.open(
                    part, os.O_RDONLY | _O_DIRECTORY | _O_NOFOLLOW | _O_CLOEXEC, dir_fd=dir_fd
                )
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise FileNotFoundError(
                        errno.ENOENT, "a path component is not a directory", name
                    ) from None
                raise
            os.close(dir_fd)
            dir_fd = next_fd
        try:
            fd = os.open(parts[-1], os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC,
                         dir_fd=dir_fd)
        except OSError as exc:
            if exc.errno != errno.ELOOP:
                raise
            if not allow_symlinks:
                raise UnsafePathError(
                    f"{root}: {display(name)} is a symbolic link; links are refused unless "
                    "--allow-symlinks is given"
                ) from None
            return _open_by_path(root, name, True)
    finally:
        os.close(dir_fd)
    return _regular(fd, root, name)


def _open_by_path(root: Path, name: str, allow_symlinks: bool) -> int:
    """Fallback (and followed links): resolve, check the target is inside, open it."""
    real_root = os.path.realpath(root)
    joined = os.path.join(root, *name.split("/"))
    target = os.path.realpath(joined)
    if not _inside(target, real_root):
        raise UnsafePathError(f"{root}: {display(name)} resolves outside the model")
    if not allow_symlinks and target != os.path.join(real_root, *name.split("/")):
        raise UnsafePathError(f"{root}: {display(name)} goes through a symbolic link")
    fd = os.open(target, os.O_RDONLY | _O_NOFOLLOW | _O_NONBLOCK | _O_CLOEXEC)
    return _regular(fd, root, name)


def _regular(fd: int, root: Path, name: str) -> int:
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePathError(f"{root}: {display(name, root)} is not a regular file")
    return fd


def read_regular(path: Path, limit: int, what: str) -> bytes:
    """At most ``limit + 1`` bytes of the regular file at ``path`` (links followed: the
    caller named it), opened non-blocking; UnsafePathError for a FIFO, device or directory.
    A result longer than ``limit`` tells the caller the file is too large, whatever size
    ``stat`` reported (``/proc`` files report 0)."""
    fd = os.open(path, os.O_RDONLY | _O_NONBLOCK | _O_CLOEXEC)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise UnsafePathError(f"{path}: {what} is not a regular file")
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, 1 << 20))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_head(root: Path, name: str, size: int = 8, *, allow_symlinks: bool = False) -> bytes:
    """The first bytes of a file (for sniffing pickles); b"" if it cannot be opened."""
    try:
        fd = open_file(root, name, allow_symlinks=allow_symlinks)
    except (OSError, PqmlError):
        return b""
    try:
        return os.pread(fd, size, 0)
    finally:
        os.close(fd)

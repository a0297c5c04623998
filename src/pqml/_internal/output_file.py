"""Outputs that appear whole or not at all, and never over an input.

Two shapes of the same rule: :class:`AtomicOutput` is a write-only file object for
streams (encryption), :func:`atomic_path` yields a temporary *path* for libraries that
open files themselves (``torch.save``, ``joblib.dump``, signature bundles). Both write
beside the target and rename over it only on success; unlike key files, these outputs
may replace an existing file (re-signing a model, re-saving a checkpoint).

Encryption and decryption write into a temporary file in the destination directory
(``.NAME.XXXX.pqml-tmp``, mode 0600 from birth) and rename it over the target only after
the whole input was read and authenticated. Any failure — a wrong key, a tampered or
truncated file, a full disk, Ctrl-C — deletes the temporary file, so no partial
plaintext or half-written ciphertext is ever left, and an existing target is untouched.

Write errors become :class:`OutputPathError` naming the target, so "disk full" is one
line that says which output could not be written.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pqml._internal.errors import OutputPathError

TEMP_SUFFIX = ".pqml-tmp"


class AtomicOutput:
    """A write-only binary file that becomes ``target`` on :meth:`commit`."""

    def __init__(self, target: str | os.PathLike[str], *, mode: int = 0o600) -> None:
        self.target = Path(target)
        parent = self.target.parent
        if not parent.is_dir():
            raise OutputPathError(f"{self.target}: the output directory does not exist")
        try:
            fd, tmp = tempfile.mkstemp(prefix=f".{self.target.name}.", suffix=TEMP_SUFFIX,
                                       dir=parent)
        except OSError as exc:
            raise OutputPathError(f"{self.target}: cannot create the output: "
                                  f"{exc.strerror or exc}") from None
        self.temp = Path(tmp)
        self._file: Any = os.fdopen(fd, "wb", buffering=0)
        self._mode = mode
        self.size = 0

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
            raise OutputPathError(
                f"{self.target}: cannot write: {exc.strerror or exc} (no output was left)"
            ) from None
        return len(data)

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return int(self._file.fileno())

    def flush(self) -> None:
        return None

    def commit(self) -> None:
        """Close and rename over the target (keeping ``mode``)."""
        try:
            self._file.close()
            os.chmod(self.temp, self._mode)
            os.replace(self.temp, self.target)
        except OSError as exc:
            self.discard()
            raise OutputPathError(f"{self.target}: cannot write: {exc.strerror or exc} "
                                  "(no output was left)") from None

    def discard(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.temp)


@contextlib.contextmanager
def atomic_output(target: str | os.PathLike[str], *, mode: int = 0o600
                  ) -> Iterator[AtomicOutput]:
    """``with atomic_output(path) as out: out.write(...)`` — renamed only if the block
    completes; deleted on any exception, KeyboardInterrupt included."""
    out = AtomicOutput(target, mode=mode)
    try:
        yield out
    except BaseException:
        out.discard()
        raise
    out.commit()


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


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str], *, mode: int = 0o644) -> Iterator[Path]:
    """Yield a fresh temporary path beside ``target`` (same suffix, so tools that pick a
    format from the extension still do); on success it is fsynced and renamed over it."""
    path = Path(target)
    parent = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=f".tmp{path.suffix}", dir=parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def write_atomic(target: str | os.PathLike[str], data: bytes, *, mode: int = 0o644) -> None:
    with atomic_path(target, mode=mode) as tmp:
        tmp.write_bytes(data)

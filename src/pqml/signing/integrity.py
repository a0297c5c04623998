"""Compare a model on disk with its signed manifest and say exactly what differs.

Every file gets one status: ``ok``, ``modified``, ``removed``, ``added`` (not covered by the
signature), ``renamed`` (an added file with the content of a removed one) or ``ignored``
(under an ignore path the signer recorded). Sizes are compared before hashing, so a
truncated or grown file fails without being read; added files are hashed only when some
signed file is missing, to recognise renames. Unsigned files that may hold pickles are
flagged: they are the ones that run code when loaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pqml._internal.text import printable
from pqml.primitives.errors import PqmlError
from pqml.signing import model_tree
from pqml.signing.manifest import FileEntry, Manifest, hash_files, sort_key

Status = Literal["ok", "modified", "removed", "added", "renamed", "ignored"]
FAILING: frozenset[str] = frozenset({"modified", "removed", "renamed"})


@dataclass(frozen=True)
class FileStatus:
    name: str
    status: Status
    size: int | None = None
    renamed_from: str | None = None
    pickle: bool = False
    detail: str = ""

    def describe(self, root: str | os.PathLike[str] | None = None) -> str:
        """One report line; with the model ``root``, a single file is shown by its name.
        Control characters are escaped (the detail may quote an untrusted name too)."""
        name = model_tree.display(self.name, root)
        if self.status == "renamed":
            return f"renamed   {model_tree.display(self.renamed_from or '')} -> {name}"
        text = f"{self.status:<9} {name}"
        notes = [n for n in (self.detail, "may hold a pickle" if self.pickle else "") if n]
        return printable(text + (f"  ({'; '.join(notes)})" if notes else ""))

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": model_tree.display(self.name), "status": self.status}
        if self.size is not None:
            out["size"] = self.size
        if self.renamed_from is not None:
            out["renamed_from"] = model_tree.display(self.renamed_from)
        if self.status in ("added", "renamed"):
            out["pickle"] = self.pickle
        if self.detail:
            out["detail"] = self.detail
        return out


@dataclass(frozen=True)
class IntegrityReport:
    files: tuple[FileStatus, ...]
    sizes: dict[str, int]  # sizes of the files that verified

    def failures(self, *, allow_unsigned_files: bool = False) -> list[FileStatus]:
        bad = set(FAILING) | ({"added"} if not allow_unsigned_files else set())
        return [f for f in self.files if f.status in bad]

    def unsigned(self) -> list[FileStatus]:
        return [f for f in self.files if f.status == "added"]

    def count(self, status: str) -> int:
        return sum(1 for f in self.files if f.status == status)


def summarize(problems: Iterable[FileStatus], limit: int = 4,
              root: str | os.PathLike[str] | None = None) -> str:
    """One line for an error message: the first few problems and how many more."""
    items = list(problems)
    parts = []
    for f in items[:limit]:
        name = model_tree.display(f.name, root)
        if f.status == "renamed":
            parts.append(f"renamed {model_tree.display(f.renamed_from or '')} -> {name}")
        elif f.status == "added":
            parts.append(f"unsigned {'pickle ' if f.pickle else ''}file {name}")
        else:
            parts.append(f"{f.status} {name}")
    more = f" and {len(items) - limit} more" if len(items) > limit else ""
    return "; ".join(parts) + more


def _sort(statuses: list[FileStatus]) -> tuple[FileStatus, ...]:
    return tuple(sorted(statuses, key=lambda f: sort_key(f.name)))


def _matches(expected: FileEntry, actual: FileEntry) -> bool:
    if len(expected.pieces) != len(actual.pieces):
        return False
    for e, a in zip(expected.pieces, actual.pieces, strict=True):
        if e.digest != a.digest or (e.end >= 0 and (e.start, e.end) != (a.start, a.end)):
            return False
    return True


def _problem(exc: Exception) -> str:
    if isinstance(exc, FileNotFoundError):
        return "vanished while verifying"
    return " ".join(str(exc).split(": ")[-1:]) or type(exc).__name__


def _hashed_status(name: str, expected: FileEntry, result: FileEntry | Exception
                   ) -> FileStatus:
    """``ok`` or ``modified`` for a file that was hashed (or failed to be)."""
    if isinstance(result, Exception):
        return FileStatus(name, "modified", detail=_problem(result))
    return FileStatus(name, "ok" if _matches(expected, result) else "modified", result.size)


def _size_differs(name: str, size: int, signed: int) -> FileStatus:
    return FileStatus(name, "modified", size, detail=f"size {size}, signed {signed}")


def compare(
    expected: Manifest,
    listing: model_tree.Listing,
    *,
    allow_symlinks: bool = False,
    workers: int | None = None,
) -> IntegrityReport:
    """Full check: every signed file present and identical, every other file reported."""
    actual = listing.files
    statuses: list[FileStatus] = [FileStatus(n, "ignored") for n in listing.ignored]
    to_hash: dict[str, int] = {}
    for name, entry in expected.files.items():
        if name not in actual:
            continue
        size = actual[name]
        if entry.size is not None and entry.size != size:
            statuses.append(_size_differs(name, size, entry.size))
        else:
            to_hash[name] = size
    removed = [n for n in expected.files if n not in actual]
    added = [n for n in actual if n not in expected.files]
    if removed:  # hash the unsigned files too, to recognise renames
        to_hash.update({n: actual[n] for n in added})
    hashed = hash_files(
        listing.root, to_hash, htype=expected.hash_type, method=expected.method,
        shard_size=expected.shard_size, allow_symlinks=allow_symlinks, workers=workers,
    )
    verified: dict[str, int] = {}
    for name in expected.files:
        result = hashed.get(name)
        if result is None:
            continue
        statuses.append(_hashed_status(name, expected.files[name], result))
        if statuses[-1].status == "ok":
            verified[name] = actual[name]
    by_content: dict[tuple[bytes, ...], list[str]] = {}
    for name in removed:
        by_content.setdefault(expected.files[name].fingerprint(), []).append(name)
    for name in sorted(added, key=sort_key):
        result = hashed.get(name)
        origin = None
        if isinstance(result, FileEntry):
            candidates = by_content.get(result.fingerprint(), [])
            origin = next((c for c in candidates if expected.files[c].size in (None,
                                                                             result.size)), None)
        pickle = model_tree.may_hold_pickle(
            name, model_tree.read_head(listing.root, name, allow_symlinks=allow_symlinks)
        )
        if origin is not None:
            by_content[result.fingerprint()].remove(origin)  # type: ignore[union-attr]
            removed.remove(origin)
            statuses.append(FileStatus(name, "renamed", actual[name], origin, pickle))
        else:
            statuses.append(FileStatus(name, "added", actual[name], pickle=pickle))
    statuses.extend(FileStatus(n, "removed", expected.files[n].size) for n in removed)
    return IntegrityReport(_sort(statuses), verified)


def check_named(
    expected: Manifest,
    root: Path,
    names: Iterable[str],
    *,
    allow_symlinks: bool = False,
    workers: int | None = None,
) -> IntegrityReport:
    """Partial check: only ``names`` (all signed, the caller made sure) are hashed."""
    statuses: list[FileStatus] = []
    to_hash: dict[str, int] = {}
    for name in dict.fromkeys(names):
        entry = expected.files[name]
        try:
            fd = model_tree.open_file(root, name, allow_symlinks=allow_symlinks)
        except FileNotFoundError:
            statuses.append(FileStatus(name, "removed", entry.size))
            continue
        except (OSError, PqmlError) as exc:
            statuses.append(FileStatus(name, "modified", detail=_problem(exc)))
            continue
        try:
            size = os.fstat(fd).st_size
        finally:
            os.close(fd)
        if entry.size is not None and entry.size != size:
            statuses.append(_size_differs(name, size, entry.size))
        else:
            to_hash[name] = size
    hashed = hash_files(
        root, to_hash, htype=expected.hash_type, method=expected.method,
        shard_size=expected.shard_size, allow_symlinks=allow_symlinks, workers=workers,
    )
    verified: dict[str, int] = {}
    for name, result in hashed.items():
        statuses.append(_hashed_status(name, expected.files[name], result))
        if statuses[-1].status == "ok":
            verified[name] = to_hash[name]
    return IntegrityReport(_sort(statuses), verified)

"""Which files a scan reads: directory walk, default exclusions and ``--ignore`` globs.

Globs match the POSIX path relative to the scanned root, gitignore-style: a pattern
without ``/`` matches a file or directory name at any depth (``*.pem``, ``tests``); a
pattern with ``/`` is anchored at the root (``vendor/**``, ``data/raw/*.parquet``);
``**`` spans directories. An ignored directory is not descended into. Symbolic links are
not followed (a link can point outside the tree, or back into it forever).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

DEFAULT_EXCLUDED_DIRS = frozenset({
    ".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs", ".ipynb_checkpoints",
    ".cache", ".idea", ".vscode",
})


@dataclass(frozen=True, slots=True)
class FileEntry:
    root_index: int
    path: str        # absolute (or as given) filesystem path
    rel: str         # POSIX, relative to the scanned root
    size: int


@cache
def _compile(pattern: str) -> re.Pattern[str]:
    pat = pattern.strip().removeprefix("./")
    anchored = "/" in pat.rstrip("/")
    pat = pat.rstrip("/")
    out = []
    i = 0
    while i < len(pat):
        c = pat[i]
        if pat.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
            continue
        if pat.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if c == "*":
            out.append("[^/]*")
        elif c == "?":
            out.append("[^/]")
        elif c == "[":
            j = pat.find("]", i)
            if j > i:
                out.append(pat[i:j + 1])
                i = j + 1
                continue
            out.append(re.escape(c))
        else:
            out.append(re.escape(c))
        i += 1
    body = "".join(out).lstrip("/") if anchored else "".join(out)
    prefix = "" if anchored else "(?:.*/)?"
    return re.compile(f"^{prefix}{body}(?:/.*)?$")


class IgnoreRules:
    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = [p for p in patterns if p and p.strip()]
        self._compiled = [_compile(p) for p in self.patterns]

    def matches(self, rel: str) -> bool:
        return any(r.match(rel) for r in self._compiled)


def iter_files(root: str, root_index: int, ignore: IgnoreRules,
               default_excludes: bool = True) -> Iterator[FileEntry]:
    """Regular files under ``root`` (or ``root`` itself if it is a file)."""
    if os.path.isfile(root):
        name = os.path.basename(root)
        if not ignore.matches(name):
            yield FileEntry(root_index, root, name, os.path.getsize(root))
        return
    stack = [("", root)]
    while stack:
        rel_dir, abs_dir = stack.pop()
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
        except OSError:
            continue
        dirs = []
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir():
                    if default_excludes and entry.name in DEFAULT_EXCLUDED_DIRS:
                        continue
                    if ignore.matches(rel):
                        continue
                    dirs.append((rel, entry.path))
                elif entry.is_file():
                    if ignore.matches(rel):
                        continue
                    yield FileEntry(root_index, entry.path, rel, entry.stat().st_size)
            except OSError:
                continue
        stack.extend(reversed(dirs))

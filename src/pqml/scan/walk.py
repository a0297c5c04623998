"""Which files a scan reads: directory walk, default exclusions, ``.gitignore`` files and
``--ignore`` globs.

All patterns are gitignore patterns (:mod:`pqml.scan.ignore_patterns`, matched without
regular expressions: a scanned tree is untrusted). ``--ignore`` and ``pqml.toml`` globs
match the POSIX path relative to the scanned root: a pattern without ``/`` matches a file
or directory name at any depth (``*.pem``, ``tests``), a pattern with ``/`` is anchored at
the root (``vendor/**``, ``data/raw/*.parquet``), ``**`` spans directories.

``.gitignore`` files are honoured as git does (unless ``gitignore=False``,
``--no-gitignore``): each applies to its own directory and below, a deeper file overrides
a shallower one, the last matching line wins, ``!`` re-includes. Inside a git work tree
the ``.gitignore`` files between the work tree's top and the scanned directory apply too,
and ``.git/info/exclude`` below them all; outside one, the scanned tree's own
``.gitignore`` files still apply (generated output is rarely what one means to audit).
``--ignore`` outranks them all, as git's command-line excludes do. A ``.gitignore`` over
the limits (size, pattern length or count, patterns in force with its parents') is not
honoured, with a warning: skipping it scans more, never less. A path named on the
command line is always read.

An ignored directory is not descended into. Symbolic links are not followed (a link can
point outside the tree, or back into it forever).

A URL root (``s3://bucket/prefix/``) is walked by :func:`iter_objects`: key remainders
under the prefix stand for relative paths, and the same exclusions, globs and in-tree
``.gitignore`` objects apply relative to the prefix (a bucket is no git work tree, so
nothing above the prefix does).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from pqml.scan.errors import ScanError
from pqml.scan.ignore_patterns import PatternError, PatternList
from pqml.scan.model import ScanWarning
from pqml.storage.errors import StorageError

DEFAULT_EXCLUDED_DIRS = frozenset({
    ".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".nox",
    ".mypy_cache", ".pytest_cache", ".ruff_cache", ".eggs", ".ipynb_checkpoints",
    ".cache", ".idea", ".vscode",
})
GITIGNORE = ".gitignore"
MAX_GITIGNORE_BYTES = 256 << 10
# Patterns in force at once (a directory's .gitignore plus its ancestors'): every entry is
# checked against them, so a deep tree of large .gitignore files must not multiply.
MAX_ACTIVE_PATTERNS = 16384


@dataclass(frozen=True, slots=True)
class FileEntry:
    root_index: int
    path: str        # absolute (or as given) filesystem path
    rel: str         # POSIX, relative to the scanned root
    size: int


class IgnoreRules:
    """``--ignore`` and ``pqml.toml`` globs, anchored at each scanned root."""

    def __init__(self, patterns: Iterable[str]) -> None:
        self.patterns = [p.strip() for p in patterns if p and p.strip()]
        try:
            self._list = PatternList([p.removeprefix("./") for p in self.patterns], "--ignore")
        except PatternError as exc:
            raise ScanError(f"--ignore / scan.ignore: {exc}") from None

    def verdict(self, parts: tuple[str, ...], is_dir: bool) -> bool | None:
        return self._list.verdict(parts, is_dir) if self._list else None

    def matches(self, rel: str, is_dir: bool = False) -> bool:
        return self.verdict(tuple(rel.split("/")), is_dir) is True


@dataclass(frozen=True, slots=True)
class _GitRules:
    """One ``.gitignore`` (or ``info/exclude``): its patterns see a path relative to its
    directory, which is ``lead`` + the root-relative path without its first ``depth``
    segments."""

    patterns: PatternList
    lead: tuple[str, ...]
    depth: int

    def verdict(self, parts: tuple[str, ...], is_dir: bool) -> bool | None:
        return self.patterns.verdict(self.lead + parts[self.depth:], is_dir)


def _read_rules(path: str, shown: str, lead: tuple[str, ...], depth: int,
                warnings: list[ScanWarning]) -> _GitRules | None:
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_GITIGNORE_BYTES + 1)
    except OSError:
        return None
    return _parse_rules(data, shown, lead, depth, warnings)


def _parse_rules(data: bytes, shown: str, lead: tuple[str, ...], depth: int,
                 warnings: list[ScanWarning]) -> _GitRules | None:
    """The rules of one ``.gitignore``'s bytes (at most ``MAX_GITIGNORE_BYTES + 1`` read)."""
    if len(data) > MAX_GITIGNORE_BYTES:
        warnings.append(ScanWarning(shown, f"not honoured: larger than "
                                           f"{MAX_GITIGNORE_BYTES >> 10} KiB"))
        return None
    lines = data.decode("utf-8", "surrogateescape").split("\n")
    try:
        patterns = PatternList(lines, shown)
    except PatternError as exc:
        warnings.append(ScanWarning(shown, f"not honoured: {exc}"))
        return None
    return _GitRules(patterns, lead, depth) if patterns else None


def _work_tree_rules(root: str, warnings: list[ScanWarning]) -> list[_GitRules]:
    """The rules that apply to ``root`` from above it: ``.git/info/exclude`` and the
    ``.gitignore`` files of its ancestors up to the git work tree's top, lowest
    precedence first. Empty outside a work tree."""
    abs_root = os.path.abspath(root)
    top = abs_root
    while not os.path.lexists(os.path.join(top, ".git")):
        parent = os.path.dirname(top)
        if parent == top:
            return []
        top = parent
    below = os.path.relpath(abs_root, top).split(os.sep) if top != abs_root else []
    chain: list[_GitRules] = []

    def shown(path: str) -> str:
        return os.path.relpath(path, abs_root).replace(os.sep, "/")

    exclude = os.path.join(top, ".git", "info", "exclude")
    if os.path.isfile(exclude):
        rules = _read_rules(exclude, shown(exclude), tuple(below), 0, warnings)
        chain = _push(chain, rules, shown(exclude), warnings)
    for i in range(len(below)):  # top, then each directory down to root's parent
        here = os.path.join(top, *below[:i], GITIGNORE)
        if os.path.isfile(here) and not os.path.islink(here):
            rules = _read_rules(here, shown(here), tuple(below[i:]), 0, warnings)
            chain = _push(chain, rules, shown(here), warnings)
    return chain


def _push(chain: Sequence[_GitRules], rules: _GitRules | None, shown: str,
          warnings: list[ScanWarning]) -> list[_GitRules]:
    """``chain`` with ``rules`` appended, unless that puts more than
    :data:`MAX_ACTIVE_PATTERNS` in force (then a warning)."""
    if rules is None:
        return list(chain)
    active = sum(len(r.patterns.patterns) for r in chain)
    if active + len(rules.patterns.patterns) > MAX_ACTIVE_PATTERNS:
        warnings.append(ScanWarning(shown, f"not honoured: more than {MAX_ACTIVE_PATTERNS} "
                                           "patterns would apply with those of its parents"))
        return list(chain)
    return [*chain, rules]


def _ignored(parts: tuple[str, ...], is_dir: bool, chain: tuple[_GitRules, ...],
             ignore: IgnoreRules) -> bool:
    verdict = ignore.verdict(parts, is_dir)
    if verdict is not None:
        return verdict
    for rules in reversed(chain):  # the deepest .gitignore that has a say decides
        verdict = rules.verdict(parts, is_dir)
        if verdict is not None:
            return verdict
    return False


def iter_files(root: str, root_index: int, ignore: IgnoreRules,
               default_excludes: bool = True, gitignore: bool = True,
               warnings: list[ScanWarning] | None = None) -> Iterator[FileEntry]:
    """Regular files under ``root`` (or ``root`` itself if it is a file). Problems with
    ``.gitignore`` files are appended to ``warnings``."""
    if warnings is None:
        warnings = []
    if os.path.isfile(root):
        name = os.path.basename(root)
        if not ignore.matches(name):
            yield FileEntry(root_index, root, name, os.path.getsize(root))
        return
    start = tuple(_work_tree_rules(root, warnings)) if gitignore else ()
    stack: list[tuple[tuple[str, ...], str, tuple[_GitRules, ...]]] = [((), root, start)]
    while stack:
        rel_parts, abs_dir, chain = stack.pop()
        try:
            entries = sorted(os.scandir(abs_dir), key=lambda e: e.name)
        except OSError:
            continue
        if gitignore:
            own = next((e for e in entries if e.name == GITIGNORE), None)
            if own is not None and not own.is_symlink() and own.is_file():
                rel = "/".join((*rel_parts, GITIGNORE))
                rules = _read_rules(own.path, rel, (), len(rel_parts), warnings)
                chain = tuple(_push(chain, rules, rel, warnings))
        dirs = []
        for entry in entries:
            parts = (*rel_parts, entry.name)
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir():
                    if default_excludes and entry.name in DEFAULT_EXCLUDED_DIRS:
                        continue
                    if _ignored(parts, True, chain, ignore):
                        continue
                    dirs.append((parts, entry.path, chain))
                elif entry.is_file():
                    if _ignored(parts, False, chain, ignore):
                        continue
                    yield FileEntry(root_index, entry.path, "/".join(parts),
                                    entry.stat().st_size)
            except OSError:
                continue
        stack.extend(reversed(dirs))


def _tree_order(rel: str) -> tuple[tuple[int, str], ...]:
    """Sort key giving :func:`iter_files`' order: in each directory its files (by name),
    then its subdirectories (by name), depth first."""
    parts = rel.split("/")
    return (*((1, p) for p in parts[:-1]), (0, parts[-1]))


def iter_objects(root: str, root_index: int, ignore: IgnoreRules,
                 default_excludes: bool = True, gitignore: bool = True,
                 warnings: list[ScanWarning] | None = None) -> Iterator[FileEntry]:
    """The objects under the URL ``root`` (or the one object it names), filtered as
    :func:`iter_files` filters a local tree: key remainders stand for relative paths, a
    "directory" is a ``/``-separated key prefix, and the same default exclusions,
    ``--ignore`` globs and ``.gitignore`` rules apply relative to ``root``.

    The ``.gitignore`` objects inside the tree are honoured as a local tree's are outside
    a git work tree: a bucket is not a work tree, so there are no parent ``.gitignore``
    files above ``root`` and no ``.git/info/exclude`` (``.git/`` is excluded by default
    anyway). A tree uploaded from outside a work tree therefore yields the files a local
    scan of it reads. The listing is complete or a :class:`~pqml.storage.StorageError`:
    never a partial tree."""
    from pqml.scan import remote
    from pqml.storage import listing

    if warnings is None:
        warnings = []
    try:
        objects = sorted(listing.walk(root), key=lambda i: _tree_order(i.rel))
    except StorageError as exc:
        if not remote.is_absent(exc):
            raise
        objects = []  # no bucket, say: stat_root says so in the scan's words
    if not objects:
        info = remote.stat_root(root)
        if info.is_dir:
            return  # an empty bucket or prefix
        name = root.rstrip("/").rsplit("/", 1)[-1]
        if not ignore.matches(name):
            yield FileEntry(root_index, info.url, name, info.size)
        return
    rules_at = {tuple(o.rel.split("/")[:-1]): o for o in objects
                if gitignore and o.rel.rsplit("/", 1)[-1] == GITIGNORE}

    def own_rules(dir_parts: tuple[str, ...], chain: tuple[_GitRules, ...]
                  ) -> tuple[_GitRules, ...]:
        obj = rules_at.get(dir_parts)
        if obj is None:
            return chain
        data = remote.read_head(obj.url, MAX_GITIGNORE_BYTES + 1)
        if data is None:  # gone since the listing: as a local file that cannot be read
            return chain
        rules = _parse_rules(data, obj.rel, (), len(dir_parts), warnings)
        return tuple(_push(chain, rules, obj.rel, warnings))

    # each "directory" reached: the rules in force inside it, or None if it is skipped
    chains: dict[tuple[str, ...], tuple[_GitRules, ...] | None] = {(): own_rules((), ())}
    for obj in objects:
        parts = tuple(obj.rel.split("/"))
        chain = chains[()] or ()
        for depth in range(1, len(parts)):  # each directory down to the object's
            here = parts[:depth]
            if here not in chains:  # first visit: the parent's chain is in force
                skipped = (default_excludes and here[-1] in DEFAULT_EXCLUDED_DIRS) or (
                    _ignored(here, True, chain, ignore))
                chains[here] = None if skipped else own_rules(here, chain)
            found = chains[here]
            if found is None:
                break
            chain = found
        else:
            if not _ignored(parts, False, chain, ignore):
                yield FileEntry(root_index, obj.url, obj.rel, obj.size)

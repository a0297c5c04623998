"""gitignore patterns, matched without regular expressions.

A scanned repository is untrusted input, and its ``.gitignore`` and ``pqml.toml`` ignore
lists are too: a pattern like ``*a*a*a*a*a*a*a*b`` sends a backtracking regex engine
into exponential time. Patterns are therefore parsed into path segments, and each
segment into literal or character-class blocks between ``*``; matching finds each block
at its leftmost place (``str.find`` for literal blocks; for a block with classes a
star-free, fixed-length regex, which cannot backtrack beyond the block, run in C so that
thousands of such patterns cost milliseconds), which is correct for globs and costs at
most O(len(name) * len(pattern)) per segment. ``**`` is the same idea one level
up: blocks of segments between ``**``. Patterns are also bounded in length and number
(:data:`MAX_PATTERN_CHARS`, :data:`MAX_PATTERNS`).

Semantics follow gitignore(5): ``#`` comments, ``!`` negation (the last matching pattern
wins), a trailing ``/`` matches directories only, a ``/`` at the start or in the middle
anchors the pattern at its file's directory (otherwise it matches a name at any depth),
``**/``, ``/**`` and ``/**/`` span directories, ``*`` ``?`` ``[a-z]`` ``[!a-z]``
``[[:digit:]]`` and ``\\`` escapes within a name. As in git, names and patterns are
bytes (UTF-8; ``?`` is one byte), an escaped ``\\/`` still separates directories, and a
pattern git's wildmatch cannot complete (an unclosed ``[``, a trailing ``\\``, an empty
directory name as in ``a//b``) matches nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

MAX_PATTERN_CHARS = 1024   # longer lines are not patterns anyone writes by hand
MAX_PATTERNS = 4096        # per file (or per --ignore list)


class PatternError(ValueError):
    """A pattern over the limits. Internal: :mod:`pqml.scan.walk` turns it into a
    ``ScanError`` (``--ignore``, ``pqml.toml``) or a warning (a ``.gitignore``)."""


@dataclass(frozen=True, slots=True)
class _Class:
    """``[...]``: ranges of code points, optionally negated."""

    ranges: tuple[tuple[int, int], ...]
    negated: bool

    def accepts(self, ch: str) -> bool:
        o = ord(ch)
        return any(lo <= o <= hi for lo, hi in self.ranges) != self.negated


_ANY = _Class((), True)  # "?": any one character
_POSIX = {
    "alnum": ((48, 57), (65, 90), (97, 122)), "alpha": ((65, 90), (97, 122)),
    "digit": ((48, 57),), "lower": ((97, 122),), "upper": ((65, 90),),
    "space": ((9, 13), (32, 32)), "xdigit": ((48, 57), (65, 70), (97, 102)),
    "punct": ((33, 47), (58, 64), (91, 96), (123, 126)), "blank": ((9, 9), (32, 32)),
}

class _Seq(tuple):  # type: ignore[type-arg]
    """A block with classes (a tuple of characters and classes) and the regex that finds it."""

    regex: re.Pattern[str]


def _seq(elements: list[str | _Class]) -> _Seq:
    def one(el: str | _Class) -> str:
        if isinstance(el, str):
            return re.escape(el)
        ranges = "".join(f"\\U{lo:08x}-\\U{hi:08x}" for lo, hi in el.ranges if lo <= hi)
        if not ranges:
            return "." if el.negated else "(?!)"
        return f"[{'^' if el.negated else ''}{ranges}]"

    seq = _Seq(elements)
    seq.regex = re.compile("(?s)" + "".join(map(one, elements)))
    return seq


_Block = str | _Seq  # all-literal blocks are plain strings


def _block_at(block: _Block, s: str, pos: int) -> bool:
    if isinstance(block, str):
        return s.startswith(block, pos)
    for i, el in enumerate(block):
        ch = s[pos + i]
        if ch != el if isinstance(el, str) else not el.accepts(ch):
            return False
    return True


def _find(block: _Block, s: str, start: int, end: int) -> int:
    """Leftmost ``pos`` in [start, end - len(block)] where ``block`` matches, or -1."""
    if isinstance(block, str):
        return s.find(block, start, end)
    found = block.regex.search(s, start, end)
    return -1 if found is None else found.start()


@dataclass(frozen=True, slots=True)
class _Glob:
    """One path segment's glob: blocks separated by ``*`` (``stars`` says whether any)."""

    blocks: tuple[_Block, ...]
    stars: bool

    def match(self, s: str) -> bool:
        blocks = self.blocks
        if not self.stars:
            return len(s) == len(blocks[0]) and _block_at(blocks[0], s, 0)
        first, last = blocks[0], blocks[-1]
        if len(first) + len(last) > len(s) or not _block_at(first, s, 0):
            return False
        end = len(s) - len(last)
        if not _block_at(last, s, end):
            return False
        pos = len(first)
        for block in blocks[1:-1]:
            found = _find(block, s, pos, end)
            if found < 0:
                return False
            pos = found + len(block)
        return True


def _parse_class(seg: str, i: int) -> tuple[_Class, int] | None:
    """The bracket expression starting at ``seg[i] == "["``, and the index after it; None
    if it is not closed (then ``[`` is a literal)."""
    j = i + 1
    negated = j < len(seg) and seg[j] in "!^"
    if negated:
        j += 1
    ranges: list[tuple[int, int]] = []
    first = True
    while j < len(seg):
        c = seg[j]
        if c == "]" and not first:
            return _Class(tuple(ranges), negated), j + 1
        first = False
        if c == "[" and seg.startswith("[:", j):
            close = seg.find(":]", j + 2)
            if close > 0 and seg[j + 2:close] in _POSIX:
                ranges += _POSIX[seg[j + 2:close]]
                j = close + 2
                continue
        if c == "\\" and j + 1 < len(seg):
            j += 1
            c = seg[j]
        lo = ord(c)
        if j + 2 < len(seg) and seg[j + 1] == "-" and seg[j + 2] != "]":
            hi_c = seg[j + 2]
            j += 2
            if hi_c == "\\" and j + 1 < len(seg):
                j += 1
                hi_c = seg[j]
            ranges.append((lo, ord(hi_c)))
        else:
            ranges.append((lo, lo))
        j += 1
    return None


def _glob(seg: str) -> _Glob | None:
    """The glob of one segment; None if git's wildmatch cannot complete it (an unclosed
    ``[``, a trailing lone backslash): such a pattern matches nothing."""
    blocks: list[_Block] = []
    current: list[str | _Class] = []
    stars = False

    def close() -> None:
        if all(isinstance(el, str) for el in current):
            blocks.append("".join(current))  # type: ignore[arg-type]
        else:
            blocks.append(_seq(current))
        current.clear()

    i = 0
    while i < len(seg):
        c = seg[i]
        if c == "*":
            while i < len(seg) and seg[i] == "*":  # "a**b" is "a*b" (gitignore(5))
                i += 1
            close()
            stars = True
            continue
        if c == "?":
            current.append(_ANY)
        elif c == "[":
            if (parsed := _parse_class(seg, i)) is None:
                return None
            current.append(parsed[0])
            i = parsed[1]
            continue
        elif c == "\\":
            if i + 1 == len(seg):
                return None
            i += 1
            current.append(seg[i])
        else:
            current.append(c)
        i += 1
    close()
    return _Glob(tuple(blocks), stars)


_STAR_STAR = None  # a "**" segment: zero or more path segments
_Segment = _Glob | None


def _split_unescaped(text: str) -> list[str]:
    """Segments split at ``/``, escaped or not (git matches ``\\/`` against a separator)."""
    out, cur, i = [], [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] != "/":
            cur.append(text[i:i + 2])
            i += 2
            continue
        if text[i] == "/" or (text[i] == "\\" and i + 1 < len(text)):  # "\\/" is a "/"
            i += text[i] == "\\"
            out.append("".join(cur))
            cur = []
        else:
            cur.append(text[i])
        i += 1
    out.append("".join(cur))
    return out


def _segments_at(blocks: tuple[_Segment, ...], parts: tuple[str, ...], pos: int) -> bool:
    return all(g.match(parts[pos + k]) for k, g in enumerate(blocks))  # type: ignore[union-attr]


def _match_segments(pattern: tuple[_Segment, ...], parts: tuple[str, ...]) -> bool:
    """The glob algorithm one level up: runs of segment globs between ``**`` segments,
    each found at its leftmost place."""
    runs: list[tuple[_Segment, ...]] = [()]
    for seg in pattern:
        if seg is _STAR_STAR:
            runs.append(())
        else:
            runs[-1] = (*runs[-1], seg)
    if len(runs) == 1:
        return len(parts) == len(runs[0]) and _segments_at(runs[0], parts, 0)
    first, last = runs[0], runs[-1]
    if len(first) + len(last) > len(parts) or not _segments_at(first, parts, 0):
        return False
    end = len(parts) - len(last)
    if not _segments_at(last, parts, end):
        return False
    pos = len(first)
    for run in runs[1:-1]:
        for start in range(pos, end - len(run) + 1):
            if _segments_at(run, parts, start):
                pos = start + len(run)
                break
        else:
            return False
    return True


@dataclass(frozen=True, slots=True)
class Pattern:
    text: str
    negated: bool
    dir_only: bool
    anchored: bool                    # matched against the whole relative path
    segments: tuple[_Segment, ...]    # unanchored patterns: one segment, the name
    literal: str | None               # fast path: the whole pattern is this literal name

    def matches(self, parts: tuple[str, ...], is_dir: bool) -> bool:
        if self.dir_only and not is_dir:
            return False
        if not self.anchored:
            if self.literal is not None:
                return parts[-1] == self.literal
            return self.segments[0].match(parts[-1])  # type: ignore[union-attr]
        return _match_segments(self.segments, parts)


def _as_bytes(text: str) -> str:
    """``text`` with one character per UTF-8 byte, as git matches (``?`` is one byte);
    undecodable bytes (surrogate escapes) come back as themselves."""
    return text if text.isascii() else text.encode("utf-8", "surrogateescape").decode("latin-1")


def _trim_trailing_spaces(text: str) -> str:
    """Without trailing spaces, unless the last is escaped (git counts ``\\`` pairs)."""
    last_space = None
    i = 0
    while i < len(text):
        if text[i] == " ":
            last_space = i if last_space is None else last_space
        elif text[i] == "\\" and i + 1 == len(text):
            return text
        else:
            last_space = None
            i += text[i] == "\\"
        i += 1
    return text if last_space is None else text[:last_space]


def parse(line: str) -> Pattern | None:
    """One gitignore line; None for blanks and comments. Raises :class:`PatternError` for
    a line over :data:`MAX_PATTERN_CHARS`."""
    if len(line) > MAX_PATTERN_CHARS:
        raise PatternError(f"pattern longer than {MAX_PATTERN_CHARS} characters")
    text = _trim_trailing_spaces(_as_bytes(line.rstrip("\n").rstrip("\r")))
    if not text or text.startswith("#"):
        return None
    negated = text.startswith("!")
    if negated or text.startswith(("\\!", "\\#")):  # a backslash makes ! or # literal
        text = text[1:]
    dir_only = text.endswith("/")  # one "/", as git: "a//" leaves "a/", which matches nothing
    body = text[:-1] if dir_only else text
    if not body or body.startswith("\\/"):  # "\\/x" is not anchored: no path starts with "/"
        return None
    raw = _split_unescaped(body)
    anchored = len(raw) > 1
    if raw[0] == "":  # "/x": anchored at the file's directory
        raw = raw[1:]
    if not raw or any(s == "" for s in raw):  # "a//b" names no path
        return None
    segments: list[_Segment] = []
    for k, s in enumerate(raw):
        if s == "**":
            if segments and segments[-1] is _STAR_STAR:
                continue
            if k == len(raw) - 1 and k > 0:  # "a/**": everything inside a, not a itself
                segments.append(_glob("*"))
            segments.append(_STAR_STAR)
        elif (glob := _glob(s)) is None:
            return None
        else:
            segments.append(glob)
    literal = None
    if not anchored:
        g = segments[0]
        if g is not _STAR_STAR and not g.stars and isinstance(g.blocks[0], str):
            literal = g.blocks[0]
        elif g is _STAR_STAR:  # "**" alone matches every name
            segments = [_glob("*")]
    return Pattern(line, negated, dir_only, anchored, tuple(segments), literal)


class PatternList:
    """The patterns of one file (or option), applied relative to one directory: the last
    pattern that matches decides."""

    def __init__(self, lines: Iterable[str], source: str = "") -> None:
        """Raises :class:`PatternError` when a line is too long or there are too many."""
        self.source = source
        self.patterns: list[Pattern] = []
        for line in lines:
            p = parse(line)
            if p is None:
                continue
            if len(self.patterns) >= MAX_PATTERNS:
                raise PatternError(f"more than {MAX_PATTERNS} patterns")
            self.patterns.append(p)

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def verdict(self, parts: tuple[str, ...], is_dir: bool) -> bool | None:
        """True: ignored; False: re-included by a ``!`` pattern; None: no pattern matches."""
        parts = tuple(map(_as_bytes, parts))
        for p in reversed(self.patterns):
            if p.matches(parts, is_dir):
                return not p.negated
        return None


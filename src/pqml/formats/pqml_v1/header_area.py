"""The pqml/v1 header area: two fixed-size header slots, so rekey can rewrite in place.

::

    slot 0   = header || 0x00 … 0x00              S bytes
    slot 1   = header || 0x00 … 0x00              S bytes
    payload                                       at offset 2·S
    header   = "pqml/v1" LF  "-> header-area " S LF  LF  1*stanza  "--- " MAC LF

S is a multiple of 4096 in [16 KiB, 1 MiB], decimal without leading zeros. The
``header-area`` stanza (empty body) comes first, is MAC-covered like every stanza and is
layout, not a recipient. S never changes in place, so the first bytes of slot 0 are the
same in every version of it and a reader learns S even from a torn slot 0.

Why two slots: rekey writes slot 1, then slot 0, each durably, so at every instant one
complete header (old or new) is in place (the LUKS2 idea; docs/FORMAT.md). Readers take
slot 0 if it parses, its filler is zero, an identity opens it and its MAC verifies, else
slot 1; when both fail they report slot 0's error, the meaningful one in the normal case.
Files without an area (the first stanza is anything else) are read as before, and the
payload offset of both layouts is computed only here (:func:`locate`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pqml.formats.age._io import Source
from pqml.formats.age.errors import HeaderError, NoIdentityMatchError
from pqml.formats.age.header import Header, Stanza, make_header, parse_header
from pqml.formats.age.header import read_header as _read_header

VERSION = b"pqml/v1"
STANZA_TYPE = "header-area"
ALIGN = 4096
MIN_SIZE = 16 * 1024
MAX_SIZE = 1024 * 1024
DEFAULT_SIZE = 64 * 1024
AUTO_MIN_PLAINTEXT = 64 * 1024 * 1024  # below this a copying rekey is already fast
PREFIX_SIZE = 64  # enough for the version line and the whole header-area stanza

_LINE = VERSION + b"\n-> " + STANZA_TYPE.encode("ascii")
_STANZA = re.compile(rb"-> header-area ([1-9][0-9]{0,7})\n\n")
_DECIMAL = re.compile(r"[1-9][0-9]{0,7}")

Unwrap = Callable[[Header], bytes]


def _size_problem(size: int) -> str | None:
    if size % ALIGN or not MIN_SIZE <= size <= MAX_SIZE:
        return (f"header area size {size} is not a multiple of {ALIGN} between {MIN_SIZE} "
                f"and {MAX_SIZE}")
    return None


def check_size(size: int) -> int:
    """``size`` if it is a valid S; ValueError otherwise (an API argument)."""
    problem = _size_problem(size)
    if problem:
        raise ValueError(problem)
    return size


def area_stanza(size: int) -> Stanza:
    return Stanza(STANZA_TYPE, (str(size),), b"")


def parse_stanza(stanza: Stanza) -> int:
    """S of a well-formed ``header-area`` stanza; HeaderError otherwise."""
    if len(stanza.args) != 1 or not _DECIMAL.fullmatch(stanza.args[0]) or stanza.body:
        raise HeaderError("header-area stanza must be one decimal argument (no leading "
                          "zeros) and an empty body")
    size = int(stanza.args[0])
    problem = _size_problem(size)
    if problem:
        raise HeaderError(problem)
    return size


def area_size(header: Header) -> int | None:
    """S if ``header`` belongs in a header area, else None."""
    stanzas = header.stanzas
    return parse_stanza(stanzas[0]) if stanzas and stanzas[0].type == STANZA_TYPE else None


def recipient_stanzas(stanzas: Sequence[Stanza]) -> tuple[Stanza, ...]:
    """The stanzas without the layout one: what recipient rules and identities see.

    A ``header-area`` stanza anywhere but first, or a header with nothing else, is a
    header failure."""
    rest = tuple(stanzas)
    if rest and rest[0].type == STANZA_TYPE:
        parse_stanza(rest[0])
        rest = rest[1:]
    if any(s.type == STANZA_TYPE for s in rest):
        raise HeaderError("a header-area stanza must be the first stanza of the header")
    if not rest:
        raise HeaderError("header has no recipient stanzas")
    return rest


# ---- writing --------------------------------------------------------------------------------


def _round_up(n: int) -> int:
    return -(-n // ALIGN) * ALIGN


def fit(file_key: bytes, stanzas: Sequence[Stanza], size: int) -> Header:
    """A MAC'd header for ``stanzas`` in an area of ``size`` bytes, or, if it does not fit,
    of the next multiple of 4096 at least twice its length (room for later rekeys).
    ValueError if it does not fit even the largest area."""
    check_size(size)
    while True:
        header = make_header(file_key, (area_stanza(size), *stanzas), VERSION)
        need = len(header.marshal())
        if need <= size:
            return header
        if size == MAX_SIZE:
            raise ValueError(f"a pqml/v1 header of {need} bytes does not fit the largest "
                             f"header area ({MAX_SIZE} bytes)")
        size = min(MAX_SIZE, max(size + ALIGN, _round_up(2 * need)))


def reserve(requested: int | None, plaintext_size: int | None) -> int | None:
    """The S to start from: ``requested`` (0 = no area), or automatically 64 KiB for a
    plaintext of known size of at least 64 MiB (where a copying rekey costs seconds)."""
    if requested is None:
        known_large = plaintext_size is not None and plaintext_size >= AUTO_MIN_PLAINTEXT
        return DEFAULT_SIZE if known_large else None
    return None if requested == 0 else check_size(requested)


def build(file_key: bytes, stanzas: Sequence[Stanza], requested: int | None,
          plaintext_size: int | None) -> Header:
    """The header an encryption writes (see :func:`reserve`). An automatic area is
    dropped for a header too large for any area; a requested one raises instead."""
    size = reserve(requested, plaintext_size)
    if size is None:
        return make_header(file_key, stanzas, VERSION)
    try:
        return fit(file_key, stanzas, size)
    except ValueError:
        if requested is not None:
            raise
        return make_header(file_key, stanzas, VERSION)


def slot_bytes(header: Header, size: int) -> bytes:
    """One slot: the header and zero filler up to ``size``."""
    data = header.marshal()
    if area_size(header) != size or len(data) > size:
        raise ValueError(f"header does not belong in a header area of {size} bytes")
    return data + bytes(size - len(data))


def marshal(header: Header) -> bytes:
    """Everything before the payload: the header, or both slots of its area (identical)."""
    size = area_size(header)
    if size is None:
        return header.marshal()
    return slot_bytes(header, size) * 2


# ---- reading --------------------------------------------------------------------------------


def declared_size(prefix: bytes) -> int | None:
    """S from the first bytes of a file, or None if its first stanza is not a header area.

    Only these bytes are read, so S is known even when the rest of slot 0 is torn."""
    if not prefix.startswith(_LINE) or prefix[len(_LINE):len(_LINE) + 1] not in (b" ", b"\n"):
        return None
    m = _STANZA.match(prefix, len(VERSION) + 1)
    if m is None:
        raise HeaderError("malformed header-area stanza: expected '-> header-area S' with "
                          "S decimal without leading zeros, and an empty body")
    size = int(m.group(1))
    problem = _size_problem(size)
    if problem:
        raise HeaderError(problem)
    return size


def parse_slot(data: bytes, size: int, index: int) -> Header:
    """The header of one slot; HeaderError (naming the slot) unless it is a complete
    header declaring this ``size`` followed only by zero bytes."""
    try:
        header, rest = parse_header(data, VERSION)
        if area_size(header) != size:
            raise HeaderError(f"does not declare the file's header area size ({size})")
        if rest.count(0) != len(rest):
            raise HeaderError("filler after the header is not all zero bytes")
    except HeaderError as exc:
        raise HeaderError(f"header area slot {index}: {exc}") from None
    return header


@dataclass(frozen=True)
class Located:
    """A file's header and where its payload starts. ``file_key`` is set when identities
    were given; ``slot`` is the slot the header came from (files with an area)."""

    header: Header
    payload_offset: int
    area_size: int | None = None
    slot: int | None = None
    file_key: bytes | None = field(default=None, repr=False)


def locate(source: Source, unwrap: Unwrap | None = None) -> Located:
    """Read the header (or the header area) from ``source``, leaving it at the payload.

    With ``unwrap`` (header -> file key: stanza rules, identities, MAC), a slot counts
    only if it unwraps; without, the first slot that parses is taken (``pqml inspect``).
    """
    size = declared_size(source.peek(PREFIX_SIZE))
    if size is None:
        header = _read_header(source, VERSION)
        file_key = unwrap(header) if unwrap is not None else None
        return Located(header, len(header.marshal()), file_key=file_key)
    data = source.read(2 * size)
    if len(data) != 2 * size:
        raise HeaderError(f"file is truncated: it ends inside its {2 * size}-byte header "
                          "area")
    slots = (data[:size], data[size:])
    first: HeaderError | NoIdentityMatchError | None = None
    for index, slot in enumerate(slots):
        if index == 1 and slot == slots[0]:
            break  # the same bytes fail the same way (and cost no second Argon2id)
        try:
            header = parse_slot(slot, size, index)
            file_key = unwrap(header) if unwrap is not None else None
        except (HeaderError, NoIdentityMatchError) as exc:
            first = first or exc
            continue
        return Located(header, 2 * size, size, index, file_key)
    assert first is not None
    raise first

"""The age header grammar (C2SP age spec, "Header"), strict in both directions.

::

    header    = version-line 1*stanza end
    stanza    = "-> " argument *(SP argument) LF *full-line final-line
    full-line = 64base64char LF          final-line = *63base64char LF
    end       = "--- " 43base64char LF

Parsing rejects everything the spec and the CCTV vectors reject (CRLF, empty or
non-VCHAR arguments, long or missing body lines, non-canonical or padded base64), so
every accepted header has exactly one encoding and :meth:`Header.marshal` reproduces the
input byte for byte. The version line is a parameter: the native ``pqml/v1`` format
reuses this grammar with its own version line.

The header MAC is HMAC-SHA-256 under HKDF-SHA-256(ikm = file key, salt = "",
info = "header") over the header up to and including ``---``.
"""

from __future__ import annotations

import base64
import binascii
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from pqml.formats.age._io import Source
from pqml.formats.age.errors import HeaderError, HeaderMACError
from pqml.primitives import symmetric

AGE_V1 = b"age-encryption.org/v1"
AGE_VERSION_PREFIX = b"age-encryption.org/"

COLUMNS = 64
MAC_SIZE = 32
MAX_LINE = 256 * 1024  # generous: the largest known stanza line (X-Wing enc) is ~1.5 KiB
MAX_HEADER = 16 * 1024 * 1024

_B64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_VCHAR = bytes(range(0x21, 0x7F))


# ---- canonical unpadded base64 (RFC 4648 §4 alphabet, §3.5 canonical) -------------------


def b64encode(data: bytes) -> str:
    """Unpadded standard base64, the only form the age header uses."""
    return base64.b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str | bytes, what: str = "base64 value") -> bytes:
    """Decode canonical unpadded base64; raise HeaderError for anything else."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
    if raw.translate(None, _B64_CHARS) or len(raw) % 4 == 1:
        raise HeaderError(f"{what} is not valid unpadded base64")
    try:
        value = binascii.a2b_base64(raw + b"=" * (-len(raw) % 4), strict_mode=True)
    except binascii.Error:
        raise HeaderError(f"{what} is not valid unpadded base64") from None
    if base64.b64encode(value).rstrip(b"=") != raw:
        raise HeaderError(f"{what} is not canonical base64")
    return value


def b64decode_exact(text: str, size: int, what: str) -> bytes:
    """Canonical base64 of exactly ``size`` bytes (stanza arguments)."""
    value = b64decode(text, what)
    if len(value) != size:
        raise HeaderError(f"{what} must encode {size} bytes, got {len(value)}")
    return value


# ---- data model -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stanza:
    """One recipient stanza: ``-> type args…`` and a binary body."""

    type: str
    args: tuple[str, ...]
    body: bytes

    def __post_init__(self) -> None:
        for arg in (self.type, *self.args):
            if not arg or not arg.isascii() or arg.encode("ascii").translate(None, _VCHAR):
                raise ValueError(f"invalid age stanza argument {arg!r}: must be 1*VCHAR")

    def marshal(self) -> bytes:
        line = b"-> " + " ".join((self.type, *self.args)).encode("ascii") + b"\n"
        body = b64encode(self.body).encode("ascii")
        lines = [body[i : i + COLUMNS] for i in range(0, len(body), COLUMNS)]
        if len(body) % COLUMNS == 0:  # the body always ends with a short (maybe empty) line
            lines.append(b"")
        return line + b"".join(part + b"\n" for part in lines)


_COUNT = {1: "one argument", 2: "two arguments"}


def stanzas_of(stanzas: Sequence[Stanza], stanza_type: str, nargs: int,
               label: str) -> Iterator[Stanza]:
    """The stanzas of ``stanza_type``, each with exactly ``nargs`` arguments: a stanza with
    another count raises HeaderError when the reader reaches it, so a recipient type
    reports its errors in header order, as the CCTV vectors expect."""
    for stanza in stanzas:
        if stanza.type != stanza_type:
            continue
        if len(stanza.args) != nargs:
            raise HeaderError(f"{label} stanza must have exactly "
                              f"{_COUNT.get(nargs, f'{nargs} arguments')}")
        yield stanza


@dataclass(frozen=True)
class Header:
    """A parsed or to-be-written header. ``version`` is the version line without LF."""

    stanzas: tuple[Stanza, ...]
    mac: bytes
    version: bytes = AGE_V1

    def marshal_without_mac(self) -> bytes:
        """The bytes the MAC covers: everything up to and including ``---``."""
        return self.version + b"\n" + b"".join(s.marshal() for s in self.stanzas) + b"---"

    def marshal(self) -> bytes:
        return self.marshal_without_mac() + b" " + b64encode(self.mac).encode("ascii") + b"\n"


# ---- MAC ------------------------------------------------------------------------------------


def mac_key(file_key: bytes) -> bytes:
    return symmetric.hkdf_sha256(file_key, b"", b"header")


def compute_mac(file_key: bytes, stanzas: Sequence[Stanza], version: bytes = AGE_V1) -> bytes:
    unsigned = Header(tuple(stanzas), b"", version).marshal_without_mac()
    return symmetric.hmac_sha256(mac_key(file_key), unsigned)


def make_header(file_key: bytes, stanzas: Sequence[Stanza], version: bytes = AGE_V1) -> Header:
    """A complete header for ``stanzas``, MAC'd under ``file_key``."""
    if not stanzas:
        raise ValueError("an age header needs at least one recipient stanza")
    return Header(tuple(stanzas), compute_mac(file_key, stanzas, version), version)


def verify_mac(file_key: bytes, header: Header) -> None:
    """Raise HeaderMACError unless the header's MAC matches ``file_key`` (constant time)."""
    if not symmetric.hmac_sha256_verify(
        mac_key(file_key), header.marshal_without_mac(), header.mac
    ):
        raise HeaderMACError("header MAC mismatch: wrong key or tampered header")


# ---- parsing --------------------------------------------------------------------------------


class _Lines:
    """Reads LF-terminated header lines, enforcing the line and header size limits."""

    def __init__(self, source: Source) -> None:
        self._source = source
        self._total = 0

    def next(self, what: str) -> bytes:
        line = self._source.readline(MAX_LINE + 1)
        self._total += len(line)
        if self._total > MAX_HEADER:
            raise HeaderError(f"header is larger than {MAX_HEADER} bytes")
        if not line.endswith(b"\n"):
            if len(line) > MAX_LINE:
                raise HeaderError(f"header line longer than {MAX_LINE} bytes")
            raise HeaderError(f"file is truncated: header ends before the {what}")
        return line[:-1]


def _check_version(line: bytes, version: bytes) -> None:
    if line == version:
        return
    if line.rstrip(b"\r") == version:
        raise HeaderError("header lines end with CRLF: the file was mangled as text")
    prefix = version[: version.rfind(b"/") + 1] if b"/" in version else version
    if prefix and line.startswith(prefix):
        shown = line[:64].decode("ascii", "replace")
        raise HeaderError(f"unsupported format version {shown!r}")
    raise HeaderError(f"not an encrypted file: missing {version.decode()!r} version line")


def _parse_arguments(line: bytes) -> list[str]:
    parts = line[3:].split(b" ")
    for part in parts:
        if not part:
            raise HeaderError("stanza has an empty argument")
        if part.translate(None, _VCHAR):
            raise HeaderError("stanza argument has a character outside printable ASCII")
    return [p.decode("ascii") for p in parts]


def _parse_body(lines: _Lines) -> bytes:
    encoded: list[bytes] = []
    while True:
        line = lines.next("end of a stanza body")
        if len(line) > COLUMNS:
            raise HeaderError(f"stanza body line longer than {COLUMNS} columns")
        if line.translate(None, _B64_CHARS):
            raise HeaderError("stanza body line is not unpadded base64 (missing final line?)")
        encoded.append(line)
        if len(line) < COLUMNS:
            return b64decode(b"".join(encoded), "stanza body")


def _parse_mac(line: bytes) -> bytes:
    if not line.startswith(b"--- "):
        raise HeaderError("malformed header MAC line")
    encoded = line[4:]
    if len(encoded) != 43:
        raise HeaderError("header MAC must be 43 base64 characters")
    return b64decode(encoded, "header MAC")


def read_header(source: Source, version: bytes = AGE_V1) -> Header:
    """Parse a header from ``source``, leaving it positioned at the first payload byte."""
    lines = _Lines(source)
    if source.at_eof():
        raise HeaderError("file is empty")
    _check_version(lines.next("version line end"), version)
    stanzas: list[Stanza] = []
    while True:
        line = lines.next("header MAC line")
        if line.startswith(b"-> "):
            args = _parse_arguments(line)
            stanzas.append(Stanza(args[0], tuple(args[1:]), _parse_body(lines)))
        elif line.startswith(b"---"):
            mac = _parse_mac(line)
            if not stanzas:
                raise HeaderError("header has no recipient stanzas")
            return Header(tuple(stanzas), mac, version)
        else:
            raise HeaderError("malformed header line: expected '-> ' stanza or '---' MAC")


def parse_header(data: bytes, version: bytes = AGE_V1) -> tuple[Header, bytes]:
    """Whole-buffer convenience: ``(header, rest)`` where ``rest`` follows the header."""
    source = Source(io.BytesIO(bytes(data)))
    header = read_header(source, version)
    return header, source.read(len(data))

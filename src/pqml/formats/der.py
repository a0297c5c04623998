"""Minimal strict DER for the handful of ASN.1 types key files use.

Only what PKCS#8 / SPKI / PBES2 need: SEQUENCE, INTEGER, BIT STRING, OCTET STRING, NULL,
OBJECT IDENTIFIER and low-numbered context tags. Decoding is strict (definite minimal
lengths, single-byte tags, no trailing bytes, minimal INTEGER and OID encodings) because a
lenient key parser is a malleability and confusion risk, and everything we read was
written by DER encoders anyway.
"""

from __future__ import annotations

from pqml.formats.errors import DERError

SEQUENCE = 0x30
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OBJECT_IDENTIFIER = 0x06

_MAX_LENGTH_OCTETS = 4  # 4 GiB is far beyond any key; refuse anything longer




def context(number: int, *, constructed: bool) -> int:
    """The tag byte of ``[number]`` (IMPLICIT primitive or constructed)."""
    if not 0 <= number < 31:
        raise ValueError("only low-numbered context tags are supported")
    return 0x80 | (0x20 if constructed else 0) | number


# ---- encoding -------------------------------------------------------------------------


def encode_length(length: int) -> bytes:
    if length < 0:
        raise ValueError("negative length")
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(body) > _MAX_LENGTH_OCTETS:
        raise ValueError("DER value too long")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + encode_length(len(value)) + value


def sequence(*items: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(items))


def octet_string(value: bytes) -> bytes:
    return tlv(OCTET_STRING, value)


def bit_string(value: bytes) -> bytes:
    """A BIT STRING of whole bytes (zero unused bits), as every key encoding uses."""
    return tlv(BIT_STRING, b"\x00" + value)


def null() -> bytes:
    return b"\x05\x00"


def integer(value: int) -> bytes:
    """A non-negative INTEGER in minimal two's-complement form."""
    if value < 0:
        raise ValueError("negative INTEGER not supported")
    return tlv(INTEGER, value.to_bytes(value.bit_length() // 8 + 1, "big"))


def oid(dotted: str) -> bytes:
    return tlv(OBJECT_IDENTIFIER, encode_oid_body(dotted))


def encode_oid_body(dotted: str) -> bytes:
    try:
        arcs = [int(a) for a in dotted.split(".")]
    except ValueError:
        raise ValueError(f"malformed OID {dotted!r}") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39) or min(arcs) < 0:
        raise ValueError(f"malformed OID {dotted!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return bytes(out)


def algorithm_identifier(dotted: str, parameters: bytes | None = None) -> bytes:
    """``AlgorithmIdentifier``; ``parameters`` is a complete TLV or None (absent)."""
    return sequence(oid(dotted), parameters or b"")


# ---- decoding -------------------------------------------------------------------------


def read_tlv(data: bytes, offset: int = 0) -> tuple[int, bytes, int]:
    """Read one TLV at ``offset``; return ``(tag, value, end_offset)``."""
    if offset >= len(data):
        raise DERError("malformed DER: unexpected end of data")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise DERError("malformed DER: multi-byte tags are not supported")
    pos = offset + 1
    if pos >= len(data):
        raise DERError("malformed DER: missing length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise DERError("malformed DER: indefinite length (BER) is not allowed")
    else:
        count = first & 0x7F
        if count > _MAX_LENGTH_OCTETS:
            raise DERError("malformed DER: length field too large")
        if pos + count > len(data):
            raise DERError("malformed DER: truncated length")
        body = data[pos : pos + count]
        if body[0] == 0:
            raise DERError("malformed DER: non-minimal length")
        length = int.from_bytes(body, "big")
        if length < 0x80:
            raise DERError("malformed DER: non-minimal length")
        pos += count
    end = pos + length
    if end > len(data):
        raise DERError("malformed DER: value is truncated")
    return tag, bytes(data[pos:end]), end


def parse_one(data: bytes, tag: int, what: str) -> bytes:
    """Decode ``data`` as exactly one TLV with ``tag``; return its value."""
    got, value, end = read_tlv(data)
    if got != tag:
        raise DERError(f"malformed {what}: expected tag 0x{tag:02x}, got 0x{got:02x}")
    if end != len(data):
        raise DERError(f"malformed {what}: {len(data) - end} trailing bytes after DER")
    return value


def parse_children(value: bytes) -> list[tuple[int, bytes]]:
    """The ``(tag, value)`` items inside a constructed value, all of it consumed."""
    items: list[tuple[int, bytes]] = []
    pos = 0
    while pos < len(value):
        tag, item, pos = read_tlv(value, pos)
        items.append((tag, item))
    return items


def decode_integer(value: bytes, what: str = "INTEGER") -> int:
    """A minimal non-negative INTEGER (all INTEGERs in our structures are)."""
    if not value:
        raise DERError(f"malformed {what}: empty INTEGER")
    if len(value) > 1 and (
        (value[0] == 0 and value[1] < 0x80) or (value[0] == 0xFF and value[1] >= 0x80)
    ):
        raise DERError(f"malformed {what}: non-minimal INTEGER")
    if value[0] & 0x80:
        raise DERError(f"malformed {what}: negative INTEGER")
    return int.from_bytes(value, "big")


def decode_oid(value: bytes) -> str:
    if not value:
        raise DERError("malformed OID: empty")
    arcs: list[int] = []
    acc = 0
    fresh = True
    for byte in value:
        if fresh and byte == 0x80:
            raise DERError("malformed OID: non-minimal arc")
        acc = (acc << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(acc)
            acc = 0
    if not fresh:
        raise DERError("malformed OID: truncated arc")
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in head + arcs[1:])


def decode_bit_string(value: bytes, what: str = "BIT STRING") -> bytes:
    if not value or value[0] != 0:
        raise DERError(f"malformed {what}: must hold whole bytes (0 unused bits)")
    return value[1:]


def parse_algorithm_identifier(value: bytes) -> tuple[str, bytes | None]:
    """``(dotted OID, parameters TLV or None)`` from an AlgorithmIdentifier's value."""
    items = parse_children(value)
    if not 1 <= len(items) <= 2 or items[0][0] != OBJECT_IDENTIFIER:
        raise DERError("malformed AlgorithmIdentifier")
    params = tlv(*items[1]) if len(items) == 2 else None
    return decode_oid(items[0][1]), params

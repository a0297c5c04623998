"""QUIC variable-length integers (RFC 9000 §16), the length encoding of Binary HTTP (RFC 9292)
and of chunked Oblivious HTTP.

The two most significant bits of the first byte give the encoding's length (1, 2, 4 or 8
bytes); the rest is the value, big-endian, so values go up to 2**62 - 1. RFC 9000 lets an
encoder use a longer form than needed and RFC 9292 inherits that, so decoding accepts every
form while encoding always emits the shortest.
"""

from __future__ import annotations

MAX_VARINT = (1 << 62) - 1


class VarintError(ValueError):
    """Internal: the bytes end inside an integer (callers turn it into their format's error)."""


def encode_varint(value: int) -> bytes:
    """The shortest encoding of ``value`` (0 .. 2**62 - 1)."""
    if value < 0 or value > MAX_VARINT:
        raise ValueError(f"QUIC varint out of range: {value}")
    if value < 0x40:
        return bytes([value])
    if value < 0x4000:
        return (value | 0x4000).to_bytes(2, "big")
    if value < 0x4000_0000:
        return (value | 0x8000_0000).to_bytes(4, "big")
    return (value | 0xC000_0000_0000_0000).to_bytes(8, "big")


def decode_varint(data: bytes | memoryview, offset: int) -> tuple[int, int]:
    """Return ``(value, offset after it)``; :class:`VarintError` if ``data`` ends first."""
    if offset >= len(data):
        raise VarintError("input ends before an integer")
    first = data[offset]
    size = 1 << (first >> 6)
    end = offset + size
    if end > len(data):
        raise VarintError(f"input ends inside a {size}-byte integer")
    value = first & 0x3F
    for index in range(offset + 1, end):
        value = (value << 8) | data[index]
    return value, end

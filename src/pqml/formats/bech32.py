"""Bech32 (BIP 173 checksum, not Bech32m) without BIP 173's 90-character limit.

age encodes its keys with original Bech32 and lifts the length limit so post-quantum
recipients (1216-byte X-Wing keys, ~1950 characters) fit. Decoding is strict: mixed case,
characters outside the alphabet, a bad checksum or non-zero padding bits are all rejected,
so every key has exactly one accepted spelling (up to case).
"""

from __future__ import annotations

from pqml.formats.errors import Bech32Error

CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_VALUES = {c: i for i, c in enumerate(CHARSET)}
_GENERATOR = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
_BECH32_CONST = 1  # Bech32m would be 0x2BC830A3


def _polymod(values: list[int]) -> int:
    chk = 1
    for value in values:
        top = chk >> 25
        chk = (chk & 0x1FFFFFF) << 5 ^ value
        for i in range(5):
            if (top >> i) & 1:
                chk ^= _GENERATOR[i]
    return chk


def _hrp_expand(hrp: str) -> list[int]:
    return [ord(c) >> 5 for c in hrp] + [0] + [ord(c) & 31 for c in hrp]


def _check_hrp(hrp: str) -> None:
    if not hrp:
        raise Bech32Error("invalid Bech32: empty human-readable part")
    if any(not 33 <= ord(c) <= 126 for c in hrp):
        raise Bech32Error("invalid Bech32: human-readable part has a character out of range")


def encode_5bit(hrp: str, data: list[int]) -> str:
    """Encode 5-bit groups; the result is upper-case iff ``hrp`` is (age identities)."""
    _check_hrp(hrp)
    if hrp.lower() != hrp and hrp.upper() != hrp:
        raise Bech32Error("invalid Bech32: mixed-case human-readable part")
    if any(not 0 <= d < 32 for d in data):
        raise ValueError("Bech32 data values must be 5-bit")
    lower = hrp.lower()
    polymod = _polymod([*_hrp_expand(lower), *data, 0, 0, 0, 0, 0, 0]) ^ _BECH32_CONST
    checksum = [(polymod >> 5 * (5 - i)) & 31 for i in range(6)]
    out = lower + "1" + "".join(CHARSET[d] for d in data + checksum)
    return out.upper() if hrp.upper() == hrp and hrp.lower() != hrp else out


def decode_5bit(text: str, *, max_length: int | None = None) -> tuple[str, list[int]]:
    """Decode to ``(hrp, 5-bit groups)``; the HRP keeps the case it was written in."""
    if max_length is not None and len(text) > max_length:
        raise Bech32Error(f"invalid Bech32: longer than {max_length} characters")
    if text.lower() != text and text.upper() != text:
        raise Bech32Error("invalid Bech32: mixed case")
    pos = text.rfind("1")
    if pos < 0:
        raise Bech32Error("invalid Bech32: no separator '1'")
    hrp, body = text[:pos], text[pos + 1 :].lower()
    _check_hrp(hrp)
    if len(body) < 6:
        raise Bech32Error("invalid Bech32: checksum too short")
    try:
        data = [_VALUES[c] for c in body]
    except KeyError:
        raise Bech32Error("invalid Bech32: character outside the Bech32 alphabet") from None
    if _polymod([*_hrp_expand(hrp.lower()), *data]) != _BECH32_CONST:
        raise Bech32Error("invalid Bech32: checksum mismatch (typo or truncated string?)")
    return hrp, data[:-6]


def _convert_bits(data: bytes | list[int], from_bits: int, to_bits: int, pad: bool) -> list[int]:
    acc = bits = 0
    out: list[int] = []
    maxv = (1 << to_bits) - 1
    for value in data:
        acc = (acc << from_bits) | value
        bits += from_bits
        while bits >= to_bits:
            bits -= to_bits
            out.append((acc >> bits) & maxv)
    if pad:
        if bits:
            out.append((acc << (to_bits - bits)) & maxv)
    elif bits >= from_bits or (acc << (to_bits - bits)) & maxv:
        raise Bech32Error("invalid Bech32: non-zero or excess padding bits")
    return out


def encode(hrp: str, data: bytes) -> str:
    """Bech32-encode bytes (8-to-5-bit regrouping with zero padding)."""
    return encode_5bit(hrp, _convert_bits(data, 8, 5, pad=True))


def decode(text: str, *, max_length: int | None = None) -> tuple[str, bytes]:
    """Decode to ``(hrp, bytes)``, rejecting padding that is not canonical."""
    hrp, data = decode_5bit(text, max_length=max_length)
    return hrp, bytes(_convert_bits(data, 5, 8, pad=False))

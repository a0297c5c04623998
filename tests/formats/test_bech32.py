"""Bech32 codec: BIP 173 test vectors, plus age's lifted length limit."""

from __future__ import annotations

import pytest

from pqml.errors import KeyFormatError
from pqml.formats import bech32

# BIP 173 "Test vectors": valid Bech32 strings (checksums only, data is 5-bit groups).
BIP173_VALID = [
    "A12UEL5L",
    "a12uel5l",
    "an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs",
    "abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw",
    "11qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqc8247j",
    "split1checkupstagehandshakeupstreamerranterredcaperred2y9e3w",
    "?1ezyfcl",
]

# BIP 173 invalid strings, with the reason the BIP gives.
BIP173_INVALID = [
    ("\x201nwldj5", "HRP character out of range"),
    ("\x7f1axkwrx", "HRP character out of range"),
    ("\x801eym55h", "HRP character out of range"),
    ("pzry9x0s0muk", "no separator character"),
    ("1pzry9x0s0muk", "empty HRP"),
    ("x1b4n0q5v", "invalid data character"),
    ("li1dgmt3", "too short checksum"),
    ("de1lg7wt\xff", "invalid character in checksum"),
    ("A1G7SGD8", "checksum calculated with uppercase form of HRP"),
    ("10a06t8", "empty HRP"),
    ("1qzzfhee", "empty HRP"),
]
# Only invalid because of BIP 173's 90-character limit, which age (and we) lift.
BIP173_TOO_LONG = (
    "an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx"
)

# BIP 350 valid *Bech32m* strings: a Bech32 (BIP 173) decoder must reject them.
BIP350_VALID_BECH32M = [
    "A1LQFN3A",
    "a1lqfn3a",
    "abcdef1l7aum6echk45nj3s0wdvt2fg8x9yrzpqzd3ryx",
    "?1v759aa",
]

# BIP 173 segwit examples: valid Bech32 strings that carry byte-aligned-ish data.
BIP173_ADDRESSES = [
    "BC1QW508D6QEJXTDG4Y5R3ZARVARY0C5XW7KV8F3T4",
    "tb1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3q0sl5k7",
]


@pytest.mark.parametrize("text", BIP173_VALID)
def test_bip173_valid(text: str) -> None:
    hrp, data = bech32.decode_5bit(text, max_length=90)
    assert bech32.encode_5bit(hrp, data) == text


@pytest.mark.parametrize("text", BIP173_ADDRESSES)
def test_bip173_addresses_checksum(text: str) -> None:
    hrp, data = bech32.decode_5bit(text)
    assert bech32.encode_5bit(hrp, data) == text
    assert hrp.lower() in ("bc", "tb")


@pytest.mark.parametrize(("text", "reason"), BIP173_INVALID)
def test_bip173_invalid(text: str, reason: str) -> None:
    with pytest.raises(bech32.Bech32Error):
        bech32.decode_5bit(text)


def test_length_limit_is_optional() -> None:
    with pytest.raises(bech32.Bech32Error, match="longer than 90"):
        bech32.decode_5bit(BIP173_TOO_LONG, max_length=90)
    hrp, _ = bech32.decode_5bit(BIP173_TOO_LONG)  # the checksum itself is fine
    assert hrp.startswith("an84")


@pytest.mark.parametrize("text", BIP350_VALID_BECH32M)
def test_bech32m_rejected(text: str) -> None:
    with pytest.raises(bech32.Bech32Error, match="checksum"):
        bech32.decode_5bit(text)


def test_mixed_case_rejected() -> None:
    for text in ("A12uEL5L", "a12UEL5L"):
        with pytest.raises(bech32.Bech32Error, match="mixed case"):
            bech32.decode_5bit(text)


def test_bad_checksum_rejected() -> None:
    with pytest.raises(bech32.Bech32Error, match="checksum"):
        bech32.decode_5bit("A12UEL5M")


def test_errors_are_key_format_errors() -> None:
    assert issubclass(bech32.Bech32Error, KeyFormatError)


@pytest.mark.parametrize("size", [0, 1, 31, 32, 33, 1216, 4000])
def test_bytes_round_trip_long(size: int) -> None:
    payload = bytes((i * 7 + 3) & 0xFF for i in range(size))
    text = bech32.encode("age1pq", payload)
    assert text == text.lower()
    assert bech32.decode(text) == ("age1pq", payload)
    upper = bech32.encode("AGE-SECRET-KEY-PQ-", payload)
    assert upper == upper.upper()
    assert bech32.decode(upper) == ("AGE-SECRET-KEY-PQ-", payload)


def test_single_flipped_character_detected() -> None:
    text = bech32.encode("age", bytes(range(32)))
    for i in range(4, len(text)):
        alt = "q" if text[i] != "q" else "p"
        with pytest.raises(bech32.Bech32Error):
            bech32.decode(text[:i] + alt + text[i + 1 :])


def test_non_canonical_padding_rejected() -> None:
    # 32 bytes = 256 bits -> 52 groups with 4 padding bits; set a padding bit.
    data = bech32._convert_bits(bytes(32), 8, 5, pad=True)
    data[-1] |= 1
    with pytest.raises(bech32.Bech32Error, match="padding"):
        bech32.decode(bech32.encode_5bit("age", data))
    # 54 groups = 270 bits: 33 bytes and 6 leftover bits, more than any encoder pads.
    extra = [*bech32._convert_bits(bytes(32), 8, 5, pad=True), 0, 0]
    with pytest.raises(bech32.Bech32Error, match="padding"):
        bech32.decode(bech32.encode_5bit("age", extra))


def test_mixed_case_hrp_cannot_encode() -> None:
    with pytest.raises(bech32.Bech32Error):
        bech32.encode("Age", b"x")

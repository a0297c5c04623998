"""RFC 9458 wire formats: key configurations, ``application/ohttp-keys``, request headers,
chunk framing, QUIC varints."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ohttp_vectors import chunked_example, rfc9458_example

from pqml.formats.errors import OHTTPFormatError
from pqml.formats.ohttp import (
    ChunkDeframer,
    KeyConfig,
    RequestHeader,
    SymmetricSuite,
    decode_key_configs,
    encode_key_configs,
    frame_chunk,
    frame_final_chunk,
)
from pqml.formats.quic_varint import MAX_VARINT, VarintError, decode_varint, encode_varint

XWING_PK = bytes(range(256)) * 4 + bytes(192)  # 1216 bytes; formats do not check key content


def test_rfc9458_key_config_decodes() -> None:
    example = rfc9458_example()
    config = KeyConfig.decode(example["key_config"])
    assert (config.key_id, config.kem_id) == (1, 0x0020)
    assert config.suites == (SymmetricSuite(1, 1), SymmetricSuite(1, 3))
    assert config.encode() == example["key_config"]


def test_ohttp_keys_list_round_trip_and_length_prefixes() -> None:
    a = KeyConfig.decode(rfc9458_example()["key_config"])
    b = KeyConfig(2, 0x647A, XWING_PK, (SymmetricSuite(1, 2),))
    body = encode_key_configs([b, a])
    assert body[:2] == len(b.encode()).to_bytes(2, "big")
    assert decode_key_configs(body) == ([b, a], 0)


def test_unknown_kem_skipped_not_fatal() -> None:
    known = KeyConfig.decode(chunked_example()["key_config"])
    unknown = bytes([9]) + b"\x7f\x7f" + bytes(40) + b"\x00\x04\x00\x01\x00\x01"
    body = len(unknown).to_bytes(2, "big") + unknown + encode_key_configs([known])
    assert decode_key_configs(body) == ([known], 1)


@pytest.mark.parametrize(("body", "match"), [
    (b"", "empty"),
    (b"\x00", "truncated length prefix"),
    (b"\x00\x30" + bytes(10), "runs past the end"),
    (b"\x00\x02\x01\x00", "truncated"),
])
def test_ohttp_keys_malformed(body: bytes, match: str) -> None:
    with pytest.raises(OHTTPFormatError, match=match):
        decode_key_configs(body)


def test_key_config_strictness() -> None:
    good = rfc9458_example()["key_config"]
    with pytest.raises(OHTTPFormatError, match="has 46 bytes"):
        KeyConfig.decode(good + b"\x00")
    with pytest.raises(OHTTPFormatError, match="truncated"):
        KeyConfig.decode(good[:20])
    no_suites = good[:35] + b"\x00\x00"
    with pytest.raises(OHTTPFormatError, match="not 4"):
        KeyConfig.decode(no_suites)
    odd = good[:35] + b"\x00\x06" + good[37:] + b"\x00\x00"
    with pytest.raises(OHTTPFormatError, match="steps of 4"):
        KeyConfig.decode(odd)
    with pytest.raises(OHTTPFormatError, match="unsupported HPKE KEM id 0x7f7f"):
        KeyConfig.decode(b"\x01\x7f\x7f" + bytes(10))
    with pytest.raises(OHTTPFormatError, match="lists no"):
        KeyConfig(1, 0x20, bytes(32), ())
    with pytest.raises(OHTTPFormatError, match=r"0\.\.255"):
        KeyConfig(256, 0x20, bytes(32), (SymmetricSuite(1, 1),))


def test_duplicate_key_ids_refused() -> None:
    a = KeyConfig.decode(rfc9458_example()["key_config"])
    with pytest.raises(OHTTPFormatError, match="same key id"):
        encode_key_configs([a, a])
    body = encode_key_configs([a]) * 2
    with pytest.raises(OHTTPFormatError, match="same key id"):
        decode_key_configs(body)


def test_too_many_configs_refused() -> None:
    one = encode_key_configs([KeyConfig.decode(rfc9458_example()["key_config"])])
    with pytest.raises(OHTTPFormatError, match="over 64 configs"):
        decode_key_configs(one * 65)


def test_request_header_and_info() -> None:
    header = RequestHeader(1, 0x0020, 1, 1)
    assert header.encode() == bytes.fromhex("01002000010001")
    assert RequestHeader.decode(header.encode() + b"rest") == header
    assert header.info() == rfc9458_example()["info"]
    assert header.info(chunked=True) == chunked_example()["info"]
    with pytest.raises(OHTTPFormatError, match="shorter than its 7-byte header"):
        RequestHeader.decode(b"\x01\x00")


# ---- chunk framing -------------------------------------------------------------------------


def test_deframer_incremental_and_final() -> None:
    body = frame_chunk(b"a" * 100) + frame_chunk(b"b") + frame_final_chunk(b"last")
    deframer = ChunkDeframer()
    out: list[bytes] = []
    for byte in body:
        out += deframer.feed(bytes([byte]))
    assert out == [b"a" * 100, b"b"] and deframer.final_seen
    assert deframer.close() == b"last"


def test_deframer_accepts_non_minimal_lengths() -> None:
    # the draft: the varint encoding of a length is not authenticated, any form is valid
    body = b"\x40\x02ab" + b"\x00"
    deframer = ChunkDeframer()
    assert deframer.feed(body) == [b"ab"] and deframer.close() == b""


def test_deframer_failures() -> None:
    deframer = ChunkDeframer(max_chunk=10)
    with pytest.raises(OHTTPFormatError, match="over 10"):
        deframer.feed(b"\x0b")
    truncated = ChunkDeframer()
    truncated.feed(frame_chunk(b"abc"))
    with pytest.raises(OHTTPFormatError, match="without its final chunk"):
        truncated.close()
    final_too_big = ChunkDeframer(max_chunk=4)
    with pytest.raises(OHTTPFormatError, match="final chunk over 4"):
        final_too_big.feed(b"\x00" + bytes(5))
    closed = ChunkDeframer()
    closed.feed(b"\x00")
    closed.close()
    with pytest.raises(OHTTPFormatError, match="after the end"):
        closed.feed(b"x")
    with pytest.raises(OHTTPFormatError, match="cannot be empty"):
        frame_chunk(b"")


# ---- varints --------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "encoded"), [  # RFC 9000 §A.1 examples
    (151288809941952652, "c2197c5eff14e88c"), (494878333, "9d7f3e7d"), (15293, "7bbd"),
    (37, "25"),
])
def test_varint_rfc9000_examples(value: int, encoded: str) -> None:
    assert encode_varint(value) == bytes.fromhex(encoded)
    assert decode_varint(bytes.fromhex(encoded), 0) == (value, len(encoded) // 2)


def test_varint_non_minimal_and_bounds() -> None:
    assert decode_varint(bytes.fromhex("4025"), 0) == (37, 2)  # RFC 9000: same value
    with pytest.raises(ValueError):
        encode_varint(MAX_VARINT + 1)
    with pytest.raises(ValueError):
        encode_varint(-1)
    with pytest.raises(VarintError):
        decode_varint(b"\xc0\x00", 0)
    with pytest.raises(VarintError):
        decode_varint(b"", 0)


@given(st.integers(0, MAX_VARINT))
def test_varint_round_trip(value: int) -> None:
    encoded = encode_varint(value)
    assert decode_varint(encoded + b"tail", 0) == (value, len(encoded))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_key_configs_typed_errors_only(data: bytes) -> None:
    try:
        configs, _skipped = decode_key_configs(data)
    except OHTTPFormatError:
        return
    if configs:  # what parsed re-encodes to a list that parses the same
        assert decode_key_configs(encode_key_configs(configs)) == (configs, 0)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=40), max_size=8))
def test_fuzz_deframer_splits(pieces: list[bytes]) -> None:
    deframer = ChunkDeframer(max_chunk=64)
    try:
        for piece in pieces:
            deframer.feed(piece)
        deframer.close()
    except OHTTPFormatError:
        pass

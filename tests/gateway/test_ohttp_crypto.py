"""RFC 9458 encapsulation and chunked OHTTP: the published examples byte for byte, round
trips for every suite, and every way a request or response can be wrong."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ohttp_vectors import chunked_example, rfc9458_example

from pqml.formats.errors import OHTTPFormatError
from pqml.formats.ohttp import (
    CHUNKED_RESPONSE_LABEL,
    RESPONSE_LABEL,
    KeyConfig,
    RequestHeader,
    SymmetricSuite,
)
from pqml.gateway import ohttp
from pqml.gateway.chunked import (
    ChunkedRequestReader,
    ChunkedRequestSender,
    ChunkedResponseWriter,
)
from pqml.gateway.errors import KeyConfigMismatchError, OHTTPError, UnsupportedSuiteError
from pqml.primitives import hpke
from pqml.primitives.errors import DecryptionError, PolicyError

X25519 = 0x0020
AES128 = SymmetricSuite(0x0001, 0x0001)
CHACHA = SymmetricSuite(0x0001, 0x0003)
PQ_SUITES = [ohttp.XWING, ohttp.MLKEM768, ohttp.MLKEM1024]


def _example_key(example: dict[str, bytes]) -> ohttp.ServerKey:
    return ohttp.ServerKey.from_private_bytes(1, X25519, example["server_sk"], [AES128, CHACHA],
                                              allow_legacy=True)


def _client_kem_output(example: dict[str, bytes], key: ohttp.ServerKey) -> tuple[bytes, bytes]:
    """(shared_secret, enc) of the example's ephemeral key: enc is the public key of the
    client secret the example gives; for DHKEM the shared secret the client derives equals
    the one the gateway derives from enc, so the gateway side computes it (the test hook
    takes the KEM's output because HPKE's ephemeral comes from randomness)."""
    kem = hpke.get_kem(X25519)
    enc = kem.private_from_bytes(example["client_sk"]).public_key().public_bytes()
    assert enc == example["client_pk"]
    return kem.decap(enc, key.private_key), enc


# ---- RFC 9458 Appendix A -----------------------------------------------------------------


def test_rfc9458_key_config_reproduces() -> None:
    example = rfc9458_example()
    key = _example_key(example)
    assert key.config.encode() == example["key_config"]
    assert KeyConfig.decode(example["key_config"]) == key.config


def test_rfc9458_request_reproduces_byte_for_byte() -> None:
    example = rfc9458_example()
    key = _example_key(example)
    config = KeyConfig.decode(example["key_config"])
    header = RequestHeader(1, X25519, 1, 1)
    assert header.info() == example["info"]
    enc_request, _ = ohttp.encapsulate_request(
        config, example["request"], suite=AES128, allow_legacy=True,
        _kem_output=_client_kem_output(example, key))
    assert enc_request == example["enc_request"]


def test_rfc9458_gateway_decapsulates_and_answers_byte_for_byte() -> None:
    example = rfc9458_example()
    key = _example_key(example)
    request, context = key.decapsulate_request(example["enc_request"])
    assert request == example["request"]
    assert context.enc == example["client_pk"] and context.key_id == 1
    # intermediate values: the exported secret, then the response key and nonce
    assert context._context.export(RESPONSE_LABEL, 16) == example["secret"]
    nonce = example["salt"][32:]
    suite = ohttp.hpke_suite_of(context.header)
    assert ohttp.response_context(suite, example["secret"], context.enc, nonce) == (
        example["aead_key"], example["aead_nonce"])
    response = context.encapsulate_response(example["response"], _response_nonce=nonce)
    assert response == example["enc_response"]


def test_rfc9458_client_reads_the_example_response() -> None:
    example = rfc9458_example()
    key = _example_key(example)
    _, client = ohttp.encapsulate_request(
        KeyConfig.decode(example["key_config"]), example["request"], suite=AES128,
        allow_legacy=True, _kem_output=_client_kem_output(example, key))
    assert client.decapsulate_response(example["enc_response"]) == example["response"]


# ---- chunked OHTTP example -----------------------------------------------------------------


def test_chunked_example_request_reproduces_byte_for_byte() -> None:
    example = chunked_example()
    key = _example_key(example)
    assert key.config.encode() == example["key_config"]
    assert RequestHeader(1, X25519, 1, 1).info(chunked=True) == example["info"]
    sender = ChunkedRequestSender(KeyConfig.decode(example["key_config"]), suite=AES128,
                                  allow_legacy=True,
                                  _kem_output=_client_kem_output(example, key))
    request = example["request"]
    body = sender.header + sender.seal(request[:12]) + sender.seal(request[12:])
    body += sender.seal_final()
    assert body == example["enc_request"]


def test_chunked_example_gateway_side_byte_for_byte() -> None:
    example = chunked_example()
    reader = ChunkedRequestReader(_example_key(example))
    pieces: list[bytes] = []
    for i in range(len(example["enc_request"])):  # one byte at a time: fully incremental
        pieces += reader.feed(example["enc_request"][i : i + 1])
    assert pieces == [example["request"][:12], example["request"][12:]]
    assert reader.close() == b""
    assert reader.enc == example["client_pk"]
    assert reader._context is not None
    assert reader._context.export(CHUNKED_RESPONSE_LABEL, 16) == example["secret"]
    writer = reader.response_writer(_response_nonce=example["salt"][32:])
    body = writer.start() + writer.seal(example["response"][:1])
    body += writer.seal(example["response"][1:]) + writer.seal_final()
    assert body == example["enc_response"]


def test_chunked_example_client_reads_response() -> None:
    example = chunked_example()
    key = _example_key(example)
    sender = ChunkedRequestSender(KeyConfig.decode(example["key_config"]), suite=AES128,
                                  allow_legacy=True,
                                  _kem_output=_client_kem_output(example, key))
    reader = sender.response_reader()
    assert reader.feed(example["enc_response"]) == [b"\x01", b"\x40\xc8"]
    assert reader.close() == b""


# ---- round trips per suite ------------------------------------------------------------------


@pytest.mark.parametrize("suite", PQ_SUITES, ids=lambda s: s.name)
@pytest.mark.parametrize("aead", [0x0001, 0x0002, 0x0003])
def test_round_trip_every_pq_suite(suite: ohttp.OHTTPSuite, aead: int) -> None:
    key = ohttp.ServerKey.generate(7, suite, extra_suites=[SymmetricSuite(1, aead)])
    chosen = SymmetricSuite(1, aead)
    enc_request, client = ohttp.encapsulate_request(key.config, b"prompt", suite=chosen)
    assert enc_request[:7] == RequestHeader(7, suite.kem_id, 1, aead).encode()
    request, server = key.decapsulate_request(enc_request)
    assert request == b"prompt"
    assert client.decapsulate_response(server.encapsulate_response(b"answer")) == b"answer"


def test_default_suite_is_xwing_aes256() -> None:
    key = ohttp.ServerKey.generate(1)
    assert key.config.kem_id == 0x647A
    assert key.config.suites == (SymmetricSuite(1, 2),)
    assert len(key.config.public_key) == 1216
    assert repr(key) == "<OHTTP gateway key 1 MLKEM768-X25519 (X-Wing)>"


@pytest.mark.parametrize("suite", PQ_SUITES, ids=lambda s: s.name)
def test_chunked_round_trip_every_pq_suite(suite: ohttp.OHTTPSuite) -> None:
    key = ohttp.ServerKey.generate(3, suite)
    sender = ChunkedRequestSender(key.config)
    body = sender.encapsulate([b"a" * 20000, b"b", b""])
    reader = ChunkedRequestReader([key])
    assert b"".join(reader.feed(body)) + reader.close() == b"a" * 20000 + b"b"
    writer = reader.response_writer()
    response = writer.seal(b"tok1") + writer.seal(b"tok2") + writer.seal_final(b"end")
    client = sender.response_reader()
    assert [*client.feed(response), client.close()] == [b"tok1", b"tok2", b"end"]


def test_server_key_survives_private_bytes() -> None:
    key = ohttp.ServerKey.generate(9, ohttp.MLKEM768)
    again = ohttp.ServerKey.from_private_bytes(9, key.kem_id, key.private_bytes(), key.suites)
    assert again.config == key.config
    enc_request, _ = ohttp.encapsulate_request(key.config, b"x")
    assert again.decapsulate_request(enc_request)[0] == b"x"


def test_key_rotation_several_keys() -> None:
    old, new = ohttp.ServerKey.generate(1), ohttp.ServerKey.generate(2, ohttp.MLKEM1024)
    for key in (old, new):
        enc_request, _ = ohttp.encapsulate_request(key.config, b"q")
        request, context = ohttp.decapsulate_request([old, new], enc_request)
        assert request == b"q" and context.key_id == key.key_id


def test_every_request_has_a_fresh_enc() -> None:
    key = ohttp.ServerKey.generate(1)
    encs = {ohttp.encapsulate_request(key.config, b"same")[0][7 : 7 + 1120] for _ in range(3)}
    assert len(encs) == 3  # the replay nonce of RFC 9458 §6.5


def test_each_response_has_a_fresh_nonce() -> None:
    key = ohttp.ServerKey.generate(1)
    outputs = set()
    for _ in range(2):
        enc_request, _ = ohttp.encapsulate_request(key.config, b"same")
        outputs.add(key.decapsulate_request(enc_request)[1].encapsulate_response(b"r")[:32])
    assert len(outputs) == 2


# ---- legacy, suites ---------------------------------------------------------------------------


def test_x25519_needs_explicit_opt_in() -> None:
    with pytest.raises(PolicyError, match="quantum-vulnerable"):
        ohttp.ServerKey.generate(1, ohttp.X25519_LEGACY)
    key = ohttp.ServerKey.generate(1, ohttp.X25519_LEGACY, allow_legacy=True)
    assert key.legacy
    with pytest.raises(PolicyError, match="allow_legacy"):
        ohttp.encapsulate_request(key.config, b"x")
    enc_request, client = ohttp.encapsulate_request(key.config, b"x", allow_legacy=True)
    request, server = key.decapsulate_request(enc_request)
    assert client.decapsulate_response(server.encapsulate_response(request)) == b"x"


def test_unsupported_kdf_refused() -> None:
    # HKDF-SHA512 (0x0003) and the one-stage SHAKE KDFs have no OHTTP response KDF here
    with pytest.raises(UnsupportedSuiteError, match="HKDF-SHA256 and HKDF-SHA384"):
        ohttp.ServerKey.generate(1, ohttp.OHTTPSuite("x", 0x647A, kdf_id=0x0003))
    config = KeyConfig(1, 0x647A, ohttp.ServerKey.generate(1).config.public_key,
                       (SymmetricSuite(3, 2), SymmetricSuite(0x10, 2)))
    with pytest.raises(UnsupportedSuiteError, match="no \\(KDF, AEAD\\) pair"):
        ohttp.encapsulate_request(config, b"x")


def test_suite_not_offered_by_config_refused() -> None:
    key = ohttp.ServerKey.generate(1)
    with pytest.raises(UnsupportedSuiteError, match="does not offer"):
        ohttp.encapsulate_request(key.config, b"x", suite=CHACHA)


def test_suite_by_name() -> None:
    assert ohttp.suite_by_name("X-Wing") is ohttp.XWING
    assert ohttp.suite_by_name("ml-kem-1024") is ohttp.MLKEM1024
    with pytest.raises(UnsupportedSuiteError, match="unknown OHTTP suite"):
        ohttp.suite_by_name("rsa")


# ---- bad requests ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def xwing_key() -> ohttp.ServerKey:
    return ohttp.ServerKey.generate(5)


@pytest.fixture(scope="module")
def good_request(xwing_key: ohttp.ServerKey) -> bytes:
    return ohttp.encapsulate_request(xwing_key.config, b"hello")[0]


def test_wrong_key_id(xwing_key: ohttp.ServerKey, good_request: bytes) -> None:
    bad = bytes([6]) + good_request[1:]
    with pytest.raises(KeyConfigMismatchError, match="key id 6"):
        xwing_key.decapsulate_request(bad)


@pytest.mark.parametrize(("offset", "value", "match"), [
    (1, b"\x00\x41", "request names KEM 0x0041"),
    (3, b"\x00\x02", "does not accept KDF 0x0002"),
    (5, b"\x00\x03", "AEAD 0x0003"),
])
def test_wrong_suite(xwing_key: ohttp.ServerKey, good_request: bytes, offset: int,
                     value: bytes, match: str) -> None:
    bad = good_request[:offset] + value + good_request[offset + 2 :]
    with pytest.raises(KeyConfigMismatchError, match=match):
        xwing_key.decapsulate_request(bad)


@pytest.mark.parametrize("length", [0, 3, 7, 7 + 1120, 7 + 1120 + 15])
def test_truncated_request(xwing_key: ohttp.ServerKey, good_request: bytes,
                           length: int) -> None:
    with pytest.raises(OHTTPFormatError):
        xwing_key.decapsulate_request(good_request[:length])


def test_truncated_ciphertext_fails_authentication(xwing_key: ohttp.ServerKey,
                                                   good_request: bytes) -> None:
    with pytest.raises(DecryptionError):
        xwing_key.decapsulate_request(good_request[:-1])


def test_oversized_request(xwing_key: ohttp.ServerKey, good_request: bytes) -> None:
    with pytest.raises(OHTTPFormatError, match="over the 1000-byte limit"):
        xwing_key.decapsulate_request(good_request, max_size=1000)


@pytest.mark.parametrize("index", [7, 500, 7 + 1119, 7 + 1120, -1])
def test_tampered_request(xwing_key: ohttp.ServerKey, good_request: bytes, index: int) -> None:
    bad = bytearray(good_request)
    bad[index] ^= 0x01
    with pytest.raises(DecryptionError):
        xwing_key.decapsulate_request(bytes(bad))


def test_request_to_another_key_with_same_id(good_request: bytes) -> None:
    stranger = ohttp.ServerKey.generate(5)
    with pytest.raises(DecryptionError):
        stranger.decapsulate_request(good_request)


# ---- bad responses ----------------------------------------------------------------------------


def _exchange(key: ohttp.ServerKey) -> tuple[ohttp.ClientContext, ohttp.ServerContext]:
    enc_request, client = ohttp.encapsulate_request(key.config, b"q")
    return client, key.decapsulate_request(enc_request)[1]


def test_tampered_truncated_and_foreign_responses(xwing_key: ohttp.ServerKey) -> None:
    client, server = _exchange(xwing_key)
    response = server.encapsulate_response(b"answer")
    for bad in (response[:-1], response[:31] + bytes([response[31] ^ 1]) + response[32:],
                response[:-1] + bytes([response[-1] ^ 0x80])):
        with pytest.raises(DecryptionError):
            _exchange(xwing_key)[0].decapsulate_response(bad)
        with pytest.raises(DecryptionError):
            client.decapsulate_response(bad)
    with pytest.raises(OHTTPFormatError, match="shorter than"):
        client.decapsulate_response(response[:40])
    other_client, _ = _exchange(xwing_key)
    with pytest.raises(DecryptionError):
        other_client.decapsulate_response(response)
    assert client.decapsulate_response(response) == b"answer"  # failures left it usable
    with pytest.raises(OHTTPError, match="already read"):
        client.decapsulate_response(response)


def test_a_request_is_answered_once(xwing_key: ohttp.ServerKey) -> None:
    _, server = _exchange(xwing_key)
    server.encapsulate_response(b"a")
    with pytest.raises(OHTTPError, match="already answered"):
        server.encapsulate_response(b"b")


# ---- chunked failure modes --------------------------------------------------------------------


@pytest.fixture(scope="module")
def chunked_exchange(xwing_key: ohttp.ServerKey) -> tuple[bytes, bytes, ChunkedRequestSender]:
    sender = ChunkedRequestSender(xwing_key.config)
    request = sender.header + sender.seal(b"one") + sender.seal(b"two") + sender.seal_final(b"3")
    reader = ChunkedRequestReader(xwing_key)
    reader.feed(request)
    reader.close()
    writer = reader.response_writer()
    response = writer.start() + writer.seal(b"tok") + writer.seal_final(b"")
    return request, response, sender


def _read_request(key: ohttp.ServerKey, body: bytes) -> list[bytes]:
    reader = ChunkedRequestReader(key)
    return [*reader.feed(body), reader.close()]


def test_chunked_request_truncated_at_chunk_boundary(xwing_key: ohttp.ServerKey,
                                                     chunked_exchange) -> None:
    request, _, _ = chunked_exchange
    without_final = request[: -(1 + 1 + 16)]  # drop the zero length and the final chunk
    with pytest.raises(OHTTPFormatError, match="without its final chunk"):
        _read_request(xwing_key, without_final)


def test_chunked_request_final_chunk_cut(xwing_key: ohttp.ServerKey, chunked_exchange) -> None:
    request, _, _ = chunked_exchange
    with pytest.raises(DecryptionError, match="final chunk"):
        _read_request(xwing_key, request[:-1])


def test_chunked_request_non_final_passed_as_final(xwing_key: ohttp.ServerKey) -> None:
    sender = ChunkedRequestSender(xwing_key.config)
    sealed = sender.seal(b"only")
    forged = sender.header + b"\x00" + sealed[1:]  # a non-final chunk relabelled final
    with pytest.raises(DecryptionError, match="final chunk fails"):
        _read_request(xwing_key, forged)


def test_chunked_request_reordered_chunks(xwing_key: ohttp.ServerKey) -> None:
    sender = ChunkedRequestSender(xwing_key.config)
    first, second = sender.seal(b"one"), sender.seal(b"two")
    body = sender.header + second + first + sender.seal_final()
    with pytest.raises(DecryptionError, match="chunk 0"):
        _read_request(xwing_key, body)


def test_chunked_request_wrong_key_id_detected_at_header(xwing_key: ohttp.ServerKey) -> None:
    sender = ChunkedRequestSender(ohttp.ServerKey.generate(9).config)
    reader = ChunkedRequestReader(xwing_key)
    with pytest.raises(KeyConfigMismatchError, match="key id 9"):
        reader.feed(sender.header[:7])


def test_chunked_request_oversized_chunk(xwing_key: ohttp.ServerKey) -> None:
    sender = ChunkedRequestSender(xwing_key.config)
    reader = ChunkedRequestReader(xwing_key, max_chunk=1024)
    reader.feed(sender.header)
    with pytest.raises(OHTTPFormatError, match="over 1024"):
        reader.feed(sender.seal(b"x" * 2000)[:4])  # refused on its length alone


def test_chunked_empty_non_final_chunk(xwing_key: ohttp.ServerKey) -> None:
    sender = ChunkedRequestSender(xwing_key.config)
    with pytest.raises(OHTTPError, match="cannot be empty"):
        sender.seal(b"")
    context = sender._context
    forged = sender.header + b"\x10" + context.seal(b"") + sender.seal_final()
    with pytest.raises(DecryptionError, match="empty"):
        _read_request(xwing_key, forged)


def test_chunked_request_truncated_in_header(xwing_key: ohttp.ServerKey,
                                             chunked_exchange) -> None:
    request, _, _ = chunked_exchange
    reader = ChunkedRequestReader(xwing_key)
    assert reader.feed(request[:100]) == []
    with pytest.raises(OHTTPFormatError, match="inside its header"):
        reader.close()


def test_chunked_response_truncated_and_tampered(chunked_exchange) -> None:
    _, response, sender = chunked_exchange
    reader = sender.response_reader()
    assert reader.feed(response) == [b"tok"]
    assert reader.close() == b""
    cut = response[: -(1 + 16)]
    for bad, error in ((cut, OHTTPFormatError), (response[:-3], DecryptionError),
                       (response[:40] + bytes([response[40] ^ 1]) + response[41:],
                        DecryptionError)):
        reader = sender.response_reader()
        with pytest.raises(error):
            reader.feed(bad)
            reader.close()


def test_chunked_response_writer_rules(xwing_key: ohttp.ServerKey) -> None:
    sender = ChunkedRequestSender(xwing_key.config)
    reader = ChunkedRequestReader(xwing_key)
    with pytest.raises(OHTTPError, match="not read yet"):
        reader.response_writer()
    reader.feed(sender.header)
    writer = reader.response_writer()
    assert isinstance(writer, ChunkedResponseWriter)
    body = writer.seal(b"a")  # carries the nonce itself
    with pytest.raises(OHTTPError, match="already sent"):
        writer.start()
    body += writer.seal_final(b"b")
    with pytest.raises(OHTTPError, match="already ended"):
        writer.seal(b"c")
    client = sender.response_reader()
    assert client.feed(body) == [b"a"] and client.close() == b"b"


# ---- fuzz: never anything but the typed errors -----------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=1300), prefix=st.booleans())
def test_fuzz_decapsulate_request(xwing_key: ohttp.ServerKey, good_request: bytes,
                                  data: bytes, prefix: bool) -> None:
    body = good_request[:7] + data if prefix else data
    with contextlib.suppress(OHTTPFormatError, KeyConfigMismatchError, DecryptionError):
        xwing_key.decapsulate_request(body)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=200), cut=st.integers(0, 60))
def test_fuzz_chunked_response_reader(chunked_exchange, data: bytes, cut: int) -> None:
    _, response, sender = chunked_exchange
    reader = sender.response_reader(max_chunk=4096)
    try:
        reader.feed(response[:cut] + data)
        reader.close()
    except (OHTTPFormatError, DecryptionError):
        pass


@pytest.mark.parametrize("kem_id", [0x0010, 0x0011, 0x0012, 0x0020, 0x0021])
def test_every_dhkem_is_flagged_legacy(kem_id: int) -> None:
    private = hpke.get_kem(kem_id).generate_key_pair()
    with pytest.raises(PolicyError, match="quantum-vulnerable"):
        ohttp.ServerKey(1, private, kem_id=kem_id)
    key = ohttp.ServerKey(1, private, kem_id=kem_id, allow_legacy=True)
    assert key.legacy and key.config.kem_id == kem_id


def test_server_key_kem_must_match_private_key() -> None:
    from pqml.primitives.errors import WrongKeyTypeError

    private = hpke.get_kem(0x0041).generate_key_pair()
    with pytest.raises(WrongKeyTypeError):
        ohttp.ServerKey(1, private, kem_id=0x0042)
    assert ohttp.ServerKey(1, private).kem_id == 0x0041  # the registry names its KEM


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=300), cut=st.integers(0, 1200), pieces=st.integers(1, 4))
def test_fuzz_chunked_request_reader(xwing_key: ohttp.ServerKey, chunked_exchange,
                                     data: bytes, cut: int, pieces: int) -> None:
    request, _, _ = chunked_exchange
    body = request[:cut] + data
    reader = ChunkedRequestReader(xwing_key, max_chunk=4096)
    step = max(1, len(body) // pieces)
    try:
        for i in range(0, len(body), step):
            reader.feed(body[i : i + step])
        reader.close()
    except (OHTTPFormatError, KeyConfigMismatchError, DecryptionError):
        pass

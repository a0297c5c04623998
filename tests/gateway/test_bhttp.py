"""RFC 9292 Binary HTTP: the RFC's examples, round trips, streaming, truncation and padding
rules, strictness and bounds, and a fuzz that only ever sees BinaryHTTPError."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ohttp_vectors import rfc9292_examples, rfc9458_example

from pqml.formats import bhttp
from pqml.formats.errors import BinaryHTTPError

HELLO = bhttp.Request(
    "GET", "https", "", "/hello.txt",
    ((b"user-agent", b"curl/7.16.3 libcurl/7.16.3 OpenSSL/0.9.7l zlib/1.2.3"),
     (b"host", b"www.example.com"), (b"accept-language", b"en, mi")),
)


# ---- the RFC 9292 §5 examples ------------------------------------------------------------


def test_rfc9292_known_length_request() -> None:
    data = rfc9292_examples()["ex-bink-request"]
    assert bhttp.decode_request(data) == HELLO
    assert bhttp.encode_request(HELLO) == data
    # "the last two bytes ... can each be removed without altering the semantics"
    assert bhttp.decode_request(data[:-1]) == HELLO == bhttp.decode_request(data[:-2])
    assert bhttp.encode_request(HELLO, truncate=True) == data[:-2]


def test_rfc9292_indeterminate_request_with_padding() -> None:
    data = rfc9292_examples()["ex-bini-request"]
    assert bhttp.decode_request(data) == HELLO
    assert bhttp.encode_request(HELLO, indeterminate=True, padding=10) == data
    for cut in range(13):  # "anything up to 12 bytes can be removed"
        assert bhttp.decode_request(data[: len(data) - cut]) == HELLO
    with pytest.raises(BinaryHTTPError, match="truncated"):
        bhttp.decode_request(data[: len(data) - 13])


def test_rfc9292_response_with_informational_responses() -> None:
    data = rfc9292_examples()["ex-bini-response"]
    response = bhttp.decode_response(data)
    assert response.status == 200
    assert [i.status for i in response.informational] == [102, 103]
    assert response.informational[0].headers == ((b"running", b'"sleep 15"'),)
    assert response.informational[1].headers[1] == (b"link", b"</script.js>; rel=preload; "
                                                             b"as=script")
    assert dict(response.headers)[b"content-length"] == b"51"
    assert response.content == b"Hello World! My content includes a trailing CRLF.\r\n"
    assert response.trailers == ()
    assert bhttp.encode_response(response, indeterminate=True) == data


def test_rfc9292_known_length_response_with_trailer() -> None:
    data = rfc9292_examples()["ex-bink-chunked"]
    response = bhttp.decode_response(data)
    assert response == bhttp.Response(200, (), b"This content contains CRLF.\r\n",
                                      ((b"trailer", b"text"),))
    assert bhttp.encode_response(response) == data


def test_rfc9458_minimal_messages() -> None:
    example = rfc9458_example()
    request = bhttp.decode_request(example["request"])
    assert request == bhttp.Request("GET", "https", "example.com", "/")
    assert bhttp.encode_request(request, truncate=True) == example["request"]
    assert bhttp.decode_response(example["response"]) == bhttp.Response(200)
    assert bhttp.encode_response(bhttp.Response(200), truncate=True) == example["response"]


# ---- round trips ------------------------------------------------------------------------


FULL_RESPONSE = bhttp.Response(
    201, ((b"content-type", b"application/json"), (b"x-empty", b"")), b"{}" * 1000,
    ((b"server-timing", b"total;dur=3"),),
    (bhttp.InformationalResponse(103, ((b"link", b"</a>"),)),),
)


@pytest.mark.parametrize("indeterminate", [False, True])
@pytest.mark.parametrize("padding", [0, 1, 100])
def test_round_trip(indeterminate: bool, padding: int) -> None:
    request = bhttp.Request("POST", "http", "model.internal:8080", "/v1/chat?stream=1",
                            ((b"content-type", b"application/json"),), b"x" * 70000,
                            ((b"checksum", b"abc"),))
    for message in (request, FULL_RESPONSE):
        data = bhttp.encode_message(message, padding=padding, indeterminate=indeterminate)
        assert bhttp.decode_message(data) == message


def test_padding_for_blocks() -> None:
    assert bhttp.padding_for(100, 64) == 28
    assert bhttp.padding_for(128, 64) == 0
    with pytest.raises(BinaryHTTPError):
        bhttp.padding_for(1, 0)


# ---- streaming ----------------------------------------------------------------------------


def test_stream_encoder_and_incremental_decoder() -> None:
    data = (bhttp.response_head(200, ((b"content-type", b"text/event-stream"),),
                                (bhttp.InformationalResponse(100),))
            + bhttp.content_chunk(b"tok1 ") + bhttp.content_chunk(b"")
            + bhttp.content_chunk(b"tok2") + bhttp.message_tail(((b"x-done", b"1"),), padding=7))
    decoder = bhttp.MessageDecoder("response")
    events: list[bhttp.Event] = []
    for byte in data:
        events += decoder.feed(bytes([byte]))
    events += decoder.close()
    head = events[0]
    assert isinstance(head, bhttp.Head) and isinstance(head.message, bhttp.Response)
    assert head.message.status == 200
    assert head.message.informational == (bhttp.InformationalResponse(100),)
    content = b"".join(e.data for e in events if isinstance(e, bhttp.Content))
    assert content == b"tok1 tok2"
    assert events[-1] == bhttp.End(((b"x-done", b"1"),))


def test_head_arrives_before_content() -> None:
    decoder = bhttp.MessageDecoder("response")
    events = decoder.feed(bhttp.response_head(200) + bhttp.content_chunk(b"first")[:3])
    assert len(events) == 2 and isinstance(events[0], bhttp.Head)
    assert events[1] == bhttp.Content(b"fi")  # partial chunk content is passed on at once


def test_streamed_request_head() -> None:
    data = bhttp.request_head(bhttp.Request("POST", path="/x")) + bhttp.content_chunk(b"b")
    data += bhttp.message_tail()
    assert bhttp.decode_request(data) == bhttp.Request("POST", path="/x", content=b"b")


# ---- truncation (RFC 9292 §3.1, §3.2, §3.8) -----------------------------------------------


def test_truncation_allowed_only_at_section_boundaries() -> None:
    request = bhttp.Request("GET", path="/", headers=((b"a", b"b"),), content=b"xyz")
    known = bhttp.encode_request(request)
    boundary = len(known) - 1  # before the trailer section
    assert bhttp.decode_request(known[:boundary]) == request
    for cut in range(1, boundary):
        data = known[:cut]
        try:
            decoded = bhttp.decode_request(data)
        except BinaryHTTPError:
            continue
        # a shorter message may only decode where sections are legitimately absent
        assert decoded.content == b"" and decoded.headers in ((), request.headers)


def test_indeterminate_content_must_end_with_terminator() -> None:
    data = bhttp.request_head(bhttp.Request("POST")) + bhttp.content_chunk(b"part")
    with pytest.raises(BinaryHTTPError, match="truncated in its content"):
        bhttp.decode_request(data)
    with pytest.raises(BinaryHTTPError, match="truncated in its header"):
        bhttp.decode_request(bytes.fromhex("02") + bhttp.encode_request(
            bhttp.Request("GET"), indeterminate=True)[1:-3] + b"\x01a")


@pytest.mark.parametrize("data", [b"", b"\x00", b"\x00\x03GE", b"\x01", b"\x01\x40"])
def test_truncated_control_data(data: bytes) -> None:
    with pytest.raises(BinaryHTTPError, match="truncated"):
        bhttp.decode_message(data)


def test_informational_without_final_status() -> None:
    with pytest.raises(BinaryHTTPError, match="truncated"):
        bhttp.decode_response(b"\x01\x40\x64\x00")  # 100 Continue, headers, then nothing


def test_non_zero_padding() -> None:
    data = bhttp.encode_response(bhttp.Response(204), padding=4) + b"\x01"
    with pytest.raises(BinaryHTTPError, match="padding has a non-zero byte"):
        bhttp.decode_response(data)


def test_padding_bound() -> None:
    data = bhttp.encode_response(bhttp.Response(204), padding=2000)
    with pytest.raises(BinaryHTTPError, match="padding is over 1000"):
        bhttp.decode_response(data, limits=bhttp.Limits(max_padding=1000))


# ---- strictness ------------------------------------------------------------------------------


def _response_with(name: bytes, value: bytes) -> bytes:
    line = bytes([len(name)]) + name + bytes([len(value)]) + value
    return b"\x01\x40\xc8" + bytes([len(line)]) + line + b"\x00\x00"


@pytest.mark.parametrize(("name", "value", "match"), [
    (b"Content-Type", b"x", "lowercase token"),
    (b"bad name", b"x", "lowercase token"),
    (b":status", b"200", "pseudo-field"),
    (b"x", b"a\r\nb: c", "CR or LF"),
    (b"x", b"a\x00", "NUL"),
    (b"x", b" padded", "whitespace"),
    (b"transfer-encoding", b"chunked", "connection-specific"),
    (b"connection", b"close", "connection-specific"),
    (b"te", b"gzip", "connection-specific"),
])
def test_invalid_fields(name: bytes, value: bytes, match: str) -> None:
    with pytest.raises(BinaryHTTPError, match=match):
        bhttp.decode_response(_response_with(name, value))
    with pytest.raises(BinaryHTTPError, match=match):
        bhttp.encode_response(bhttp.Response(200, ((name, value),)))


def test_te_trailers_and_extension_pseudo_fields_allowed() -> None:
    response = bhttp.decode_response(_response_with(b"te", b"trailers"))
    assert response.headers == ((b"te", b"trailers"),)
    assert bhttp.decode_response(_response_with(b":protocol", b"x")).headers[0][0] == b":protocol"
    late = bhttp.Response(200, ((b"a", b"1"), (b":protocol", b"x")))
    with pytest.raises(BinaryHTTPError, match="after a regular field"):
        bhttp.encode_response(late)


def test_strip_connection_fields() -> None:
    fields = ((b"Connection", b"keep-alive, X-Trace"), (b"X-Trace", b"1"),
              (b"Keep-Alive", b"5"), (b"TE", b"trailers"), (b"Accept", b"*/*"),
              (b"Transfer-Encoding", b"chunked"), (b"Upgrade", b"h2c"))
    assert bhttp.strip_connection_fields(fields) == ((b"te", b"trailers"), (b"accept", b"*/*"))


@pytest.mark.parametrize(("data", "match"), [
    (b"\x04", "unknown framing indicator 4"),
    (b"\x01\x40\x63", "final status 99"),
    (b"\x01\x42\x58", "final status 600"),
    (b"\x00\x00\x05https\x00\x01/", "method"),
    (b"\x00\x03GET\x00\x00\x01/", "scheme"),
    (b"\x00\x03G T\x05https\x00\x01/", "method"),
    (b"\x00\x03GET\x05https\x00\x00", "path is empty"),
    (b"\x00\x03GET\x05https\x03a b\x01/", "authority"),
    (b"\x00\x03GET\x05https\x00\x02/\x7f", "path has a control"),
    (b"\x00\x03GET\x05https\x00\x01/\x05\x01a\x05abc", "overruns its section"),
    (b"\x00\x03GET\x05https\x00\x01/\x02\x00\x00", "empty name"),
])
def test_malformed_messages(data: bytes, match: str) -> None:
    with pytest.raises(BinaryHTTPError, match=match):
        bhttp.decode_message(data)


def test_kind_is_enforced() -> None:
    with pytest.raises(BinaryHTTPError, match="expected a request"):
        bhttp.decode_request(b"\x01\x40\xc8")
    with pytest.raises(BinaryHTTPError, match="expected a response"):
        bhttp.decode_response(rfc9458_example()["request"])


def test_encoder_refuses_bad_control_data() -> None:
    for request, match in ((bhttp.Request("GET", path="/ä"), "not ASCII"),
                           (bhttp.Request("GET", path=""), "path is empty"),
                           (bhttp.Request("G(T"), "method")):
        with pytest.raises(BinaryHTTPError, match=match):
            bhttp.encode_request(request)
    with pytest.raises(BinaryHTTPError, match="final status 101"):
        bhttp.encode_response(bhttp.Response(101))
    with pytest.raises(BinaryHTTPError, match="informational status 200"):
        bhttp.encode_response(bhttp.Response(200, informational=(
            bhttp.InformationalResponse(200),)))


# ---- bounds: refused on the declared length, before any wait or copy -------------------------


def test_bounds() -> None:
    small = bhttp.Limits(max_control=8, max_field_section=32, max_field_lines=2,
                         max_informational=1, max_content=10)
    cases = [
        (b"\x00\x03GET\x05https\x4f\xff", "authority is 4095 bytes"),
        (b"\x01\x40\xc8\x80\x01\x00\x00", "header section is 65536 bytes"),
        (bhttp.encode_response(bhttp.Response(200, ((b"a", b"1"),) * 3)), "over 2 field lines"),
        (bhttp.encode_response(bhttp.Response(200, content=b"x" * 11)), "content is over 10"),
        (b"\x01\x40\x64\x00\x40\x64\x00", "over 1 informational"),
        (bhttp.response_head(200) + bhttp.content_chunk(b"x" * 6) * 2, "content is over 10"),
        (b"\x03\x40\xc8" + b"\x01a\x40\x40" + b"v" * 64, "over 32 bytes"),
        (b"\x03\x40\xc8" + b"\x01a\x00" * 3, "over 2 field lines"),
    ]
    for data, match in cases:
        decoder = bhttp.MessageDecoder(limits=small)
        with pytest.raises(BinaryHTTPError, match=match):
            decoder.feed(data)  # the limit bites during feed, no close() needed


def test_huge_declared_lengths_fail_fast() -> None:
    for data in (b"\x01\x40\xc8\x00\xff\xff\xff\xff\xff\xff\xff\xff",  # 2**62-1 content
                 b"\x00\xc0\x00\x00\x00\xff\xff\xff\xff"):  # a 4 GiB method
        with pytest.raises(BinaryHTTPError, match="over"):
            bhttp.MessageDecoder().feed(data)


def test_decoder_closed_state() -> None:
    decoder = bhttp.MessageDecoder()
    decoder.feed(rfc9458_example()["response"])
    decoder.close()
    with pytest.raises(BinaryHTTPError, match="after the end"):
        decoder.feed(b"\x00")
    with pytest.raises(BinaryHTTPError, match="already closed"):
        decoder.close()


# ---- fuzz ------------------------------------------------------------------------------------


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_decoder_only_typed_errors(data: bytes) -> None:
    try:
        message = bhttp.decode_message(data)
    except BinaryHTTPError:
        return
    # anything accepted re-encodes to something that decodes to the same message
    assert bhttp.decode_message(bhttp.encode_message(message)) == message


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=120), st.lists(st.integers(0, 120), max_size=6))
def test_fuzz_split_feeding_matches_whole(data: bytes, cuts: list[int]) -> None:
    """Feeding in arbitrary pieces decides exactly as feeding everything at once."""
    def run(pieces: list[bytes]) -> object:
        decoder = bhttp.MessageDecoder()
        events: list[bhttp.Event] = []
        try:
            for piece in pieces:
                events += decoder.feed(piece)
            events += decoder.close()
        except BinaryHTTPError:
            return "error"
        heads = [e for e in events if not isinstance(e, bhttp.Content)]
        return heads, b"".join(e.data for e in events if isinstance(e, bhttp.Content))

    points = sorted({min(c, len(data)) for c in cuts})
    pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
    assert run(pieces) == run([data])


field_names = st.text("abcdefghijklmnopqrstuvwxyz-0123456789", min_size=1, max_size=12).map(
    str.encode)
field_values = st.binary(max_size=20).filter(
    lambda v: not ({0, 10, 13} & set(v)) and v[:1] not in (b" ", b"\t")
    and v[-1:] not in (b" ", b"\t"))
fields = st.lists(st.tuples(field_names, field_values), max_size=4).map(
    lambda fs: tuple((n, v) for n, v in fs if n not in (
        b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade",
        b"te")))


@settings(max_examples=200, deadline=None)
@given(status=st.integers(200, 599), headers=fields, content=st.binary(max_size=50),
       trailers=fields, indeterminate=st.booleans(), padding=st.integers(0, 5),
       truncate=st.booleans())
def test_fuzz_response_round_trip(status: int, headers: bhttp.Fields, content: bytes,
                                  trailers: bhttp.Fields, indeterminate: bool, padding: int,
                                  truncate: bool) -> None:
    response = bhttp.Response(status, headers, content, trailers)
    data = bhttp.encode_response(response, indeterminate=indeterminate, padding=padding,
                                 truncate=truncate)
    assert bhttp.decode_response(data) == response


def test_drop_connection_fields_mode() -> None:
    data = _response_with(b"connection", b"keep-alive")
    with pytest.raises(BinaryHTTPError, match="connection-specific"):
        bhttp.decode_response(data)
    assert bhttp.decode_response(data, drop_connection_fields=True).headers == ()
    indeterminate = (b"\x03\x40\xc8" + b"\x0akeep-alive\x015" + b"\x01a\x01b" + b"\x00"
                     + b"\x00\x00")
    response = bhttp.decode_response(indeterminate, drop_connection_fields=True)
    assert response.headers == ((b"a", b"b"),)
    still_invalid = _response_with(b"Connection", b"close")  # uppercase stays an error
    with pytest.raises(BinaryHTTPError, match="lowercase"):
        bhttp.decode_response(still_invalid, drop_connection_fields=True)


# ---- interop with bhttp-js (dajiaji/bhttp-js, TypeScript), when it is at hand ----------------


def test_bhttp_js_interop(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Both directions with an independent RFC 9292 codec. Opt-in: set PQML_BHTTP_JS to a
    directory where ``npm install bhttp-js@0.2.1`` ran (node must be on PATH)."""
    import os
    import shutil
    import subprocess

    where = os.environ.get("PQML_BHTTP_JS")
    if not where or not shutil.which("node"):
        pytest.skip("bhttp-js is not installed: .ci/run installs it with npm and sets "
                    "PQML_BHTTP_JS (node is needed too)")
    ours = bhttp.encode_response(bhttp.Response(202, ((b"content-type", b"text/plain"),),
                                                b"from pqml"))
    from pathlib import Path

    module = (Path(where) / "node_modules" / "bhttp-js" / "esm" / "mod.js").as_uri()
    script = tmp_path / "t.mjs"
    script.write_text(f'import {{ BHttpEncoder, BHttpDecoder }} from "{module}";' + """
const res = new Response("hello", {status: 201, headers: {"content-type": "text/plain"}});
console.log(Buffer.from(await new BHttpEncoder().encodeResponse(res)).toString("hex"));
const r = new BHttpDecoder().decodeResponse(Buffer.from(process.argv[2], "hex"));
console.log(r.status, r.headers.get("content-type"), await r.text());
""")
    done = subprocess.run(["node", str(script), ours.hex()], capture_output=True, text=True,
                          timeout=60, check=True)
    theirs, decoded = done.stdout.splitlines()
    assert decoded == "202 text/plain from pqml"
    assert bhttp.decode_response(bytes.fromhex(theirs)) == bhttp.Response(
        201, ((b"content-type", b"text/plain"),), b"hello")


def test_a_flood_of_tiny_content_chunks_is_refused_early() -> None:
    """Anyone can encrypt to a gateway's published key: a message of one-byte chunks must
    not cost one event each without bound."""
    one = bhttp.encode_request(bhttp.Request("POST", "https", "a", "/", (), b"x"),
                               indeterminate=True)
    assert one.endswith(b"\x01x\x00\x00")
    head = one[: -len(b"\x01x\x00\x00")]
    ok = head + b"\x01x" * 1000 + b"\x00\x00"
    assert bhttp.decode_request(ok).content == b"x" * 1000
    flood = head + b"\x01x" * 70_000 + b"\x00\x00"
    with pytest.raises(BinaryHTTPError, match="over 65536 chunks"):
        bhttp.decode_request(flood)


# ---- the one-pass decoder of whole known-length messages agrees with the incremental one ---


def _incremental(data: bytes, kind: str | None, limits: bhttp.Limits,
                 drop: bool) -> bhttp.Message | str:
    """What the incremental decoder alone makes of ``data`` (the one-pass path disabled)."""
    from unittest import mock

    with mock.patch.object(bhttp, "_one_pass", side_effect=bhttp._Fallback):
        try:
            return bhttp._collect(data, kind, limits, drop)  # type: ignore[arg-type]
        except BinaryHTTPError as exc:
            return f"error: {exc}"


def _one_pass(data: bytes, kind: str | None, limits: bhttp.Limits,
              drop: bool) -> bhttp.Message | None:
    from pqml.formats.quic_varint import VarintError

    try:
        return bhttp._one_pass(data, kind, limits, drop)  # type: ignore[arg-type]
    except (bhttp._Fallback, VarintError, BinaryHTTPError):
        return None


_field_names = st.sampled_from([b"a", b"x-y", b"date", b"te", b"connection", b":p", b"A",
                                b"", b"host", b"content-length"])
_field_values = st.sampled_from([b"", b"1", b"trailers", b" x", b"x\t", b"a\nb", b"v"])
_any_fields = st.lists(st.tuples(_field_names, _field_values), max_size=4).map(tuple)
_limits = st.builds(bhttp.Limits, max_control=st.integers(0, 16),
                    max_field_section=st.integers(0, 40), max_field_lines=st.integers(0, 4),
                    max_informational=st.integers(0, 2), max_content=st.integers(0, 40),
                    max_padding=st.integers(0, 8), max_chunks=st.integers(0, 2))


@st.composite
def _messages(draw: st.DrawFn) -> bytes:
    """Encoded known-length messages (fields unchecked, so invalid ones too), then
    truncated, bit-flipped or extended."""
    from pqml.formats.quic_varint import encode_varint

    def section(fields: bhttp.Fields) -> bytes:
        lines = b"".join(encode_varint(len(n)) + n + encode_varint(len(v)) + v
                         for n, v in fields)
        return encode_varint(len(lines)) + lines

    def vbytes(data: bytes) -> bytes:
        return encode_varint(len(data)) + data

    valid = draw(st.integers(0, 3)) > 0  # mostly well-formed, so both paths accept some
    good_fields = st.lists(st.tuples(st.sampled_from([b"a", b"x-y", b"date"]),
                                     st.sampled_from([b"", b"1", b"v w"])), max_size=3)
    fields_of = (lambda: tuple(draw(good_fields))) if valid else (lambda: draw(_any_fields))
    if draw(st.booleans()):
        pools = ([b"GET", b"POST", b"", b"G T"], [b"https", b"1x", b""],
                 [b"", b"m.example", b"a b"], [b"/", b"/p?q", b"", b"/\x7f"])
        parts = [pool[0] if valid else draw(st.sampled_from(pool)) for pool in pools]
        control = b"".join(vbytes(part) for part in parts)
        head = draw(st.sampled_from([b"\x00", b"\x40\x00", b"\x02"])) + control
    else:
        status = draw(st.sampled_from([200, 404, 599, 103, 99, 600]))
        head = draw(st.sampled_from([b"\x01", b"\x03"])) + encode_varint(status)
        if status == 103:
            head += section(fields_of())
            head += encode_varint(draw(st.sampled_from([200, 204])))
    data = (head + section(fields_of()) + vbytes(draw(st.binary(max_size=30)))
            + section(fields_of()) + bytes(draw(st.integers(0, 10))))
    if valid and draw(st.booleans()):  # empty trailing sections may be cut (RFC 9292 §3.8)
        data = data.rstrip(b"\x00")
    mutation = draw(st.sampled_from(["none", "none", "none", "cut", "flip", "append"]))
    if mutation == "cut" and data:
        data = data[: draw(st.integers(0, len(data) - 1))]
    elif mutation == "flip" and data:
        index = draw(st.integers(0, len(data) - 1))
        data = data[:index] + bytes([data[index] ^ draw(st.integers(1, 255))]) + data[index + 1:]
    elif mutation == "append":
        data += draw(st.binary(min_size=1, max_size=4))
    return data


@settings(max_examples=1500, deadline=None)
@given(data=_messages(), kind=st.sampled_from([None, "request", "response"]),
       limits=st.one_of(st.just(bhttp.DEFAULT_LIMITS), st.just(bhttp.DEFAULT_LIMITS),
                        _limits), drop=st.booleans())
def test_one_pass_decoder_agrees_with_the_incremental_decoder(
        data: bytes, kind: str | None, limits: bhttp.Limits, drop: bool) -> None:
    """The one-pass path never accepts what the incremental decoder refuses, and decodes
    what it accepts to the same message; everything else falls back (so errors match)."""
    fast = _one_pass(data, kind, limits, drop)
    slow = _incremental(data, kind, limits, drop)
    if fast is not None:
        assert fast == slow
    decode = {None: bhttp.decode_message, "request": bhttp.decode_request,
              "response": bhttp.decode_response}[kind]
    try:
        assert decode(data, limits=limits, drop_connection_fields=drop) == slow
    except BinaryHTTPError as exc:
        assert slow == f"error: {exc}"


def test_one_pass_decoder_takes_the_common_messages() -> None:
    examples = rfc9292_examples()
    assert _one_pass(examples["ex-bink-request"], None, bhttp.DEFAULT_LIMITS, False) == HELLO
    assert _one_pass(bhttp.encode_request(HELLO, padding=9), "request", bhttp.DEFAULT_LIMITS,
                     False) == HELLO
    answer = bhttp.Response(200, ((b"content-type", b"text/plain"),), b"hi", ((b"x", b"1"),))
    assert _one_pass(bhttp.encode_response(answer), "response", bhttp.DEFAULT_LIMITS,
                     False) == answer
    # a two-byte varint for the status (RFC 9292's example): still the one-pass path
    trailer = examples["ex-bink-chunked"]
    assert _one_pass(trailer, None, bhttp.DEFAULT_LIMITS, False) == bhttp.decode_message(
        trailer)
    # indeterminate framing and informational responses go to the incremental decoder
    for name in ("ex-bini-request", "ex-bini-response"):
        assert _one_pass(examples[name], None, bhttp.DEFAULT_LIMITS, False) is None

"""Our age writer against our age reader: every recipient type, mixes, armor, the
file-like API, random access, and every way a file can be damaged.

Damage must always be rejected with the right error class; a hypothesis property flips
random bytes, truncates and extends encrypted files and requires that none of them ever
decrypts (so none can decrypt to different data).
"""

from __future__ import annotations

import io
import os
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pqml.errors import PolicyError, WrongKeyTypeError
from pqml.formats import age, age_keys
from pqml.formats.age import armor, header, stream
from pqml.formats.age.errors import (
    AgeError,
    ArmorError,
    HeaderError,
    HeaderMACError,
    NoIdentityMatchError,
    PayloadError,
    RecipientError,
)
from pqml.primitives import registry

CHUNK = stream.CHUNK_SIZE
ENC_CHUNK = stream.ENCRYPTED_CHUNK_SIZE
SIZES = [0, 1, 47, 48, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK + 17]


def keypair(alg: str):  # type: ignore[no-untyped-def]
    sk = registry.scheme(alg).generate()
    return sk, sk.public_key()


X25519_SK, X25519_PK = keypair("X25519")
XWING_SK, XWING_PK = keypair("X-Wing")
FAST_SCRYPT = 10  # 2^10: keeps the tests quick; the format does not care


def enc(recipients, data: bytes, **kw) -> bytes:  # type: ignore[no-untyped-def]
    return age.encrypt_bytes(recipients, data, **kw)


def dec(identities, data: bytes, **kw) -> bytes:  # type: ignore[no-untyped-def]
    return age.decrypt_bytes(identities, data, **kw)


def exactly(message: str) -> str:
    """A pytest ``match`` pattern for exactly this one-line message."""
    return "^" + re.escape(message) + "$"


NO_MATCH = exactly("no identity matched any of the recipients")
MAC_MISMATCH = exactly("header MAC mismatch: wrong key or tampered header")


def payload_offset(data: bytes) -> int:
    """Offset of the first sealed chunk (header and nonce skipped)."""
    _, rest = age.parse_header(data)
    return len(data) - len(rest) + stream.NONCE_SIZE


# ---- round trips ----------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("kind", ["X25519", "X-Wing"])
def test_roundtrip_public_key(kind: str, size: int) -> None:
    sk, pk = (X25519_SK, X25519_PK) if kind == "X25519" else (XWING_SK, XWING_PK)
    data = os.urandom(size)
    blob = enc([pk], data)
    assert len(blob) == payload_offset(blob) - stream.NONCE_SIZE + stream.encrypted_size(size)
    assert dec([sk], blob) == data
    hdr, _ = age.parse_header(blob)
    expected = "X25519" if kind == "X25519" else "mlkem768x25519"
    assert [s.type for s in hdr.stanzas] == [expected]


def test_roundtrip_age_strings() -> None:
    """Recipients and identities may be given as age key strings."""
    blob = enc([age_keys.encode_recipient(XWING_PK)], b"model weights")
    assert dec([age_keys.encode_identity(XWING_SK)], blob) == b"model weights"


@pytest.mark.parametrize("size", [0, 5, CHUNK + 1])
def test_roundtrip_scrypt(size: int) -> None:
    data = os.urandom(size)
    blob = enc([age.ScryptRecipient("correct horse", work_factor=FAST_SCRYPT)], data)
    hdr, _ = age.parse_header(blob)
    assert hdr.stanzas[0].type == "scrypt" and hdr.stanzas[0].args[1] == str(FAST_SCRYPT)
    assert dec([age.ScryptIdentity("correct horse")], blob) == data
    with pytest.raises(NoIdentityMatchError, match=NO_MATCH):
        dec([age.ScryptIdentity("wrong horse")], blob)
    with pytest.raises(HeaderError, match="exceeds the limit"):
        dec([age.ScryptIdentity("correct horse", max_work_factor=FAST_SCRYPT - 1)], blob)


def test_several_recipients_of_mixed_types() -> None:
    other_sk, other_pk = keypair("X-Wing")
    data = os.urandom(3 * CHUNK + 5)
    recipients = [XWING_PK, X25519_PK, other_pk]
    with pytest.raises(PolicyError, match="post-quantum and classical"):
        enc(recipients, data)
    blob = enc(recipients, data, allow_mixed_pq=True)
    hdr, _ = age.parse_header(blob)
    assert [s.type for s in hdr.stanzas] == ["mlkem768x25519", "X25519", "mlkem768x25519"]
    for sk in (XWING_SK, X25519_SK, other_sk):
        assert dec([sk], blob) == data
    # an unrelated identity first does not prevent a later one from matching
    assert dec([keypair("X25519")[0], other_sk], blob) == data


def test_several_pq_recipients_need_no_opt_in() -> None:
    other_sk, other_pk = keypair("X-Wing")
    blob = enc([XWING_PK, other_pk], b"x")
    assert dec([other_sk], blob) == b"x"


def test_scrypt_must_be_alone() -> None:
    with pytest.raises(RecipientError, match="only recipient"):
        enc([age.ScryptRecipient("pw", FAST_SCRYPT), X25519_PK], b"x")
    with pytest.raises(RecipientError, match="only recipient"):
        enc([age.ScryptRecipient("pw", FAST_SCRYPT), age.ScryptRecipient("pw2", 10)], b"x")


def test_unsupported_key_types() -> None:
    sk, pk = keypair("ML-KEM-768")
    with pytest.raises(WrongKeyTypeError):
        enc([pk], b"x")
    with pytest.raises(WrongKeyTypeError):
        dec([sk], enc([XWING_PK], b"x"))
    with pytest.raises(RecipientError):
        enc([], b"x")


@pytest.mark.parametrize("size", [0, 1, 47, 48, 49, 96, CHUNK + 3])
def test_armor_roundtrip_and_detection(size: int) -> None:
    data = os.urandom(size)
    blob = enc([XWING_PK], data, armor=True)
    text = blob.decode("ascii")
    lines = text.split("\n")
    assert lines[0] == "-----BEGIN AGE ENCRYPTED FILE-----"
    assert lines[-2:] == ["-----END AGE ENCRYPTED FILE-----", ""]
    assert all(len(line) == 64 for line in lines[1:-3])
    assert 0 < len(lines[-3]) <= 64
    assert dec([XWING_SK], blob) == data  # autodetected
    assert dec([XWING_SK], blob, armor=True) == data
    assert dec([XWING_SK], b"\r\n  " + blob.replace(b"\n", b"\r\n") + b"\t\n") == data
    with pytest.raises(HeaderError):
        dec([XWING_SK], blob, armor=False)
    binary = armor.dearmor(blob)
    assert armor.armor(binary) == blob
    with pytest.raises(ArmorError):
        dec([XWING_SK], binary, armor=True)


def test_streaming_writer_and_reader() -> None:
    data = os.urandom(5 * CHUNK + 123)
    out = io.BytesIO()
    with age.AgeWriter([X25519_PK], out) as writer:
        for i in range(0, len(data), 1000):  # many small writes, crossing chunk edges
            writer.write(data[i : i + 1000])
    assert dec([X25519_SK], out.getvalue()) == data
    reader = age.AgeReader([X25519_SK], io.BytesIO(out.getvalue()))
    assert [s.type for s in reader.header.stanzas] == ["X25519"]
    got = reader.read(10) + reader.read(CHUNK) + reader.read(7)
    got += b"".join(reader.chunks())
    assert got == data and reader.read(5) == b""


def test_writer_one_big_write_and_armor() -> None:
    data = os.urandom(4 * CHUNK)
    out = io.BytesIO()
    writer = age.AgeWriter([XWING_PK], out, armor=True)
    writer.write(memoryview(data))
    writer.close()
    assert dec([XWING_SK], out.getvalue()) == data


def test_encrypt_reads_from_pipes_in_small_pieces() -> None:
    """Sources may return short reads (pipes, sockets): chunking must not depend on them."""

    class Trickle(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self._data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            return self._data.read(min(n, 1000) if n > 0 else 1000)

    data = os.urandom(2 * CHUNK + 9)
    out = io.BytesIO()
    age.encrypt([X25519_PK], Trickle(data), out)
    plain = io.BytesIO()
    age.decrypt([X25519_SK], Trickle(out.getvalue()), plain)
    assert plain.getvalue() == data


def test_random_access_chunks() -> None:
    data = os.urandom(3 * CHUNK + 100)
    blob = enc([X25519_PK], data)
    hdr, rest = age.parse_header(blob)
    file_key = age.unwrap_file_key(hdr, [X25519_SK])
    nonce = rest[: stream.NONCE_SIZE]
    cipher = stream.PayloadCipher.for_file(file_key, nonce)
    start = payload_offset(blob)
    size = len(blob) - start
    assert stream.chunk_count(size) == 4 and stream.plaintext_size(size) == len(data)
    f = io.BytesIO(blob)
    for i in (3, 0, 2, 1):
        assert stream.decrypt_chunk(cipher, f, start, size, i) == data[i * CHUNK : (i + 1) * CHUNK]
    # a file cut at a chunk boundary: its new last chunk is not final
    with pytest.raises(PayloadError, match=exactly("payload chunk 2 failed authentication")):
        stream.decrypt_chunk(cipher, f, start, 3 * ENC_CHUNK, 2)
    with pytest.raises(PayloadError, match=exactly("file is truncated")):
        stream.chunk_count(3 * ENC_CHUNK + 5)


class PlainStanza:
    """A toy third-party recipient/identity pair (plugs in through the two protocols)."""

    def __init__(self, stanza_type: str = "example.com/plain") -> None:
        self.type = stanza_type

    def wrap(self, file_key: bytes) -> list[header.Stanza]:
        return [header.Stanza(self.type, ("v1",), file_key)]

    def unwrap(self, stanzas):  # type: ignore[no-untyped-def]
        return next((s.body for s in stanzas if s.type == self.type), None)


def test_third_party_stanza_types_plug_in() -> None:
    blob = enc([PlainStanza()], b"data")
    assert dec([X25519_SK, PlainStanza()], blob) == b"data"
    with pytest.raises(RecipientError, match="scrypt stanza must be the only"):
        enc([PlainStanza("scrypt"), PlainStanza()], b"data")


def test_rekey_rewrites_only_the_header() -> None:
    """wrap_file_key + unwrap_file_key are all a rekey needs: same payload bytes."""
    data = os.urandom(CHUNK + 5)
    blob = enc([X25519_PK], data)
    old, rest = age.parse_header(blob)
    file_key = age.unwrap_file_key(old, [X25519_SK])
    new = age.wrap_file_key(file_key, [XWING_PK])
    rekeyed = new.marshal() + rest
    assert dec([XWING_SK], rekeyed) == data
    with pytest.raises(NoIdentityMatchError):
        dec([X25519_SK], rekeyed)


def test_writer_left_by_an_exception_is_not_a_valid_file() -> None:
    out = io.BytesIO()
    with pytest.raises(RuntimeError), age.AgeWriter([X25519_PK], out) as writer:
        writer.write(b"partial")
        raise RuntimeError("disk full")
    with pytest.raises(PayloadError, match=exactly("file is truncated")):
        dec([X25519_SK], out.getvalue())


# ---- failure modes --------------------------------------------------------------------------


def test_wrong_identity() -> None:
    blob = enc([XWING_PK], b"secret")
    with pytest.raises(NoIdentityMatchError, match=NO_MATCH):
        dec([keypair("X-Wing")[0], X25519_SK], blob)


def test_tampered_header_byte() -> None:
    blob = bytearray(enc([X25519_PK], b"secret"))
    blob[3] ^= 0x01  # version line
    with pytest.raises(HeaderError, match="not an encrypted file"):
        dec([X25519_SK], bytes(blob))


def test_tampered_stanza_argument() -> None:
    """Changing the X25519 share keeps the header parseable but opens nothing."""
    blob = enc([X25519_PK], b"secret")
    line_end = blob.index(b"\n", blob.index(b"-> X25519 "))
    tampered = blob[: line_end - 3] + (b"A" if blob[line_end - 3] != ord("A") else b"B")
    tampered += blob[line_end - 2 :]
    with pytest.raises(NoIdentityMatchError):
        dec([X25519_SK], tampered)


def test_tampered_mac() -> None:
    blob = enc([X25519_PK], b"secret")
    pos = blob.index(b"\n--- ") + 5  # first MAC character: any other letter stays canonical
    tampered = blob[:pos] + (b"A" if blob[pos] != ord("A") else b"B") + blob[pos + 1 :]
    with pytest.raises(HeaderMACError, match=MAC_MISMATCH):
        dec([X25519_SK], tampered)


def test_extra_stanza_breaks_the_mac() -> None:
    blob = enc([X25519_PK], b"secret")
    pos = blob.index(b"---")
    tampered = blob[:pos] + b"-> grease x\n\n" + blob[pos:]
    with pytest.raises(HeaderMACError):
        dec([X25519_SK], tampered)


@pytest.mark.parametrize("chunk", [0, 1, 2])
def test_tampered_payload_byte(chunk: int) -> None:
    data = os.urandom(2 * CHUNK + 10)
    blob = bytearray(enc([X25519_PK], data))
    blob[payload_offset(bytes(blob)) + chunk * ENC_CHUNK + 5] ^= 0x80
    out = io.BytesIO()
    with pytest.raises(PayloadError, match=exactly(f"payload chunk {chunk} failed authentication")):
        age.decrypt([X25519_SK], io.BytesIO(bytes(blob)), out)
    assert out.getvalue() == data[: chunk * CHUNK]  # only authenticated chunks released


def test_tampered_nonce() -> None:
    blob = bytearray(enc([X25519_PK], b"secret"))
    blob[payload_offset(bytes(blob)) - 1] ^= 1
    with pytest.raises(PayloadError, match=exactly("payload chunk 0 failed authentication")):
        dec([X25519_SK], bytes(blob))


@pytest.mark.parametrize("cut", [1, 16, 17, ENC_CHUNK, ENC_CHUNK + 1])
def test_truncated_payload(cut: int) -> None:
    data = os.urandom(2 * CHUNK + 10)
    blob = enc([X25519_PK], data)
    start = payload_offset(blob)
    truncated = blob[: start + 2 * ENC_CHUNK + 26 - cut] if cut > 1 else blob[:-1]
    with pytest.raises(PayloadError):
        dec([X25519_SK], truncated)


def test_truncated_at_chunk_boundary_is_detected() -> None:
    data = os.urandom(2 * CHUNK + 10)
    blob = enc([X25519_PK], data)
    start = payload_offset(blob)
    with pytest.raises(PayloadError, match=exactly("file is truncated")):
        dec([X25519_SK], blob[: start + 2 * ENC_CHUNK])
    with pytest.raises(HeaderError, match="nonce is missing"):
        dec([X25519_SK], blob[: start - 1])
    with pytest.raises(PayloadError, match=exactly("file is truncated")):
        dec([X25519_SK], blob[:start])


def test_swapped_chunks() -> None:
    data = os.urandom(3 * CHUNK + 10)
    blob = enc([X25519_PK], data)
    s = payload_offset(blob)
    chunks = [blob[s + i * ENC_CHUNK : s + (i + 1) * ENC_CHUNK] for i in range(4)]
    swapped = blob[:s] + chunks[1] + chunks[0] + chunks[2] + chunks[3]
    with pytest.raises(PayloadError, match=exactly("payload chunk 0 failed authentication")):
        dec([X25519_SK], swapped)
    dropped = blob[:s] + chunks[0] + chunks[2] + chunks[3]
    with pytest.raises(PayloadError, match=exactly("payload chunk 1 failed authentication")):
        dec([X25519_SK], dropped)


@pytest.mark.parametrize("extra", [b"\x00", b"x" * 100, os.urandom(ENC_CHUNK + 3)])
@pytest.mark.parametrize("size", [10, CHUNK])
def test_appended_data(extra: bytes, size: int) -> None:
    blob = enc([X25519_PK], os.urandom(size))
    with pytest.raises(PayloadError):
        dec([X25519_SK], blob + extra)


def test_payload_from_another_file_with_same_recipient() -> None:
    a = enc([X25519_PK], b"aaaa")
    b = enc([X25519_PK], b"bbbb")
    spliced = a[: payload_offset(a) - stream.NONCE_SIZE] + b[payload_offset(b) - 16 :]
    with pytest.raises(PayloadError):
        dec([X25519_SK], spliced)


# ---- header grammar details -----------------------------------------------------------------


@pytest.mark.parametrize("body_len", [0, 1, 47, 48, 49, 96])
def test_stanza_body_wrapping(body_len: int) -> None:
    stanza = header.Stanza("test", ("a", "b"), os.urandom(body_len))
    lines = stanza.marshal().split(b"\n")[1:-1]
    assert all(len(line) == 64 for line in lines[:-1]) and len(lines[-1]) < 64
    hdr = header.make_header(os.urandom(16), [stanza])
    parsed, rest = age.parse_header(hdr.marshal() + b"tail")
    assert parsed == hdr and rest == b"tail"


def test_invalid_stanza_arguments_are_refused_on_write() -> None:
    for bad in ("", "a b", "é", "x\n"):
        with pytest.raises(ValueError):
            header.Stanza(bad, (), b"")


def test_header_grammar_is_parametric_on_the_version_line() -> None:
    file_key = os.urandom(16)
    hdr = header.make_header(file_key, [header.Stanza("t", (), b"\x01")], version=b"pqml/v1")
    data = hdr.marshal()
    assert data.startswith(b"pqml/v1\n-> t\n")
    parsed, _ = header.parse_header(data, version=b"pqml/v1")
    header.verify_mac(file_key, parsed)
    with pytest.raises(HeaderError, match="not an encrypted file"):
        age.parse_header(data)
    with pytest.raises(HeaderError, match="unsupported format version"):
        header.parse_header(data.replace(b"pqml/v1", b"pqml/v2", 1), version=b"pqml/v1")


def test_overlong_header_line_is_rejected() -> None:
    data = b"age-encryption.org/v1\n-> " + b"a" * (header.MAX_LINE + 10) + b"\n"
    with pytest.raises(HeaderError, match="longer than"):
        age.parse_header(data)


# ---- property: damage never decrypts ----------------------------------------------------------

PLAINTEXT = os.urandom(CHUNK + 300)
BLOB_X25519 = enc([X25519_PK], PLAINTEXT)
BLOB_XWING = enc([XWING_PK], PLAINTEXT)
BLOB_ARMOR = enc([X25519_PK], PLAINTEXT[:500], armor=True)
PROPERTY = settings(max_examples=300, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


def _rejects(identities, data: bytes) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AgeError):
        dec(identities, data)


@PROPERTY
@given(st.data())
def test_single_byte_mutations_never_decrypt(data: st.DataObject) -> None:
    blob, sk = data.draw(st.sampled_from([(BLOB_X25519, X25519_SK), (BLOB_XWING, XWING_SK),
                                          (BLOB_ARMOR, X25519_SK)]))
    pos = data.draw(st.integers(0, len(blob) - 1))
    value = data.draw(st.integers(0, 255).filter(lambda b: b != blob[pos]))
    mutated = blob[:pos] + bytes([value]) + blob[pos + 1 :]
    if blob is BLOB_ARMOR and mutated.strip(armor.WHITESPACE) == blob.strip(armor.WHITESPACE):
        return  # whitespace outside the armor is allowed by the spec: same file
    if blob is BLOB_ARMOR and mutated.replace(b"\r\n", b"\n") == blob:
        return  # LF -> CRLF is allowed by the spec
    _rejects([sk], mutated)


@PROPERTY
@given(st.data())
def test_truncations_and_extensions_never_decrypt(data: st.DataObject) -> None:
    blob = BLOB_X25519
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(blob) - 1))
        _rejects([X25519_SK], blob[:cut])
    else:
        _rejects([X25519_SK], blob + data.draw(st.binary(min_size=1, max_size=200)))

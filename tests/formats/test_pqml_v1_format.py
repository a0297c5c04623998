"""The pqml/v1 format layer (pure, file-likes): stanzas per KEM, passphrase stanza, rules,
header MAC, payload, and the errors each kind of damage gives."""

from __future__ import annotations

import io
import os
import re

import pytest

from pqml.errors import PolicyError, WrongKeyTypeError
from pqml.formats import age_keys, pqml_v1
from pqml.formats.age.header import Header, Stanza, b64encode, make_header, parse_header
from pqml.formats.pqml_v1 import argon2id, hpke_stanza
from pqml.primitives import chunked, hpke, registry

FAST = argon2id.Argon2Params(iterations=1, memory_kib=64, lanes=1)
KEMS = ["X-Wing", "ML-KEM-768", "ML-KEM-1024", "MLKEM1024-P384"]
KEYS = {alg: registry.scheme(alg).generate() for alg in [*KEMS, "X25519"]}


def exactly(message: str) -> str:
    return "^" + re.escape(message) + "$"


def enc(recipients, data: bytes, **kw) -> bytes:  # type: ignore[no-untyped-def]
    return pqml_v1.encrypt_bytes(recipients, data, **kw)


def dec(identities, data: bytes) -> bytes:  # type: ignore[no-untyped-def]
    return pqml_v1.decrypt_bytes(identities, data)


def split(blob: bytes) -> tuple[bytes, bytes]:
    _, rest = parse_header(blob, pqml_v1.VERSION)
    return blob[: len(blob) - len(rest)], rest


@pytest.mark.parametrize("alg", KEMS)
@pytest.mark.parametrize("size", [0, 5, 16384, 40000])
def test_roundtrip_each_kem(alg: str, size: int) -> None:
    data = os.urandom(size)
    blob = enc([KEYS[alg].public_key()], data)
    assert blob.startswith(b"pqml/v1\n-> " + hpke_stanza.BY_ALGORITHM[alg].stanza_type.encode())
    assert dec([KEYS[alg]], blob) == data
    _, payload = split(blob)
    assert len(payload) == chunked.ciphertext_size(size)


def test_stanza_layout_is_hpke_base_mode_with_documented_info() -> None:
    """Open a stanza with the bare HPKE suite, exactly as FORMAT.md describes it."""
    sk = KEYS["ML-KEM-1024"]
    blob = enc([sk.public_key()], b"x")
    header, _ = parse_header(blob, pqml_v1.VERSION)
    (stanza,) = header.stanzas
    assert stanza.type == "mlkem1024" and len(stanza.body) == 1568 + 48
    suite = hpke.Suite(0x0042, hpke.KDFId.HKDF_SHA256, hpke.AEADId.AES_256_GCM)
    file_key = suite.open(sk, stanza.body, info=b"pqml/v1/mlkem1024")
    assert len(file_key) == 32
    assert pqml_v1.unwrap_file_key(header, [sk]) == file_key
    # key id: SHA-256("pqml/v1/keyid" 0x00 type 0x00 public key)[:8]
    import hashlib

    kid = hashlib.sha256(b"pqml/v1/keyid\x00mlkem1024\x00" + sk.public_key().public_bytes())
    assert stanza.args == (kid.digest()[:8].hex(),)
    # payload input key: HKDF-SHA-256(file key, salt "", info "pqml/v1 payload")
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    expected = HKDF(hashes.SHA256(), 32, b"", b"pqml/v1 payload").derive(file_key)
    assert pqml_v1.payload_key(file_key) == expected


def test_several_kems_in_one_file_each_opens_it() -> None:
    data = os.urandom(20000)
    blob = enc([KEYS[a].public_key() for a in KEMS], data)
    header, _ = parse_header(blob, pqml_v1.VERSION)
    assert [s.type for s in header.stanzas] == ["xwing", "mlkem768", "mlkem1024",
                                                "mlkem1024p384"]
    for alg in KEMS:
        assert dec([KEYS[alg]], blob) == data


def test_age_strings_are_xwing_and_x25519_keys() -> None:
    rec = age_keys.encode_recipient(KEYS["X-Wing"].public_key())
    ident = age_keys.encode_identity(KEYS["X-Wing"])
    assert dec([ident], enc([rec], b"hi")) == b"hi"


def test_classical_needs_the_opt_in_and_passphrase_must_be_alone() -> None:
    x = KEYS["X25519"]
    with pytest.raises(PolicyError, match="quantum-vulnerable"):
        enc([x.public_key()], b"")
    with pytest.raises(PolicyError):
        enc([KEYS["X-Wing"].public_key(), x.public_key()], b"")
    blob = enc([x.public_key()], b"legacy", allow_classical=True)
    assert b"\n-> x25519 " in blob and dec([x], blob) == b"legacy"
    with pytest.raises(pqml_v1.RecipientError, match="only recipient"):
        enc([argon2id.Argon2idRecipient("pw", FAST), KEYS["X-Wing"].public_key()], b"")


def test_unsupported_key_types_are_refused_by_name() -> None:
    sig = registry.scheme("ML-DSA-65").generate()
    with pytest.raises(WrongKeyTypeError, match="no recipient type for ML-DSA-65"):
        enc([sig.public_key()], b"")


def test_duplicate_recipients_collapse() -> None:
    pk = KEYS["X-Wing"].public_key()
    header, _ = parse_header(enc([pk, pk], b""), pqml_v1.VERSION)
    assert len(header.stanzas) == 1


def test_passphrase_stanza() -> None:
    blob = enc([argon2id.Argon2idRecipient("correct horse", FAST)], b"secret")
    header, _ = parse_header(blob, pqml_v1.VERSION)
    (s,) = header.stanzas
    assert s.type == "argon2id" and s.args[1:] == ("1", "64", "1") and len(s.body) == 48
    assert dec([argon2id.Argon2idIdentity("correct horse")], blob) == b"secret"
    with pytest.raises(pqml_v1.NoIdentityMatchError):
        dec([argon2id.Argon2idIdentity("wrong")], blob)
    limited = argon2id.Argon2idIdentity("correct horse", argon2id.Argon2Params(1, 32, 1))
    with pytest.raises(pqml_v1.HeaderError, match="exceeds the limit"):
        dec([limited], blob)


@pytest.mark.parametrize("args,message", [
    (("AAAAAAAAAAAAAAAAAAAAAA", "1", "064", "1"), "without leading zeros"),
    (("AAAAAAAAAAAAAAAAAAAAAA", "1", "64"), "exactly four arguments"),
    (("AAAA", "1", "64", "1"), "must encode 16 bytes"),
    (("AAAAAAAAAAAAAAAAAAAAAA", "1", "4", "1"), "at least 8 KiB per lane"),
])
def test_malformed_passphrase_stanzas(args: tuple[str, ...], message: str) -> None:
    header = make_header(os.urandom(32), [Stanza("argon2id", args, bytes(48))],
                         pqml_v1.VERSION)
    with pytest.raises(pqml_v1.HeaderError, match=message):
        pqml_v1.unwrap_file_key(header, [argon2id.Argon2idIdentity("pw")])


def _one_stanza(alg: str) -> tuple[bytes, Stanza]:
    sk = KEYS[alg]
    blob = enc([sk.public_key()], b"data")
    header, _ = parse_header(blob, pqml_v1.VERSION)
    return blob, header.stanzas[0]


@pytest.mark.parametrize("mutate,message", [
    (lambda s: Stanza(s.type, (), s.body), "exactly one argument"),
    (lambda s: Stanza(s.type, (s.args[0].upper(),), s.body), "16 lower-case hex digits"),
    (lambda s: Stanza(s.type, (s.args[0], "x"), s.body), "exactly one argument"),
    (lambda s: Stanza(s.type, s.args, s.body[:-1]), "body must be 1168 bytes"),
])
def test_malformed_kem_stanzas_are_header_errors(mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    _, stanza = _one_stanza("X-Wing")
    header = make_header(os.urandom(32), [mutate(stanza)], pqml_v1.VERSION)
    with pytest.raises(pqml_v1.HeaderError, match=message):
        pqml_v1.unwrap_file_key(header, [KEYS["X-Wing"]])


def test_low_order_xwing_share_is_a_header_error() -> None:
    _, stanza = _one_stanza("X-Wing")
    body = stanza.body[:1088] + bytes(32) + stanza.body[1120:]
    header = make_header(os.urandom(32), [Stanza("xwing", stanza.args, body)], pqml_v1.VERSION)
    with pytest.raises(pqml_v1.HeaderError, match=r"invalid encapsulation: .*low-order"):
        pqml_v1.unwrap_file_key(header, [KEYS["X-Wing"]])


def test_key_id_of_another_key_is_not_ours_and_unknown_types_are_ignored() -> None:
    blob = enc([KEYS["X-Wing"].public_key()], b"z")
    other = registry.scheme("X-Wing").generate()
    with pytest.raises(pqml_v1.NoIdentityMatchError,
                       match=exactly("no identity matched any of the recipients")):
        dec([other], blob)
    # a future stanza type next to ours: ignored, the file still opens
    file_key = os.urandom(32)
    stanzas = [Stanza("future-kem", ("abc",), b"\x01" * 10),
               *pqml_v1.recipient_for(KEYS["X-Wing"].public_key()).wrap(file_key)]
    header = make_header(file_key, stanzas, pqml_v1.VERSION)
    assert pqml_v1.unwrap_file_key(header, [KEYS["X-Wing"]]) == file_key


def test_header_mac_covers_every_stanza_byte() -> None:
    blob = enc([KEYS["X-Wing"].public_key(), KEYS["ML-KEM-768"].public_key()], b"m")
    h1, payload = parse_header(blob, pqml_v1.VERSION)
    # swap in another file's (valid) ML-KEM-768 stanza, keep the MAC: the MAC must fail
    h2, _ = parse_header(enc([KEYS["ML-KEM-768"].public_key()], b"m"), pqml_v1.VERSION)
    forged = Header((h1.stanzas[0], h2.stanzas[0]), h1.mac, pqml_v1.VERSION)
    with pytest.raises(pqml_v1.HeaderMACError, match="header MAC mismatch"):
        dec([KEYS["X-Wing"]], forged.marshal() + payload)
    # and with the replaced stanza's own key, it unwraps another file key: MAC fails too
    with pytest.raises(pqml_v1.HeaderMACError):
        dec([KEYS["ML-KEM-768"]], forged.marshal() + payload)


def test_version_line_and_grammar() -> None:
    blob = enc([KEYS["X-Wing"].public_key()], b"v")
    with pytest.raises(pqml_v1.HeaderError, match="unsupported format version 'pqml/v2'"):
        dec([KEYS["X-Wing"]], blob.replace(b"pqml/v1", b"pqml/v2", 1))
    with pytest.raises(pqml_v1.HeaderError, match="CRLF"):
        dec([KEYS["X-Wing"]], blob.replace(b"\n", b"\r\n", 1))
    with pytest.raises(pqml_v1.HeaderError, match="missing 'pqml/v1' version line"):
        dec([KEYS["X-Wing"]], b"age-encryption.org/v1\n" + blob[8:])


def test_payload_does_not_depend_on_the_stanzas() -> None:
    """Rekey at the format level: same file key, new stanzas, identical payload."""
    file_key = os.urandom(32)
    h1 = pqml_v1.wrap_file_key(file_key, [KEYS["X-Wing"].public_key()])
    out = io.BytesIO()
    pqml_v1.encrypt_payload(file_key, io.BytesIO(b"p" * 50000), out)
    payload = out.getvalue()
    h2 = pqml_v1.rewrap(h1, file_key, [*h1.stanzas, *pqml_v1.recipient_for(
        KEYS["ML-KEM-1024"].public_key()).wrap(file_key)])
    assert dec([KEYS["ML-KEM-1024"]], h2.marshal() + payload) == b"p" * 50000
    assert dec([KEYS["X-Wing"]], h1.marshal() + payload) == b"p" * 50000


def test_payload_swapped_between_files_fails_on_the_commitment() -> None:
    pk, sk = KEYS["X-Wing"].public_key(), KEYS["X-Wing"]
    a_header, _ = split(enc([pk], b"a" * 100))
    _, b_payload = split(enc([pk], b"b" * 100))
    with pytest.raises(pqml_v1.PayloadError, match="commitment mismatch"):
        dec([sk], a_header + b_payload)


@pytest.mark.parametrize("cut,message", [
    (lambda p: p[:40], "header is incomplete"),
    (lambda p: p[:56 + 16400], "final payload chunk is missing"),
    (lambda p: p[:-3], "final payload chunk 2 failed authentication"),
    (lambda p: p + b"\x00" * 20, "final payload chunk 2 failed authentication"),
    (lambda p: p[:56] + p[56 + 16400:56 + 32800] + p[56:56 + 16400] + p[56 + 32800:],
     "chunks 0..1 failed authentication"),
])
def test_payload_damage(cut, message: str) -> None:  # type: ignore[no-untyped-def]
    header, payload = split(enc([KEYS["X-Wing"].public_key()], os.urandom(40000)))
    with pytest.raises(pqml_v1.PayloadError, match=message):
        dec([KEYS["X-Wing"]], header + cut(payload))


def test_writer_and_iter_payload() -> None:
    out = io.BytesIO()
    with pqml_v1.PqmlWriter([KEYS["X-Wing"].public_key()], out) as w:
        for piece in (b"a" * 10, b"b" * 70000, b"", b"c"):
            w.write(piece)
    assert dec([KEYS["X-Wing"]], out.getvalue()) == b"a" * 10 + b"b" * 70000 + b"c"
    # leaving the block by an exception does not finalize: the output never validates
    out = io.BytesIO()
    with pytest.raises(RuntimeError), pqml_v1.PqmlWriter([KEYS["X-Wing"].public_key()],
                                                        out) as w:
        w.write(b"x" * 100)
        raise RuntimeError
    with pytest.raises(pqml_v1.PayloadError):
        dec([KEYS["X-Wing"]], out.getvalue())


def test_header_stanza_body_is_base64_of_enc_and_ct() -> None:
    blob = enc([KEYS["X-Wing"].public_key()], b"")
    line = blob.split(b"\n")[2]
    assert line == b64encode(parse_header(blob, pqml_v1.VERSION)[0].stanzas[0].body)[:64].encode()

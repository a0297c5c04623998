"""Header-wide stanza rules hold on every key path, not only the passphrase one, and
the header MAC is compared over all of its 32 bytes (issue 18, items 14 and 15).

Headers are crafted with the format layer's own builders and a valid MAC under a file
key the test knows, so only the rule under test can reject them."""

from __future__ import annotations

import io
import os

import pytest

from pqml.encryption import encrypted_formats
from pqml.formats import age, pqml_v1
from pqml.formats.age import scrypt
from pqml.formats.age._io import Source
from pqml.formats.age.errors import HeaderError, HeaderMACError, NoIdentityMatchError
from pqml.formats.age.header import AGE_V1, Header, Stanza, make_header, verify_mac
from pqml.formats.pqml_v1 import argon2id, header_area
from pqml.primitives import registry

FAST = argon2id.Argon2Params(iterations=1, memory_kib=64, lanes=1)
XWING = registry.scheme("X-Wing").generate()
MLKEM768 = registry.scheme("ML-KEM-768").generate()
PQML_KEY = bytes(range(32))
AGE_KEY = bytes(range(16))


def _pqml_stanzas(*kinds: str) -> list[Stanza]:
    """Valid stanzas for PQML_KEY: xwing (XWING's), mlkem768, argon2id."""
    make = {
        "xwing": lambda: pqml_v1.recipient_for(XWING.public_key()).wrap(PQML_KEY),
        "mlkem768": lambda: pqml_v1.recipient_for(MLKEM768.public_key()).wrap(PQML_KEY),
        "argon2id": lambda: argon2id.Argon2idRecipient(b"pw", FAST).wrap(PQML_KEY),
    }
    return [s for kind in kinds for s in make[kind]()]


def _malformed_mlkem768() -> Stanza:
    good = _pqml_stanzas("mlkem768")[0]
    return Stanza(good.type, good.args, good.body[:-1])  # one byte short


def _pqml_paths(header: Header) -> list[object]:
    """Every way a reader opens a pqml/v1 header with XWING: each must fail the same."""
    blob = header.marshal()
    area = header_area.build(PQML_KEY, header.stanzas, 64 * 1024, None)
    area_blob = header_area.marshal(area)
    return [
        lambda: pqml_v1.unwrap_file_key(header, [XWING]),
        lambda: pqml_v1.open_header(Source(io.BytesIO(blob)), [XWING]),
        lambda: pqml_v1.open_header(Source(io.BytesIO(area_blob)), [XWING]),
        lambda: encrypted_formats.unwrap("pqml", header,
                                         encrypted_formats.prepare_identities("pqml", [XWING])),
        lambda: encrypted_formats.open_header(
            "pqml", Source(io.BytesIO(blob)),
            encrypted_formats.prepare_identities("pqml", [XWING])),
    ]


@pytest.mark.parametrize("stanzas,message", [
    (lambda: _pqml_stanzas("argon2id", "xwing"), "must be the only stanza"),
    (lambda: _pqml_stanzas("xwing", "argon2id"), "must be the only stanza"),
    (lambda: [_malformed_mlkem768(), *_pqml_stanzas("xwing")], "body must be"),
    (lambda: [*_pqml_stanzas("xwing"), _malformed_mlkem768()], "body must be"),
], ids=["argon2id+xwing", "xwing+argon2id", "bad-mlkem768+xwing", "xwing+bad-mlkem768"])
def test_pqml_header_wide_rules_hold_with_a_kem_key(stanzas, message: str) -> None:  # type: ignore[no-untyped-def]
    header = make_header(PQML_KEY, stanzas(), pqml_v1.VERSION)
    # the MAC is valid and XWING's stanza opens: only the header-wide rule can refuse it
    xwing_only = [s for s in header.stanzas if s.type == "xwing"]
    assert pqml_v1.identity_for(XWING).unwrap(xwing_only) == PQML_KEY
    verify_mac(PQML_KEY, header)
    for path in _pqml_paths(header):
        with pytest.raises(HeaderError, match=message):
            path()  # type: ignore[operator]


def test_pqml_header_with_only_the_layout_stanza_is_a_header_error() -> None:
    header = Header((header_area.area_stanza(64 * 1024),), bytes(32), pqml_v1.VERSION)
    with pytest.raises(HeaderError, match="no recipient stanzas"):
        pqml_v1.unwrap_file_key(header, [XWING])


@pytest.mark.parametrize("fmt", ["age", "pqml"])
def test_header_without_stanzas_is_a_header_error(fmt: str) -> None:
    version = AGE_V1 if fmt == "age" else pqml_v1.VERSION
    header = Header((), bytes(32), version)  # read_header refuses this; callers may not
    unwrap = age.unwrap_file_key if fmt == "age" else pqml_v1.unwrap_file_key
    key = registry.scheme("X-Wing").generate()
    for call in (lambda: unwrap(header, [key]),
                 lambda: encrypted_formats.unwrap(
                     fmt, header, encrypted_formats.prepare_identities(fmt, [key]))):  # type: ignore[arg-type]
        with pytest.raises(HeaderError, match="no recipient stanzas") as info:
            call()
        assert not isinstance(info.value, NoIdentityMatchError)


def test_age_scrypt_beside_another_stanza_is_a_header_error_with_a_kem_key() -> None:
    stanzas = [*scrypt.ScryptRecipient(b"pw", 10).wrap(AGE_KEY),
               *age.recipient_for(XWING.public_key()).wrap(AGE_KEY)]
    header = make_header(AGE_KEY, stanzas)
    with pytest.raises(HeaderError, match="scrypt"):
        age.unwrap_file_key(header, [XWING])


# ---- item 15: every byte of the header MAC counts -------------------------------------------


@pytest.mark.parametrize("fmt", ["age", "pqml"])
def test_each_of_the_32_mac_bytes_is_checked(fmt: str) -> None:
    if fmt == "age":
        key, header = AGE_KEY, make_header(AGE_KEY, age.recipient_for(XWING.public_key())
                                           .wrap(AGE_KEY))
        unwrap = age.unwrap_file_key
    else:
        key, header = PQML_KEY, make_header(PQML_KEY, _pqml_stanzas("xwing"), pqml_v1.VERSION)
        unwrap = pqml_v1.unwrap_file_key
    assert len(header.mac) == 32
    assert unwrap(header, [XWING]) == key  # the unflipped header opens
    for index in range(32):
        for bit in (0x01, 0x80):
            mac = bytearray(header.mac)
            mac[index] ^= bit
            flipped = Header(header.stanzas, bytes(mac), header.version)
            with pytest.raises(HeaderMACError, match="header MAC mismatch"):
                unwrap(flipped, [XWING])
            # and through the bytes a reader parses
            blob = flipped.marshal() + os.urandom(64)
            src = (age.open_source(io.BytesIO(blob)) if fmt == "age"
                   else Source(io.BytesIO(blob)))
            with pytest.raises(HeaderMACError):
                if fmt == "age":
                    unwrap(age.read_header(src), [XWING])
                else:
                    pqml_v1.open_header(src, [XWING])

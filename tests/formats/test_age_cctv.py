"""Every C2SP CCTV age vector (tests/vectors/age-cctv/testdata) gives its expected result.

Format (README-CCTV.md there): a textual header of ``key: value`` lines (``expect``,
``payload`` sha256, repeated ``identity`` / ``passphrase``, ``armored``, ``compressed``,
``file key``, ``comment``), an empty line, then the age file (zlib-compressed if said so).
No vector is skipped. Besides decryption, the README's round-trips are checked: header
decode/encode for every vector that is not a header failure, armor decode/encode for the
armored ones, and STREAM encrypt (with the vector's file key and nonce) for every success.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pqml.formats import age
from pqml.formats.age import armor, stream
from pqml.formats.age.errors import (
    ArmorError,
    HeaderError,
    HeaderMACError,
    NoIdentityMatchError,
    PayloadError,
)

from conftest import vector

TESTDATA = vector("age-cctv", "testdata")

EXPECTED_ERROR: dict[str, type[Exception] | None] = {
    "success": None,
    "no match": NoIdentityMatchError,
    "HMAC failure": HeaderMACError,
    "header failure": HeaderError,
    "payload failure": PayloadError,
    "armor failure": ArmorError,
}


@dataclass
class Vector:
    name: str
    expect: str
    data: bytes
    payload: str | None = None
    identities: list[str] = field(default_factory=list)
    passphrases: list[str] = field(default_factory=list)
    armored: bool = False
    file_key: bytes | None = None


def load(path: Path) -> Vector:
    raw = path.read_bytes()
    head, sep, body = raw.partition(b"\n\n")
    assert sep, f"{path.name}: no blank line after the textual header"
    fields: dict[str, list[str]] = {}
    for line in head.decode().split("\n"):
        key, _, value = line.partition(": ")
        fields.setdefault(key, []).append(value)
    unknown = set(fields) - {"expect", "payload", "identity", "passphrase", "armored",
                             "compressed", "file key", "comment"}
    assert not unknown, f"{path.name}: unknown header keys {unknown}"
    if fields.get("compressed") == ["zlib"]:
        body = zlib.decompress(body)
    return Vector(
        name=path.name,
        expect=fields["expect"][0],
        data=body,
        payload=fields.get("payload", [None])[0],
        identities=fields.get("identity", []),
        passphrases=fields.get("passphrase", []),
        armored=fields.get("armored") == ["yes"],
        file_key=bytes.fromhex(fields["file key"][0]) if "file key" in fields else None,
    )


VECTORS = [load(p) for p in sorted(TESTDATA.iterdir())]
BY_NAME = {v.name: v for v in VECTORS}


def identities(v: Vector) -> list[age.Identity]:
    ids = [age.identity_for(s) for s in v.identities]
    ids += [age.ScryptIdentity(p) for p in v.passphrases]
    return ids


def run(v: Vector, armor_flag: bool | None, path: str = "blocks"
        ) -> tuple[Exception | None, bytes]:
    """Decrypt ``v`` by 4 MiB blocks (age.decrypt, the CLI's path) or chunk by chunk
    (AgeReader.chunks, under AgeReader.read); both must release the same plaintext."""
    out = io.BytesIO()
    try:
        if path == "blocks":
            age.decrypt(identities(v), io.BytesIO(v.data), out, armor=armor_flag)
        else:
            reader = age.AgeReader(identities(v), io.BytesIO(v.data), armor=armor_flag)
            for part in reader.chunks():
                out.write(part)
    except age.AgeError as exc:
        return exc, out.getvalue()
    return None, out.getvalue()


def test_vector_set_is_complete() -> None:
    counts = Counter(v.expect for v in VECTORS)
    assert len(VECTORS) == 143
    assert set(counts) <= set(EXPECTED_ERROR), counts


@pytest.mark.parametrize("path", ["blocks", "chunks"])
@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_vector(name: str, path: str) -> None:
    v = BY_NAME[name]
    error, released = run(v, v.armored, path)
    expected = EXPECTED_ERROR[v.expect]
    if expected is None:
        assert error is None, f"{name}: expected success, got {type(error).__name__}: {error}"
    else:
        assert type(error) is expected, (
            f"{name}: expected {expected.__name__}, got {type(error).__name__}: {error}"
        )
        assert "\n" not in str(error)
    if v.payload is not None:  # success and payload failure: what was released matches
        assert hashlib.sha256(released).hexdigest() == v.payload
    else:
        assert released == b""


@pytest.mark.parametrize("name", sorted(BY_NAME))
def test_armor_autodetection(name: str) -> None:
    """With armor=None the result is the same, except where no detector could know:
    garbage before the BEGIN line makes the input read as a (bad) binary header."""
    v = BY_NAME[name]
    error, _ = run(v, None)
    expected = EXPECTED_ERROR[v.expect]
    if name == "armor_garbage_leading":
        expected = HeaderError
    if expected is None:
        assert error is None
    else:
        assert type(error) is expected


def _binary(v: Vector) -> bytes:
    return armor.dearmor(v.data) if v.armored else v.data


HEADER_ROUNDTRIP = [v.name for v in VECTORS if v.expect not in ("header failure",
                                                                  "armor failure")]


@pytest.mark.parametrize("name", HEADER_ROUNDTRIP)
def test_header_roundtrip(name: str) -> None:
    data = _binary(BY_NAME[name])
    header, rest = age.parse_header(data)
    encoded = header.marshal()
    assert encoded + rest == data


ARMORED = [v.name for v in VECTORS if v.armored and v.expect != "armor failure"]


@pytest.mark.parametrize("name", ARMORED)
def test_armor_roundtrip(name: str) -> None:
    original = BY_NAME[name].data
    normalized = original.replace(b"\r\n", b"\n").strip(armor.WHITESPACE) + b"\n"
    assert armor.armor(armor.dearmor(original)) == normalized


SUCCESS = [v.name for v in VECTORS if v.expect == "success"]


@pytest.mark.parametrize("name", SUCCESS)
def test_stream_reencrypt(name: str) -> None:
    """Re-encrypting the plaintext with the vector's file key and nonce gives the same
    payload bytes: the encryption direction matches age byte for byte."""
    v = BY_NAME[name]
    assert v.file_key is not None
    data = _binary(v)
    header, rest = age.parse_header(data)
    nonce = rest[: stream.NONCE_SIZE]
    plaintext = io.BytesIO()
    age.decrypt(identities(v), io.BytesIO(v.data), plaintext, armor=v.armored)
    out = io.BytesIO()
    stream.encrypt_payload(v.file_key, io.BytesIO(plaintext.getvalue()), out, nonce=nonce)
    assert out.getvalue() == rest
    # and the header MAC we compute for its stanzas is the one in the file
    assert age.header.compute_mac(v.file_key, header.stanzas) == header.mac


def test_counts_by_expectation() -> None:
    """Summary kept in the test log: how many vectors per expected result."""
    counts = Counter(v.expect for v in VECTORS)
    assert sum(counts.values()) == 143
    print(dict(sorted(counts.items())))

"""The committed pqml/v1 example files (tests/data/pqml_v1, documented in docs/FORMAT.md):
every vector gives its expected result, and the intermediate values match the spec's
derivations step by step — what another implementation would check."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from pqml.encryption import encrypt as feature
from pqml.encryption.encryption_keys import Passphrase
from pqml.formats import pqml_v1
from pqml.formats.age.errors import (
    HeaderError,
    HeaderMACError,
    NoIdentityMatchError,
    PayloadError,
)
from pqml.formats.age.header import parse_header
from pqml.primitives import chunked, registry

from conftest import REPO, load_json

DATA = REPO / "tests" / "data" / "pqml_v1"
VECTORS = load_json(DATA / "vectors.json")["vectors"]
FAILURES = {"no match": NoIdentityMatchError, "hmac failure": HeaderMACError,
            "payload failure": PayloadError, "header failure": HeaderError}


def identity(name: str):  # type: ignore[no-untyped-def]
    path = DATA / name
    if name.endswith(".seed.hex"):
        return registry.scheme("MLKEM1024-P384").private_from_bytes(
            bytes.fromhex(path.read_text().strip()))
    if name == "passphrase.txt":
        return Passphrase.from_file(path)
    return path


def plaintext(n: int) -> bytes:
    return bytes(i % 251 for i in range(n))


@pytest.mark.parametrize("v", VECTORS, ids=[f"{v['file']}-{v['identity']}" for v in VECTORS])
def test_example(v: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    out = tmp_path / "out"
    if v["expect"] != "success":
        with pytest.raises(FAILURES[v["expect"]]) as info:
            feature.decrypt_file(DATA / v["file"], out, [identity(v["identity"])], jobs=1)
        if v["expect"] == "header failure":  # not one of its subclasses
            assert type(info.value) is HeaderError
        assert not out.exists()
        return
    result = feature.decrypt_file(DATA / v["file"], out, [identity(v["identity"])], jobs=1)
    data = out.read_bytes()
    assert result.plaintext_size == v["plaintext_length"] == len(data)
    assert hashlib.sha256(data).hexdigest() == v["plaintext_sha256"]
    assert data == plaintext(v["plaintext_length"])


@pytest.mark.parametrize("v", [v for v in VECTORS if v["expect"] == "success"],
                         ids=lambda v: f"{v['file']}-{v['identity']}")
def test_intermediate_values(v: dict) -> None:  # type: ignore[type-arg]
    blob = (DATA / v["file"]).read_bytes()
    if "header_area" in v:  # two slots of S bytes: the header that opens is in v["slot"]
        size, slot = v["header_area"], v["slot"]
        header, filler = parse_header(blob[slot * size:(slot + 1) * size], pqml_v1.VERSION)
        assert size - len(filler) == v["header_size"] and not any(filler)
        assert header.stanzas[0].marshal() == f"-> header-area {size}\n\n".encode()
        assert v["payload_offset"] == 2 * size
        rest = blob[2 * size:]
    else:
        header, rest = parse_header(blob, pqml_v1.VERSION)
        assert len(blob) - len(rest) == v["header_size"]
    file_key = bytes.fromhex(v["file_key"])
    # the file key really is in the header, for this identity
    ident = identity(v["identity"])
    from pqml.encryption import encrypted_formats as fmts
    from pqml.encryption.encryption_keys import resolve_identities

    ids = fmts.prepare_identities("pqml", resolve_identities([ident]))
    assert pqml_v1.unwrap_file_key(header, ids) == file_key
    mac_key = HKDF(hashes.SHA256(), 32, b"", b"header").derive(file_key)
    assert mac_key.hex() == v["header_mac_key"]
    input_key = HKDF(hashes.SHA256(), 32, b"", b"pqml/v1 payload").derive(file_key)
    assert input_key.hex() == v["payload_input_key"]
    assert rest[:24].hex() == v["salt"] and rest[24:56].hex() == v["commitment"]
    derived = chunked.derive(input_key, rest[:24], b"pqml/v1")
    assert (derived.key.hex(), derived.base_nonce.hex(), derived.commitment.hex()) == (
        v["aead_key"], v["base_nonce"], v["commitment"])


def test_every_example_file_and_key_is_listed() -> None:
    listed = {v["file"] for v in VECTORS} | {v["identity"] for v in VECTORS}
    present = {p.name for p in DATA.iterdir()} - {"vectors.json", "generate.py"}
    assert present <= listed | {"README.md"}

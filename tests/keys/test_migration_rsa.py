"""RSA-OAEP + AES-GCM wrapped model keys -> pqml/v1: every accepted layout, and refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from migration_kit import (
    PLAINTEXT,
    Keys,
    b64u,
    concat,
    decrypt,
    json_envelope,
    jwe_compact,
    jwe_json,
    lp16,
    make_keys,
    rsa_key_files,
    snapshot,
)

import pqml
from pqml.keys import migration_rsa
from pqml.keys.errors import MigrationError
from pqml.keys.migration import MigrationFailed, migrate


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("rsa-migration-keys"))


@pytest.fixture(scope="module")
def rsa(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path, Any, Path]:
    d = tmp_path_factory.mktemp("rsa")
    key, path = rsa_key_files(d)
    other, other_path = rsa_key_files(d / "..", 3072)
    return key, path, other, other_path


BUILDERS: dict[str, tuple[Callable[..., bytes], str | None]] = {
    "jwe-compact": (jwe_compact, None),
    "jwe-json": (jwe_json, None),
    "json-envelope": (json_envelope, None),
    "lp16": (lp16, "lp16"),
    "concat": (concat, "concat"),
}


@pytest.mark.parametrize("layout", list(BUILDERS))
def test_each_layout_becomes_pqml_v1(tmp_path: Path, keys: Keys, rsa, layout: str) -> None:
    key, key_path, _, _ = rsa
    build, flag = BUILDERS[layout]
    blob = tmp_path / "model.enc"
    blob.write_bytes(build(key.public_key(), PLAINTEXT))
    blob.chmod(0o640)
    dry = migrate([blob], to=[keys.xwing_pub], identities=[key_path], layout=flag)
    (a,) = dry.artifacts
    assert (a.kind, a.status, a.layout) == ("rsa-wrapped", "ready", layout)
    assert "RSA-OAEP-SHA-256 (quantum-vulnerable)" in a.now and a.quantum_vulnerable
    assert a.becomes == "pqml/v1 to X-Wing (1 recipient)"
    (done,) = migrate([blob], to=[keys.xwing_pub], identities=[key_path], layout=flag,
                      apply=True).artifacts
    assert done.status == "migrated"
    info = pqml.inspect(blob)
    assert info["format"] == "pqml/v1" and info["post_quantum"]
    assert blob.stat().st_mode & 0o777 == 0o640
    assert decrypt(blob, keys.xwing) == PLAINTEXT
    again = migrate([blob], to=[keys.xwing_pub], identities=[key_path], layout=flag,
                    apply=True)
    assert [x.status for x in again.artifacts] == ["nothing to do"]


def test_json_jwe_with_aad_and_general_serialization(tmp_path: Path, keys: Keys,
                                                     rsa) -> None:
    key, key_path, _, _ = rsa
    flat = json.loads(jwe_json(key.public_key(), PLAINTEXT, extra_aad=b"model v3"))
    general = {k: v for k, v in flat.items() if k not in ("header", "encrypted_key")}
    general["recipients"] = [  # someone else's first: each recipient is tried
        {"header": {"alg": "RSA-OAEP-256"}, "encrypted_key": b64u(b"\x01" * 384)},
        {"header": flat["header"], "encrypted_key": flat["encrypted_key"]}]
    blob = tmp_path / "general.jwe.json"
    blob.write_text(json.dumps(general))
    migrate([blob], to=[keys.xwing_pub], identities=[key_path], apply=True)
    assert decrypt(blob, keys.xwing) == PLAINTEXT
    # The additional authenticated data is authenticated: change it and GCM refuses.
    flat["aad"] = b64u(b"model v4")
    tampered = tmp_path / "flat.jwe.json"
    tampered.write_text(json.dumps(flat))
    (a,) = migrate([tampered], to=[keys.xwing_pub], identities=[key_path]).artifacts
    assert a.status == "refused" and "authentication failed" in (a.reason or "")


@pytest.mark.parametrize("where", ["ciphertext", "tag", "nonce"])
def test_tampered_blob_is_refused_unchanged(tmp_path: Path, keys: Keys, rsa,
                                            where: str) -> None:
    key, key_path, _, _ = rsa
    data = bytearray(lp16(key.public_key(), PLAINTEXT))
    offset = {"nonce": 2 + 256, "ciphertext": 2 + 256 + 12 + 5, "tag": len(data) - 1}[where]
    data[offset] ^= 0x80
    blob = tmp_path / "model.bin"
    blob.write_bytes(bytes(data))
    before = snapshot([blob])
    (a,) = migrate([blob], to=[keys.xwing_pub], identities=[key_path],
                   layout="lp16").artifacts
    assert a.status == "refused" and "AES-256-GCM authentication failed" in (a.reason or "")
    with pytest.raises(MigrationFailed):
        migrate([blob], to=[keys.xwing_pub], identities=[key_path], layout="lp16", apply=True)
    assert snapshot([blob]) == before


def test_wrong_rsa_key_and_sha1_oaep_are_refused(tmp_path: Path, keys: Keys, rsa) -> None:
    key, key_path, _, other_path = rsa
    wrong = tmp_path / "wrong.json"
    wrong.write_bytes(json_envelope(key.public_key(), PLAINTEXT))
    sha1 = tmp_path / "sha1.json"
    sha1.write_bytes(json_envelope(key.public_key(), PLAINTEXT, sha1=True))
    report = migrate([wrong], to=[keys.xwing_pub], identities=[other_path])
    assert report.artifacts[0].status == "refused"
    assert "no RSA key given (-i) unwraps" in (report.artifacts[0].reason or "")
    (a,) = migrate([sha1], to=[keys.xwing_pub], identities=[key_path]).artifacts
    assert a.status == "refused" and "SHA-1" in (a.reason or "")
    (b,) = migrate([wrong], to=[keys.xwing_pub]).artifacts
    assert b.status == "needs" and "-i" in (b.reason or "")


@pytest.mark.parametrize(("make", "message"), [
    (lambda pub: jwe_compact(pub, PLAINTEXT, alg="RSA-OAEP"), "JWE alg 'RSA-OAEP' is not"),
    (lambda pub: jwe_compact(pub, PLAINTEXT, enc="A128GCM"), "JWE enc 'A128GCM' is not"),
    (lambda pub: json.dumps({**json.loads(json_envelope(pub, PLAINTEXT)), "aad": "eA=="})
     .encode(), "member 'aad' is not part of the accepted layout"),
    (lambda pub: json.dumps({"wrapped_key": "AAAA", "nonce": "AAAA"}).encode(),
     "lacks 'ciphertext'"),
    (lambda pub: b'{"hello": "world"}', "neither a JWE"),
    (lambda pub: lp16(pub, PLAINTEXT), "needs --layout"),
])
def test_unsupported_layouts_are_refused_by_name(tmp_path: Path, keys: Keys, rsa, make,
                                                 message: str) -> None:
    key, key_path, _, _ = rsa
    blob = tmp_path / "blob"
    blob.write_bytes(make(key.public_key()))
    before = snapshot([blob])
    (a,) = migrate([blob], to=[keys.xwing_pub], identities=[key_path]).artifacts
    assert a.status == "refused" and message in (a.reason or ""), a.reason
    assert snapshot([blob]) == before


def test_truncated_binary_blob(tmp_path: Path, keys: Keys, rsa) -> None:
    key, key_path, _, _ = rsa
    blob = tmp_path / "cut.bin"
    blob.write_bytes(lp16(key.public_key(), PLAINTEXT)[:200])
    (a,) = migrate([blob], to=[keys.xwing_pub], identities=[key_path],
                   layout="lp16").artifacts
    assert a.status == "refused" and "truncated" in (a.reason or "")


def test_layout_parsers_are_strict() -> None:
    blob = migration_rsa.parse_binary(b"\x01\x00" + b"\x07" * 256 + b"\x00" * 40, "lp16")
    assert (len(blob.wrapped_keys[0]), len(blob.nonce), blob.plaintext_size) == (256, 12, 12)
    with pytest.raises(MigrationError, match="nonce is 16 bytes"):
        migration_rsa._check_sizes(b"\x00" * 256, b"\x00" * 16, b"\x00" * 16)
    with pytest.raises(MigrationError, match="shorter than its 16-byte"):
        migration_rsa._check_sizes(b"\x00" * 256, b"\x00" * 12, b"\x00" * 15)
    with pytest.raises(MigrationError, match="not an RSA-OAEP ciphertext"):
        migration_rsa._check_sizes(b"\x00" * 100, b"\x00" * 12, b"\x00" * 16)
    with pytest.raises(MigrationError, match="unknown binary layout"):
        migration_rsa.parse_binary(b"", "tink")
    with pytest.raises(MigrationError, match="appears twice"):
        migration_rsa._jwe_header({"alg": "RSA-OAEP-256"}, {"alg": "RSA-OAEP-256"})
    with pytest.raises(MigrationError, match="zip"):
        migration_rsa._jwe_header({"alg": "RSA-OAEP-256", "enc": "A256GCM", "zip": "DEF"})


def test_unknown_layout_flag_is_refused(tmp_path: Path, keys: Keys) -> None:
    with pytest.raises(MigrationError, match="unknown --layout"):
        migrate([tmp_path], to=[keys.xwing_pub], layout="tink")

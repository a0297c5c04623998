"""Rekey (header-only rewrite, payload byte-identical) and inspect (no key), both formats."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pqml.encryption import encrypt as feature
from pqml.encryption.encryption_keys import Passphrase
from pqml.encryption.inspect import inspect
from pqml.encryption.rekey import rekey
from pqml.errors import PolicyError, RekeyError
from pqml.formats import age_keys, pqml_v1
from pqml.formats.age.errors import HeaderMACError, NoIdentityMatchError
from pqml.formats.age.header import parse_header
from pqml.primitives import registry

A = registry.scheme("X-Wing").generate()
B = registry.scheme("X-Wing").generate()
C = registry.scheme("ML-KEM-768").generate()
OLD = registry.scheme("X25519").generate()


def split(path: Path, version: bytes) -> tuple[bytes, bytes]:
    blob = path.read_bytes()
    _, payload = parse_header(blob, version)
    return blob[: len(blob) - len(payload)], payload


def make(tmp_path: Path, fmt: str, recipients: list, size: int = 100_000,  # type: ignore[type-arg]
         **kw: object) -> tuple[Path, bytes]:
    data = os.urandom(size)
    (tmp_path / "p").write_bytes(data)
    path = tmp_path / f"f.{fmt}"
    feature.encrypt_file(tmp_path / "p", path, recipients, format=fmt, **kw)
    return path, data


def opens(path: Path, identity: object, data: bytes, tmp_path: Path) -> bool:
    try:
        feature.decrypt_file(path, tmp_path / "check", [identity], force=True)
    except (NoIdentityMatchError, HeaderMACError):
        return False
    return (tmp_path / "check").read_bytes() == data


def test_pqml_add_remove_keeps_payload_bytes(tmp_path: Path) -> None:
    path, data = make(tmp_path, "pqml", [A.public_key(), C.public_key()])
    os.chmod(path, 0o640)
    header_before, payload_before = split(path, pqml_v1.VERSION)
    result = rekey(path, [A], add=[B.public_key()], remove=[C.public_key()])
    header_after, payload_after = split(path, pqml_v1.VERSION)
    assert payload_after == payload_before  # byte for byte
    assert header_after != header_before
    assert (result.stanzas_before, result.stanzas_after, result.removed) == (2, 2, 1)
    assert result.payload_size == len(payload_before)
    # under 64 MiB a file has no header area: the rekey copies (test_header_area.py)
    assert not result.in_place and result.header_area is None
    assert path.stat().st_mode & 0o777 == 0o640
    assert opens(path, B, data, tmp_path) and opens(path, A, data, tmp_path)
    assert not opens(path, C, data, tmp_path)
    # the kept stanza is byte-identical
    kept = parse_header(header_before, pqml_v1.VERSION)[0].stanzas[0]
    assert parse_header(header_after, pqml_v1.VERSION)[0].stanzas[0] == kept


def test_pqml_adding_an_existing_recipient_is_a_no_op(tmp_path: Path) -> None:
    path, _ = make(tmp_path, "pqml", [A.public_key()])
    result = rekey(path, [A], add=[A.public_key()])
    assert result.added == [] and result.stanzas_after == 1


def test_pqml_errors_leave_the_file_untouched(tmp_path: Path) -> None:
    path, _ = make(tmp_path, "pqml", [A.public_key()])
    before = path.read_bytes()
    with pytest.raises(RekeyError, match=f"^{path}: no stanza for the recipient to remove"):
        rekey(path, [A], remove=[B.public_key()])
    with pytest.raises(NoIdentityMatchError, match=f"^{path}: no identity matched"):
        rekey(path, [B], add=[C.public_key()])
    with pytest.raises(RekeyError, match="no recipient would be left"):
        rekey(path, [A], remove=[A.public_key()])
    with pytest.raises(PolicyError, match="quantum-vulnerable"):
        rekey(path, [A], add=[OLD.public_key()])
    with pytest.raises(RekeyError, match="nothing to do"):
        rekey(path, [A])
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.pqml", "p"]


def test_pqml_migrates_away_from_classical(tmp_path: Path) -> None:
    path, data = make(tmp_path, "pqml", [OLD.public_key()], allow_classical=True)
    assert inspect(path)["quantum_vulnerable"] is True
    result = rekey(path, [OLD], add=[A.public_key()], remove=[OLD.public_key()])
    assert result.quantum_vulnerable_stanzas == 0
    info = inspect(path)
    assert info["post_quantum"] is True and not info["quantum_vulnerable"]
    assert opens(path, A, data, tmp_path)


def test_passphrase_stanza_must_stay_alone(tmp_path: Path) -> None:
    path, data = make(tmp_path, "pqml", [Passphrase(b"pw", (1, 64, 1))])
    with pytest.raises(RekeyError, match="must stay alone: use --reset"):
        rekey(path, [Passphrase(b"pw")], add=[A.public_key()])
    rekey(path, [Passphrase(b"pw")], add=[A.public_key()], reset=True)
    assert opens(path, A, data, tmp_path)
    assert [s["type"] for s in inspect(path)["stanzas"]] == ["xwing"]


@pytest.mark.parametrize("armor", [False, True])
def test_age_rekey(tmp_path: Path, armor: bool) -> None:
    path, data = make(tmp_path, "age", [A.public_key(), B.public_key()], armor=armor)
    from pqml.formats.age import armor as age_armor

    def payload() -> bytes:
        blob = path.read_bytes()
        binary = age_armor.dearmor(blob) if armor else blob
        return parse_header(binary)[1]

    before = payload()
    # a stanza can be found only through its identity: B's public key alone is not enough
    with pytest.raises(RekeyError, match="age stanzas do not name their recipient"):
        rekey(path, [A], remove=[B.public_key()])
    rekey(path, [A, B], remove=[age_keys.encode_recipient(B.public_key())])
    assert payload() == before
    assert opens(path, A, data, tmp_path) and not opens(path, B, data, tmp_path)
    assert path.read_bytes().startswith(b"-----BEGIN" if armor else b"age-encryption.org/v1")
    info = inspect(path)
    assert info["armored"] is armor and [s["type"] for s in info["stanzas"]] == [
        "mlkem768x25519"]
    rekey(path, [A], reset=True, add=[B.public_key()])
    assert payload() == before
    assert opens(path, B, data, tmp_path) and not opens(path, A, data, tmp_path)


def test_inspect_without_key(tmp_path: Path) -> None:
    path, _ = make(tmp_path, "pqml", [A.public_key(), C.public_key()], size=3 * 16384)
    info = inspect(path)
    assert info["format"] == "pqml/v1" and info["armored"] is False
    assert [(s["type"], s["kem"], s["post_quantum"]) for s in info["stanzas"]] == [
        ("xwing", "X-Wing", True), ("mlkem768", "ML-KEM-768", True)]
    assert info["chunks"] == 4 and info["plaintext_size"] == 3 * 16384
    assert info["header_size"] + info["payload_size"] == info["file_size"]
    with open(path, "r+b") as f:
        f.truncate(info["file_size"] - (16 + 16384 + 16))  # cut the last full chunk too
    info = inspect(path)
    assert info["size_valid"] is False and "final payload chunk is missing" in \
        info["size_problem"]


def test_inspect_age(tmp_path: Path) -> None:
    path, _ = make(tmp_path, "age", [OLD.public_key()], size=70000, allow_classical=True)
    info = inspect(path)
    assert info["format"] == "age-encryption.org/v1" and info["chunks"] == 2
    assert info["stanzas"] == [{"type": "X25519", "kem": "X25519", "post_quantum": False,
                                "quantum_vulnerable": True}]
    assert info["plaintext_size"] == 70000 and info["quantum_vulnerable"] is True

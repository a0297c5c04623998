"""Migrating age and pqml/v1 files from classical (X25519) recipients: header only."""

from __future__ import annotations

from pathlib import Path

import pytest
from migration_kit import PLAINTEXT, Keys, classical_file, decrypt, make_keys, snapshot

import pqml
from pqml.errors import PqmlError
from pqml.keys.errors import MigrationError
from pqml.keys.migration import MigrationFailed, migrate
from pqml.keys.migration_journal import journals_dir


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return make_keys(tmp_path_factory.mktemp("migration-keys"))


@pytest.fixture
def files(tmp_path: Path, keys: Keys) -> dict[str, Path]:
    return {"age": classical_file(tmp_path / "w.safetensors.age", keys, "age"),
            "pqml": classical_file(tmp_path / "w.safetensors.pqml", keys, "pqml")}


def _payload(path: Path) -> bytes:
    info = pqml.inspect(path)
    return path.read_bytes()[info["file_size"] - info["payload_size"]:]


def test_dry_run_reports_and_changes_nothing(files: dict[str, Path], keys: Keys) -> None:
    paths = list(files.values())
    before = snapshot(paths)
    report = migrate(paths, to=[keys.xwing_pub], identities=[keys.x25519])
    assert after_is(before, paths)
    assert not report.applied and report.ok
    assert not journals_dir().exists()  # no journal, no state written
    by_kind = {a.kind: a for a in report.artifacts}
    assert set(by_kind) == {"age", "pqml/v1"}
    for a in report.artifacts:
        assert a.status == "ready" and a.quantum_vulnerable
        assert "X25519 (quantum-vulnerable)" in a.now
        assert a.becomes == "X-Wing (1 recipient), payload unchanged"
        assert a.action.startswith("rekey --reset")


def after_is(before: dict[str, tuple[str, int]], paths: list[Path]) -> bool:
    return snapshot(paths) == before


@pytest.mark.parametrize("fmt", ["age", "pqml"])
def test_apply_rewrites_header_only(files: dict[str, Path], keys: Keys, fmt: str) -> None:
    path = files[fmt]
    payload = _payload(path)
    mode = 0o640
    path.chmod(mode)
    report = migrate([path], to=[keys.xwing_pub], identities=[keys.x25519], apply=True)
    (a,) = report.artifacts
    assert a.status == "migrated" and report.journal is None
    assert _payload(path) == payload  # payload bytes untouched
    assert path.stat().st_mode & 0o777 == mode
    info = pqml.inspect(path)
    assert [s["kem"] for s in info["stanzas"]] == ["X-Wing"] and info["post_quantum"]
    assert decrypt(path, keys.xwing) == PLAINTEXT
    with pytest.raises(PqmlError):
        decrypt(path, keys.x25519)  # the classical stanza is gone
    assert not list(journals_dir().glob("*.json"))


def test_pqml_file_to_two_post_quantum_recipients(files: dict[str, Path], keys: Keys) -> None:
    path = files["pqml"]
    migrate([path], to=[keys.xwing_pub, str(keys.mlkem_pub)], identities=[keys.x25519],
            apply=True)
    assert sorted(s["kem"] for s in pqml.inspect(path)["stanzas"]) == ["ML-KEM-768", "X-Wing"]
    assert decrypt(path, keys.mlkem) == PLAINTEXT == decrypt(path, keys.xwing)


def test_rerun_after_success_changes_nothing(files: dict[str, Path], keys: Keys) -> None:
    paths = list(files.values())
    migrate(paths, to=[keys.xwing_pub], identities=[keys.x25519], apply=True)
    before = snapshot(paths)
    report = migrate(paths, to=[keys.xwing_pub], identities=[keys.x25519], apply=True)
    assert [a.status for a in report.artifacts] == ["nothing to do"] * 2
    assert after_is(before, paths)
    assert not list(journals_dir().glob("*.json"))


def test_already_post_quantum_and_passphrase_files_need_nothing(tmp_path: Path,
                                                                keys: Keys) -> None:
    src = tmp_path / "m.bin"
    src.write_bytes(PLAINTEXT)
    pq = tmp_path / "pq.age"
    pqml.encrypt_file(src, pq, [keys.xwing_pub], format="age")
    pw = tmp_path / "pw.pqml"
    pqml.encrypt_file(src, pw, [pqml.Passphrase(b"correct horse", (1, 8, 1))])
    report = migrate([pq, pw], to=[keys.xwing_pub], apply=True)
    assert [a.status for a in report.artifacts] == ["nothing to do"] * 2
    assert [a.quantum_vulnerable for a in report.artifacts] == [False, False]
    assert "passphrase" in (report.artifacts[1].reason or "")


def test_wrong_identity_is_refused_and_nothing_changes(files: dict[str, Path],
                                                       keys: Keys) -> None:
    paths = list(files.values())
    before = snapshot(paths)
    report = migrate(paths, to=[keys.xwing_pub], identities=[keys.x25519_other])
    assert [a.status for a in report.artifacts] == ["refused"] * 2
    assert all("no identity" in (a.reason or "") for a in report.artifacts)
    with pytest.raises(MigrationFailed, match="2 of 2 artifacts cannot be migrated"):
        migrate(paths, to=[keys.xwing_pub], identities=[keys.x25519_other], apply=True)
    assert after_is(before, paths)


def test_one_bad_artifact_blocks_every_change(files: dict[str, Path], keys: Keys,
                                              tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("just text\n")
    paths = [*files.values(), junk]
    before = snapshot(paths)
    with pytest.raises(MigrationFailed) as caught:
        migrate(paths, to=[keys.xwing_pub], identities=[keys.x25519], apply=True)
    assert [a.status for a in caught.value.report.artifacts] == ["ready", "ready", "refused"]
    assert "not an age, pqml/v1, OMS bundle" in str(caught.value)
    assert after_is(before, paths)


def test_tampered_header_is_refused(files: dict[str, Path], keys: Keys) -> None:
    path = files["age"]
    data = bytearray(path.read_bytes())
    mac_at = data.index(b"--- ") + 5
    data[mac_at] ^= 0x01  # a base64 character of the header MAC
    path.write_bytes(bytes(data))
    before = snapshot([path])
    (a,) = migrate([path], to=[keys.xwing_pub], identities=[keys.x25519]).artifacts
    assert a.status == "refused"
    with pytest.raises(MigrationFailed):
        migrate([path], to=[keys.xwing_pub], identities=[keys.x25519], apply=True)
    assert after_is(before, [path])


def test_missing_keys_are_named(files: dict[str, Path], keys: Keys) -> None:
    (a,) = migrate([files["age"]]).artifacts
    assert a.status == "needs" and "--to" in (a.reason or "")
    (b,) = migrate([files["age"]], to=[keys.xwing_pub]).artifacts
    assert b.status == "needs" and "-i" in (b.reason or "")
    with pytest.raises(MigrationFailed, match="-i"):
        migrate([files["age"]], to=[keys.xwing_pub], apply=True)


def test_targets_must_be_post_quantum_and_fit_the_format(files: dict[str, Path],
                                                          keys: Keys) -> None:
    with pytest.raises(PqmlError, match="quantum-vulnerable"):
        migrate([files["age"]], to=[str(keys.x25519)], identities=[keys.x25519])
    (a,) = migrate([files["age"]], to=[str(keys.mlkem_pub)],
                   identities=[keys.x25519]).artifacts
    assert a.status == "refused" and "cannot be a recipient of an age file" in (a.reason or "")


def test_same_file_twice_is_refused(files: dict[str, Path], keys: Keys) -> None:
    with pytest.raises(MigrationError, match="given twice"):
        migrate([files["age"], files["age"].parent / "." / files["age"].name],
                to=[keys.xwing_pub], identities=[keys.x25519], apply=True)


def test_large_pqml_file_with_header_area(tmp_path: Path, keys: Keys) -> None:
    """A 64 MiB pqml/v1 file has a header area: rekey rewrites it in place."""
    path = classical_file(tmp_path / "big.pqml", keys, "pqml", b"\x5a" * (64 << 20))
    payload_tail = path.read_bytes()[-4096:]
    (a,) = migrate([path], to=[keys.xwing_pub], identities=[keys.x25519],
                   apply=True).artifacts
    assert a.status == "migrated" and a.result and a.result["in_place"] is True
    assert path.read_bytes()[-4096:] == payload_tail
    assert pqml.inspect(path)["post_quantum"]


def test_directory_without_a_bundle_is_refused(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (a,) = migrate([tmp_path / "d"]).artifacts
    assert a.status == "refused" and "pqml scan --plan" in (a.reason or "")

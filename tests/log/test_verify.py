"""Verification that says where: every kind of tampering is named by its index, with and
without the record file rewritten to match; truncation and rollback against a checkpoint
saved elsewhere; offline proofs checked with only the log's public key."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from log_helpers import entry, filled, lines, records, write_lines, write_records

from pqml.formats.signed_note import parse_note
from pqml.formats.tlog import TlogProof, parse_tlog_proof
from pqml.keys.key_files import generate
from pqml.log import merkle
from pqml.log.errors import LogError, LogTamperedError
from pqml.log.store import _BODY, LogStore, entry_tag
from pqml.log.verify import check_proof, load_vkey, verify_log

N = 21


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A log of N distinct entries with checkpoints at 1, 8, 16 (the tail is unsigned)."""
    d = tmp_path_factory.mktemp("base") / "log"
    filled(d, N).close()
    return d


def copy(base: Path, tmp: Path) -> Path:
    target = tmp / f"copy{len(list(tmp.iterdir()))}"
    shutil.copytree(base, target, symlinks=True)
    return target


def problem(d: Path) -> tuple[int, str]:
    with pytest.raises(LogTamperedError) as info:
        verify_log(d, sign=False)
    return info.value.index, info.value.problem.kind  # type: ignore[attr-defined]


def tamper(d: Path, kind: str, p: int, q: int, *, with_records: bool) -> None:
    ls, rs = lines(d), records(d)
    if kind == "edited":
        ls[p] = ls[p].replace(f'"i":{p}}}'.encode(), b'"i":999}')
        rs[p] = merkle.leaf_hash(ls[p]) + rs[p][32:]
    elif kind == "deleted":
        del ls[p], rs[p]
    elif kind == "inserted":
        ls.insert(p, ls[q])
        rs.insert(p, rs[q])
    elif kind == "reordered":
        ls[p], ls[q] = ls[q], ls[p]
        rs[p], rs[q] = rs[q], rs[p]
    write_lines(d, ls)
    if with_records:
        write_records(d, rs)


KINDS = ["edited", "deleted", "inserted", "reordered"]


@pytest.mark.parametrize("with_records", [False, True], ids=["entries", "entries+records"])
@pytest.mark.parametrize("kind", KINDS)
def test_each_tamper_is_named_by_its_index(base: Path, tmp_path: Path, kind: str,
                                           with_records: bool) -> None:
    d = copy(base, tmp_path)
    p, q = 13, 20 if kind == "reordered" else 3
    tamper(d, kind, p, q, with_records=with_records)
    assert lines(d) != lines(base)
    assert problem(d) == (p, kind)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), with_records=st.booleans(), data=st.data())
def test_random_tampering_is_named_by_its_index(base: Path, tmp_path: Path, kind: str,
                                                with_records: bool, data: st.DataObject) -> None:
    p = data.draw(st.integers(0, N - 2), label="p")
    if kind == "reordered":
        q = data.draw(st.integers(p + 1, N - 1), label="q")
    else:
        q = data.draw(st.integers(0, N - 1).filter(lambda x: x != p), label="q")
    d = copy(base, tmp_path)
    tamper(d, kind, p, q, with_records=with_records)
    index, found = problem(d)
    assert index == p
    assert found == kind


def test_a_record_forged_without_the_tag_key_is_named(base: Path, tmp_path: Path) -> None:
    d = copy(base, tmp_path)
    ls, rs = lines(d), records(d)
    ls[5] = ls[5].replace(b'"i":5}', b'"i":6}')
    body = _BODY.pack(merkle.leaf_hash(ls[5]), 5, *_BODY.unpack(rs[5][:52])[2:])
    rs[5] = body + entry_tag(b"\x00" * 32, body)  # the attacker's guess at a tag
    write_lines(d, ls)
    write_records(d, rs)
    assert problem(d) == (5, "edited")


def test_without_the_tag_key_entry_edits_are_still_named(base: Path, tmp_path: Path) -> None:
    d = copy(base, tmp_path)
    (d / "entry-tag.key").unlink()
    assert "entry tags not checked" in verify_log(d, sign=False).warnings[0]
    tamper(d, "deleted", 9, 0, with_records=False)
    assert problem(d) == (9, "deleted")


def test_a_rewrite_with_the_keys_is_caught_by_the_signed_checkpoints(base: Path,
                                                                     tmp_path: Path) -> None:
    d = copy(base, tmp_path)
    key = (d / "entry-tag.key").read_bytes()
    ls, rs = lines(d), records(d)
    ls[10] = ls[10].replace(b'"i":10}', b'"i":77}')
    _, index, offset, _ = _BODY.unpack(rs[10][:52])
    body = _BODY.pack(merkle.leaf_hash(ls[10]), index, offset, len(ls[10]))
    rs[10] = body + entry_tag(key, body)
    write_lines(d, ls)
    write_records(d, rs)
    assert problem(d) == (8, "rewritten")  # between signed checkpoints 8 and 16


def test_truncation_is_caught_by_the_stored_checkpoints(base: Path, tmp_path: Path) -> None:
    d = copy(base, tmp_path)
    write_lines(d, lines(d)[:12])
    write_records(d, records(d)[:12])
    assert problem(d) == (12, "truncated")


def _saved(base: Path, tmp_path: Path) -> tuple[Path, bytes]:
    d = copy(base, tmp_path)
    return d, LogStore(d).checkpoint()  # covers all N; saved "elsewhere"


def _drop_checkpoints_above(d: Path, size: int) -> None:
    for f in (d / "checkpoints").iterdir():
        if f.name == "latest" or int(f.name) > size:
            f.unlink()


def test_truncation_behind_the_logs_back_is_caught_by_a_saved_checkpoint(
        base: Path, tmp_path: Path) -> None:
    d, saved = _saved(base, tmp_path)
    write_lines(d, lines(d)[:12])
    write_records(d, records(d)[:12])
    _drop_checkpoints_above(d, 12)
    assert verify_log(d, sign=False).size == 12  # consistent on its own
    with pytest.raises(LogTamperedError, match=r"truncated.*entries 12\.\.20 were removed"):
        verify_log(d, checkpoint=saved, sign=False)


def test_rollback_and_rewrite_with_the_keys_is_caught_by_a_saved_checkpoint(
        base: Path, tmp_path: Path) -> None:
    d, saved = _saved(base, tmp_path)
    write_lines(d, lines(d)[:12])
    write_records(d, records(d)[:12])
    _drop_checkpoints_above(d, 12)
    store = LogStore(d)
    for i in range(40):  # a different history, longer than the saved one, re-signed
        store.append(entry(1000 + i))
    assert verify_log(d).size == 52
    with pytest.raises(LogTamperedError, match="rolled back") as info:
        verify_log(d, checkpoint=saved, sign=False)
    assert info.value.problem.kind == "rolled-back"  # type: ignore[attr-defined]


def test_a_saved_checkpoint_that_the_log_extends_passes(base: Path, tmp_path: Path) -> None:
    d, saved = _saved(base, tmp_path)
    LogStore(d).append(entry(N))
    report = verify_log(d, checkpoint=saved)
    assert report.saved is not None and report.saved[0] == N
    assert report.signed and report.latest is not None and report.latest.size == N + 1


def test_bad_saved_checkpoints_get_one_line_errors(base: Path, tmp_path: Path) -> None:
    d = copy(base, tmp_path)
    other = filled(tmp_path / "other", 3)
    with pytest.raises(LogError, match="checkpoint of another log"):
        verify_log(d, checkpoint=other.checkpoint(), sign=False)
    # same origin, another key: an unknown key
    note = parse_note(LogStore(d).checkpoint())
    from pqml.formats.signed_note import Note, serialize_note
    from pqml.formats.tlog import cosign_mldsa44, parse_checkpoint

    forged_sig = cosign_mldsa44(parse_checkpoint(note.text), "someone.example/w",
                                generate("ML-DSA-44"), 1)
    forged = serialize_note(Note(note.text, (forged_sig,)))
    with pytest.raises(LogError, match="not signed by the log key"):
        verify_log(d, checkpoint=forged, sign=False)
    with pytest.raises(LogError, match="not a checkpoint"):
        verify_log(d, checkpoint=b"hello\n", sign=False)


def test_a_stored_checkpoint_with_a_bad_signature_is_tampering(base: Path,
                                                               tmp_path: Path) -> None:
    d = copy(base, tmp_path)
    path = d / "checkpoints" / f"{8:020d}"
    note = parse_note(path.read_bytes())
    from pqml.formats.signed_note import Note, NoteSignature, serialize_note

    sig = note.signatures[0]
    flipped = sig.signature[:-1] + bytes([sig.signature[-1] ^ 1])
    path.write_bytes(serialize_note(Note(note.text, (NoteSignature(sig.name, sig.key_id,
                                                                   flipped),))))
    with pytest.raises(LogTamperedError, match="checkpoint rejected"):
        verify_log(d, sign=False)


def test_a_log_that_verifies_gets_its_tail_signed(base: Path, tmp_path: Path) -> None:
    d = copy(base, tmp_path)
    report = verify_log(d)
    assert report.size == N and report.signed and report.latest is not None
    assert report.latest.size == N and report.checkpoints == 4
    assert not verify_log(d).signed


def test_verify_of_a_missing_log_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(LogError, match="no transparency log here"):
        verify_log(tmp_path / "none")


# ---- offline proofs ---------------------------------------------------------------------


def _proof_elsewhere(base: Path, tmp_path: Path, index: int) -> tuple[Path, Path]:
    """A proof and the log's vkey copied to a directory with nothing else in it."""
    store = LogStore(copy(base, tmp_path))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "p.tlog-proof").write_bytes(store.prove(index))
    (elsewhere / "log.vkey").write_text(f"{store.vkey}\n")
    shutil.rmtree(store.directory)
    return elsewhere / "p.tlog-proof", elsewhere / "log.vkey"


def test_a_proof_is_checked_with_only_the_public_key(base: Path, tmp_path: Path) -> None:
    proof, vkey_file = _proof_elsewhere(base, tmp_path, 17)
    proven = check_proof(proof.read_bytes(), load_vkey(vkey_file.read_text()))
    assert proven.index == 17 and proven.entry == entry(17) and proven.tree_size == N


@pytest.mark.parametrize("change", ["entry", "index", "path", "root"])
def test_a_changed_proof_fails(base: Path, tmp_path: Path, change: str) -> None:
    proof, vkey_file = _proof_elsewhere(base, tmp_path, 17)
    parsed = parse_tlog_proof(proof.read_bytes())
    assert parsed.extra is not None
    fields: dict[str, Callable[[], TlogProof]] = {
        "entry": lambda: TlogProof(parsed.index, parsed.path, parsed.checkpoint,
                                   parsed.extra.replace(b'"i":17', b'"i":18')),  # type: ignore[union-attr]
        "index": lambda: TlogProof(16, parsed.path, parsed.checkpoint, parsed.extra),
        "path": lambda: TlogProof(parsed.index, parsed.path[:-1], parsed.checkpoint,
                                  parsed.extra),
        "root": lambda: TlogProof(parsed.index, parsed.path, parsed.checkpoint.replace(
            b"\n" + str(N).encode() + b"\n", b"\n" + str(N + 1).encode() + b"\n"),
            parsed.extra),
    }
    with pytest.raises(LogError):
        check_proof(fields[change]().to_bytes(), load_vkey(vkey_file.read_text()))


def test_a_proof_of_another_log_is_refused(base: Path, tmp_path: Path) -> None:
    proof, _ = _proof_elsewhere(base, tmp_path, 2)
    other = filled(tmp_path / "other", 2)
    with pytest.raises(LogError, match="another log"):
        check_proof(proof.read_bytes(), other.vkey)
    with pytest.raises(LogError, match="not a tlog-proof"):
        check_proof(b"garbage", other.vkey)
    with pytest.raises(LogError, match="not a C2SP verifier key"):
        load_vkey("nonsense")


def test_a_swapped_verifier_key_is_caught(base: Path, tmp_path: Path) -> None:
    d = copy(base, tmp_path)
    trusted = LogStore(d).vkey
    other = filled(tmp_path / "other", 1)
    assert verify_log(d, key=trusted, sign=False).size == N
    with pytest.raises(LogTamperedError, match="not the trusted key"):
        verify_log(d, key=other.vkey, sign=False)
    shutil.copy(other.directory / "log.vkey", d / "log.vkey")  # the attacker's key, named
    with pytest.raises(LogTamperedError, match="does not match"):
        verify_log(d, sign=False)
    (d / "log.key").unlink()  # and the log key gone: only the trusted key tells
    with pytest.raises(LogTamperedError, match="not the trusted key"):
        verify_log(d, key=trusted, sign=False)

"""Rekeying several files: every file is checked before any is changed, ``skip_missing``
(``--skip-missing``) skips the files without a stanza for a recipient to remove, and
every run reports each file (changed, skipped, failed, unchanged), also when an apply
step fails half-way (which cannot be atomic across files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import pqml
from pqml.encryption import encrypt as feature
from pqml.encryption import rekey as rekey_module
from pqml.encryption.rekey import rekey, rekey_many
from pqml.errors import OutputPathError, RekeyError, RekeyManyError
from pqml.formats.keyfile import private_key_to_pem, public_key_to_pem
from pqml.primitives import registry

A = registry.scheme("X-Wing").generate()
B = registry.scheme("X-Wing").generate()
C = registry.scheme("X-Wing").generate()
WITH_C = {0, 1, 3, 4, 6}  # five of the eight files have a stanza for C


def eight(tmp_path: Path) -> list[Path]:
    """Eight pqml/v1 files to A; five also to C. Files 2, 5 and 7 have no stanza for C."""
    (tmp_path / "plain").write_bytes(os.urandom(5000))
    paths = []
    for i in range(8):
        path = tmp_path / f"f{i}.pqml"
        recipients = [A.public_key(), C.public_key()] if i in WITH_C else [A.public_key()]
        feature.encrypt_file(tmp_path / "plain", path, recipients)
        paths.append(path)
    return paths


def contents(paths: list[Path]) -> list[bytes]:
    return [p.read_bytes() for p in paths]


def pqml_cli(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args)],
                          capture_output=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture()
def key_files(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "keys"
    d.mkdir()
    (d / "a.pem").write_bytes(private_key_to_pem(A))
    (d / "b.pub.pem").write_bytes(public_key_to_pem(B.public_key()))
    (d / "c.pub.pem").write_bytes(public_key_to_pem(C.public_key()))
    return {p.name: p for p in d.iterdir()}


def test_a_failing_check_changes_no_file(tmp_path: Path) -> None:
    paths = eight(tmp_path)
    before = contents(paths)
    with pytest.raises(RekeyManyError) as info:
        rekey_many(paths, [A], remove=[C.public_key()], add=[B.public_key()])
    assert contents(paths) == before  # not the first five: none
    outcomes = info.value.outcomes
    assert [o.path for o in outcomes] == [str(p) for p in paths]
    assert [o.status for o in outcomes] == [
        "unchanged" if i in WITH_C else "failed" for i in range(8)]
    assert all("no stanza for the recipient to remove" in (o.reason or "")
               for o in outcomes if o.status == "failed")
    assert str(info.value).startswith(f"3 of 8 files cannot be rekeyed, so no file was "
                                      f"changed: {paths[2]}: no stanza for the recipient")
    assert isinstance(info.value, RekeyError) and pqml.rekey_many is rekey_many


def test_skip_missing_skips_those_files_and_says_so(tmp_path: Path) -> None:
    paths = eight(tmp_path)
    before = contents(paths)
    outcomes = rekey_many(paths, [A], remove=[C.public_key()], skip_missing=True)
    assert [o.status for o in outcomes] == [
        "changed" if i in WITH_C else "skipped" for i in range(8)]
    after = contents(paths)
    assert [after[i] == before[i] for i in range(8)] == [i not in WITH_C for i in range(8)]
    skipped = [o for o in outcomes if o.status == "skipped"]
    assert all(o.reason and "no stanza for the recipient to remove" in o.reason
               for o in skipped)
    changed = [o for o in outcomes if o.status == "changed"]
    assert all(o.result is not None and o.result.removed == 1 for o in changed)
    record = changed[0].to_dict()
    assert (record["path"], record["status"], record["reason"]) == (str(paths[0]),
                                                                   "changed", None)
    assert record["stanzas_after"] == 1


def test_other_failures_are_not_skipped(tmp_path: Path) -> None:
    """--skip-missing skips only a missing recipient: a file no identity opens still stops
    the whole run before any change."""
    paths = eight(tmp_path)[:3]
    paths[1].unlink()
    feature.encrypt_file(tmp_path / "plain", paths[1], [B.public_key()])  # not to A
    before = contents(paths)
    with pytest.raises(RekeyManyError, match="no identity matched") as info:
        rekey_many(paths, [A], remove=[C.public_key()], skip_missing=True)
    assert contents(paths) == before
    assert [o.status for o in info.value.outcomes] == ["unchanged", "failed", "skipped"]


def test_the_same_file_twice_is_refused(tmp_path: Path) -> None:
    paths = eight(tmp_path)[:2]
    before = contents(paths)
    with pytest.raises(RekeyError, match="given twice"):
        rekey_many([paths[0], paths[1], tmp_path / "." / paths[0].name], [A],
                   add=[B.public_key()])
    assert contents(paths) == before


def test_a_file_changed_after_the_check_stops_the_apply_and_says_where(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    paths = eight(tmp_path)
    checked = rekey_module._check_all

    def check_then_another_rekey(*args: object, **kw: object) -> object:
        plans = checked(*args, **kw)
        rekey(paths[3], [A], add=[C.public_key(), B.public_key()])  # after the check
        return plans

    monkeypatch.setattr(rekey_module, "_check_all", check_then_another_rekey)
    before = contents(paths)
    with pytest.raises(RekeyManyError) as info:
        rekey_many(paths, [A], remove=[C.public_key()], skip_missing=True)
    after = contents(paths)
    statuses = [o.status for o in info.value.outcomes]
    assert statuses == ["changed", "changed", "skipped", "failed", "unchanged", "skipped",
                        "unchanged", "skipped"]
    assert [after[i] != before[i] for i in range(8)] == [True, True, False, True, False,
                                                         False, False, False]
    failed = info.value.outcomes[3]
    assert failed.reason and "changed since it was checked" in failed.reason
    assert info.value.outcomes[4].reason == f"not reached: the rekey stopped at {paths[3]}"
    message = str(info.value)
    assert message.startswith(f"{paths[3]}: the file changed since it was checked")
    assert "2 files were changed before it, 2 were not reached" in message


def test_a_write_error_half_way_reports_what_changed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, key_files: dict[str, Path]) -> None:
    """A full disk on the third file: the CLI lists per file what changed and what not,
    on stderr and in the JSON records, and exits 1 with one error line."""
    paths = eight(tmp_path)[:4]
    before = contents(paths)
    replace = rekey_module._replace
    calls = []

    def disk_full_on_the_third(*args: object, **kw: object) -> object:
        calls.append(args[0])
        if len(calls) == 3:
            raise OutputPathError(f"{args[0]}: cannot write: No space left on device (no "
                                  "output was left)")
        return replace(*args, **kw)

    monkeypatch.setattr(rekey_module, "_replace", disk_full_on_the_third)
    from click.testing import CliRunner

    from pqml.cli.main import cli

    res = CliRunner().invoke(cli, ["rekey", "--json", "-i", str(key_files["a.pem"]), "--add",
                                   str(key_files["b.pub.pem"]), *map(str, paths)])
    assert res.exit_code == 1
    after = contents(paths)
    assert [after[i] != before[i] for i in range(4)] == [True, True, False, False]
    records = json.loads(res.stdout)
    assert [(r["path"], r["status"]) for r in records] == [
        (str(paths[0]), "changed"), (str(paths[1]), "changed"), (str(paths[2]), "failed"),
        (str(paths[3]), "unchanged")]
    assert "No space left on device" in records[2]["reason"]
    lines = res.stderr.splitlines()
    assert lines[:4] == [
        f"{paths[0]}: 2 -> 3 recipients (+1 -0), file rewritten (payload bytes unchanged)",
        f"{paths[1]}: 2 -> 3 recipients (+1 -0), file rewritten (payload bytes unchanged)",
        f"{paths[2]}: failed: cannot write: No space left on device (no output was left)",
        f"{paths[3]}: not changed: not reached: the rekey stopped at {paths[2]}",
    ]
    assert lines[4].startswith(f"pqml: error: {paths[2]}: cannot write") and len(lines) == 5


def test_cli_reports_each_file_and_changes_none_on_a_failed_check(
        tmp_path: Path, key_files: dict[str, Path]) -> None:
    paths = eight(tmp_path)
    before = contents(paths)
    res = pqml_cli("rekey", "--json", "-i", key_files["a.pem"], "--remove",
                   key_files["c.pub.pem"], *paths)
    assert res.returncode == 1 and contents(paths) == before
    records = json.loads(res.stdout)
    assert [(r["path"], r["status"]) for r in records] == [
        (str(p), "unchanged" if i in WITH_C else "failed") for i, p in enumerate(paths)]
    lines = res.stderr.decode().splitlines()
    assert lines[2].startswith(f"{paths[2]}: failed: no stanza for the recipient to remove")
    assert lines[0].startswith(f"{paths[0]}: not changed: ")
    assert lines[-1].startswith("pqml: error: 3 of 8 files cannot be rekeyed, so no file "
                                "was changed")
    assert b"Traceback" not in res.stderr and len(lines) == 9


def test_cli_skip_missing(tmp_path: Path, key_files: dict[str, Path]) -> None:
    paths = eight(tmp_path)
    res = pqml_cli("rekey", "--skip-missing", "-i", key_files["a.pem"], "--remove",
                   key_files["c.pub.pem"], *paths)
    assert res.returncode == 0, res.stderr
    lines = res.stderr.decode().splitlines()
    assert lines[2].startswith(f"{paths[2]}: skipped: no stanza for the recipient to remove")
    assert lines[0] == f"{paths[0]}: 2 -> 1 recipient (+0 -1), file rewritten (payload " \
                       "bytes unchanged)"
    assert res.stdout == b"" and len(lines) == 9
    assert lines[8].startswith("pqml: warning: 5 files: the header was rewrapped, the file "
                               "key is unchanged")
    help_text = pqml_cli("rekey", "--help").stdout.decode()
    assert "--skip-missing" in help_text and "not atomic across files" in " ".join(
        help_text.split())


def test_the_copy_path_rekeys_the_file_a_symlink_names(tmp_path: Path) -> None:
    """The in-place path writes through a symlink; the copy path must too, not replace the
    link with a rekeyed copy and leave the real file (e.g. a Hugging Face cache blob)
    open to a removed recipient."""
    (tmp_path / "plain").write_bytes(os.urandom(5000))
    blob = tmp_path / "blob.pqml"
    feature.encrypt_file(tmp_path / "plain", blob, [A.public_key(), C.public_key()])
    link = tmp_path / "link.pqml"
    link.symlink_to(blob)
    [outcome] = rekey_many([link], [A], remove=[C.public_key()])
    assert outcome.status == "changed" and outcome.result is not None
    assert not outcome.result.in_place
    assert link.is_symlink()
    with pytest.raises(pqml.errors.PqmlError):
        feature.decrypt_file(blob, tmp_path / "by-c", [C])
    feature.decrypt_file(link, tmp_path / "by-a", [A])


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path: Path) -> None:
    """Read-only open of a FIFO (the fallback when the file is not writable) must not block:
    run in a child with a deadline that only guards against a hang."""
    fifo = tmp_path / "f.pqml"
    os.mkfifo(fifo)
    code = (
        "import errno, os, sys\n"
        "from pathlib import Path\n"
        "from pqml.encryption import rekey\n"
        "real = os.open\n"
        "def fake(path, flags, *a, **k):\n"
        "    if flags & os.O_RDWR:\n"
        "        raise PermissionError(errno.EACCES, 'read-only')\n"
        "    return real(path, flags, *a, **k)\n"
        "os.open = fake\n"
        "try:\n"
        "    with rekey._open_locked(Path(sys.argv[1])):\n"
        "        print('opened')\n"
        "except rekey.RekeyError as exc:\n"
        "    print('refused:', exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(fifo)], capture_output=True,
                         text=True, timeout=60)
    assert out.stdout.strip() == "refused: not a regular file", out.stderr

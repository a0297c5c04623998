"""``pqml encrypt -p`` / ``pqml decrypt -p``: the passphrase typed at a terminal prompt
(getpass reads the controlling terminal, so the CLI runs on a pseudo-terminal here)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from conftest import pty_available, run_on_terminal

pytestmark = pytest.mark.skipif(not pty_available(), reason="no pseudo-terminal here")
PQML = [sys.executable, "-m", "pqml.cli.main"]
SECRET = "correct horse \u00e9".encode()  # non-ASCII: typed as UTF-8


@pytest.mark.parametrize("fmt", ["pqml", "age"])
def test_prompted_passphrase_round_trip(tmp_path: Path, fmt: str) -> None:
    plain = tmp_path / "notes.txt"
    plain.write_bytes(os.urandom(70_000))
    enc, out = tmp_path / "notes.enc", tmp_path / "back.txt"
    code, transcript, unasked = run_on_terminal(
        [*PQML, "encrypt", "-p", "--format", fmt, "-o", str(enc), str(plain)],
        [(b"Passphrase: ", SECRET), (b"Confirm passphrase: ", SECRET)])
    assert code == 0 and not unasked, transcript
    assert SECRET not in transcript  # not echoed
    code, transcript, unasked = run_on_terminal(
        [*PQML, "decrypt", "-p", "-o", str(out), str(enc)], [(b"Passphrase: ", SECRET)])
    assert code == 0 and not unasked, transcript
    assert out.read_bytes() == plain.read_bytes()
    code, transcript, _ = run_on_terminal(
        [*PQML, "decrypt", "-p", "-o", str(tmp_path / "wrong.txt"), str(enc)],
        [(b"Passphrase: ", b"not it")])
    assert code != 0 and not (tmp_path / "wrong.txt").exists()
    assert b"Traceback" not in transcript and b"error:" in transcript


def test_mismatched_confirmation_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    plain = tmp_path / "notes.txt"
    plain.write_bytes(b"secret notes")
    code, transcript, unasked = run_on_terminal(
        [*PQML, "encrypt", "-p", "-o", str(tmp_path / "notes.pqml"), str(plain)],
        [(b"Passphrase: ", SECRET), (b"Confirm passphrase: ", b"something else")])
    assert code != 0 and not unasked
    assert b"the passphrases do not match" in transcript and b"Traceback" not in transcript
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]

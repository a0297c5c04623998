"""Passphrase-protected identities: a PEM private key encrypted with a passphrase unlocks
with ``--key-passphrase-file`` or a terminal prompt (CLI) and ``IdentityFile`` (Python),
in decrypt, rekey and ``pqml.open``; and every error names which secret was wrong (the
file's passphrase, or which key file's), never the secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import pqml
from pqml.encryption import encrypt as feature
from pqml.encryption.encryption_keys import IdentityFile, Passphrase
from pqml.errors import (
    KeyFormatError,
    NoIdentityMatchError,
    PassphraseRequiredError,
    WrongKeyPassphraseError,
    WrongPassphraseError,
)
from pqml.formats.keyfile import private_key_to_pem, public_key_to_pem
from pqml.primitives import registry

from conftest import pty_available, run_on_terminal

PQML = [sys.executable, "-m", "pqml.cli.main"]
KEY_SECRET = b"key pass \xc3\xa9"  # non-ASCII, and it is never printed
ALICE = registry.scheme("X-Wing").generate()
BOB = registry.scheme("X-Wing").generate()
FAST = (1, 8 * 1024, 1)  # Argon2id t, m KiB, p: a cheap passphrase stanza for the tests


def pqml_run(*args: str | Path, session: bool = False) -> subprocess.CompletedProcess[bytes]:
    """The CLI in a child process; ``session``: in a new session, so no terminal to ask on."""
    return subprocess.run([*PQML, *map(str, args)], capture_output=True, timeout=120,
                          stdin=subprocess.DEVNULL, start_new_session=session)


def one_line_error(stderr: bytes) -> str:
    lines = [ln for ln in stderr.decode().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pqml: error: "), stderr
    assert b"Traceback" not in stderr
    return lines[0].removeprefix("pqml: error: ")


@pytest.fixture()
def keys(tmp_path: Path) -> dict[str, Path]:
    (tmp_path / "alice.pem").write_bytes(private_key_to_pem(ALICE, KEY_SECRET, iterations=1000))
    (tmp_path / "alice.pub.pem").write_bytes(public_key_to_pem(ALICE.public_key()))
    (tmp_path / "bob.pub.pem").write_bytes(public_key_to_pem(BOB.public_key()))
    (tmp_path / "key-pw.txt").write_bytes(KEY_SECRET + b"\n")
    (tmp_path / "wrong-pw.txt").write_bytes(b"not the key passphrase\n")
    return {p.name: p for p in tmp_path.iterdir()}


def encrypted(tmp_path: Path, fmt: str = "pqml", size: int = 70_000) -> tuple[Path, bytes]:
    data = os.urandom(size)
    (tmp_path / "plain").write_bytes(data)
    path = tmp_path / f"model.{fmt}"
    feature.encrypt_file(tmp_path / "plain", path, [ALICE.public_key()], format=fmt)
    return path, data


# ---- the key's passphrase ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pqml", "age"])
def test_cli_decrypt_with_key_passphrase_file(tmp_path: Path, keys: dict[str, Path],
                                              fmt: str) -> None:
    path, data = encrypted(tmp_path, fmt)
    res = pqml_run("decrypt", "-i", keys["alice.pem"], "--key-passphrase-file",
                   keys["key-pw.txt"], "-o", tmp_path / "out", path, session=True)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out").read_bytes() == data


def test_cli_rekey_with_key_passphrase_file(tmp_path: Path, keys: dict[str, Path]) -> None:
    path, data = encrypted(tmp_path)
    res = pqml_run("rekey", "-i", keys["alice.pem"], "--key-passphrase-file",
                   keys["key-pw.txt"], "--add", keys["bob.pub.pem"], path, session=True)
    assert res.returncode == 0, res.stderr
    feature.decrypt_file(path, tmp_path / "out", [BOB])
    assert (tmp_path / "out").read_bytes() == data


def test_python_identity_file_in_open_rekey_and_decrypt(tmp_path: Path,
                                                        keys: dict[str, Path]) -> None:
    path, data = encrypted(tmp_path)
    ident = IdentityFile(keys["alice.pem"], passphrase=KEY_SECRET)
    assert pqml.IdentityFile is IdentityFile
    assert KEY_SECRET.decode() not in repr(ident)
    with pqml.open(path, ident) as f:  # a single identity may be passed bare
        f.seek(1000)
        assert f.read(10) == data[1000:1010]
    pqml.rekey(path, [ident], add=[BOB.public_key()])
    asked: list[str] = []

    def ask(name: str) -> str:  # a callable is asked only for an encrypted key, by name
        asked.append(name)
        return KEY_SECRET.decode()

    feature.decrypt_file(path, tmp_path / "out", [IdentityFile(keys["alice.pem"], ask)])
    assert (tmp_path / "out").read_bytes() == data and asked == [str(keys["alice.pem"])]


def test_python_passphrase_ignored_for_a_key_that_is_not_encrypted(tmp_path: Path) -> None:
    (tmp_path / "plain.pem").write_bytes(private_key_to_pem(ALICE))
    path, data = encrypted(tmp_path)

    def never(name: str) -> bytes:
        raise AssertionError("asked for the passphrase of a key that is not encrypted")

    with pqml.open(path, [IdentityFile(tmp_path / "plain.pem", never)]) as f:
        assert f.read() == data


def test_wrong_key_passphrase_names_the_key_file(tmp_path: Path, keys: dict[str, Path]) -> None:
    path, _ = encrypted(tmp_path)
    res = pqml_run("decrypt", "-i", keys["alice.pem"], "--key-passphrase-file",
                   keys["wrong-pw.txt"], "-o", tmp_path / "out", path, session=True)
    message = one_line_error(res.stderr)
    assert message.startswith(f"{keys['alice.pem']}: wrong passphrase for this private key")
    assert b"not the key passphrase" not in res.stderr and not (tmp_path / "out").exists()
    with pytest.raises(WrongKeyPassphraseError, match=r"alice\.pem: wrong passphrase"):
        pqml.open(path, IdentityFile(keys["alice.pem"], b"not it"))


def test_missing_key_passphrase_without_terminal_says_how_to_give_it(
        tmp_path: Path, keys: dict[str, Path]) -> None:
    path, _ = encrypted(tmp_path)
    res = pqml_run("rekey", "-i", keys["alice.pem"], "--add", keys["bob.pub.pem"], path,
                   session=True)
    message = one_line_error(res.stderr)
    assert message.startswith(f"{keys['alice.pem']}: ") and "--key-passphrase-file" in message
    with pytest.raises(PassphraseRequiredError, match=r"alice\.pem: .*IdentityFile"):
        pqml.open(path, [keys["alice.pem"]])


@pytest.mark.skipif(not pty_available(), reason="no pseudo-terminal here")
def test_key_passphrase_prompted_on_the_terminal(tmp_path: Path,
                                                 keys: dict[str, Path]) -> None:
    path, data = encrypted(tmp_path)
    prompt = f"Passphrase for key file {keys['alice.pem']}: ".encode()
    code, transcript, unasked = run_on_terminal(
        [*PQML, "decrypt", "-i", str(keys["alice.pem"]), "-o", str(tmp_path / "out"),
         str(path)], [(prompt, KEY_SECRET)])
    assert code == 0 and not unasked, transcript
    assert KEY_SECRET not in transcript and (tmp_path / "out").read_bytes() == data
    code, transcript, unasked = run_on_terminal(
        [*PQML, "decrypt", "-i", str(keys["alice.pem"]), "-o", str(tmp_path / "out2"),
         str(path)], [(prompt, b"typo")])
    assert code != 0 and not unasked and not (tmp_path / "out2").exists()
    assert b"wrong passphrase for this private key" in transcript
    assert b"Traceback" not in transcript


# ---- the file's passphrase ---------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pqml", "age"])
def test_wrong_file_passphrase_is_not_no_identity_matched(tmp_path: Path, fmt: str) -> None:
    (tmp_path / "plain").write_bytes(b"secret")
    path = tmp_path / "p.enc"
    work = FAST if fmt == "pqml" else 10
    feature.encrypt_file(tmp_path / "plain", path, [Passphrase(b"right", work)], format=fmt)
    (tmp_path / "wrong.txt").write_text("wrong\n")
    res = pqml_run("decrypt", "--passphrase-file", tmp_path / "wrong.txt", "-o",
                   tmp_path / "out", path)
    assert one_line_error(res.stderr) == (
        f"{path}: wrong passphrase: it does not open this passphrase-encrypted file")
    with pytest.raises(WrongPassphraseError, match="wrong passphrase"):
        feature.decrypt_file(path, tmp_path / "out", [ALICE, Passphrase(b"wrong")])
    assert issubclass(WrongPassphraseError, NoIdentityMatchError)
    # a key where a passphrase is needed is still "no identity matched"
    with pytest.raises(NoIdentityMatchError) as info:
        feature.decrypt_file(path, tmp_path / "out", [ALICE])
    assert type(info.value) is NoIdentityMatchError
    feature.decrypt_file(path, tmp_path / "out", [Passphrase(b"right")])


def test_file_and_key_passphrases_are_told_apart(tmp_path: Path,
                                                 keys: dict[str, Path]) -> None:
    """--passphrase-file is the file's passphrase, --key-passphrase-file the key's: a
    key-encrypted file opens with both given, and the key passphrase is not tried on it."""
    path, data = encrypted(tmp_path)
    res = pqml_run("decrypt", "-i", keys["alice.pem"], "--key-passphrase-file",
                   keys["key-pw.txt"], "--passphrase-file", keys["wrong-pw.txt"], "-o",
                   tmp_path / "out", path, session=True)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out").read_bytes() == data


def test_a_huge_key_file_is_refused_after_a_bounded_read(tmp_path: Path) -> None:
    from pqml.encryption import encryption_keys

    huge = tmp_path / "huge.key"
    with huge.open("wb") as f:  # sparse: 1 GiB on paper, nothing on disk
        f.truncate(2**30)
    reads: list[int] = []
    real_open = Path.open

    def counting_open(self: Path, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        f = real_open(self, *args, **kwargs)
        if self == huge:
            real_read = f.read

            def read(n: int = -1) -> bytes:
                reads.append(n)
                return real_read(n)

            f.read = read  # type: ignore[method-assign]
        return f

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Path, "open", counting_open)
        with pytest.raises(KeyFormatError, match="larger than 16 MiB, not a key file"):
            encryption_keys.identities_from_file(huge)
    assert reads and all(0 < n <= encryption_keys.MAX_KEY_FILE_SIZE + 1 for n in reads)

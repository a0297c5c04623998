"""SSH keys and passphrase-encrypted identity files, both ways with Debian's age 1.1.1.

pqml encrypts to ``ssh-ed25519`` / ``ssh-rsa`` recipients (``-r`` with the key line, ``-R``
with a ``.pub``, an authorized_keys-style file or the private key file) and age opens the
file with ``age -d -i id_…``; files ``age -R id_….pub`` wrote open with ``pqml decrypt -i
id_…``. An identity file that age encrypted with a passphrase opens in pqml, and one pqml
encrypted opens in age (whose passphrase prompt is driven through a pseudo-terminal). The
refusals are one-line errors: SSH keys are quantum-vulnerable (``--allow-classical``) and
exist only in the age format.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from pqml.encryption import encrypt as feature
from pqml.encryption.encryption_keys import IdentityFile, Passphrase
from pqml.errors import KeyFormatError, PassphraseRequiredError, WrongKeyPassphraseError

from conftest import pty_available, run_on_terminal, vector

AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")
needs_age = pytest.mark.skipif(
    AGE is None or AGE_KEYGEN is None,
    reason="the reference 'age' / 'age-keygen' binaries are not installed (apt-get install age)")
needs_pty = pytest.mark.skipif(not pty_available(), reason="no pseudo-terminal here: age "
                               "1.1.1 reads passphrases only from a terminal")
PQML = [sys.executable, "-m", "pqml.cli.main"]
VEC = vector("age-ssh")
KEY_SECRET = b"ssh key passphrase \xc3\xa9"
OPENSSH_PRIVATE = (serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH)
OPENSSH_PUBLIC = (serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)


def pqml_run(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*PQML, *map(str, args)], capture_output=True, timeout=120,
                          stdin=subprocess.DEVNULL, start_new_session=True)


def age_run(*args: str | Path) -> bytes:
    assert AGE is not None
    res = subprocess.run([AGE, *map(str, args)], capture_output=True, timeout=120)
    assert res.returncode == 0, res.stderr.decode(errors="replace")
    return res.stdout


def one_line_error(res: subprocess.CompletedProcess[bytes]) -> str:
    lines = [ln for ln in res.stderr.decode().splitlines() if ln.strip()]
    assert res.returncode != 0 and len(lines) == 1, res.stderr
    assert lines[0].startswith("pqml: error: ") and b"Traceback" not in res.stderr
    return lines[0].removeprefix("pqml: error: ")


@pytest.fixture()
def ssh(tmp_path: Path) -> dict[str, Path]:
    """Fresh ssh-ed25519 and ssh-rsa keys in OpenSSH format (unencrypted, and one
    encrypted with a passphrase), their .pub files and an authorized_keys file of both."""
    out: dict[str, Path] = {}
    for name, key in (("id_ed25519", ed25519.Ed25519PrivateKey.generate()),
                      ("id_rsa", rsa.generate_private_key(65537, 2048)),
                      ("enc_ed25519", ed25519.Ed25519PrivateKey.generate())):
        encryption = (serialization.BestAvailableEncryption(KEY_SECRET)
                      if name.startswith("enc") else serialization.NoEncryption())
        out[name] = tmp_path / name
        out[name].write_bytes(key.private_bytes(*OPENSSH_PRIVATE, encryption))
        out[name].chmod(0o600)
        out[f"{name}.pub"] = tmp_path / f"{name}.pub"
        out[f"{name}.pub"].write_bytes(key.public_key().public_bytes(*OPENSSH_PUBLIC)
                                       + b" someone@example\n")
    out["authorized_keys"] = tmp_path / "authorized_keys"
    out["authorized_keys"].write_bytes(b"# the team\n" + out["id_ed25519.pub"].read_bytes()
                                       + out["id_rsa.pub"].read_bytes())
    out["plain"] = tmp_path / "plain.bin"
    out["plain"].write_bytes(os.urandom(100_000))
    return out


# ---- pqml encrypts, age decrypts -----------------------------------------------------------


@needs_age
@pytest.mark.parametrize("how", ["-r line", "-R pub", "-R authorized_keys", "-R private key"])
@pytest.mark.parametrize("key", ["id_ed25519", "id_rsa"])
def test_pqml_encrypts_to_ssh_keys_age_decrypts(ssh: dict[str, Path], tmp_path: Path,
                                                how: str, key: str) -> None:
    given = {"-r line": ["-r", ssh[f"{key}.pub"].read_text().strip()],
             "-R pub": ["-R", str(ssh[f"{key}.pub"])],
             "-R authorized_keys": ["-R", str(ssh["authorized_keys"])],
             "-R private key": ["-R", str(ssh[key])]}[how]
    out = tmp_path / "out.age"
    res = pqml_run("encrypt", "--format", "age", "--allow-classical", *given, "-o", out,
                   ssh["plain"])
    assert res.returncode == 0, res.stderr
    assert b"quantum-vulnerable" in res.stderr  # the warning names the classical recipient
    assert age_run("-d", "-i", ssh[key], out) == ssh["plain"].read_bytes()


@needs_age
def test_encrypted_ssh_key_gives_its_public_half_without_passphrase(
        ssh: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.age"
    res = pqml_run("encrypt", "--format", "age", "--allow-classical", "-R", ssh["enc_ed25519"],
                   "-o", out, ssh["plain"])
    assert res.returncode == 0, res.stderr
    feature.decrypt_file(out, tmp_path / "back", [IdentityFile(ssh["enc_ed25519"], KEY_SECRET)])
    assert (tmp_path / "back").read_bytes() == ssh["plain"].read_bytes()


def test_ssh_recipients_are_refused_without_allow_classical(ssh: dict[str, Path],
                                                            tmp_path: Path) -> None:
    res = pqml_run("encrypt", "--format", "age", "-R", ssh["id_ed25519.pub"], "-o",
                   tmp_path / "out.age", ssh["plain"])
    message = one_line_error(res)
    assert "refusing the quantum-vulnerable ssh-ed25519 recipient" in message
    assert "--allow-classical" in message and not (tmp_path / "out.age").exists()


def test_ssh_recipients_exist_only_in_the_age_format(ssh: dict[str, Path],
                                                     tmp_path: Path) -> None:
    res = pqml_run("encrypt", "--allow-classical", "-r",
                   ssh["id_rsa.pub"].read_text().strip(), "-o", tmp_path / "out.pqml",
                   ssh["plain"])
    assert "pqml/v1 has no recipient type for ssh-rsa keys" in one_line_error(res)


# ---- age encrypts, pqml decrypts -----------------------------------------------------------


@needs_age
@pytest.mark.parametrize("key", ["id_ed25519", "id_rsa"])
def test_age_encrypts_to_ssh_keys_pqml_decrypts(ssh: dict[str, Path], tmp_path: Path,
                                                key: str) -> None:
    enc = tmp_path / "from-age.age"
    age_run("-R", ssh[f"{key}.pub"], "-o", enc, ssh["plain"])
    res = pqml_run("decrypt", "-i", ssh[key], "-o", tmp_path / "back", enc)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "back").read_bytes() == ssh["plain"].read_bytes()


@needs_age
@pytest.mark.parametrize("key", ["id_ed25519", "id_rsa"])
def test_only_a_later_ssh_stanza_is_ours_both_ways(ssh: dict[str, Path], tmp_path: Path,
                                                   key: str) -> None:
    """Stanzas of the same types to other keys come first: each side skips them by tag."""
    others = [ed25519.Ed25519PrivateKey.generate(), rsa.generate_private_key(65537, 2048)]
    lines = [k.public_key().public_bytes(*OPENSSH_PUBLIC).decode() for k in others]
    given = [arg for line in [*lines, ssh[f"{key}.pub"].read_text().strip()]
             for arg in ("-r", line)]
    by_age, by_pqml = tmp_path / "by-age.age", tmp_path / "by-pqml.age"
    age_run(*given, "-o", by_age, ssh["plain"])
    res = pqml_run("encrypt", "--format", "age", "--allow-classical", *given, "-o", by_pqml,
                   ssh["plain"])
    assert res.returncode == 0, res.stderr
    assert age_run("-d", "-i", ssh[key], by_pqml) == ssh["plain"].read_bytes()
    res = pqml_run("decrypt", "-i", ssh[key], "-o", tmp_path / "back", by_age)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "back").read_bytes() == ssh["plain"].read_bytes()


@needs_age
def test_rsa_key_of_1024_bits_is_refused_as_age_refuses_it(ssh: dict[str, Path],
                                                            tmp_path: Path) -> None:
    line = rsa.generate_private_key(65537, 1024).public_key().public_bytes(*OPENSSH_PUBLIC)
    assert AGE is not None
    by_age = subprocess.run([AGE, "-r", line.decode(), "-o", tmp_path / "a.age", ssh["plain"]],
                            capture_output=True, timeout=120)
    assert by_age.returncode != 0 and b"too small" in by_age.stderr
    res = pqml_run("encrypt", "--format", "age", "--allow-classical", "-r", line.decode(),
                   "-o", tmp_path / "p.age", ssh["plain"])
    assert "1024-bit" in one_line_error(res)
    assert not (tmp_path / "p.age").exists()


def test_vectors_age_wrote_open_through_the_cli(tmp_path: Path) -> None:
    """Without age installed too: files age 1.1.1 wrote (tests/vectors/age-ssh)."""
    for key, file in (("id_ed25519", "ed25519.age"), ("id_rsa", "both.age")):
        res = pqml_run("decrypt", "-i", VEC / key, "-o", tmp_path / key, VEC / file)
        assert res.returncode == 0, res.stderr
        assert (tmp_path / key).read_bytes() == (VEC / "plaintext.txt").read_bytes()


def test_encrypted_ssh_key_needs_its_passphrase(tmp_path: Path) -> None:
    src = VEC / "ed25519_encrypted_key.age"
    key = VEC / "id_ed25519_encrypted"
    with pytest.raises(PassphraseRequiredError, match=f"{key}: .*passphrase-protected"):
        feature.decrypt_file(src, tmp_path / "out", [key])
    with pytest.raises(WrongKeyPassphraseError, match=f"{key}: wrong passphrase"):
        feature.decrypt_file(src, tmp_path / "out", [IdentityFile(key, b"not it")])
    asked: list[str] = []

    def ask(name: str) -> str:
        asked.append(name)
        return "ssh key passphrase"

    feature.decrypt_file(src, tmp_path / "out", [IdentityFile(key, ask)])
    assert (tmp_path / "out").read_bytes() == (VEC / "plaintext.txt").read_bytes()
    assert asked == [str(key)]
    res = pqml_run("decrypt", "-i", key, "-o", tmp_path / "cli", src)  # no terminal to ask
    assert one_line_error(res).startswith(f"{key}: ") and not (tmp_path / "cli").exists()


# ---- passphrase-encrypted identity files ---------------------------------------------------


@pytest.mark.parametrize("name", ["key.txt.age", "key.txt.armored.age"])
def test_identity_file_age_encrypted_with_a_passphrase_opens(tmp_path: Path,
                                                             name: str) -> None:
    key = VEC / name
    src = VEC / "x25519.age"
    feature.decrypt_file(src, tmp_path / "out",
                         [IdentityFile(key, b"identity file passphrase")])
    assert (tmp_path / "out").read_bytes() == (VEC / "plaintext.txt").read_bytes()
    with pytest.raises(WrongKeyPassphraseError, match=f"{key}: wrong passphrase"):
        feature.decrypt_file(src, tmp_path / "out2", [IdentityFile(key, b"not it")])
    with pytest.raises(PassphraseRequiredError, match=f"{key}: "):
        feature.decrypt_file(src, tmp_path / "out2", [key])
    assert not (tmp_path / "out2").exists()


def test_identity_file_encrypted_to_a_key_is_refused(tmp_path: Path) -> None:
    key = VEC / "x25519.age"  # an age file, but not encrypted to a passphrase

    def never(name: str) -> bytes:
        raise AssertionError("asked a passphrase for a file that has no scrypt stanza")

    with pytest.raises(KeyFormatError, match=f"{key}: .*not with a passphrase"):
        feature.decrypt_file(VEC / "x25519.age", tmp_path / "out", [IdentityFile(key, never)])
    res = pqml_run("decrypt", "-i", key, "-o", tmp_path / "cli", VEC / "x25519.age")
    assert "not with a passphrase" in one_line_error(res)


@needs_age
@needs_pty
def test_identity_file_pqml_encrypted_opens_in_age(tmp_path: Path) -> None:
    assert AGE is not None and AGE_KEYGEN is not None
    key = tmp_path / "key.txt"
    subprocess.run([AGE_KEYGEN, "-o", str(key)], check=True, capture_output=True)
    recipient = subprocess.run([AGE_KEYGEN, "-y", str(key)], check=True,
                               capture_output=True).stdout.decode().strip()
    feature.encrypt_file(key, tmp_path / "key.age", [Passphrase(KEY_SECRET, 10)],
                         format="age")
    (tmp_path / "plain").write_bytes(b"for the holder of key.age")
    age_run("-r", recipient, "-o", tmp_path / "file.age", tmp_path / "plain")
    code, transcript, unasked = run_on_terminal(
        [AGE, "-d", "-i", str(tmp_path / "key.age"), "-o", str(tmp_path / "by-age"),
         str(tmp_path / "file.age")], [(b"passphrase", KEY_SECRET)])
    assert code == 0 and not unasked, transcript
    assert (tmp_path / "by-age").read_bytes() == b"for the holder of key.age"
    feature.decrypt_file(tmp_path / "file.age", tmp_path / "by-pqml",
                         [IdentityFile(tmp_path / "key.age", KEY_SECRET)])
    assert (tmp_path / "by-pqml").read_bytes() == b"for the holder of key.age"


# ---- the CLI: --key-passphrase-file and the terminal prompt --------------------------------


@pytest.mark.parametrize(("key", "secret", "file"), [
    ("id_ed25519_encrypted", b"ssh key passphrase", "ed25519_encrypted_key.age"),
    ("key.txt.age", b"identity file passphrase", "x25519.age"),
    ("key.txt.armored.age", b"identity file passphrase", "x25519.age"),
])
def test_cli_key_passphrase_file_unlocks_ssh_keys_and_encrypted_identity_files(
        tmp_path: Path, key: str, secret: bytes, file: str) -> None:
    (tmp_path / "pw").write_bytes(secret + b"\n")
    res = pqml_run("decrypt", "-i", VEC / key, "--key-passphrase-file", tmp_path / "pw",
                   "-o", tmp_path / "out", VEC / file)
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "out").read_bytes() == (VEC / "plaintext.txt").read_bytes()
    (tmp_path / "bad").write_bytes(b"not it\n")
    res = pqml_run("decrypt", "-i", VEC / key, "--key-passphrase-file", tmp_path / "bad",
                   "-o", tmp_path / "out2", VEC / file)
    message = one_line_error(res)
    assert message.startswith(f"{VEC / key}: wrong passphrase") and b"not it" not in res.stderr
    assert not (tmp_path / "out2").exists()


@needs_pty
@pytest.mark.parametrize(("key", "secret", "file"), [
    ("id_ed25519_encrypted", b"ssh key passphrase", "ed25519_encrypted_key.age"),
    ("key.txt.age", b"identity file passphrase", "x25519.age"),
])
def test_cli_asks_the_key_passphrase_on_the_terminal(tmp_path: Path, key: str,
                                                     secret: bytes, file: str) -> None:
    prompt = f"Passphrase for key file {VEC / key}: ".encode()
    code, transcript, unasked = run_on_terminal(
        [*PQML, "decrypt", "-i", str(VEC / key), "-o", str(tmp_path / "out"),
         str(VEC / file)], [(prompt, secret)])
    assert code == 0 and not unasked, transcript
    assert secret not in transcript
    assert (tmp_path / "out").read_bytes() == (VEC / "plaintext.txt").read_bytes()

"""Interoperability with the reference implementation: Debian's ``age`` (1.1.1 here).

Both directions for X25519 (binary and armored; empty, 64 KiB, 64 KiB + 1 and ~1 MiB
plaintexts, several recipients) and for scrypt. age reads passphrases only from a
terminal (1.1.1 has no flag, variable or file for it), so the scrypt cases drive it
through a pseudo-terminal. age 1.1.1 predates the post-quantum mlkem768x25519 stanza; that
type is covered by the CCTV vectors made with age 1.3 (tests/formats/test_age_cctv.py).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pqml.formats import age, age_keys

from conftest import pty_available, run_on_terminal

AGE = shutil.which("age")
AGE_KEYGEN = shutil.which("age-keygen")
pytestmark = pytest.mark.skipif(
    AGE is None or AGE_KEYGEN is None,
    reason="the reference 'age' / 'age-keygen' binaries are not installed (apt-get install age)",
)

CHUNK = 64 * 1024
SIZES = {"empty": 0, "64KiB": CHUNK, "64KiB+1": CHUNK + 1, "1MiB": 1024 * 1024 + 7}
PASSPHRASE = b"interop passphrase \xc3\xa9"  # non-ASCII on purpose: UTF-8 on both sides


needs_pty = pytest.mark.skipif(
    not pty_available(), reason="no pseudo-terminal here: age 1.1.1 reads passphrases only "
    "from a terminal, so the scrypt interop cannot be driven"
)


def age_run(*args: str | Path) -> subprocess.CompletedProcess[bytes]:
    assert AGE is not None
    result = subprocess.run([AGE, *map(str, args)], capture_output=True, timeout=120)
    assert result.returncode == 0, result.stderr.decode(errors="replace")
    return result


def age_with_passphrase(args: list[str | Path], confirm: bool) -> None:
    """Run age on a pseudo-terminal (its controlling tty) and answer its prompts."""
    assert AGE is not None
    prompts = [b"Enter passphrase"] + ([b"Confirm passphrase"] if confirm else [])
    code, transcript, unasked = run_on_terminal([AGE, *map(str, args)],
                                                [(p, PASSPHRASE) for p in prompts])
    assert code == 0, transcript.decode(errors="replace")
    assert not unasked, f"age did not ask for the passphrase: {transcript!r}"


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """An identity file written by age-keygen, and its recipient as age prints it."""
    assert AGE_KEYGEN is not None
    path = tmp_path_factory.mktemp("age-keys") / "key.txt"
    subprocess.run([AGE_KEYGEN, "-o", str(path)], check=True, capture_output=True)
    recipient = subprocess.run(
        [AGE_KEYGEN, "-y", str(path)], check=True, capture_output=True
    ).stdout.decode().strip()
    return path, recipient


def identities(keys: tuple[Path, str]) -> list:  # type: ignore[type-arg]
    return list(age_keys.parse_identity_file(keys[0].read_bytes()))


def test_identity_file_from_age_keygen(keys: tuple[Path, str]) -> None:
    (sk,) = identities(keys)
    assert age_keys.encode_recipient(sk.public_key()) == keys[1]


# ---- pqml encrypts, age decrypts ------------------------------------------------------------


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", list(SIZES.values()), ids=list(SIZES))
def test_age_decrypts_ours_x25519(keys: tuple[Path, str], tmp_path: Path, size: int,
                                  armor: bool) -> None:
    data = os.urandom(size)
    encrypted = tmp_path / "file.age"
    with encrypted.open("wb") as dst:
        age.encrypt([keys[1]], io.BytesIO(data), dst, armor=armor)
    # stdout, not -o: age 1.1.1 creates an -o file only on the first plaintext byte
    assert age_run("-d", "-i", keys[0], encrypted).stdout == data


def test_age_decrypts_ours_several_recipients(keys: tuple[Path, str], tmp_path: Path) -> None:
    other = age_keys.parse_identity_file(
        subprocess.run([AGE_KEYGEN or "age-keygen"], check=True, capture_output=True).stdout
    )[0]
    data = os.urandom(3 * CHUNK)
    encrypted = tmp_path / "multi.age"
    encrypted.write_bytes(age.encrypt_bytes([other.public_key(), keys[1]], data))
    assert age_run("-d", "-i", keys[0], encrypted).stdout == data


@needs_pty
@pytest.mark.parametrize("work_factor", [10, 18])
def test_age_decrypts_ours_scrypt(tmp_path: Path, work_factor: int) -> None:
    data = os.urandom(CHUNK + 1)
    encrypted = tmp_path / "pass.age"
    encrypted.write_bytes(age.encrypt_bytes([age.ScryptRecipient(PASSPHRASE, work_factor)], data,
                                            armor=True))
    out = tmp_path / "pass.out"
    age_with_passphrase(["-d", "-o", out, encrypted], confirm=False)
    assert out.read_bytes() == data


# ---- age encrypts, pqml decrypts ------------------------------------------------------------


@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
@pytest.mark.parametrize("size", list(SIZES.values()), ids=list(SIZES))
def test_we_decrypt_age_x25519(keys: tuple[Path, str], tmp_path: Path, size: int,
                               armor: bool) -> None:
    data = os.urandom(size)
    plain = tmp_path / "plain"
    plain.write_bytes(data)
    encrypted = tmp_path / "file.age"
    age_run("-r", keys[1], *(["-a"] if armor else []), "-o", encrypted, plain)
    blob = encrypted.read_bytes()
    assert blob.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----\n" if armor
                           else b"age-encryption.org/v1\n")
    out = io.BytesIO()
    with encrypted.open("rb") as src:
        assert age.decrypt(identities(keys), src, out) == size  # armor autodetected
    assert out.getvalue() == data


def test_we_decrypt_age_recipients_file(keys: tuple[Path, str], tmp_path: Path) -> None:
    others = [subprocess.run([AGE_KEYGEN or "age-keygen"], check=True,
                             capture_output=True).stdout for _ in range(2)]
    other_keys = [age_keys.parse_identity_file(o)[0] for o in others]
    recipients = tmp_path / "recipients.txt"
    recipients.write_text("# team\n" + "\n".join(
        [age_keys.encode_recipient(k.public_key()) for k in other_keys] + [keys[1]]) + "\n")
    plain = tmp_path / "plain"
    plain.write_bytes(b"weights" * 1000)
    encrypted = tmp_path / "file.age"
    age_run("-R", recipients, "-o", encrypted, plain)
    for sk in [*other_keys, *identities(keys)]:
        assert age.decrypt_bytes([sk], encrypted.read_bytes()) == b"weights" * 1000


@needs_pty
@pytest.mark.parametrize("armor", [False, True], ids=["binary", "armored"])
def test_we_decrypt_age_scrypt(tmp_path: Path, armor: bool) -> None:
    data = os.urandom(CHUNK + 1)
    plain = tmp_path / "plain"
    plain.write_bytes(data)
    encrypted = tmp_path / "pass.age"
    age_with_passphrase(["-p", *(["-a"] if armor else []), "-o", encrypted, plain], confirm=True)
    blob = encrypted.read_bytes()
    hdr, _ = age.parse_header(age.armor.dearmor(blob) if armor else blob)
    assert [s.type for s in hdr.stanzas] == ["scrypt"]
    assert age.decrypt_bytes([age.ScryptIdentity(PASSPHRASE)], blob) == data
    with pytest.raises(age.NoIdentityMatchError):
        age.decrypt_bytes([age.ScryptIdentity(b"not it")], blob)


def test_age_rejects_what_we_reject(keys: tuple[Path, str], tmp_path: Path) -> None:
    """A payload byte flipped in our output: age refuses it as we do."""
    blob = bytearray(age.encrypt_bytes([keys[1]], os.urandom(1000)))
    blob[-5] ^= 1
    encrypted = tmp_path / "bad.age"
    encrypted.write_bytes(bytes(blob))
    assert AGE is not None
    result = subprocess.run([AGE, "-d", "-i", str(keys[0]), str(encrypted)],
                            capture_output=True, timeout=60)
    assert result.returncode != 0
    with pytest.raises(age.PayloadError):
        age.decrypt_bytes(identities(keys), bytes(blob))

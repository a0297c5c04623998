"""``pqml convert`` keeps a private key's passphrase protection unless told not to."""

from __future__ import annotations

from pathlib import Path

from pqml.errors import PassphraseRequiredError
from pqml.formats import keyfile

from conftest import cli_run as run


def _encrypted_key(tmp_path: Path) -> tuple[Path, Path, bytes]:
    pw = tmp_path / "pw.txt"
    pw.write_bytes(b"correct horse\n")
    key = tmp_path / "enc.pem"
    result = run("keygen", "--alg", "X-Wing", "-o", str(key), "--passphrase-file", str(pw))
    assert result.exit_code == 0, result.output
    return key, pw, keyfile.load_private_key(key.read_bytes(), b"correct horse").private_bytes()


def test_convert_to_pem_keeps_the_passphrase(tmp_path: Path) -> None:
    key, pw, secret = _encrypted_key(tmp_path)
    out = tmp_path / "out.pem"
    result = run("convert", "--to", "pem", str(key), "--passphrase-file", str(pw), "-o", str(out))
    assert result.exit_code == 0, result.output
    data = out.read_bytes()
    assert keyfile.is_encrypted(data)
    try:
        keyfile.load_private_key(data)
        raise AssertionError("the converted key loaded without a passphrase")
    except PassphraseRequiredError:
        pass
    assert keyfile.load_private_key(data, b"correct horse").private_bytes() == secret
    # Standard output too.
    result = run("convert", "--to", "pem", str(key), "--passphrase-file", str(pw))
    assert result.exit_code == 0
    assert "ENCRYPTED PRIVATE KEY" in result.stdout


def test_convert_to_pem_no_passphrase_says_so(tmp_path: Path) -> None:
    key, pw, secret = _encrypted_key(tmp_path)
    out = tmp_path / "out.pem"
    result = run("convert", "--to", "pem", str(key), "--passphrase-file", str(pw),
                 "--no-passphrase", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "not encrypted" in result.stderr
    assert keyfile.load_private_key(out.read_bytes()).private_bytes() == secret


def test_convert_encrypted_key_to_age_needs_no_passphrase(tmp_path: Path) -> None:
    key, pw, secret = _encrypted_key(tmp_path)
    out = tmp_path / "out.age"
    result = run("convert", "--to", "age", str(key), "--passphrase-file", str(pw),
                 "-o", str(out))
    assert result.exit_code != 0
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pqml: error: "), result.stderr
    assert "--no-passphrase" in lines[0] and "cannot be passphrase-protected" in lines[0]
    assert not out.exists()
    result = run("convert", "--to", "age", str(key), "--passphrase-file", str(pw),
                 "--no-passphrase", "-o", str(out))
    assert result.exit_code == 0, result.output
    assert "not encrypted" in result.stderr
    assert keyfile.load_private_key(out.read_bytes()).private_bytes() == secret


def test_convert_unencrypted_key_stays_unencrypted_without_warning(tmp_path: Path) -> None:
    key = tmp_path / "plain.pem"
    assert run("keygen", "--alg", "X-Wing", "-o", str(key)).exit_code == 0
    out = tmp_path / "out.age"
    result = run("convert", "--to", "age", str(key), "-o", str(out))
    assert result.exit_code == 0 and "not encrypted" not in result.stderr
    back = tmp_path / "back.pem"
    result = run("convert", "--to", "pem", str(out), "-o", str(back))
    assert result.exit_code == 0 and not keyfile.is_encrypted(back.read_bytes())

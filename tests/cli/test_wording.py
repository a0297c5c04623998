"""What a new user reads: counts agree with their nouns, articles with the sound of the
word after them, a single-file model is called by its name, and errors say what is wrong.

Each case goes through the real CLI or the public API and failed before the fix.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pqml._internal.text import article, plural, with_article

from conftest import cli_run as run


def error_line(result) -> str:
    assert result.exit_code != 0, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pqml: error: "), result.stderr
    return lines[0]


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("keys")
    out = {}
    for alg in ("ML-DSA-65", "X-Wing"):
        res = run("keygen", "--alg", alg, "-o", d / f"{alg}.pem")
        assert res.exit_code == 0, res.output
        (d / f"{alg}.pub").write_text(res.stdout)
        out[alg], out[f"{alg}.pub"] = d / f"{alg}.pem", d / f"{alg}.pub"
    return out


# ---- the helper ---------------------------------------------------------------------------


@pytest.mark.parametrize(("word", "expected"), [
    ("X-Wing", "an"), ("ML-KEM-768", "an"), ("RSA-OAEP", "an"), ("SLH-DSA-SHA2-128s", "an"),
    ("age", "an"), ("aead", "an"), ("Ed25519", "an"), ("X25519", "an"), ("HQC-128", "an"),
    ("FN-DSA-512", "an"), ("MLKEM768-P256", "an"), ("800-byte", "an"), ("8-bit", "an"),
    ("11-byte", "an"), ("18", "an"),
    ("SHA-256", "a"), ("SHA3-384", "a"), ("Falcon-512", "a"), ("P-256", "a"), ("hash", "a"),
    ("signature", "a"), ("kem", "a"), ("32-byte", "a"), ("1184-byte", "a"), ("180", "a"),
    ("user", "a"), ("UTF-8", "a"), ("joblib", "a"), ("torch", "a"),
])
def test_article(word: str, expected: str) -> None:
    assert article(word) == expected
    assert with_article(word) == f"{expected} {word}"


def test_plural() -> None:
    assert [plural(n, "file") for n in (0, 1, 2)] == ["0 files", "1 file", "2 files"]
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(3, "entry", "entries") == "3 entries"


# ---- signing ------------------------------------------------------------------------------


def test_sign_counts_one_file(tmp_path: Path, keys: dict[str, Path]) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\x00" * 100)
    res = run("sign", path, "-k", keys["ML-DSA-65"])
    assert res.exit_code == 0, res.output
    assert "  1 file (sha256" in res.stdout and "1 files" not in res.stdout


def test_single_file_model_is_shown_by_its_name(tmp_path: Path,
                                                keys: dict[str, Path]) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\x00" * 100)
    assert run("sign", path, "-k", keys["ML-DSA-65"]).exit_code == 0
    res = run("verify", path, "-k", keys["ML-DSA-65.pub"])
    assert res.exit_code == 0, res.output
    assert "ok        weights.bin" in res.stdout.splitlines()
    assert "ok        ." not in res.stdout
    path.write_bytes(b"\x01" * 100)
    res = run("verify", path, "-k", keys["ML-DSA-65.pub"])
    assert "modified  weights.bin" in res.stdout
    assert error_line(res).endswith("integrity check failed: modified weights.bin")


def test_missing_signature_file_is_named(tmp_path: Path, keys: dict[str, Path]) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\x00")
    missing = tmp_path / "nope.sig"
    line = error_line(run("verify", path, "-k", keys["ML-DSA-65.pub"], "--signature", missing))
    assert line == f"pqml: error: {missing}: signature file does not exist"


# ---- keys ---------------------------------------------------------------------------------


def test_public_key_given_as_signing_key(tmp_path: Path, keys: dict[str, Path]) -> None:
    (tmp_path / "m").write_bytes(b"x")
    line = error_line(run("sign", tmp_path / "m", "-k", keys["X-Wing.pub"]))
    assert "found an X-Wing public key" in line


def test_keygen_of_a_non_key_algorithm() -> None:
    assert "AES-256-GCM is an aead, not" in error_line(run("keygen", "--alg", "AES-256-GCM"))
    assert "SHA-256 is a hash, not" in error_line(run("keygen", "--alg", "SHA-256"))


def test_formats_key_messages_use_no_wrong_article(keys: dict[str, Path]) -> None:
    from pqml.formats import keyfile
    from pqml.primitives.errors import WrongKeyTypeError

    public, private = keys["X-Wing.pub"].read_bytes(), keys["X-Wing"].read_bytes()
    with pytest.raises(WrongKeyTypeError) as exc:
        keyfile.load_private_key(public)
    assert str(exc.value) == "expected a private key, got a public key (X-Wing)"
    with pytest.raises(WrongKeyTypeError) as exc:
        keyfile.load_key(private, hint="signature")
    assert str(exc.value) == "this key is X-Wing, not a signature key"


def test_hpke_wrong_key_message() -> None:
    from pqml.primitives import hpke, registry
    from pqml.primitives.errors import WrongKeyTypeError

    kem = hpke.get_kem(registry.get("X-Wing").hpke_kem_id)
    with pytest.raises(WrongKeyTypeError) as exc:
        kem.check_key(registry.scheme("ML-KEM-768").generate().public_key(), "public")
    assert "needs a public key for X-Wing, got ML-KEM-768" in str(exc.value)


def test_rsa_bits_message() -> None:
    from pqml.primitives.errors import KeyFormatError
    from pqml.primitives.kem import rsa_oaep

    with pytest.raises(KeyFormatError, match=r"refusing to generate an RSA key of 800 bits"):
        rsa_oaep.SCHEME.generate(800)


# ---- encryption ---------------------------------------------------------------------------


def test_tampered_payload_names_its_chunks(tmp_path: Path, keys: dict[str, Path]) -> None:
    plain = tmp_path / "big.bin"
    plain.write_bytes(bytes(range(256)) * 800)
    enc = tmp_path / "big.pqml"
    assert run("encrypt", "-r", keys["X-Wing.pub"], "-o", enc, plain).exit_code == 0
    data = bytearray(enc.read_bytes())
    data[len(data) // 2] ^= 1
    enc.write_bytes(bytes(data))
    line = error_line(run("decrypt", "-i", keys["X-Wing"], "-o", tmp_path / "out", enc))
    assert "payload one of" not in line
    assert "one of payload chunks 0.." in line or "payload chunk " in line


def test_rekey_counts_one_recipient(tmp_path: Path, keys: dict[str, Path]) -> None:
    plain = tmp_path / "p.txt"
    plain.write_text("hi")
    enc = tmp_path / "p.pqml"
    other = run("keygen", "--alg", "X-Wing", "-o", tmp_path / "o.pem").stdout.strip()
    assert run("encrypt", "-r", keys["X-Wing.pub"], "-r", other, "-o", enc,
               plain).exit_code == 0
    res = run("rekey", "-i", keys["X-Wing"], "--remove", other, enc)
    assert res.exit_code == 0, res.output
    assert "2 -> 1 recipient (+0 -1)" in res.stdout + res.stderr


# ---- scan and bench -----------------------------------------------------------------------


def test_scan_counts_one_finding(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.py").write_text('import hashlib\nhashlib.md5(b"x")\n')
    res = run("scan", src, "--write-baseline", tmp_path / "base.json")
    assert f"pqml: wrote 1 finding to {tmp_path / 'base.json'}" in res.stderr
    res = run("scan", src, "--format", "json", "-o", tmp_path / "out.json")
    assert "pqml: 1 finding (" in res.stderr
    assert "in 1 file, 2 lines of Python" in res.stderr
    assert json.loads((tmp_path / "out.json").read_text())
    res = run("scan", src, "--format", "html", "-o", tmp_path / "out.html")
    html = (tmp_path / "out.html").read_text()
    assert "1 file, 2 lines of Python" in html and "1 files" not in html


def test_bench_table_counts_one_cpu(capsys: pytest.CaptureFixture[str]) -> None:
    from pqml.cli import bench

    bench._table([], {"processor": "test-cpu", "cpus": 1, "cryptography": "46"})
    out = capsys.readouterr().out
    assert "1 cpu," in " ".join(out.split()) and "1 cpus" not in out


def test_policy_counts_one_trusted_key(tmp_path: Path, keys: dict[str, Path]) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\x00")
    assert run("sign", path, "-k", keys["ML-DSA-65"]).exit_code == 0
    policy = tmp_path / "trust.toml"
    policy.write_text(f'trusted_keys = ["{keys["ML-DSA-65.pub"]}"]\nmin_signatures = 2\n')
    line = error_line(run("verify", path, "--policy", policy))
    assert "1 trusted key verified, the policy requires 2" in line


def test_encrypted_safetensors_repr_counts_one_tensor(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    import pqml.safetensors as pst
    from pqml.primitives import registry

    key = registry.scheme("X-Wing").generate()
    path = tmp_path / "one.safetensors.pqml"
    pst.save_file({"w": np.zeros(3, dtype=np.float32)}, path, [key.public_key()])
    with pst.safe_open(path, [key]) as f:
        assert repr(f).endswith("(1 tensor)>")


def test_age_chunk_index_error_counts_one_chunk() -> None:
    import io

    from pqml.formats.age import stream

    sealed = stream.ENCRYPTED_CHUNK_SIZE // 2  # one (final) chunk
    with pytest.raises(IndexError, match=r"payload has 1 chunk\)"):
        stream.decrypt_chunk(None, io.BytesIO(), 0, sealed, 1)  # type: ignore[arg-type]

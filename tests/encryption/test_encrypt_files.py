"""Files, streams and trees (pqml.encryption.encrypt): both formats, serial and multi-process,
and the no-loss rules — every failure leaves no output and no temporary file, with one
exact line naming the file."""

from __future__ import annotations

import errno
import io
import multiprocessing
import os
import re
from pathlib import Path

import pytest
from cryptography.cobblestone import Cobblestone256Decryptor

from pqml._internal import output_file
from pqml.encryption import encrypt as feature
from pqml.encryption import parallel
from pqml.encryption.encryption_keys import Passphrase
from pqml.errors import (
    NotEncryptedError,
    OutputPathError,
    PolicyError,
    PqmlError,
    UnsafeTreeEntryError,
)
from pqml.formats import age_keys, pqml_v1
from pqml.formats.age.errors import NoIdentityMatchError, PayloadError
from pqml.formats.age.header import parse_header
from pqml.formats.keyfile import private_key_to_pem
from pqml.primitives import registry

XWING = registry.scheme("X-Wing").generate()
MLKEM = registry.scheme("ML-KEM-1024").generate()
X25519 = registry.scheme("X25519").generate()
FORMATS = ["pqml", "age"]


def exactly(message: str) -> str:
    return "^" + re.escape(message) + "$"


@pytest.fixture()
def keys(tmp_path: Path) -> dict[str, Path]:
    d = tmp_path / "keys"
    d.mkdir()
    (d / "xwing.pem").write_bytes(private_key_to_pem(XWING))
    (d / "mlkem.pem").write_bytes(private_key_to_pem(MLKEM))
    (d / "xwing.txt").write_text(age_keys.format_identity_file(XWING))
    (d / "recipients.txt").write_text(
        "# team\n" + age_keys.encode_recipient(XWING.public_key()) + "\n")
    return {p.stem + p.suffix: p for p in d.iterdir()}


def write(path: Path, size: int) -> bytes:
    data = os.urandom(size)
    path.write_bytes(data)
    return data


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.rglob("*") if output_file.TEMP_SUFFIX in p.name)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("size", [0, 1, 16384, 65536, 200_001])
def test_file_roundtrip(tmp_path: Path, keys: dict[str, Path], fmt: str, jobs: int,
                        size: int) -> None:
    data = write(tmp_path / "plain", size)
    result = feature.encrypt_file(tmp_path / "plain", None, [keys["xwing.pem"]], format=fmt,
                                  jobs=jobs)
    enc = tmp_path / f"plain.{fmt}"
    assert result.output == str(enc) and enc.stat().st_size == result.encrypted_size
    for other_jobs in (1, 2):  # serial and parallel readers accept both writers' files
        out = tmp_path / f"out{other_jobs}"
        res = feature.decrypt_file(enc, out, [keys["xwing.txt"]], jobs=other_jobs)
        assert out.read_bytes() == data and res.plaintext_size == size
        assert out.stat().st_mode & 0o777 == 0o600
    assert leftovers(tmp_path) == []


def test_parallel_pqml_payload_is_cobblestone(tmp_path: Path) -> None:
    """The multi-process writer's payload is exactly what pyca's decryptor accepts."""
    data = write(tmp_path / "p", 3 * 16384 + 100)
    feature.encrypt_file(tmp_path / "p", tmp_path / "p.pqml", [XWING.public_key()], jobs=2)
    blob = (tmp_path / "p.pqml").read_bytes()
    header, payload = parse_header(blob, pqml_v1.VERSION)
    file_key = pqml_v1.unwrap_file_key(header, [XWING])
    dec = Cobblestone256Decryptor(pqml_v1.payload_key(file_key), b"pqml/v1")
    assert dec.update(payload) + dec.finalize() == data


def test_jobs_default_is_serial() -> None:
    assert parallel.jobs_for(10, None) == 1
    assert parallel.jobs_for(1 << 40, None) == 1  # opt-in only (docs/PERFORMANCE.md)
    assert parallel.jobs_for(10, 3) == 3
    with pytest.raises(PqmlError, match="at least 1"):
        parallel.jobs_for(10, 0)


def test_recipient_kinds(tmp_path: Path, keys: dict[str, Path]) -> None:
    data = write(tmp_path / "p", 1000)
    recips = [keys["recipients.txt"], str(keys["mlkem.pem"]),
              age_keys.encode_recipient(XWING.public_key())]  # duplicates collapse
    res = feature.encrypt_file(tmp_path / "p", tmp_path / "e", recips)
    assert [r["kem"] for r in res.recipients] == ["X-Wing", "ML-KEM-1024"]
    assert not res.quantum_vulnerable
    for ident in (keys["mlkem.pem"], age_keys.encode_identity(XWING), XWING):
        feature.decrypt_file(tmp_path / "e", tmp_path / "o", [ident], force=True)
        assert (tmp_path / "o").read_bytes() == data


def test_passphrase_both_formats(tmp_path: Path) -> None:
    data = write(tmp_path / "p", 100)
    fast_pqml = Passphrase(b"pw", (1, 64, 1))
    feature.encrypt_file(tmp_path / "p", tmp_path / "e1", [fast_pqml])
    feature.decrypt_file(tmp_path / "e1", tmp_path / "o", [Passphrase(b"pw")])
    assert (tmp_path / "o").read_bytes() == data
    feature.encrypt_file(tmp_path / "p", tmp_path / "e2", [Passphrase(b"pw", 10)], format="age")
    feature.decrypt_file(tmp_path / "e2", tmp_path / "o", [Passphrase(b"pw")], force=True)
    assert (tmp_path / "o").read_bytes() == data
    with pytest.raises(NoIdentityMatchError):
        feature.decrypt_file(tmp_path / "e1", tmp_path / "o2", [Passphrase(b"no")])
    assert not (tmp_path / "o2").exists()


@pytest.mark.parametrize("fmt", FORMATS)
def test_classical_policy(tmp_path: Path, fmt: str) -> None:
    write(tmp_path / "p", 10)
    with pytest.raises(PolicyError, match="quantum-vulnerable"):
        feature.encrypt_file(tmp_path / "p", tmp_path / "e", [X25519.public_key()], format=fmt)
    assert not (tmp_path / "e").exists()
    res = feature.encrypt_file(tmp_path / "p", tmp_path / "e", [X25519.public_key()],
                               format=fmt, allow_classical=True)
    assert res.quantum_vulnerable and res.recipients[0]["kem"] == "X25519"


@pytest.mark.parametrize(("fmt", "label"), [("age", b"AGE ENCRYPTED FILE"),
                                           ("pqml", b"PQML ENCRYPTED FILE")])
def test_armor_for_both_formats(tmp_path: Path, fmt: str, label: bytes) -> None:
    """-a: the same strict armor, a label per format; decryption, inspect and rekey read it
    back; a file armored with the other format's label or tampered inside is refused."""
    from pqml.encryption.inspect import inspect as inspect_file
    from pqml.encryption.rekey import rekey

    data = write(tmp_path / "p", 70_000)
    res = feature.encrypt_file(tmp_path / "p", tmp_path / "e", [XWING.public_key()],
                               format=fmt, armor=True)  # type: ignore[arg-type]
    text = (tmp_path / "e").read_bytes()
    assert text.startswith(b"-----BEGIN " + label + b"-----\n")
    assert text.endswith(b"-----END " + label + b"-----\n") and text.isascii()
    out = feature.decrypt_file(tmp_path / "e", tmp_path / "o", [XWING])
    assert out.armored and res.armored and (tmp_path / "o").read_bytes() == data
    info = inspect_file(tmp_path / "e")
    assert info["armored"] and info["header_area"] is None and info["plaintext_size"] == 70_000
    other = registry.scheme("X-Wing").generate()
    changed = rekey(tmp_path / "e", [XWING], add=[other.public_key()])
    assert not changed.in_place and changed.header_area is None
    assert (tmp_path / "e").read_bytes().startswith(b"-----BEGIN " + label + b"-----\n")
    feature.decrypt_file(tmp_path / "e", tmp_path / "o2", [other])
    assert (tmp_path / "o2").read_bytes() == data
    swapped = text.replace(label, b"AGE ENCRYPTED FILE" if fmt == "pqml"
                           else b"PQML ENCRYPTED FILE")
    (tmp_path / "swapped").write_bytes(swapped)
    with pytest.raises(PqmlError):
        feature.decrypt_file(tmp_path / "swapped", tmp_path / "o3", [XWING])
    lines = text.split(b"\n")
    lines[40] = lines[40][:10] + (b"A" if lines[40][10:11] != b"A" else b"B") + lines[40][11:]
    (tmp_path / "tampered").write_bytes(b"\n".join(lines))
    with pytest.raises(PqmlError):
        feature.decrypt_file(tmp_path / "tampered", tmp_path / "o4", [XWING])
    assert not any((tmp_path / n).exists() for n in ("o3", "o4"))


def test_streams(keys: dict[str, Path]) -> None:
    for fmt in FORMATS:
        src, dst = io.BytesIO(b"stream" * 5000), io.BytesIO()
        feature.encrypt_to(src, dst, [XWING.public_key()], format=fmt)  # type: ignore[arg-type]
        out = io.BytesIO()
        name, size = feature.decrypt_to(io.BytesIO(dst.getvalue()), out, [XWING])
        assert out.getvalue() == b"stream" * 5000 and size == 30000
        assert name == ("pqml/v1" if fmt == "pqml" else "age-encryption.org/v1")


# ---- nothing lost ---------------------------------------------------------------------------


@pytest.fixture()
def encrypted(tmp_path: Path) -> tuple[Path, bytes]:
    data = write(tmp_path / "plain", 3 * 16384 + 999)
    feature.encrypt_file(tmp_path / "plain", tmp_path / "f.pqml", [XWING.public_key()], jobs=1)
    return tmp_path / "f.pqml", data


def _damage(path: Path, how: str) -> None:
    blob = bytearray(path.read_bytes())
    _, payload = parse_header(bytes(blob), pqml_v1.VERSION)
    h = len(blob) - len(payload)
    if how == "flip-chunk":
        blob[h + 56 + 16400 + 3] ^= 0x10
    elif how == "truncate":
        del blob[h + 56 + 2 * 16400:]
    elif how == "reorder":
        a, b = h + 56, h + 56 + 16400
        blob[a:b + 16400] = blob[b:b + 16400] + blob[a:b]
    elif how == "header":
        blob[blob.index(b"--- ") + 6] ^= 0x01
    path.write_bytes(bytes(blob))


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("how,error,message", [
    ("flip-chunk", PayloadError, None),
    ("truncate", PayloadError, "file is truncated: the final payload chunk is missing"),
    ("reorder", PayloadError, None),
    ("header", PqmlError, None),
])
def test_damage_leaves_nothing(tmp_path: Path, encrypted: tuple[Path, bytes], jobs: int,
                               how: str, error: type, message: str | None) -> None:
    path, _ = encrypted
    _damage(path, how)
    before = path.read_bytes()
    (tmp_path / "out").write_bytes(b"previous")
    with pytest.raises(error) as info:
        feature.decrypt_file(path, tmp_path / "out", [XWING], jobs=jobs, force=True)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text
    if message:
        assert text == f"{path}: {message}"
    if how in ("flip-chunk", "reorder"):
        assert "failed authentication" in text
    assert (tmp_path / "out").read_bytes() == b"previous"  # untouched
    assert path.read_bytes() == before and leftovers(tmp_path) == []


def test_wrong_key_message_is_exact(tmp_path: Path, encrypted: tuple[Path, bytes]) -> None:
    path, _ = encrypted
    with pytest.raises(NoIdentityMatchError,
                       match=exactly(f"{path}: no identity matched any of the recipients")):
        feature.decrypt_file(path, tmp_path / "out", [MLKEM])
    assert not (tmp_path / "out").exists()


def test_not_encrypted(tmp_path: Path) -> None:
    write(tmp_path / "x", 100)
    (tmp_path / "x").write_bytes(b"PK\x03\x04 not encrypted")
    with pytest.raises(NotEncryptedError, match=exactly(
            f"{tmp_path / 'x'}: not an encrypted file (expected pqml/v1 or age, binary or "
            "armored)")):
        feature.decrypt_file(tmp_path / "x", tmp_path / "o", [XWING])


def test_output_over_input_is_refused(tmp_path: Path, encrypted: tuple[Path, bytes]) -> None:
    path, _ = encrypted
    before = path.read_bytes()
    with pytest.raises(OutputPathError, match="the output is the input file"):
        feature.decrypt_file(path, path, [XWING])
    with pytest.raises(OutputPathError):
        feature.encrypt_file(path, path, [XWING.public_key()])
    assert path.read_bytes() == before


class _FillsUp:
    """A raw output file on a disk that fills after ``room`` bytes."""

    def __init__(self, real: object, room: int) -> None:
        self._real, self._room = real, room

    def write(self, data: object) -> int:
        n = len(memoryview(data))  # type: ignore[arg-type]
        if n > self._room:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._room -= n
        return self._real.write(data)  # type: ignore[attr-defined, no-any-return]

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("direction", ["encrypt", "decrypt"])
def test_disk_full(tmp_path: Path, encrypted: tuple[Path, bytes],
                   monkeypatch: pytest.MonkeyPatch, jobs: int, direction: str) -> None:
    path, _ = encrypted
    real_fdopen = os.fdopen

    def fdopen(*args: object, **kw: object) -> object:
        return _FillsUp(real_fdopen(*args, **kw), 20_000)  # type: ignore[arg-type]

    def pwritev(*args: object) -> int:  # the workers' writes (forked: they see the patch)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(output_file.os, "fdopen", fdopen)
    monkeypatch.setattr(parallel.os, "pwritev", pwritev)
    # Forked workers see the patch; pqml itself picks spawn once another thread runs in
    # the process (a Ray or server test earlier in the session may leave one behind).
    monkeypatch.setattr(parallel, "_context", lambda: multiprocessing.get_context("fork"))
    target = tmp_path / "target"
    with pytest.raises(OutputPathError, match=exactly(
            f"{target}: cannot write: No space left on device (no output was left)")):
        if direction == "encrypt":
            feature.encrypt_file(tmp_path / "plain", target, [XWING.public_key()], jobs=jobs)
        else:
            feature.decrypt_file(path, target, [XWING], jobs=jobs)
    assert not target.exists() and leftovers(tmp_path) == []


def test_enospc_from_the_raw_file_is_translated(tmp_path: Path) -> None:
    out = output_file.AtomicOutput(tmp_path / "t")

    class Full:
        def write(self, data: object) -> int:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        def close(self) -> None:
            pass

    out._file = Full()
    with pytest.raises(OutputPathError, match="No space left on device"):
        out.write(b"x")
    out.discard()
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("direction", ["encrypt", "decrypt"])
def test_ctrl_c_leaves_nothing(tmp_path: Path, jobs: int, direction: str) -> None:
    write(tmp_path / "plain", 5 * 1024 * 1024 + 3)
    feature.encrypt_file(tmp_path / "plain", tmp_path / "e", [XWING.public_key()])
    target = tmp_path / "target"
    calls = []

    def interrupt(n: int) -> None:
        calls.append(n)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        if direction == "encrypt":
            feature.encrypt_file(tmp_path / "plain", target, [XWING.public_key()], jobs=jobs,
                                 progress=interrupt)
        else:
            feature.decrypt_file(tmp_path / "e", target, [XWING], jobs=jobs,
                                 progress=interrupt)
    assert calls and not target.exists() and leftovers(tmp_path) == []


# ---- trees ----------------------------------------------------------------------------------


def make_tree(root: Path) -> dict[str, bytes]:
    files = {"config.json": b'{"a": 1}', "weights/model.safetensors": os.urandom(70000),
             "weights/empty.bin": b"", "tokenizer/vocab.txt": b"a\nb\n"}
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return files


@pytest.mark.parametrize("fmt", FORMATS)
def test_tree_roundtrip(tmp_path: Path, fmt: str) -> None:
    files = make_tree(tmp_path / "model")
    os.symlink("config.json", tmp_path / "model" / "link.json")  # followed, when allowed
    results = feature.encrypt_tree(tmp_path / "model", tmp_path / "enc", [XWING.public_key()],
                                   format=fmt, allow_symlinks=True)
    suffix = ".pqml" if fmt == "pqml" else ".age"
    assert sorted(Path(r.output).relative_to(tmp_path / "enc").as_posix() for r in results) == \
        sorted(rel + suffix for rel in [*files, "link.json"])
    (tmp_path / "enc" / "README").write_text("not encrypted")
    back, skipped = feature.decrypt_tree(tmp_path / "enc", tmp_path / "back", [XWING])
    assert skipped == [str(tmp_path / "enc" / "README")]
    for rel, data in files.items():
        assert (tmp_path / "back" / rel).read_bytes() == data
    assert (tmp_path / "back" / "link.json").read_bytes() == files["config.json"]
    assert len(back) == len(files) + 1


def test_tree_output_inside_input_is_refused(tmp_path: Path) -> None:
    make_tree(tmp_path / "model")
    for bad in (tmp_path / "model" / "enc", tmp_path / "model"):
        with pytest.raises(OutputPathError, match="inside the input tree"):
            feature.encrypt_tree(tmp_path / "model", bad, [XWING.public_key()])
    assert not (tmp_path / "model" / "enc").exists()


def _outside_secret(tmp_path: Path) -> Path:
    secret = tmp_path / "home" / ".aws" / "credentials"
    secret.parent.mkdir(parents=True)
    secret.write_bytes(b"aws_secret_access_key = hunter2\n")
    return secret


@pytest.mark.parametrize("allow", [False, True])
@pytest.mark.parametrize("kind", ["file", "dir", "relative"])
def test_tree_never_follows_a_link_out_of_the_tree(tmp_path: Path, kind: str,
                                                   allow: bool) -> None:
    """A link in a model directory must not pull an outside file into the ciphertext sent
    to the recipients: refused by default, and out of the tree even when links are
    allowed; nothing is written."""
    make_tree(tmp_path / "model")
    secret = _outside_secret(tmp_path)
    link = tmp_path / "model" / "weights" / "creds"
    target = {"file": secret, "dir": secret.parent,
              "relative": Path("../../home/.aws/credentials")}[kind]
    os.symlink(target, link)
    why = "resolves outside the tree" if allow else "is a symbolic link; refusing"
    with pytest.raises(UnsafeTreeEntryError, match=f"^{re.escape(str(link))}: .*{why}"):
        feature.encrypt_tree(tmp_path / "model", tmp_path / "enc", [XWING.public_key()],
                             allow_symlinks=allow)
    assert not (tmp_path / "enc").exists()


@pytest.mark.parametrize("allow", [False, True])
def test_tree_decrypt_never_follows_a_link_out_of_the_tree(tmp_path: Path,
                                                           allow: bool) -> None:
    make_tree(tmp_path / "model")
    feature.encrypt_tree(tmp_path / "model", tmp_path / "enc", [XWING.public_key()])
    outside = tmp_path / "other.pqml"
    feature.encrypt_file(tmp_path / "model" / "config.json", outside, [XWING.public_key()])
    os.symlink(outside, tmp_path / "enc" / "other.pqml")
    why = "resolves outside the tree" if allow else "is a symbolic link; refusing"
    with pytest.raises(UnsafeTreeEntryError, match=why):
        feature.decrypt_tree(tmp_path / "enc", tmp_path / "back", [XWING],
                             allow_symlinks=allow)
    assert not (tmp_path / "back").exists()


def test_tree_links_inside_the_tree_only_when_allowed(tmp_path: Path) -> None:
    files = make_tree(tmp_path / "model")
    os.symlink("weights", tmp_path / "model" / "w")  # a directory link: not descended
    os.symlink("../config.json", tmp_path / "model" / "weights" / "cfg.json")
    with pytest.raises(UnsafeTreeEntryError, match="is a symbolic link"):
        feature.encrypt_tree(tmp_path / "model", tmp_path / "enc", [XWING.public_key()])
    feature.encrypt_tree(tmp_path / "model", tmp_path / "enc", [XWING.public_key()],
                         allow_symlinks=True)
    assert sorted(p.relative_to(tmp_path / "enc").as_posix()
                  for p in (tmp_path / "enc").rglob("*") if p.is_file()) == \
        sorted(rel + ".pqml" for rel in [*files, "weights/cfg.json"])
    feature.decrypt_tree(tmp_path / "enc", tmp_path / "back", [XWING])
    assert (tmp_path / "back" / "weights" / "cfg.json").read_bytes() == files["config.json"]


def test_tree_refuses_special_files_before_writing(tmp_path: Path) -> None:
    make_tree(tmp_path / "model")
    os.mkfifo(tmp_path / "model" / "pipe")
    with pytest.raises(PqmlError, match="not a regular file"):
        feature.encrypt_tree(tmp_path / "model", tmp_path / "enc", [XWING.public_key()])
    assert not (tmp_path / "enc").exists()


def test_real_disk_full_on_a_tiny_tmpfs(tmp_path: Path) -> None:
    """Where we may mount (root in a VM or CI container): a 1 MiB tmpfs really fills up."""
    import subprocess

    small = tmp_path / "small"
    small.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(small)],
                           capture_output=True)
    if mount.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root); test_disk_full covers it")
    try:
        write(tmp_path / "big", 3_000_000)
        for jobs in (1, 2):
            with pytest.raises(OutputPathError, match=exactly(
                    f"{small / 'e'}: cannot write: No space left on device "
                    "(no output was left)")):
                feature.encrypt_file(tmp_path / "big", small / "e", [XWING.public_key()],
                                     jobs=jobs)
            assert list(small.iterdir()) == []
        write(tmp_path / "m", 600_000)
        feature.encrypt_file(tmp_path / "m", small / "m.pqml", [XWING.public_key()])
        before = (small / "m.pqml").read_bytes()
        from pqml.encryption.rekey import rekey

        with pytest.raises(OutputPathError, match="No space left on device"):
            rekey(small / "m.pqml", [XWING], add=[MLKEM.public_key()])
        assert (small / "m.pqml").read_bytes() == before
        assert sorted(p.name for p in small.iterdir()) == ["m.pqml"]
    finally:
        subprocess.run(["umount", str(small)], capture_output=True)


def test_secrets_stay_out_of_reprs(tmp_path: Path) -> None:
    from pqml.encryption.parallel import Codec

    assert "hunter2" not in repr(Passphrase(b"hunter2"))
    (tmp_path / "pw").write_text("hunter2\r\nsecond line ignored\n")
    assert Passphrase.from_file(tmp_path / "pw").value == b"hunter2"
    assert "00" not in repr(Codec("pqml", bytes(32), bytes(12), bytes(32)))
    with pytest.raises(PqmlError, match="passphrase file is empty"):
        (tmp_path / "empty").write_text("\n")
        Passphrase.from_file(tmp_path / "empty")


def test_inspect_of_an_armored_file_with_a_header_area(tmp_path: Path) -> None:
    """Armor around a pqml/v1 file that has a header area (pqml never writes one, but it
    is a valid file): decrypts, and inspect reports the area without reading the text as
    slots."""
    from pqml.encryption.inspect import inspect as inspect_file
    from pqml.formats.age import armor

    binary = pqml_v1.encrypt_bytes([XWING.public_key()], b"weights", header_area=16384)
    (tmp_path / "e").write_bytes(armor.armor(binary, armor.PQML_LABEL))
    info = inspect_file(tmp_path / "e")
    assert info["armored"] and info["header_area"] == {
        "slot_size": 16384, "size": 32768, "slot": 0, "slots_identical": None}
    feature.decrypt_file(tmp_path / "e", tmp_path / "o", [XWING])
    assert (tmp_path / "o").read_bytes() == b"weights"

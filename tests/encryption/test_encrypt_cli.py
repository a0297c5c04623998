"""``pqml encrypt / decrypt / rekey / inspect`` end to end: age's flags, stdin/stdout, key
files of every kind, directories, JSON, one-line errors, and Debian ``age`` as a peer."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pqml.formats import age_keys
from pqml.formats.keyfile import private_key_to_pem, public_key_to_pem
from pqml.primitives import registry

from conftest import REPO
from conftest import cli_run as run

AGE = shutil.which("age")


def pqml(*args: str | Path, input: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args)],
                          input=input, capture_output=True, timeout=120)


def one_line_error(stderr: str | bytes, expected: str) -> None:
    text = stderr.decode() if isinstance(stderr, bytes) else stderr
    lines = [ln for ln in text.splitlines() if ln.strip()]
    assert lines == [f"pqml: error: {expected}"], text


@pytest.fixture(scope="module")
def k(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    d = tmp_path_factory.mktemp("keys")
    alice = registry.scheme("X-Wing").generate()
    bob = registry.scheme("X-Wing").generate()
    carol = registry.scheme("ML-KEM-1024").generate()
    old = registry.scheme("X25519").generate()
    (d / "alice.pem").write_bytes(private_key_to_pem(alice))
    (d / "alice.pub.pem").write_bytes(public_key_to_pem(alice.public_key()))
    (d / "bob.txt").write_text(age_keys.format_identity_file(bob))
    (d / "carol.pem").write_bytes(private_key_to_pem(carol))
    (d / "old.txt").write_text(age_keys.format_identity_file(old))
    (d / "team.txt").write_text("# team\n" + age_keys.encode_recipient(alice.public_key()) +
                                "\n" + age_keys.encode_recipient(bob.public_key()) + "\n")
    return {**{p.name: p for p in d.iterdir()},
            "bob": age_keys.encode_recipient(bob.public_key()),
            "old": age_keys.encode_recipient(old.public_key())}


def test_file_roundtrip_with_mixed_kems_and_json(tmp_path: Path, k: dict) -> None:  # type: ignore[type-arg]
    (tmp_path / "m.bin").write_bytes(os.urandom(50000))
    res = run("encrypt", "-r", k["alice.pub.pem"], "-r", k["bob"], "-r", k["carol.pem"],
              "-o", tmp_path / "m.pqml", "--json", tmp_path / "m.bin")
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout)
    assert [r["kem"] for r in info["recipients"]] == ["X-Wing", "X-Wing", "ML-KEM-1024"]
    assert info["format"] == "pqml/v1" and info["plaintext_size"] == 50000
    for ident in ("alice.pem", "bob.txt", "carol.pem"):
        out = tmp_path / f"out-{ident}"
        res = run("decrypt", "-i", k[ident], "-o", out, tmp_path / "m.pqml")
        assert res.exit_code == 0, res.output
        assert out.read_bytes() == (tmp_path / "m.bin").read_bytes()


def test_recipients_file_and_stdin_stdout(k: dict) -> None:  # type: ignore[type-arg]
    enc = pqml("encrypt", "-R", k["team.txt"], input=b"hello from stdin")
    assert enc.returncode == 0, enc.stderr
    assert enc.stdout.startswith(b"pqml/v1\n")
    dec = pqml("decrypt", "-i", k["bob.txt"], "-", input=enc.stdout)
    assert dec.returncode == 0 and dec.stdout == b"hello from stdin"


def test_stdin_to_files_and_back(tmp_path: Path, k: dict) -> None:  # type: ignore[type-arg]
    res = pqml("encrypt", "-r", k["bob"], "-o", tmp_path / "e.pqml", "-", input=b"piped in")
    assert res.returncode == 0 and res.stdout == b""
    res = pqml("decrypt", "-i", k["bob.txt"], "-o", tmp_path / "d", input=(
        tmp_path / "e.pqml").read_bytes())
    assert res.returncode == 0 and (tmp_path / "d").read_bytes() == b"piped in"
    res = pqml("decrypt", "-i", k["carol.pem"], "-o", tmp_path / "d2", "-",
               input=(tmp_path / "e.pqml").read_bytes())
    one_line_error(res.stderr, "<stdin>: no identity matched any of the recipients")
    assert not (tmp_path / "d2").exists()
    res = pqml("decrypt", "-i", k["bob.txt"], tmp_path / "e.pqml")  # file to stdout
    assert res.stdout == b"piped in"


def test_age_format_armored_through_pipes(k: dict) -> None:  # type: ignore[type-arg]
    enc = pqml("encrypt", "--format", "age", "-a", "-r", k["bob"], input=b"armored")
    assert enc.stdout.startswith(b"-----BEGIN AGE ENCRYPTED FILE-----")
    dec = pqml("decrypt", "-i", k["bob.txt"], input=enc.stdout)
    assert dec.stdout == b"armored"


def test_classical_refused_then_warned(tmp_path: Path, k: dict) -> None:  # type: ignore[type-arg]
    (tmp_path / "p").write_bytes(b"x")
    res = pqml("encrypt", "-r", k["old"], "-o", tmp_path / "e", tmp_path / "p")
    assert res.returncode == 2
    one_line_error(res.stderr, "refusing the quantum-vulnerable x25519 recipient: a future "
                   "quantum attacker could decrypt the file (pass --allow-classical / "
                   "allow_classical=True to accept that)")
    assert not (tmp_path / "e").exists()
    res = pqml("encrypt", "--allow-classical", "-r", k["old"], "-o", tmp_path / "e",
               tmp_path / "p")
    assert res.returncode == 0
    assert b"pqml: warning: recipient x25519" in res.stderr
    assert b"quantum-vulnerable" in res.stderr


@pytest.mark.parametrize("args,expected", [
    (["encrypt", "-o", "{t}/e", "{t}/p"],
     "no recipients: give -r RECIPIENT, -R FILE or --passphrase-file"),
    (["encrypt", "-r", "nosuchfile", "{t}/p"],
     "nosuchfile: no such key file (and not an age recipient string)"),
    (["encrypt", "-r", "age1qqqq", "{t}/p"], None),
    (["decrypt", "-i", "{alice_pem}", "-o", "{t}/o", "{t}/p"],
     "{t}/p: not an encrypted file (expected pqml/v1 or age, binary or armored)"),
    (["decrypt", "-i", "{carol_pem}", "-o", "{t}/o", "{t}/e"],
     "{t}/e: no identity matched any of the recipients"),
    (["decrypt", "-o", "{t}/o", "{t}/e"], "no identities: give -i IDENTITY or --passphrase-file"),
])
def test_one_line_errors(tmp_path: Path, k: dict, args: list[str], expected: str | None  # type: ignore[type-arg]
                         ) -> None:
    (tmp_path / "p").write_bytes(b"plain")
    assert run("encrypt", "-r", k["bob"], "-o", tmp_path / "e", tmp_path / "p").exit_code == 0
    fill = {"t": str(tmp_path), **{key.replace(".", "_"): str(v) for key, v in k.items()}}
    res = pqml(*[a.format(**fill) for a in args])
    assert res.returncode != 0
    if expected is None:
        assert res.stderr.decode().startswith("pqml: error: ")
        assert len(res.stderr.decode().strip().splitlines()) == 1
    else:
        one_line_error(res.stderr, expected.format(**fill))
    assert b"Traceback" not in res.stderr
    assert not (tmp_path / "o").exists()


def test_tampered_file_cli(tmp_path: Path, k: dict) -> None:  # type: ignore[type-arg]
    (tmp_path / "p").write_bytes(os.urandom(40000))
    run("encrypt", "-r", k["bob"], "-o", tmp_path / "e", tmp_path / "p")
    blob = bytearray((tmp_path / "e").read_bytes())
    blob[-100] ^= 1
    (tmp_path / "e").write_bytes(bytes(blob))
    res = pqml("decrypt", "-i", k["bob.txt"], "-o", tmp_path / "o", tmp_path / "e")
    assert res.returncode == 1
    one_line_error(res.stderr, f"{tmp_path / 'e'}: final payload chunk 2 failed "
                   "authentication: the file is truncated, extended or tampered")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["e", "p"]


def test_directories(tmp_path: Path, k: dict) -> None:  # type: ignore[type-arg]
    src = tmp_path / "model"
    (src / "sub").mkdir(parents=True)
    (src / "config.json").write_text("{}")
    (src / "sub" / "w.bin").write_bytes(os.urandom(30000))
    res = run("encrypt", "-r", k["bob"], "-o", tmp_path / "enc", src)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "enc" / "sub" / "w.bin.pqml").exists()
    res = pqml("encrypt", "-r", k["bob"], "-o", src / "inside", src)
    one_line_error(res.stderr, f"{src / 'inside'}: the output directory is inside the input "
                   f"tree {src}; choose an output outside it")
    res = pqml("encrypt", "-r", k["bob"], src)
    one_line_error(res.stderr, f"{src}: is a directory: give -o OUTDIR for the encrypted tree")
    res = run("decrypt", "-i", k["bob.txt"], "-o", tmp_path / "back", tmp_path / "enc")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "back" / "sub" / "w.bin").read_bytes() == \
        (src / "sub" / "w.bin").read_bytes()


def test_passphrase_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\n")
    (tmp_path / "p").write_bytes(b"by passphrase")
    # age format: scrypt at work factor 18 takes ~1 s; pqml format: Argon2id 64 MiB
    res = run("encrypt", "--passphrase-file", tmp_path / "pw", "-o", tmp_path / "e",
              tmp_path / "p")
    assert res.exit_code == 0, res.output
    res = run("inspect", "--json", tmp_path / "e")
    assert json.loads(res.stdout)["stanzas"][0]["argon2id"] == {"t": 3, "m_kib": 65536, "p": 4}
    res = run("decrypt", "--passphrase-file", tmp_path / "pw", "-o", tmp_path / "o",
              tmp_path / "e")
    assert res.exit_code == 0 and (tmp_path / "o").read_bytes() == b"by passphrase"


def test_rekey_and_inspect_cli(tmp_path: Path, k: dict) -> None:  # type: ignore[type-arg]
    (tmp_path / "p").write_bytes(os.urandom(70000))
    run("encrypt", "-r", k["alice.pub.pem"], "-r", k["carol.pem"], "-o", tmp_path / "e",
        tmp_path / "p")
    payload_before = (tmp_path / "e").read_bytes()[-70000:]
    res = run("rekey", "-i", k["alice.pem"], "--add", k["bob"], "--remove", k["carol.pem"],
              tmp_path / "e")
    assert res.exit_code == 0, res.output
    assert "2 -> 2 recipients (+1 -1), file rewritten (payload bytes unchanged)" in res.stderr
    assert (tmp_path / "e").read_bytes()[-70000:] == payload_before
    info = json.loads(run("inspect", "--json", tmp_path / "e").stdout)
    assert [s["kem"] for s in info["stanzas"]] == ["X-Wing", "X-Wing"]
    assert info["post_quantum"] is True and info["chunks"] == 5
    assert info["plaintext_size"] == 70000 and info["size_valid"]
    text = run("inspect", tmp_path / "e").stdout
    assert "format:      pqml/v1" in text and "protection:  post-quantum" in text
    res = pqml("decrypt", "-i", k["carol.pem"], "-o", tmp_path / "o", tmp_path / "e")
    one_line_error(res.stderr, f"{tmp_path / 'e'}: no identity matched any of the recipients")
    res = pqml("rekey", "-i", k["bob.txt"], "--remove", k["carol.pem"], tmp_path / "e")
    assert res.returncode == 1 and b"no stanza for the recipient to remove" in res.stderr


@pytest.mark.skipif(AGE is None, reason="Debian's age is not installed (apt-get install age)")
def test_debian_age_is_a_peer_through_the_cli(tmp_path: Path) -> None:
    subprocess.run(["age-keygen", "-o", tmp_path / "id.txt"], check=True, capture_output=True)
    recipient = next(line.split()[-1] for line in (tmp_path / "id.txt").read_text().splitlines()
                     if line.startswith("# public key:"))
    data = os.urandom(200_000)
    (tmp_path / "p").write_bytes(data)
    res = pqml("encrypt", "--format", "age", "--allow-classical", "-r", recipient, "-o",
               tmp_path / "e.age", tmp_path / "p")
    assert res.returncode == 0, res.stderr
    out = subprocess.run([AGE, "-d", "-i", tmp_path / "id.txt", tmp_path / "e.age"],  # type: ignore[list-item]
                         capture_output=True, check=True)
    assert out.stdout == data
    subprocess.run([AGE, "-r", recipient, "-o", tmp_path / "f.age", tmp_path / "p"],  # type: ignore[list-item]
                   check=True)
    res = pqml("decrypt", "-i", tmp_path / "id.txt", "-o", tmp_path / "o", tmp_path / "f.age")
    assert res.returncode == 0 and (tmp_path / "o").read_bytes() == data
    # the age file rekeyed by pqml still opens with age
    bob = registry.scheme("X-Wing").generate()
    res = pqml("rekey", "-i", tmp_path / "id.txt", "--add",
               age_keys.encode_recipient(bob.public_key()), "--allow-classical",
               tmp_path / "f.age")
    assert res.returncode == 0, res.stderr
    out = subprocess.run([AGE, "-d", "-i", tmp_path / "id.txt", tmp_path / "f.age"],  # type: ignore[list-item]
                         capture_output=True)
    assert out.returncode == 0 and out.stdout == data


def test_demo_script(tmp_path: Path) -> None:
    """examples/demo_encrypt.sh runs end to end (the README's encryption walk-through)."""
    bindir = Path(sys.executable).parent
    if not (bindir / "pqml").exists():
        pytest.skip("the pqml console script is not installed next to this Python")
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    repo = REPO
    res = subprocess.run(["bash", str(repo / "examples" / "demo_encrypt.sh"),
                          str(tmp_path / "demo")], capture_output=True, text=True, env=env,
                         timeout=300)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "decrypted 7 of 67 chunks" in res.stdout
    assert res.stdout.count(": OK") == 4


@pytest.mark.parametrize("direction", ["encrypt", "decrypt"])
def test_ctrl_c_leaves_no_output(tmp_path: Path, k: dict, direction: str) -> None:  # type: ignore[type-arg]
    """SIGINT while the output is half written: exit 130, one line, no file left."""
    import contextlib
    import signal
    import time

    def writing(pid: int) -> bool:  # the output is unnamed until done: look at pqml's fds
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(OSError):
                if os.readlink(fd).startswith(f"{outdir}/"):
                    return True
        return False

    outdir = tmp_path / "out"
    outdir.mkdir()
    if direction == "encrypt":
        args = ["encrypt", "-r", k["bob"], "-o", str(outdir / "o.pqml")]
        feed = os.urandom(100_000)
    else:
        (tmp_path / "p").write_bytes(os.urandom(200_000))
        run("encrypt", "-r", k["bob"], "-o", tmp_path / "e", tmp_path / "p")
        args = ["decrypt", "-i", str(k["bob.txt"]), "-o", str(outdir / "o")]
        feed = (tmp_path / "e").read_bytes()[:120_000]  # header and part of the payload
    # A shell running tests in the background (as CI may) starts children with SIGINT
    # ignored; a terminal user's Ctrl-C has the default disposition, so restore it.
    proc = subprocess.Popen([sys.executable, "-m", "pqml.cli.main", *args],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert proc.stdin is not None
    proc.stdin.write(feed)
    proc.stdin.flush()  # the input stays open: pqml is now waiting for more
    deadline = time.monotonic() + 60
    while not writing(proc.pid):  # wait for a condition
        assert time.monotonic() < deadline, "pqml never started writing"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)  # the temp output exists: we are mid-write
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    one_line_error(err, "interrupted")
    assert list(outdir.iterdir()) == []


def test_progress_bar_only_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from pqml.cli import encrypt as cli_encrypt

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    with cli_encrypt._progress(100 * 1024 * 1024, "encrypting") as cb:
        assert cb is None  # not a terminal under pytest
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    with cli_encrypt._progress(100 * 1024 * 1024, "encrypting") as cb:
        assert cb is not None
        cb(50 * 1024 * 1024)
    assert "encrypting" in term.getvalue()
    with cli_encrypt._progress(1024, "encrypting") as cb:
        assert cb is None  # small inputs: no bar


def test_rekey_of_a_large_file_is_in_place_and_says_so(tmp_path: Path, k: dict  # type: ignore[type-arg]
                                                       ) -> None:
    """From 64 MiB a pqml/v1 file gets a header area: rekey rewrites it in place (same
    inode), and both the text and the JSON output say so."""
    src = tmp_path / "p"
    with open(src, "wb") as f:
        f.truncate(64 * 1024 * 1024)
    run("encrypt", "-r", k["alice.pub.pem"], "-o", tmp_path / "e", src)
    inode = (tmp_path / "e").stat().st_ino
    text = run("inspect", tmp_path / "e").stdout
    assert "header area: 2 slots of 64 KiB, slot 0 in use; rekey in place" in text
    res = run("rekey", "-i", k["alice.pem"], "--add", k["bob"], tmp_path / "e")
    assert res.exit_code == 0, res.output
    assert "1 -> 2 recipients (+1 -0), header rewritten in place" in res.stderr
    assert (tmp_path / "e").stat().st_ino == inode
    res = run("rekey", "--json", "-i", k["alice.pem"], "--remove", k["bob"], tmp_path / "e")
    [info] = json.loads(res.stdout)  # one record per file
    assert info["in_place"] is True and info["stanzas_after"] == 1


def test_armored_pqml_through_pipes(tmp_path: Path, k: dict) -> None:  # type: ignore[type-arg]
    """-a with the default format: text on stdout, decrypted from stdin."""
    data = os.urandom(5000)
    enc = pqml("encrypt", "-a", "-r", k["alice.pub.pem"], input=data)
    assert enc.returncode == 0, enc.stderr
    assert enc.stdout.startswith(b"-----BEGIN PQML ENCRYPTED FILE-----\n")
    dec = pqml("decrypt", "-i", k["alice.pem"], input=enc.stdout)
    assert dec.returncode == 0 and dec.stdout == data
    (tmp_path / "e").write_bytes(enc.stdout)
    text = run("inspect", tmp_path / "e").stdout
    assert "format:      pqml/v1 (armored)" in text


def test_tree_symlinks_need_allow_symlinks_and_never_leave_the_tree(
        tmp_path: Path, k: dict[str, Path | str]) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    secret = tmp_path / "credentials"
    secret.write_text("aws_secret_access_key = hunter2")
    os.symlink(secret, model / "creds")
    r = run("encrypt", "-r", k["alice.pub.pem"], "-o", tmp_path / "enc", model)
    assert r.exit_code == 1
    one_line_error(r.stderr, f"{model / 'creds'}: is a symbolic link; refusing to follow it "
                   "(pass --allow-symlinks / allow_symlinks=True to follow links that stay "
                   "inside the tree)")
    r = run("encrypt", "--allow-symlinks", "-r", k["alice.pub.pem"], "-o", tmp_path / "enc",
            model)
    assert r.exit_code == 1
    one_line_error(r.stderr, f"{model / 'creds'}: is a symbolic link that resolves outside "
                   f"the tree ({model}); refusing to follow it")
    assert not (tmp_path / "enc").exists()
    os.replace(model / "creds", tmp_path / "gone")
    os.symlink("config.json", model / "cfg")
    assert run("encrypt", "--allow-symlinks", "-r", k["alice.pub.pem"], "-o",
               tmp_path / "enc", model).exit_code == 0
    os.symlink("config.json.pqml", tmp_path / "enc" / "again.pqml")
    r = run("decrypt", "-i", k["alice.pem"], "-o", tmp_path / "back", tmp_path / "enc")
    assert r.exit_code == 1 and "is a symbolic link" in r.stderr
    assert run("decrypt", "--allow-symlinks", "-i", k["alice.pem"], "-o", tmp_path / "back",
               tmp_path / "enc").exit_code == 0
    assert (tmp_path / "back" / "cfg").read_text() == "{}"
    assert (tmp_path / "back" / "again").read_text() == "{}"

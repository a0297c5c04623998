"""SIGKILL at any point leaves no partial output under any name: encrypt, decrypt, rekey's
copy path and sign, for files and directory trees; the target is absent (or the old one)
and the next run works.

Each run goes through a small wrapper that stops pqml (SIGSTOP) at a chosen point, e.g.
"after the 4th write into the output"; the test then looks at the stopped process (its
open output, through /proc) and kills it with a real SIGKILL. No sleeps: ``waitpid``
reports the stop. One test also kills an unmodified ``pqml`` mid-stream.
"""

from __future__ import annotations

import contextlib
import io
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pqml._internal.output_file import TEMP_SUFFIX
from pqml.encryption import encrypt as feature
from pqml.formats import age_keys
from pqml.formats.keyfile import private_key_to_pem
from pqml.primitives import registry

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"),
                                reason="looks at the killed process through /proc")

ALICE = registry.scheme("X-Wing").generate()
BOB = registry.scheme("X-Wing").generate()
SIZE = 9 * 1024 * 1024 + 5  # several 4 MiB write-behind blocks, many 256 KiB writes

HOOK = r'''
import errno, os, signal, sys
from pqml._internal import output_file as of

point, count, tmpfile, *args = sys.argv[1:]
count, calls = int(count), 0

def tick():
    global calls
    calls += 1
    if calls == count:
        os.kill(os.getpid(), signal.SIGSTOP)  # the test looks at us, then sends SIGKILL

if tmpfile == "no-tmpfile":  # a filesystem without O_TMPFILE (NFS, some FUSE)
    real_open = os.open
    def fake_open(path, flags, *a, **kw):
        if flags & os.O_TMPFILE == os.O_TMPFILE:
            raise OSError(errno.EOPNOTSUPP, os.strerror(errno.EOPNOTSUPP))
        return real_open(path, flags, *a, **kw)
    os.open = fake_open

where, name = {
    "created": ("AtomicOutput", "__init__"),      # the output file exists (unnamed)
    "written": ("AtomicOutput", "write"),         # after the count-th write into an output
    "committing": ("AtomicOutput", "commit"),     # all written and authenticated, no name
    "linked": ("", "_link_fd"),                   # replacing: linked under a temporary name
    "tree-linked": ("AtomicTree", "commit"),      # tree files linked in, tree not renamed
    "renamed": ("os", "rename"),                  # --force tree: old tree moved aside
    "synced": ("os", "fsync"),                    # a bundle written and synced, no name
}[point]
owner = getattr(of, where) if where else of
real = getattr(owner, name)
if point == "committing":
    def hooked(*a, **kw):
        tick()
        return real(*a, **kw)
elif point == "tree-linked":
    def hooked(self):
        self._link_pending()
        tick()
        return real(self)
else:
    def hooked(*a, **kw):
        result = real(*a, **kw)
        tick()
        return result
setattr(owner, name, hooked)

from pqml.cli.main import main
sys.argv = ["pqml", *args]
main()
'''


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "hook.py").write_text(HOOK)
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "alice.pem").write_bytes(private_key_to_pem(ALICE))
    (keys / "alice.txt").write_text(age_keys.encode_recipient(ALICE.public_key()) + "\n")
    (keys / "bob.txt").write_text(age_keys.encode_recipient(BOB.public_key()) + "\n")
    signer = registry.scheme("ML-DSA-44").generate()
    (keys / "signer.pem").write_bytes(private_key_to_pem(signer))
    (tmp_path / "out").mkdir()
    return tmp_path


def _dispositions(ignore: tuple[int, ...]) -> Callable[[], None]:
    """For the child: SIGTERM and SIGHUP as a fresh process has them, even if the test
    runner ignores them (nohup), since an ignored disposition is inherited; ``ignore``
    ones ignored, as under nohup."""
    def set_them() -> None:
        for signum in (signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_IGN if signum in ignore else signal.SIG_DFL)
    return set_them


def stop_at(work: Path, point: str, count: int, *args: str | Path,
            tmpfile: bool = True, ignore: tuple[int, ...] = ()) -> subprocess.Popen[bytes]:
    """Run pqml ``args`` until it stops itself at ``point`` (the ``count``-th time)."""
    proc = subprocess.Popen(
        [sys.executable, str(work / "hook.py"), point, str(count),
         "tmpfile" if tmpfile else "no-tmpfile", *map(str, args)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=_dispositions(ignore))
    _, status = os.waitpid(proc.pid, os.WUNTRACED)
    if not os.WIFSTOPPED(status):
        assert proc.stderr is not None
        raise AssertionError(f"pqml ended before {point} #{count}: "
                             f"{proc.stderr.read().decode()}")
    return proc


def kill(proc: subprocess.Popen[bytes]) -> None:
    os.kill(proc.pid, signal.SIGKILL)  # a stopped process dies of SIGKILL at once
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def terminate(proc: subprocess.Popen[bytes], signum: int) -> None:
    """Deliver ``signum`` to the stopped process: it stays pending while the process is
    stopped and acts (with pqml's handler for it) as soon as SIGCONT resumes it. pqml
    cleans up, says so on one line and exits with 128 + the signal number, as shells do."""
    os.kill(proc.pid, signum)
    os.kill(proc.pid, signal.SIGCONT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + signum, err
    assert err.decode().splitlines() == ["pqml: error: terminated"], err


def open_outputs(pid: int, directory: Path) -> dict[str, bytes]:
    """What the (stopped) process holds open under ``directory``: link text -> content."""
    found = {}
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            link = os.readlink(fd)
            if link.startswith(f"{directory}/"):
                found[link] = fd.read_bytes()
    return found


def files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if not p.is_dir())


def with_plaintext(root: Path, plaintext: bytes, exclude: tuple[Path, ...] = ()) -> list[Path]:
    """Files under ``root`` holding any sampled 32-byte piece of ``plaintext``."""
    samples = [plaintext[o:o + 32] for o in range(0, len(plaintext) - 32, 128 * 1024)]
    hits = []
    for path in root.rglob("*"):
        if path.is_file() and not path.is_symlink() and path not in exclude:
            data = path.read_bytes()
            if any(s in data for s in samples):
                hits.append(path)
    return hits


def encrypted(path: Path, plaintext: bytes) -> Path:
    """Encrypt from memory, so the plaintext is on disk nowhere."""
    with open(path, "wb") as out:
        feature.encrypt_to(io.BytesIO(plaintext), out, [ALICE.public_key()],
                           plaintext_size=len(plaintext))
    return path


# ---- files ----------------------------------------------------------------------------------


@pytest.mark.parametrize("point,count", [("created", 1), ("written", 4), ("committing", 1)])
def test_decrypt_killed(work: Path, point: str, count: int) -> None:
    plaintext = os.urandom(SIZE)
    enc = encrypted(work / "big.pqml", plaintext)
    out = work / "out" / "out.bin"
    args = ("decrypt", "-i", work / "keys/alice.pem", "-o", out, enc)
    proc = stop_at(work, point, count, *args)
    held = open_outputs(proc.pid, work / "out")
    assert len(held) == 1 and files(work / "out") == []  # open, written, yet nameless
    content = next(iter(held.values()))
    if point == "written":
        assert 0 < len(content) < SIZE and plaintext.startswith(content)
    elif point == "committing":
        assert content == plaintext
    kill(proc)
    assert files(work / "out") == [] and with_plaintext(work, plaintext) == []
    subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args)], check=True)
    assert out.read_bytes() == plaintext and files(work / "out") == ["out.bin"]


@pytest.mark.parametrize("point,count", [("created", 1), ("written", 4), ("committing", 1)])
def test_encrypt_killed(work: Path, point: str, count: int) -> None:
    (work / "p").write_bytes(os.urandom(SIZE))
    out = work / "out" / "p.pqml"
    args = ("encrypt", "-r", work / "keys/alice.txt", "-o", out, work / "p")
    proc = stop_at(work, point, count, *args)
    assert len(open_outputs(proc.pid, work / "out")) == 1 and files(work / "out") == []
    kill(proc)
    assert files(work / "out") == []
    subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args)], check=True)
    feature.decrypt_file(out, work / "back", [ALICE])
    assert (work / "back").read_bytes() == (work / "p").read_bytes()


def test_killed_while_replacing_keeps_the_old_output(work: Path) -> None:
    plaintext = os.urandom(SIZE)
    enc = encrypted(work / "big.pqml", plaintext)
    out = work / "out" / "out.bin"
    out.write_bytes(b"the old output")
    args = ("decrypt", "-i", work / "keys/alice.pem", "--force", "-o", out, enc)
    kill(stop_at(work, "committing", 1, *args))
    assert out.read_bytes() == b"the old output" and files(work / "out") == ["out.bin"]
    assert with_plaintext(work, plaintext) == []


def test_fallback_named_temporary_is_removed_by_the_next_run(work: Path) -> None:
    """Without O_TMPFILE the partial output has a name (the documented limit): the next
    run into the same output removes it, since no live process holds its lock."""
    plaintext = os.urandom(SIZE)
    enc = encrypted(work / "big.pqml", plaintext)
    out = work / "out" / "out.bin"
    args = ("decrypt", "-i", work / "keys/alice.pem", "-o", out, enc)
    kill(stop_at(work, "written", 4, *args, tmpfile=False))
    [left] = files(work / "out")
    assert left.startswith(".out.bin.") and left.endswith(TEMP_SUFFIX)
    assert (work / "out" / left).stat().st_mode & 0o077 == 0
    subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args)], check=True)
    assert files(work / "out") == ["out.bin"]
    assert with_plaintext(work, plaintext) == [out]


# ---- rekey's copy path ----------------------------------------------------------------------


@pytest.mark.parametrize("point,count", [("written", 1), ("committing", 1), ("linked", 1)])
def test_rekey_copy_path_killed(work: Path, point: str, count: int) -> None:
    plaintext = os.urandom(1024 * 1024)  # under 64 MiB: no header area, rewritten by copy
    enc = encrypted(work / "out" / "f.pqml", plaintext)
    before = enc.read_bytes()
    args = ("rekey", "-i", work / "keys/alice.pem", "--add", work / "keys/bob.txt", enc)
    kill(stop_at(work, point, count, *args))
    assert enc.read_bytes() == before
    left = files(work / "out")
    if point == "linked":  # complete new file under a temporary name: the next run's
        assert len(left) == 2 and left[0].startswith(".f.pqml.")
    else:
        assert left == ["f.pqml"]
    subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args)], check=True)
    assert files(work / "out") == ["f.pqml"]
    feature.decrypt_file(enc, work / "back", [BOB])
    assert (work / "back").read_bytes() == plaintext


# ---- sign -----------------------------------------------------------------------------------


@pytest.mark.parametrize("point", ["synced", "committing"])
def test_sign_killed(work: Path, point: str) -> None:
    model = work / "out"
    (model / "weights.bin").write_bytes(os.urandom(100_000))
    args = ("sign", model, "-k", work / "keys/signer.pem")
    kill(stop_at(work, point, 1, *args))
    assert files(model) == ["weights.bin"]
    subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args)], check=True)
    assert files(model) == ["model.sig", "weights.bin"]
    bundle = (model / "model.sig").read_bytes()
    (model / "weights.bin").write_bytes(b"retrained")
    kill(stop_at(work, "committing", 1, *args, "--force"))  # re-signing, killed
    assert (model / "model.sig").read_bytes() == bundle  # the old bundle, whole
    assert files(model) == ["model.sig", "weights.bin"]
    subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args), "--force"],
                   check=True)
    assert (model / "model.sig").read_bytes() != bundle


# ---- directory trees ------------------------------------------------------------------------


def make_tree(root: Path) -> dict[str, bytes]:
    content = {"a.bin": os.urandom(100_000), "b/big.bin": os.urandom(SIZE),
               "b/c.txt": os.urandom(5000)}
    for rel, data in content.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return content


def tree_of(root: Path) -> dict[str, bytes]:
    return {rel: (root / rel).read_bytes() for rel in files(root)}


@pytest.mark.parametrize("direction", ["encrypt", "decrypt"])
@pytest.mark.parametrize("point,count", [("created", 3), ("written", 8), ("tree-linked", 1)])
def test_tree_killed(work: Path, direction: str, point: str, count: int) -> None:
    model = work / "model"
    content = make_tree(model)
    if direction == "encrypt":
        target = work / "out" / "enc"
        args: tuple[str | Path, ...] = ("encrypt", "-r", work / "keys/alice.txt", "-o",
                                        target, model)
    else:
        feature.encrypt_tree(model, work / "enc", [ALICE.public_key()])
        for path in model.rglob("*"):  # the plaintext is now only in this test's memory
            if path.is_file():
                path.unlink()
        target = work / "out" / "dec"
        args = ("decrypt", "-i", work / "keys/alice.pem", "-o", target, work / "enc")
    proc = stop_at(work, point, count, *args)
    if point != "tree-linked":  # finished files are held unnamed, one is being written
        assert files(work / "out") == []
        assert len(open_outputs(proc.pid, work / "out")) >= 2
    kill(proc)
    assert not target.exists()
    [hidden] = os.listdir(work / "out")
    assert hidden.startswith(f".{target.name}.") and hidden.endswith(TEMP_SUFFIX)
    if point != "tree-linked":
        assert files(work / "out") == []  # directories only: no file has a name
        if direction == "decrypt":
            assert all(with_plaintext(work, data) == [] for data in content.values())
    else:  # the instant between linking and renaming: whole files in a 0700 directory
        assert (work / "out" / hidden).stat().st_mode & 0o077 == 0
    subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args)], check=True)
    assert os.listdir(work / "out") == [target.name]  # the dead run's directory is gone
    if direction == "decrypt":
        assert tree_of(target) == content
    else:
        feature.decrypt_tree(target, work / "back", [ALICE])
        assert tree_of(work / "back") == content


@pytest.mark.parametrize("point", ["tree-linked", "renamed"])
def test_tree_force_killed(work: Path, point: str) -> None:
    model = work / "model"
    content = make_tree(model)
    feature.encrypt_tree(model, work / "enc", [ALICE.public_key()])
    target = work / "out" / "dec"
    target.mkdir()
    (target / "old.txt").write_bytes(b"old tree")
    args = ("decrypt", "-i", work / "keys/alice.pem", "--force", "-o", target, work / "enc")
    kill(stop_at(work, point, 1, *args))
    if point == "tree-linked":
        assert tree_of(target) == {"old.txt": b"old tree"}  # the old one, untouched
    else:  # between the two renames: no target, the old tree hidden aside
        assert not target.exists()
    subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args)], check=True)
    assert tree_of(target) == content and os.listdir(work / "out") == ["dec"]


def test_tree_without_tmpfile_killed(work: Path) -> None:
    model = work / "model"
    content = make_tree(model)
    feature.encrypt_tree(model, work / "enc", [ALICE.public_key()])
    target = work / "out" / "dec"
    args = ("decrypt", "-i", work / "keys/alice.pem", "-o", target, work / "enc")
    kill(stop_at(work, "written", 8, *args, tmpfile=False))
    assert not target.exists()
    subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args)], check=True)
    assert tree_of(target) == content and os.listdir(work / "out") == ["dec"]


# ---- an unmodified pqml, killed mid-stream --------------------------------------------------


@pytest.mark.parametrize("direction", ["encrypt", "decrypt"])
def test_plain_pqml_killed_mid_write(work: Path, direction: str) -> None:
    """pqml reads standard input, so the test decides how far it gets: feed part of the
    input, wait until the output holds data, SIGKILL."""
    plaintext = os.urandom(SIZE)
    out = work / "out" / "o"
    if direction == "encrypt":
        args = ["encrypt", "-r", str(work / "keys/alice.txt"), "-o", str(out)]
        feed = plaintext[: 6 * 1024 * 1024]
    else:
        args = ["decrypt", "-i", str(work / "keys/alice.pem"), "-o", str(out)]
        feed = encrypted(work / "e", plaintext).read_bytes()[: 6 * 1024 * 1024]
    proc = subprocess.Popen([sys.executable, "-m", "pqml.cli.main", *args],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(feed)
    proc.stdin.flush()  # the input stays open: pqml waits for the rest
    deadline = time.monotonic() + 120
    while not any(len(c) > 0 for c in open_outputs(proc.pid, work / "out").values()):
        assert proc.poll() is None and time.monotonic() < deadline, "pqml never wrote"
        time.sleep(0.05)
    assert files(work / "out") == []
    kill(proc)
    assert files(work / "out") == []
    if direction == "decrypt":
        assert with_plaintext(work, plaintext) == []


# ---- SIGTERM and SIGHUP (kill, logout, a closed terminal) -----------------------------------


SIGNALS = pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP],
                                  ids=["SIGTERM", "SIGHUP"])


@SIGNALS
def test_decrypt_terminated_leaves_no_plaintext(work: Path, signum: int) -> None:
    """SIGTERM/SIGHUP mid-decrypt end pqml with its partial plaintext in an unnamed
    file, which the kernel frees: nothing named is left."""
    plaintext = os.urandom(SIZE)
    enc = encrypted(work / "big.pqml", plaintext)
    out = work / "out" / "out.bin"
    args = ("decrypt", "-i", work / "keys/alice.pem", "-o", out, enc)
    proc = stop_at(work, "written", 4, *args)
    [content] = open_outputs(proc.pid, work / "out").values()
    assert 0 < len(content) < SIZE and plaintext.startswith(content)  # plaintext is out
    terminate(proc, signum)
    assert files(work / "out") == [] and with_plaintext(work, plaintext) == []
    subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args)], check=True)
    assert out.read_bytes() == plaintext and files(work / "out") == ["out.bin"]


@SIGNALS
def test_fallback_named_temporary_is_removed_when_terminated(work: Path, signum: int) -> None:
    """Without O_TMPFILE the partial plaintext has a (hidden, 0600) name: SIGTERM/SIGHUP
    unwind pqml through its cleanup, which deletes it, instead of leaving it for the next
    run into the same output."""
    plaintext = os.urandom(SIZE)
    enc = encrypted(work / "big.pqml", plaintext)
    out = work / "out" / "out.bin"
    args = ("decrypt", "-i", work / "keys/alice.pem", "-o", out, enc)
    proc = stop_at(work, "written", 4, *args, tmpfile=False)
    [left] = files(work / "out")
    assert left.startswith(".out.bin.") and left.endswith(TEMP_SUFFIX)
    terminate(proc, signum)
    assert files(work / "out") == [] and with_plaintext(work, plaintext) == []


def test_an_ignored_sigterm_stays_ignored(work: Path) -> None:
    """Under nohup (SIGTERM/SIGHUP inherited as ignored) pqml installs no handler: the
    signal is still ignored and the run completes."""
    plaintext = os.urandom(SIZE)
    enc = encrypted(work / "big.pqml", plaintext)
    out = work / "out" / "out.bin"
    proc = stop_at(work, "written", 4, "decrypt", "-i", work / "keys/alice.pem", "-o", out,
                   enc, ignore=(signal.SIGTERM, signal.SIGHUP))
    os.kill(proc.pid, signal.SIGTERM)
    os.kill(proc.pid, signal.SIGHUP)
    os.kill(proc.pid, signal.SIGCONT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert out.read_bytes() == plaintext


@SIGNALS
def test_tree_decrypt_terminated_leaves_no_plaintext(work: Path, signum: int) -> None:
    model = work / "model"
    content = make_tree(model)
    feature.encrypt_tree(model, work / "enc", [ALICE.public_key()])
    for path in model.rglob("*"):  # the plaintext is now only in this test's memory
        if path.is_file():
            path.unlink()
    target = work / "out" / "dec"
    args = ("decrypt", "-i", work / "keys/alice.pem", "-o", target, work / "enc")
    proc = stop_at(work, "written", 8, *args)
    assert files(work / "out") == [] and len(open_outputs(proc.pid, work / "out")) >= 2
    terminate(proc, signum)
    assert not target.exists() and files(work / "out") == []  # a hidden empty directory
    assert all(with_plaintext(work, data) == [] for data in content.values())
    subprocess.run([sys.executable, "-m", "pqml.cli.main", *map(str, args)], check=True)
    assert tree_of(target) == content and os.listdir(work / "out") == ["dec"]

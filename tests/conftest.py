"""Shared fixtures: the project's own test vectors, cryptography-vectors, and a guard that
keeps the suite self-contained.

The guard is an audit hook: a test that opens or lists anything beside the repository (a
sibling of its directory that existed when the session started, such as a ``shared``
folder in a developer's workspace) fails at once, so the suite can never again depend on
files a plain ``git clone`` does not have. Temporary directories created later (pytest's
``tmp_path``, ``tempfile``) are not affected, nor is anything outside the repository's
parent directory (the installed packages, ``/dev``, ``/proc``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
VECTORS = REPO / "tests" / "vectors"
DATA = REPO / "tests" / "data"


class OutsideRepositoryError(AssertionError):
    """A test read a file beside the repository: the suite must stand alone."""


class ReadGuard:
    """Refuses reads of the entries beside ``repo`` that ``forbidden`` names."""

    EVENTS = frozenset({"open", "os.listdir", "os.scandir", "shutil.copytree"})

    def __init__(self, repo: Path, forbidden: set[Path]) -> None:
        self.repo = repo
        self.forbidden = forbidden

    @classmethod
    def beside(cls, repo: Path) -> ReadGuard:
        """A guard over every sibling of ``repo`` that exists now. A repository cloned
        straight into the temporary directory guards nothing: its siblings there are
        other programs' scratch space (Ray's /tmp/ray, say), not a workspace."""
        parent = repo.parent
        temp = Path(tempfile.gettempdir()).resolve()
        if parent.resolve() == temp:
            return cls(repo, set())
        try:
            siblings = {parent / name for name in os.listdir(parent)}
        except OSError:
            siblings = set()
        siblings.discard(repo)
        return cls(repo, {s for s in siblings
                          if not s.name.startswith("pytest-of-") and s != temp})

    def check(self, path: object) -> None:
        if isinstance(path, int) or path is None:
            return
        try:
            text = os.fsdecode(path)  # type: ignore[arg-type]
        except TypeError:
            return
        resolved = Path(os.path.abspath(text))
        for root in self.forbidden:
            if resolved == root or root in resolved.parents:
                raise OutsideRepositoryError(
                    f"test read {text!r}, outside the repository {self.repo}: copy what it "
                    "needs into tests/vectors/ (with its SOURCE) or make it in the test")

    def __call__(self, event: str, args: tuple) -> None:
        if event in self.EVENTS and args:
            self.check(args[0])


GUARD = ReadGuard.beside(REPO)
sys.addaudithook(GUARD)


def vector(*parts: str) -> Path:
    """A file or directory of tests/vectors/ (see its README for where each set came from)."""
    path = VECTORS.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"test vector missing: {path}")
    return path


def cli_run(*args: object, input: bytes | None = None):  # type: ignore[no-untyped-def]
    """``pqml ARGS`` in process (click's runner; exceptions propagate, so a traceback fails
    the test instead of hiding in the output)."""
    from click.testing import CliRunner

    from pqml.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args], input=input,
                              catch_exceptions=False)


def signing_key_files(directory: Path, alg: str = "ML-DSA-65") -> tuple[Path, Path]:
    """A key pair made by ``pqml keygen``: (private PEM, public PEM)."""
    res = cli_run("keygen", "--alg", alg, "-o", directory / "k.pem")
    assert res.exit_code == 0, res.output
    (directory / "k.pub").write_text(res.stdout)
    return directory / "k.pem", directory / "k.pub"


def load_json(path: Path):
    with path.open() as f:
        return json.load(f)


def pyca_vector(*parts: str) -> Path:
    import cryptography_vectors

    return Path(cryptography_vectors.__file__).parent.joinpath(*parts)


def pty_available() -> bool:
    try:
        master, slave = os.openpty()
    except OSError:
        return False
    os.close(master)
    os.close(slave)
    return True


def run_on_terminal(argv: list[str], answers: list[tuple[bytes, bytes]],
                    timeout: float = 120) -> tuple[int, bytes, list[bytes]]:
    """Run ``argv`` with a pseudo-terminal as its controlling terminal and stdio, and
    answer each prompt of ``answers`` (prompt, reply) as it appears, in order. Returns
    the exit code, the transcript, and the prompts never asked."""
    import os
    import pty
    import select
    import time

    pending = list(answers)
    pid, fd = pty.fork()
    if pid == 0:  # child: the pty is now its controlling terminal and stdio
        try:
            os.execv(argv[0], argv)
        finally:
            os._exit(127)
    transcript = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            transcript += data
            if pending and pending[0][0] in transcript:
                prompt, reply = pending.pop(0)
                transcript = transcript.replace(prompt, b"[answered]", 1)
                os.write(fd, reply + b"\n")
    finally:
        os.close(fd)
        _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), transcript, [p for p, _ in pending]


@pytest.fixture(autouse=True)
def _own_pqml_home(tmp_path_factory: pytest.TempPathFactory,
                   monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own, not yet created ``$PQML_HOME`` (keyring, transparency log),
    so no test reads or writes the developer's real one, and none sees another's keys.
    Subprocesses inherit it through the environment."""
    home = tmp_path_factory.getbasetemp() / "pqml-home" / os.urandom(6).hex()
    monkeypatch.setenv("PQML_HOME", str(home))
    return home

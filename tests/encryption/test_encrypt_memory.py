"""Constant memory: encrypting and decrypting 256 MiB keeps each process under 100 MiB of
peak RSS (a memory assertion, not a timing one). Each step runs in a fresh subprocess and
its peak is read from ``getrusage(RUSAGE_CHILDREN)`` after it exits (worker processes of
the parallel path included)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SIZE_MIB = 256
LIMIT_MIB = 100

PRELUDE = textwrap.dedent(f"""
    import io, sys
    from pqml.primitives import registry
    from pqml.formats.keyfile import load_private_key
    KEY = load_private_key(open(sys.argv[1], "rb").read())

    class Generated(io.RawIOBase):
        '''{SIZE_MIB} MiB of deterministic bytes, produced on demand (never all in memory).'''
        def __init__(self):
            self.left = {SIZE_MIB} * 1024 * 1024
            self.block = bytes(range(256)) * 4096
        def readable(self):
            return True
        def readinto(self, buf):
            n = min(len(buf), self.left, len(self.block))
            buf[:n] = self.block[:n]
            self.left -= n
            return n
""")

STEPS = {
    "encrypt pqml from a generated stream": """
        from pqml.encryption import encrypt
        with open(sys.argv[2] + "/big.pqml", "wb", buffering=0) as out:
            encrypt.encrypt_to(Generated(), out, [KEY.public_key()])
    """,
    "encrypt age from a generated stream": """
        from pqml.encryption import encrypt
        with open(sys.argv[2] + "/big.age", "wb", buffering=0) as out:
            encrypt.encrypt_to(Generated(), out, [KEY.public_key()], format="age")
    """,
    "decrypt pqml file": """
        from pqml.encryption import encrypt
        encrypt.decrypt_file(sys.argv[2] + "/big.pqml", sys.argv[2] + "/out", [KEY], jobs=1,
                             force=True)
    """,
    "decrypt pqml file, 2 processes": """
        from pqml.encryption import encrypt
        encrypt.decrypt_file(sys.argv[2] + "/big.pqml", sys.argv[2] + "/out", [KEY], jobs=2,
                             force=True)
    """,
    "decrypt age file": """
        from pqml.encryption import encrypt
        encrypt.decrypt_file(sys.argv[2] + "/big.age", sys.argv[2] + "/out", [KEY], jobs=1,
                             force=True)
    """,
    "read everything through pqml.open": """
        import pqml
        with pqml.open(sys.argv[2] + "/big.pqml", [KEY]) as f:
            while f.read(8 * 1024 * 1024):
                pass
    """,
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from pqml.formats.keyfile import private_key_to_pem
    from pqml.primitives import registry

    d = tmp_path_factory.mktemp("mem")
    (d / "key.pem").write_bytes(private_key_to_pem(registry.scheme("X-Wing").generate()))
    return d


RUNNER = textwrap.dedent("""
    import resource, subprocess, sys
    subprocess.run(sys.argv[1:], check=True, timeout=300)
    print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
""")


def peak_rss_mib(code: str, workdir: Path) -> float:
    """Peak RSS (MiB) of a fresh process running ``code`` (and of any process it waited
    for): a runner process starts it and reports RUSAGE_CHILDREN, so earlier subprocesses
    of the test session cannot mask the figure."""
    result = subprocess.run(
        [sys.executable, "-c", RUNNER, sys.executable, "-c", PRELUDE + textwrap.dedent(code),
         str(workdir / "key.pem"), str(workdir)],
        check=True, timeout=300, capture_output=True, text=True)
    return int(result.stdout.split()[-1]) / 1024


@pytest.mark.parametrize("step", list(STEPS))
def test_peak_rss_is_bounded(step: str, workdir: Path) -> None:
    peak = peak_rss_mib(STEPS[step], workdir)
    assert peak < LIMIT_MIB, f"{step}: peak RSS {peak:.0f} MiB"
    if step.startswith("encrypt"):
        name = "big.pqml" if "pqml" in step else "big.age"
        assert (workdir / name).stat().st_size > SIZE_MIB * 1024 * 1024
    if step.startswith("decrypt"):
        assert (workdir / "out").stat().st_size == SIZE_MIB * 1024 * 1024

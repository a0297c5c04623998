"""Special files where a signed file or a bundle should be: refused, never read.

A FIFO opened for reading blocks until a writer appears, and a character device such as
``/dev/zero`` never ends, so verification must open non-blocking and check that it holds a
regular file before it reads a byte. The CLI runs in a child process with a memory limit
and a generous time guard, so the code as it was (a hang, or reading until memory runs
out) fails these tests instead of stalling the suite.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

import pqml
from pqml.signing import signing
from pqml.signing.verify_options import VerifyOptions

from conftest import cli_run as run
from conftest import signing_key_files

pytestmark = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
GUARD_SECONDS = 30  # only stops a hang; a pass takes a second or two
MEMORY_LIMIT = 2 << 30


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def child(*argv: object) -> subprocess.CompletedProcess[str]:
    """Python in a child process, bounded in memory; a hang fails the test."""
    try:
        return subprocess.run([sys.executable, *map(str, argv)], capture_output=True,
                              text=True, timeout=GUARD_SECONDS, preexec_fn=_limit_memory,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{' '.join(map(str, argv))} hung on a special file")


def run_child(*args: object) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process."""
    return child("-m", "pqml.cli.main", *args)


def one_line_error(proc: subprocess.CompletedProcess[str], match: str) -> None:
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pqml: error: "), proc.stderr
    assert match in lines[0], lines[0]


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return signing_key_files(tmp_path_factory.mktemp("keys"), "ML-DSA-65")


@pytest.fixture
def signed(tmp_path: Path, key: tuple[Path, Path]) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "config.json").write_text('{"hidden": 8}')
    (root / "w.pkl").write_bytes(b"\x80\x04K\x01.")
    assert run("sign", root, "-k", key[0]).exit_code == 0
    return root


def test_fifo_in_place_of_signed_file_is_refused_by_verify_only(
        signed: Path, key: tuple[Path, Path]) -> None:
    (signed / "w.pkl").unlink()
    os.mkfifo(signed / "w.pkl")
    proc = run_child("verify", signed, "-k", key[1], "--only", "w.pkl")
    assert "is not a regular file" in proc.stdout + proc.stderr, (proc.stdout, proc.stderr)
    assert proc.returncode == 1


def test_fifo_in_place_of_signed_file_is_refused_by_load(
        signed: Path, key: tuple[Path, Path]) -> None:
    (signed / "w.pkl").unlink()
    os.mkfifo(signed / "w.pkl")
    code = ("import sys, pqml\n"
            "try:\n"
            "    pqml.load(sys.argv[1], trusted=[sys.argv[2]])\n"
            "except pqml.errors.UnsafePathError as exc:\n"
            "    print('refused:', exc)\n")
    proc = child("-c", code, signed / "w.pkl", key[1])
    assert proc.stdout.startswith("refused:") and "is not a regular file" in proc.stdout, \
        (proc.stdout, proc.stderr)


def test_bundle_linked_to_dev_zero_is_refused(signed: Path, key: tuple[Path, Path]) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.skip("no /dev/zero")
    (signed / "model.sig").unlink()
    (signed / "model.sig").symlink_to("/dev/zero")
    proc = run_child("verify", signed, "-k", key[1])
    one_line_error(proc, "not a regular file")


def test_bundle_fifo_is_refused(signed: Path, key: tuple[Path, Path]) -> None:
    (signed / "model.sig").unlink()
    os.mkfifo(signed / "model.sig")
    proc = run_child("verify", signed, "-k", key[1], "--only", "config.json")
    one_line_error(proc, "not a regular file")


def test_bundle_read_is_capped_whatever_its_size_says(
        signed: Path, key: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """A regular file whose reported size is not what it holds (/proc files say 0 bytes)
    is still read only up to the limit."""
    source = Path("/proc/self/maps")
    if not source.exists() or source.stat().st_size != 0:
        pytest.skip("needs a /proc file that reports size 0")
    (signed / "model.sig").unlink()
    (signed / "model.sig").symlink_to(source)
    monkeypatch.setattr(signing, "MAX_BUNDLE_SIZE", 64)
    with pytest.raises(pqml.errors.PqmlError, match="too large for a signature bundle"):
        pqml.load(signed / "config.json", trusted=[key[1]],
                  verify=VerifyOptions(signature=signed / "model.sig"))



# Trust files the verifier names (a policy file, certificate-chain anchors) are read the
# same way: a FIFO or device is refused and a regular file is read only up to a cap.

_LOAD_TRUST_FILE = (
    "import sys\n"
    "from pqml.primitives.errors import PqmlError\n"
    "from pqml.signing import certificates, policy\n"
    "try:\n"
    "    if sys.argv[1] == 'policy':\n"
    "        policy.load_policy(sys.argv[2])\n"
    "    else:\n"
    "        certificates.load_anchors([sys.argv[2]])\n"
    "except PqmlError as exc:\n"
    "    print('refused:', exc)\n"
)


def _special(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "trust-file"
    if kind == "fifo":
        os.mkfifo(path)
    else:
        if not os.path.exists("/dev/zero"):
            pytest.skip("no /dev/zero")
        path.symlink_to("/dev/zero")
    return path


@pytest.mark.parametrize("kind", ["fifo", "dev-zero"])
@pytest.mark.parametrize("loader", ["policy", "anchors"])
def test_trust_file_that_is_not_regular_is_refused(
        tmp_path: Path, loader: str, kind: str) -> None:
    proc = child("-c", _LOAD_TRUST_FILE, loader, _special(tmp_path, kind))
    assert proc.stdout.startswith("refused:") and "is not a regular file" in proc.stdout, \
        (proc.stdout, proc.stderr)


def test_policy_fifo_is_refused_by_verify_cli(signed: Path, key: tuple[Path, Path]) -> None:
    os.mkfifo(signed.parent / "trust.toml")
    proc = run_child("verify", signed, "-k", key[1], "--policy", signed.parent / "trust.toml")
    one_line_error(proc, "not a regular file")


def test_policy_file_read_is_capped(tmp_path: Path) -> None:
    from pqml.signing import policy

    big = tmp_path / "trust.toml"
    big.write_bytes(b"require_pq = true\n" + b"#" * policy.MAX_POLICY_SIZE)
    with pytest.raises(pqml.errors.PolicyFileError, match="too large for a policy file"):
        policy.load_policy(big)


def test_certificate_chain_read_is_capped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pqml.primitives.errors import KeyFormatError
    from pqml.signing import certificates

    monkeypatch.setattr(certificates, "MAX_CERTIFICATE_CHAIN_SIZE", 64)
    big = tmp_path / "ca.pem"
    big.write_bytes(b"-" * 65)
    with pytest.raises(KeyFormatError, match="too large for a certificate chain"):
        certificates.load_anchors([big])

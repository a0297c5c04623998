"""Shared fixtures: paths to the vectors in ../shared and in cryptography-vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_VECTORS = REPO.parent / "shared" / "vectors"


def shared_vector(*parts: str) -> Path:
    path = SHARED_VECTORS.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared test vector missing: {path} (clone with ../shared beside the repo)")
    return path


def load_json(path: Path):
    with path.open() as f:
        return json.load(f)


def pyca_vector(*parts: str) -> Path:
    import cryptography_vectors

    return Path(cryptography_vectors.__file__).parent.joinpath(*parts)


def pty_available() -> bool:
    import os

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

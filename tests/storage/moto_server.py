"""A real S3-compatible server (moto_server) on a free loopback port, for the storage tests.

Started once per test session, found ready by its own "Running on" line and then by an
answered request (both with a deadline), stopped at the end. Credentials are fake and
given through the environment, as a user's would be.
"""

from __future__ import annotations

import contextlib
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

READY = re.compile(r"Running on (http://127\.0\.0\.1:\d+)")
DEADLINE = 60.0
ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
       "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}


def _command() -> list[str]:
    exe = Path(sys.executable).with_name("moto_server")
    found = str(exe) if exe.exists() else shutil.which("moto_server")
    if found is None:
        return [sys.executable, "-m", "moto.server"]
    return [found]


@contextlib.contextmanager
def running() -> Iterator[str]:
    """Start moto_server; yield its endpoint URL; stop it."""
    proc = subprocess.Popen([*_command(), "-H", "127.0.0.1", "-p", "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: queue.Queue[str | None] = queue.Queue()

    def drain() -> None:  # keeps reading, so the server never blocks on a full pipe
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=drain, daemon=True).start()
    try:
        endpoint = _wait_ready(proc, lines)
        yield endpoint
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[str], lines: queue.Queue[str | None]) -> str:
    deadline = time.monotonic() + DEADLINE
    seen = []
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError(f"moto_server not ready in {DEADLINE} s: {seen[-5:]}")
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            continue
        if line is None:
            raise RuntimeError(f"moto_server exited ({proc.poll()}): {seen[-5:]}")
        seen.append(line)
        match = READY.search(line)
        if match:
            break
    endpoint = match.group(1)
    while True:  # the line is printed just before serving: wait for an answer too
        try:
            urllib.request.urlopen(endpoint + "/moto-api/", timeout=5).read()
            return endpoint
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def new_bucket(fs: object) -> str:
    name = f"pqml-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)  # type: ignore[attr-defined]
    return name


def set_env(endpoint: str) -> dict[str, str | None]:
    saved = {k: os.environ.get(k) for k in [*ENV, "AWS_ENDPOINT_URL"]}
    os.environ.update(ENV)
    os.environ["AWS_ENDPOINT_URL"] = endpoint
    return saved


def restore_env(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


# ---- pytest fixtures (imported by the test modules that use them) -----------------------

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("s3fs")
    with running() as endpoint:
        saved = set_env(endpoint)
        try:
            yield endpoint
        finally:
            restore_env(saved)


@pytest.fixture
def s3(s3_endpoint: str) -> object:
    """The s3fs filesystem on the moto server (listings not cached)."""
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=s3_endpoint, use_listings_cache=False,
                             skip_instance_cache=True)


@pytest.fixture
def bucket(s3: object) -> str:
    """A fresh, empty bucket: ``s3://NAME``."""
    return new_bucket(s3)

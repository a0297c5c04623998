"""A real Azure Blob server (Azurite, from npm) on a free loopback port, for the az:// tests.

Found through ``PQML_AZURITE`` (an npm prefix, as ``.ci/run`` installs it: ``npm install
--prefix DIR azurite``; or the ``azurite-blob`` script itself), else ``azurite-blob`` on
PATH (``node_modules/.bin``). Started once per session with port 0 and found ready by its
own "listens on" line (with a deadline), telemetry off, data in a temporary directory;
stopped at the end. adlfs finds it as a user's code would: through
``AZURE_STORAGE_CONNECTION_STRING`` with Azurite's documented development account.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage.server_process import environment, started

READY = re.compile(r"listens on (http://127\.0\.0\.1:\d+)")
DEADLINE = 60.0
ACCOUNT = "devstoreaccount1"
# Azurite's well-known development key (public, in Azure's documentation)
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def command() -> str | None:
    """The azurite-blob script: from ``PQML_AZURITE`` or PATH."""
    where = os.environ.get("PQML_AZURITE")
    if where:
        path = Path(where)
        if path.is_dir():
            path = path / "node_modules" / ".bin" / "azurite-blob"
        return str(path) if path.exists() else None
    return shutil.which("azurite-blob")


def connection_string(endpoint: str) -> str:
    return (f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};"
            f"BlobEndpoint={endpoint}/{ACCOUNT};")


@contextlib.contextmanager
def running(exe: str, location: Path) -> Iterator[str]:
    """Start azurite-blob; yield its blob endpoint (``http://127.0.0.1:PORT``); stop it."""
    argv = [exe, "--blobHost", "127.0.0.1", "--blobPort", "0", "--location", str(location),
            "--silent", "--disableTelemetry", "--skipApiVersionCheck"]
    with started(argv, "azurite-blob") as server:
        yield server.wait_for_line(READY, time.monotonic() + DEADLINE).group(1)


@pytest.fixture(scope="session")
def azure_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    pytest.importorskip("adlfs", reason="the azure extra (adlfs) is not installed")
    exe = command()
    if exe is None:
        pytest.skip("Azurite is not installed (npm install --prefix DIR azurite, then "
                    "PQML_AZURITE=DIR; or azurite-blob on PATH)")
    if shutil.which("node") is None:
        pytest.skip("Azurite needs node, which is not on PATH")
    with running(exe, tmp_path_factory.mktemp("azurite")) as endpoint, environment(
            {"AZURE_STORAGE_CONNECTION_STRING": connection_string(endpoint)}):
        yield endpoint


@pytest.fixture
def azure(azure_endpoint: str) -> object:
    """An adlfs filesystem on Azurite for the tests' own checks (nothing cached)."""
    from adlfs import AzureBlobFileSystem

    return AzureBlobFileSystem(connection_string=connection_string(azure_endpoint),
                               use_listings_cache=False, skip_instance_cache=True)


@pytest.fixture
def container(azure: object) -> str:
    """A fresh, empty container: ``az://NAME``."""
    name = f"pqml-{uuid.uuid4().hex[:12]}"
    azure.mkdir(name)  # type: ignore[attr-defined]
    return name

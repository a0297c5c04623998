"""Which strings are URLs, which fsspec filesystem serves each, and which extra brings it.

fsspec is the Python convention for ``s3://``, ``gs://``, ``az://``, ``hf://`` and
``memory://``; pqml accepts those wherever it accepts a path. ``file://`` URLs are
plain local paths (so local outputs keep their unnamed-file atomicity). Anything that is
not ``scheme://...`` is a local path, so a file literally named ``a:b`` still works.

Backends are optional extras and imported only when a URL names them: a missing one
is a one-line :class:`MissingExtraError` that names the extra, never an ImportError.
Credentials and endpoints come from each backend's usual environment (``AWS_*``,
``AWS_ENDPOINT_URL`` for S3-compatible servers such as MinIO or moto,
``GOOGLE_APPLICATION_CREDENTIALS``, ``AZURE_STORAGE_*``, ``HF_TOKEN``).

A GCS emulator (``STORAGE_EMULATOR_HOST``, as Google's own clients read it) is reached
anonymously, as google-cloud-storage does, and with gcsfs's plain JSON-API filesystem:
its default one first asks the gRPC Storage Control API for each bucket's layout, which
emulators do not serve (a minute of retries per call), and probing for credentials would
query the GCE metadata server. Azure emulators (Azurite) need only their connection
string in ``AZURE_STORAGE_CONNECTION_STRING``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from pqml.storage.errors import MissingExtraError, StorageURLError

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")

# scheme -> (pqml extra, module that must import, fsspec protocol)
BACKENDS: dict[str, tuple[str, str, str]] = {
    "s3": ("s3", "s3fs", "s3"),
    "s3a": ("s3", "s3fs", "s3"),
    "gs": ("gcs", "gcsfs", "gs"),
    "gcs": ("gcs", "gcsfs", "gs"),
    "az": ("azure", "adlfs", "az"),
    "abfs": ("azure", "adlfs", "abfs"),
    "abfss": ("azure", "adlfs", "abfs"),
    "hf": ("hf", "huggingface_hub", "hf"),
    "memory": ("", "fsspec", "memory"),
}
"""The schemes pqml accepts. ``memory://`` needs only fsspec (tests, pipelines)."""

EXTRAS = {"s3": "s3fs", "gcs": "gcsfs", "azure": "adlfs", "hf": "huggingface_hub"}
"""Each storage extra and the package it installs (beside fsspec)."""


def is_url(target: str | os.PathLike[str] | None) -> bool:
    """True for ``scheme://…`` strings other than ``file://`` (those are local paths)."""
    if not isinstance(target, str):
        return False
    match = _URL.match(target)
    return bool(match) and match.group(1).lower() != "file"


def local_path(target: str | os.PathLike[str]) -> str:
    """A local path for ``target``: ``file:///x`` -> ``/x``; anything else unchanged."""
    text = os.fspath(target)
    if text.lower().startswith("file://"):
        return text[len("file://"):] or "/"
    return text


@dataclass(frozen=True)
class Location:
    """One object (or prefix) in a store: the fsspec filesystem and its path there."""

    url: str
    scheme: str
    path: str  # bucket/key, as fsspec names it
    fs: Any

    @property
    def bucket(self) -> str:
        return self.path.split("/", 1)[0]

    @property
    def key(self) -> str:
        return self.path.split("/", 1)[1] if "/" in self.path else ""

    def child(self, rel: str) -> Location:
        """The location ``rel`` (a ``/``-separated relative name) below this one."""
        base = self.url.rstrip("/")
        return Location(f"{base}/{rel}", self.scheme, f"{self.path.rstrip('/')}/{rel}", self.fs)


def scheme_of(url: str) -> str:
    match = _URL.match(url)
    if not match:
        raise StorageURLError(f"{url}: not a URL (expected scheme://bucket/key)")
    return match.group(1).lower()


def missing_extra(scheme: str, url: str) -> MissingExtraError:
    extra, module, _ = BACKENDS[scheme]
    if not extra:
        return MissingExtraError(f"{url}: fsspec is not installed (pip install 'pqml[s3]' "
                                 "or plain fsspec)")
    return MissingExtraError(f"{url}: the {scheme}:// backend ({module}) is not installed; "
                             f"install the '{extra}' extra: pip install 'pqml[{extra}]'")


def _filesystem(scheme: str, url: str, options: dict[str, Any]) -> Any:
    import importlib

    _, module, protocol = BACKENDS[scheme]
    try:
        importlib.import_module(module)
        import fsspec
    except ImportError:
        raise missing_extra(scheme, url) from None
    if protocol == "s3" and "endpoint_url" not in options and os.environ.get("AWS_ENDPOINT_URL"):
        # part of fsspec's instance-cache key: a changed endpoint gets its own client
        options = {**options, "endpoint_url": os.environ["AWS_ENDPOINT_URL"]}
    if protocol in ("az", "abfs") and "connection_string" not in options and \
            os.environ.get("AZURE_STORAGE_CONNECTION_STRING"):  # the cache key, as for s3
        options = {**options, "connection_string": os.environ["AZURE_STORAGE_CONNECTION_STRING"]}
    emulator = os.environ.get("STORAGE_EMULATOR_HOST", "")
    try:
        if protocol == "gs" and emulator not in ("", "default") and "endpoint_url" not in options:
            from gcsfs.core import GCSFileSystem  # the JSON-API one (see the module doc)

            if "://" not in emulator:
                emulator = f"http://{emulator}"
            return GCSFileSystem(**{"token": "anon", **options, "endpoint_url": emulator})
        return fsspec.filesystem(protocol, **options)
    except ImportError:
        raise missing_extra(scheme, url) from None
    except (TypeError, ValueError) as exc:
        raise StorageURLError(f"{url}: cannot set up the {scheme}:// backend: {exc}") from None


def locate(url: str, **options: Any) -> Location:
    """The :class:`Location` of ``url``; ``options`` go to the fsspec filesystem
    (``endpoint_url``, ``anon``, …). Unknown schemes, an empty bucket or a missing
    backend are one-line errors naming the URL."""
    scheme = scheme_of(url)
    if scheme not in BACKENDS:
        known = ", ".join(f"{s}://" for s in BACKENDS)
        raise StorageURLError(f"{url}: unknown storage scheme '{scheme}://' "
                              f"(pqml reads {known} and local paths)")
    rest = url[len(scheme) + 3:]
    if scheme != "memory" and (not rest or rest.startswith("/")):
        raise StorageURLError(f"{url}: no bucket or container name after {scheme}://")
    if any(part in (".", "..") for part in rest.split("/")):
        raise StorageURLError(f"{url}: '.' and '..' are not object names")
    fs = _filesystem(scheme, url, options)
    path = rest if scheme != "memory" else "/" + rest.lstrip("/")
    return Location(url, scheme, path, fs)


def display(target: str | os.PathLike[str]) -> str:
    """How messages name ``target`` (URLs as given, paths as strings)."""
    return os.fspath(target)

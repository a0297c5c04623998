"""Scanning objects (``s3://``, ``gs://``, ``az://``, ``hf://``, ``memory://`` URLs) as
local files are scanned: the same detectors over the same bytes, read by range requests.

:func:`scan_object` is :func:`pqml.scan.detect.scan_file` for a URL. It reads what the
local scanner reads and no more: the first 64 KiB to choose detectors, then a text file
whole only up to :data:`~pqml.scan.detect.MAX_TEXT`, and for an ML artifact what its
reader asks for (a pickle stream up to its 256 MiB cap, a zip's central directory and
members, a Parquet file's last 256 KiB) through a seekable reader over
:func:`pqml.storage.open_input` — never the object whole, never a temporary file.

Failures keep the local meaning where there is one: an object deleted or unreadable
(permission) between the listing and the read is a warning on that file, as an
unreadable local file is. Anything else from the store (network, throttling, a store
that fails mid-read) stops the scan with :class:`ScanStorageError`: a report silently
missing files would pass for a clean one. Scan errors exit with code 2 (1 is reserved
for ``--fail-on`` matches), so storage errors are re-raised as the scan's own.
"""

from __future__ import annotations

import contextlib
import io
import posixpath
import time
import urllib.parse
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from pqml.scan.errors import ScanError
from pqml.storage.errors import MissingExtraError, StorageError, StorageURLError
from pqml.storage.reader import InputFile, InputView

if TYPE_CHECKING:
    from pqml.scan.config import ScanConfig
    from pqml.scan.detect import FileResult
    from pqml.scan.runner import ScanResult
    from pqml.storage.listing import Info

MAX_CONFIG_BYTES = 1 << 20
"""A ``pqml.toml`` (``--config`` URL or the repository's own) larger than this is refused."""


class ScanStorageError(ScanError, StorageError):
    """A scanned URL could not be listed or read (no such object or prefix, an
    unreachable store, a listing or read failing part-way, an unusable URL). The scan
    stops: no partial report. Exit code 2, as every scan failure."""


class ScanMissingExtraError(ScanStorageError, MissingExtraError):
    """A scanned URL's storage backend is not installed; the message names the extra."""


def as_scan_error(exc: StorageError) -> ScanStorageError:
    """``exc`` as the scan's own error (same message), so it exits with code 2."""
    if isinstance(exc, ScanStorageError):
        return exc
    cls = ScanMissingExtraError if isinstance(exc, MissingExtraError) else ScanStorageError
    return cls(str(exc))


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Inside the block, storage errors are raised as :class:`ScanStorageError`."""
    try:
        yield
    except StorageError as exc:
        raise as_scan_error(exc) from None


def is_absent(exc: StorageError) -> bool:
    """Whether ``exc`` says the object is not there (rather than unreachable)."""
    return isinstance(exc.__context__, FileNotFoundError) or str(exc).endswith(
        ": no such object")


def _unreadable(exc: StorageError) -> bool:
    """Gone or not ours to read: a per-file warning, as for a local file."""
    return is_absent(exc) or isinstance(exc.__context__, PermissionError)


def stat_root(root: str) -> Info:
    """The object or prefix a scanned URL names; one line if there is neither."""
    from pqml.storage import listing

    try:
        return listing.stat(root)
    except StorageURLError:
        raise
    except StorageError as exc:
        if is_absent(exc):
            raise ScanStorageError(f"{root}: no such object or prefix") from None
        raise


def is_prefix(url: str) -> bool:
    """Whether ``url`` names a prefix (a "directory") rather than one object."""
    from pqml.storage import listing

    try:
        return listing.is_dir(url)
    except StorageError as exc:
        if is_absent(exc):
            return False
        raise as_scan_error(exc) from None


def base_of(root: str, prefix: bool) -> str:
    """The URL finding paths of ``root`` are relative to: the prefix, or an object's
    parent."""
    base = root.rstrip("/")
    return base if prefix else base.rsplit("/", 1)[0]


def join(base: str, rel: str) -> str:
    """``base`` (a URL) and a ``/``-separated relative name."""
    return f"{base.rstrip('/')}/{rel}"


def read_head(url: str, limit: int) -> bytes | None:
    """The first ``limit`` bytes of an object (None if it is gone or unreadable)."""
    from pqml.storage.reader import open_input

    try:
        with open_input(url) as raw:
            return raw.pread(limit, 0)
    except StorageError as exc:
        if _unreadable(exc):
            return None
        raise


def read_config(url: str, from_repository: bool) -> ScanConfig | None:
    """The ``pqml.toml`` at ``url`` (None if there is none): ``--config URL``, or a
    scanned prefix's own (then untrusted, as a local repository's)."""
    from pqml.scan import config as scan_config

    with storage_errors():
        data = read_head(url, MAX_CONFIG_BYTES + 1)
    if data is None:
        return None
    if len(data) > MAX_CONFIG_BYTES:
        raise ScanError(f"{url}: config file larger than {MAX_CONFIG_BYTES >> 10} KiB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ScanError(f"{url}: cannot read config ({exc})") from None
    cfg = scan_config.parse(text, url)
    cfg.from_repository = from_repository
    return cfg


# ---- one object -----------------------------------------------------------------------------


class _View(InputView):
    """A private read position over a shared object (see :class:`InputView`). Storage
    failures are recorded on ``sink`` before they propagate: detectors turn exceptions
    into "not inspected" warnings, and a store failing mid-read must fail the scan
    instead."""

    def __init__(self, raw: InputFile, sink: list[StorageError]) -> None:
        super().__init__(raw)
        self._sink = sink

    def pread(self, size: int, offset: int) -> bytes:
        try:
            return super().pread(size, offset)
        except StorageError as exc:
            self._sink.append(exc)
            raise


_VIEW_BUFFER = 1 << 20  # one range request per MiB read sequentially


class _ObjectPath:
    """What the artifact detectors take for a file: a path they ``open("rb")`` (each
    open a fresh buffered :class:`_View`), and at the same time a seekable binary file
    object for those that take one (``zipfile.ZipFile``, ``gzip`` / ``bz2`` / ``lzma``
    ``open``). Nothing is downloaded beyond what they read."""

    def __init__(self, url: str, raw: InputFile, sink: list[StorageError]) -> None:
        self.url = url
        self.name = url.rsplit("/", 1)[-1]
        self._raw, self._sink = raw, sink
        self._file = self.open("rb")

    def open(self, mode: str = "rb") -> io.BufferedReader:
        if mode != "rb":
            raise ValueError(f"{self.url}: objects are scanned read-only")
        return io.BufferedReader(_View(self._raw, self._sink), buffer_size=_VIEW_BUFFER)

    # -- file object face (the detectors never close a file object they were given) --
    def read(self, size: int | None = -1) -> bytes:
        return self._file.read(size)

    def readinto(self, buffer: Any) -> int:
        return self._file.readinto(buffer)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._file.seek(offset, whence)

    def tell(self) -> int:
        return self._file.tell()

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def __str__(self) -> str:
        return self.url


def scan_object(url: str, rel: str, size: int) -> FileResult:
    """:func:`pqml.scan.detect.scan_file` for an object: the same findings from the same
    bytes. Raises :class:`~pqml.storage.StorageError` when the store fails (see the
    module docstring); a detector failing on odd input costs the file's findings only."""
    from pqml.scan.detect import FileResult

    try:
        return _scan_object(url, rel, size)
    except StorageError as exc:
        if not _unreadable(exc):
            raise
        result = FileResult(rel)
        result.warnings.append(f"cannot read: {str(exc).removeprefix(url + ': ')}")
        return result
    except Exception as exc:
        result = FileResult(rel)
        result.warnings.append(f"not analysed ({type(exc).__name__}: {str(exc)[:160]})")
        return result


def _scan_object(url: str, rel: str, size: int) -> FileResult:
    from pqml.scan import detect
    from pqml.scan.files import artifacts
    from pqml.storage.reader import open_input

    result = detect.FileResult(rel)
    name = rel.rsplit("/", 1)[-1]
    low = name.lower()
    failures: list[StorageError] = []
    with open_input(url) as raw:
        head = raw.pread(artifacts.HEAD_SIZE, 0)
        if artifacts.is_candidate(name, head):
            _artifact(_ObjectPath(url, raw, failures), name, head, size, result)
            if failures:
                raise failures[0]
            return result
        if low.endswith(detect._DER_EXTS) and head[:1] == b"\x30":
            # the local scanner reads a DER file whole; a certificate is never near 8 MiB
            rest = raw.pread(detect.MAX_TEXT - len(head), len(head))
            detect._der_certificate(head + rest, result)
            return result
        if not detect._is_text(head):
            return result
        if size > detect.MAX_TEXT:
            result.warnings.append(f"text file over {detect.MAX_TEXT >> 20} MiB, skipped")
            return result
        data = head + raw.pread(detect.MAX_TEXT + 1 - len(head), len(head))
    if len(data) > detect.MAX_TEXT:  # grew past the cap since the listing
        result.warnings.append(f"text file over {detect.MAX_TEXT >> 20} MiB, skipped")
        return result
    text = data.decode("utf-8", errors="replace")
    budget = detect._Budget(time.monotonic(), detect.FILE_BUDGET)
    try:
        detect._text(text, rel, name, low, result, budget)
    except detect._OverBudget:
        detect._over_budget(result, budget)
    return result


def _artifact(path: _ObjectPath, name: str, head: bytes, size: int,
              result: FileResult) -> None:
    """:func:`pqml.scan.detect._artifact` over an object; then the Parquet key facts its
    detector could not read (it sizes the file with ``fstat``, which an object has not)."""
    from pqml.scan import detect

    detect._artifact(path, name, head, size, result)  # type: ignore[arg-type]
    found = result.findings[-1] if result.findings else None
    if found is None or found.kind != "artifact":
        return
    info = found.details["artifact"]
    if info.get("format") != "parquet" or "encryption" in info:
        return
    encryption = _parquet_encryption(path, head)
    if encryption is not None:
        from pqml.scan.files import artifacts

        # where the local detector puts it, so the reports' JSON is the same text
        ordered = {}
        for key, value in info.items():
            ordered[key] = value
            if key == "pickle_based":
                ordered["encryption"] = encryption
        info.clear()
        info.update(ordered)
        artifacts.apply_protection(found, [])


def _parquet_encryption(path: _ObjectPath, head: bytes) -> dict[str, Any] | None:
    """:func:`pqml.scan.files.parquet_keys.encryption_info` for an object: the last
    256 KiB by one range read, and the ``_KEY_MATERIAL_FOR_<name>.json`` object beside
    it if there is one."""
    from pqml.scan.files import parquet_keys as pk

    raw = path._raw
    blobs = [raw.pread(pk._TAIL, max(0, raw.size - pk._TAIL))]
    sidecar = join(path.url.rsplit("/", 1)[0], f"_KEY_MATERIAL_FOR_{path.name}.json")
    material = read_head(sidecar, pk._SIDECAR_MAX + 1)
    external = material is not None and len(material) <= pk._SIDECAR_MAX
    if external and material is not None:
        blobs.append(material)
    ids = sorted({int(m.group(1), 16) for blob in blobs for m in pk._WRAPPED.finditer(blob)})
    if not head.startswith(pk.ENCRYPTED_MAGIC) and not ids:
        return None
    return {"format": "parquet modular encryption (AES-GCM)", "armored": False,
            "stanzas": [f"pqml-parquet-v1 (HPKE 0x{i:04x})" for i in ids],
            "kems": [pk._kem_name(i) for i in ids] or ["unknown KMS key wrapping"],
            "header_complete": True,
            "key_material": "external" if external else "in file",
            "footer": "encrypted" if head.startswith(pk.ENCRYPTED_MAGIC) else "plaintext"}


# ---- reports ----------------------------------------------------------------------------------


def uri(url: str) -> str:
    """``url`` as a URI: its key percent-escaped as a local path's ``file:`` URI is."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://{urllib.parse.quote(rest, safe='/')}"


def sarif_document(result: ScanResult) -> dict[str, Any]:
    """:func:`pqml.scan.report.sarif.document`, with URL roots as URI bases (the
    report module resolves roots as local directories)."""
    from pqml.scan.report import sarif

    doc = sarif.document(result)
    url_roots = result.url_bases
    if not url_roots:
        return doc
    run = doc["runs"][0]
    bases = run["originalUriBaseIds"]
    if len(result.roots) == 1:
        bases["ROOT0"] = {"uri": uri(url_roots[result.roots[0]]) + "/"}
        return doc
    for f, item in zip(result.active, run["results"], strict=True):
        if f.root in url_roots:
            location = item["locations"][0]["physicalLocation"]["artifactLocation"]
            location.clear()
            location["uri"] = uri(posixpath.join(url_roots[f.root], f.path))
    return doc

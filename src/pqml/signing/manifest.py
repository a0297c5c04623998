"""Model manifests: hash a model's files at the hardware's speed and bind them in one digest.

A manifest maps every file name to its size and digests, in one of OMS's two serializations:

* ``files``: one digest per file. A file's SHA-256 is one sequential computation, so the
  work spreads across files only: a model that is one big file hashes on one core.
* ``shards``: one digest per ``shard_size`` slice (resource ``path:start:end``, algorithm
  ``sha256-sharded-<shard_size>``, empty files have no shard), so one big file hashes on
  every core and a loader can check just one file fast. model_signing 1.1.1's CLI cannot
  verify such bundles (see :mod:`pqml.formats.oms`), which is why ``auto`` picks ``files``
  whenever model_signing could verify the bundle at all (first signature ECDSA).

Hashing reads with ``os.preadv`` into one reused buffer per thread and hands memoryviews to
hashlib, which releases the GIL on large buffers, so N threads hash at N cores' speed
(DESIGN.md §5.2). BLAKE3 parallelizes inside each file by itself.

The **root digest** binds names, sizes and digests (OMS's subject digest hashes only the
digests, so renaming files keeps it); its byte layout is in docs/FORMAT.md and
:func:`root_digest`. It travels in the statement's predicate under the key ``pqml``, which
model_signing ignores (the v1.0 predicate tells verifiers to ignore unknown fields).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal, NoReturn

from pqml.formats import oms
from pqml.primitives.errors import PqmlError, UnknownAlgorithmError
from pqml.signing import model_tree
from pqml.signing.errors import FileChangedError, UnsafePathError

Method = Literal["files", "shards"]

# OMS hash_type names (what model_signing writes) and the registry entries behind them.
HASH_TYPES = {
    "sha256": "SHA-256",
    "sha384": "SHA-384",
    "sha512": "SHA-512",
    "sha3-256": "SHA3-256",
    "sha3-384": "SHA3-384",
    "blake3": "BLAKE3",
}
DEFAULT_SHARD_SIZE = 64 * 1024 * 1024
EXTENSION_KEY = "pqml"
EXTENSION_VERSION = 1
ROOT_DOMAIN = b"pqml.root-digest.v1\x00"

_BUFFER = 1 << 20  # 1 MiB: stays in L2 while hashlib reads it right after the copy
_BLAKE3_BUFFER = 8 << 20  # BLAKE3 spreads one update over cores only when it is large
_PARALLEL_MIN_BYTES = 4 << 20  # below this, threads cost more than they save
# More pieces than a signature bundle could record (each resource takes over 64 bytes of
# its at most 256 MiB): digest_model refuses a shard size that would need more.
MAX_PIECES = 1 << 22


def hash_type(name: str) -> str:
    """The OMS hash_type for a user-given name (``sha384``, ``SHA-384``, ``blake3``…)."""
    from pqml.primitives import registry

    key = name.strip().lower()
    if key in HASH_TYPES:
        return key
    entry = registry.get(name)
    for oms_name, reg_name in HASH_TYPES.items():
        if reg_name == entry.name:
            return oms_name
    raise UnknownAlgorithmError(
        f"{entry.name} cannot hash models (use one of: {', '.join(HASH_TYPES)})"
    )


def registry_name(htype: str) -> str:
    try:
        return HASH_TYPES[htype]
    except KeyError:
        raise UnknownAlgorithmError(
            f"hash type {htype!r} is not supported (supported: {', '.join(HASH_TYPES)})"
        ) from None


def new_hasher(htype: str) -> Any:
    from pqml.primitives import hashes

    return hashes.new(registry_name(htype))


def plan(size: int, method: str, shard_size: int | None) -> list[tuple[int, int]]:
    """The byte ranges one file is hashed in: model_signing's exact shard boundaries."""
    if method == "files":
        return [(0, size)]
    if not shard_size or shard_size <= 0:
        raise PqmlError("the shards method needs a positive shard size")
    if size == 0:
        return []  # model_signing gives an empty file no shard
    ends = [*range(shard_size, size, shard_size), size]
    starts = [0, *ends[:-1]]
    return list(zip(starts, ends, strict=True))


@dataclass(frozen=True)
class Piece:
    """One hashed byte range of a file (the whole file for the ``files`` method)."""

    start: int
    end: int
    digest: bytes


@dataclass(frozen=True)
class FileEntry:
    """A file's expected (or measured) size and digests. ``size`` is None only for a
    ``files`` bundle without pqml's size record (e.g. one model_signing wrote)."""

    name: str
    size: int | None
    pieces: tuple[Piece, ...]

    def fingerprint(self) -> tuple[bytes, ...]:
        """Content identity independent of the name: what a rename keeps."""
        return tuple(p.digest for p in self.pieces)

    def digest_hex(self) -> str:
        return ",".join(p.digest.hex() for p in self.pieces)


def sort_key(name: str) -> tuple[str, ...]:
    """model_signing's order: by path components ('a/b' sorts before 'a-b')."""
    return tuple(name.split("/"))


@dataclass(frozen=True)
class Manifest:
    """Digests of every file of a model under one serialization."""

    hash_type: str
    method: Method
    shard_size: int | None
    files: Mapping[str, FileEntry] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ordered = dict(sorted(self.files.items(), key=lambda kv: sort_key(kv[0])))
        object.__setattr__(self, "files", ordered)

    @property
    def digest_name(self) -> str:
        """The resource ``algorithm`` string OMS records."""
        if self.method == "shards":
            return f"{self.hash_type}-sharded-{self.shard_size}"
        return self.hash_type

    def resources(self) -> list[oms.Resource]:
        out = []
        for entry in self.files.values():
            for piece in entry.pieces:
                name = entry.name
                if self.method == "shards":
                    name = f"{name}:{piece.start}:{piece.end}"
                out.append(oms.Resource(name, piece.digest.hex(), self.digest_name))
        return out

    @property
    def complete(self) -> bool:
        return all(e.size is not None for e in self.files.values())

    def root_digest(self) -> str:
        """``<hash_type>:<hex>`` over names, sizes and digests (docs/FORMAT.md)."""
        return root_digest(self)

    def with_sizes(self, sizes: Mapping[str, int]) -> Manifest:
        """Fill unknown sizes (after the files were verified, their sizes are known)."""
        files = dict(self.files)
        for name, entry in self.files.items():
            if entry.size is None and name in sizes:
                size = sizes[name]
                pieces = tuple(Piece(0, size, p.digest) for p in entry.pieces)
                files[name] = FileEntry(name, size, pieces)
        return replace(self, files=files)

    def extension(self) -> dict[str, Any]:
        """The ``pqml`` predicate field: sizes of every file (empty ones included, which the
        ``shards`` method has no resource for) and the root digest."""
        return {
            "version": EXTENSION_VERSION,
            "root_digest": self.root_digest(),
            "sizes": {name: e.size for name, e in self.files.items()},
        }

    def to_statement(
        self, subject_name: str, *, allow_symlinks: bool, ignore_paths: Sequence[str]
    ) -> oms.Statement:
        serialization = oms.Serialization(
            method=self.method,
            hash_type=self.hash_type,
            allow_symlinks=allow_symlinks,
            ignore_paths=tuple(ignore_paths),
            shard_size=self.shard_size if self.method == "shards" else None,
        )
        statement = oms.build_statement(self.resources(), serialization, subject_name)
        return replace(statement, extensions={EXTENSION_KEY: self.extension()})

    def as_dict(self) -> dict[str, Any]:
        return {
            "hash_type": self.hash_type,
            "method": self.method,
            "shard_size": self.shard_size,
            "root_digest": self.root_digest() if self.complete else None,
            "subject_digest": oms.subject_digest(self.resources()),
            "files": [
                {
                    "name": model_tree.display(e.name),
                    "size": e.size,
                    "digest": e.pieces[0].digest.hex() if self.method == "files" else None,
                    "shards": [[p.start, p.end, p.digest.hex()] for p in e.pieces]
                    if self.method == "shards"
                    else None,
                }
                for e in self.files.values()
            ],
        }


def _u64(n: int) -> bytes:
    return n.to_bytes(8, "big")


def _lp(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def root_digest(manifest: Manifest) -> str:
    """H(domain ‖ lp(hash_type) ‖ lp(method) ‖ u64(shard_size) ‖ u64(n) ‖ files…), each file
    ``lp(name) ‖ u64(size) ‖ u64(pieces) ‖ (u64(start) ‖ u64(end) ‖ lp(digest))…`` in OMS
    order, with H the manifest's own hash; lp = 4-byte big-endian length prefix."""
    if not manifest.complete:
        raise PqmlError("root digest needs every file size (verify the files first)")
    h = new_hasher(manifest.hash_type)
    h.update(ROOT_DOMAIN)
    h.update(_lp(manifest.hash_type.encode("ascii")) + _lp(manifest.method.encode("ascii")))
    h.update(_u64(manifest.shard_size or 0) + _u64(len(manifest.files)))
    for entry in manifest.files.values():
        assert entry.size is not None
        h.update(_lp(entry.name.encode("utf-8")) + _u64(entry.size) + _u64(len(entry.pieces)))
        for piece in entry.pieces:
            h.update(_u64(piece.start) + _u64(piece.end) + _lp(piece.digest))
    return f"{manifest.hash_type}:{h.hexdigest()}"


# ---- reading a manifest back from a (verified) statement -----------------------------------


def from_statement(statement: oms.Statement) -> Manifest:
    """The manifest a statement signs, checked against pqml's ``pqml`` field when present.

    Call only on a statement whose signature verified. Raises BundleFormatError when the
    pqml field is malformed or disagrees with the resources (a signer bug or forgery).
    """
    ser = statement.serialization
    method: Method = "shards" if ser.method == "shards" else "files"
    grouped: dict[str, list[Piece]] = {}
    for res in statement.resources:
        digest = res.digest_bytes
        if method == "shards":
            path, _, rng = res.name.partition(":")
            start_s, _, end_s = rng.partition(":")
            grouped.setdefault(path, []).append(Piece(int(start_s), int(end_s), digest))
        else:
            grouped[res.name] = [Piece(0, -1, digest)]
    ext = statement.extensions.get(EXTENSION_KEY)
    sizes = _parse_extension(ext, method) if ext is not None else None
    files: dict[str, FileEntry] = {}
    for name, pieces in grouped.items():
        pieces.sort(key=lambda p: (p.start, p.end))
        size = sizes.get(name) if sizes is not None else None
        if method == "shards" and size is None and sizes is None:
            size = pieces[-1].end  # model_signing's shards end at the file size
        if method == "files":
            pieces = [Piece(0, size if size is not None else -1, pieces[0].digest)]
        files[name] = FileEntry(name, size, tuple(pieces))
    if sizes is not None:
        for name, size in sizes.items():
            if name in files:
                continue
            if method != "shards" or size != 0:
                _bad_extension(f"size recorded for {name!r}, which has no resource")
            files[name] = FileEntry(name, 0, ())
        missing = set(files) - set(sizes)
        if missing:
            _bad_extension(f"no size recorded for {sorted(missing)[0]!r}")
    manifest = Manifest(ser.hash_type, method, ser.shard_size, files)
    if sizes is not None:
        for entry in manifest.files.values():
            assert entry.size is not None
            expected = plan(entry.size, method, ser.shard_size)
            if [(p.start, p.end) for p in entry.pieces] != expected:
                _bad_extension(f"shards of {entry.name!r} do not match its recorded size")
        assert isinstance(ext, dict)
        if ser.hash_type in HASH_TYPES and manifest.root_digest() != ext.get("root_digest"):
            _bad_extension("root_digest does not match the resources and sizes")
    return manifest


def _bad_extension(problem: str) -> NoReturn:
    raise oms.BundleFormatError(f"OMS bundle: predicate.{EXTENSION_KEY}: {problem}")


def _parse_extension(ext: Any, method: str) -> dict[str, int]:
    if not isinstance(ext, dict):
        _bad_extension("expected a JSON object")
    unknown = set(ext) - {"version", "root_digest", "sizes"}
    if unknown:
        _bad_extension(f"unknown key {sorted(unknown)[0]!r}")
    if ext.get("version") != EXTENSION_VERSION or type(ext.get("version")) is not int:
        _bad_extension(f"unsupported version {ext.get('version')!r}")
    if not isinstance(ext.get("root_digest"), str):
        _bad_extension("root_digest must be a string")
    sizes = ext.get("sizes")
    if not isinstance(sizes, dict):
        _bad_extension("sizes must be a JSON object")
    out: dict[str, int] = {}
    for name, size in sizes.items():
        if type(size) is not int or size < 0:
            _bad_extension(f"size of {name!r} must be a non-negative integer")
        if name != model_tree.SINGLE_FILE:
            oms.check_relative_path(name, f"predicate.{EXTENSION_KEY}.sizes")
        out[name] = size
    if model_tree.SINGLE_FILE in out and len(out) != 1:
        _bad_extension("'.' (single-file model) mixed with other paths")
    return out


# ---- hashing -------------------------------------------------------------------------------




@dataclass(frozen=True)
class _Task:
    name: str
    file_size: int
    start: int
    end: int


_local = threading.local()


def _buffer(size: int) -> memoryview:
    buf = getattr(_local, "buf", None)
    if buf is None or len(buf) != size:
        buf = memoryview(bytearray(size))
        _local.buf = buf
    return buf


def _read_into(fd: int, view: memoryview, offset: int) -> int:
    if hasattr(os, "preadv"):
        return os.preadv(fd, [view], offset)
    data = os.pread(fd, len(view), offset)
    view[: len(data)] = data
    return len(data)


def _hash_task(root: Path, task: _Task, htype: str, allow_symlinks: bool) -> bytes:
    fd = model_tree.open_file(root, task.name, allow_symlinks=allow_symlinks)
    try:
        if os.fstat(fd).st_size != task.file_size:
            raise FileChangedError(f"{root}: {model_tree.display(task.name, root)} changed size")
        hasher = new_hasher(htype)
        view = _buffer(_BLAKE3_BUFFER if htype == "blake3" else _BUFFER)
        offset = task.start
        while offset < task.end:
            n = _read_into(fd, view[: min(len(view), task.end - offset)], offset)
            if n <= 0:
                raise FileChangedError(f"{root}: {model_tree.display(task.name, root)} shrank")
            hasher.update(view[:n])
            offset += n
        return bytes(hasher.digest())
    finally:
        os.close(fd)


def _run(jobs: Sequence[Callable[[], Any]], weights: Sequence[int], workers: int | None
         ) -> list[Any]:
    """Run jobs (largest first, so the tail is short) on a thread pool; exceptions are
    returned in place of results so one bad file does not hide the others."""
    results: list[Any] = [None] * len(jobs)

    def call(i: int) -> None:
        try:
            results[i] = jobs[i]()
        except (OSError, PqmlError) as exc:
            results[i] = exc

    order = sorted(range(len(jobs)), key=lambda i: -weights[i])
    threads = workers or os.cpu_count() or 1
    if len(jobs) <= 1 or threads <= 1 or sum(weights) < _PARALLEL_MIN_BYTES:
        for i in order:
            call(i)
        return results
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(threads, len(jobs))) as pool:
        list(pool.map(call, order))
    return results


TaskRunner = Callable[[Path, Sequence[_Task], str, bool], list[Any]]
_RUNNER: ContextVar[TaskRunner | None] = ContextVar("pqml_hash_runner", default=None)


@contextmanager
def hashing_on(runner: TaskRunner) -> Iterator[None]:
    """Inside the block, :func:`hash_files` (so signing and verifying) hands its tasks to
    ``runner(root, tasks, htype, allow_symlinks)``, which returns each task's digest or
    exception in order: how :mod:`pqml.distributed` hashes on a cluster while the
    manifest, the statement and the signatures stay this module's and the driver's."""
    token = _RUNNER.set(runner)
    try:
        yield
    finally:
        _RUNNER.reset(token)


def hash_files(
    root: Path,
    sizes: Mapping[str, int],
    *,
    htype: str,
    method: Method,
    shard_size: int | None,
    allow_symlinks: bool = False,
    workers: int | None = None,
) -> dict[str, FileEntry | Exception]:
    """Hash the named files (name -> size as listed) beneath ``root``, in parallel.

    A file that vanished, changed or turned into a link maps to its exception instead of
    an entry, so callers can report every file.
    """
    registry_name(htype)  # unsupported hash types fail before any file is read
    tasks = [
        _Task(name, size, start, end)
        for name, size in sizes.items()
        for start, end in plan(size, method, shard_size)
    ]
    if htype == "blake3":
        workers = 1  # BLAKE3 already spreads each file over every core
    runner = _RUNNER.get()
    if runner is not None:
        results = runner(root, tasks, htype, allow_symlinks)
    else:
        jobs = [partial(_hash_task, root, t, htype, allow_symlinks) for t in tasks]
        results = _run(jobs, [t.end - t.start for t in tasks], workers)
    out: dict[str, FileEntry | Exception] = {}
    pieces: dict[str, list[Piece]] = {name: [] for name in sizes}
    for task, result in zip(tasks, results, strict=True):
        if isinstance(result, Exception):
            out.setdefault(task.name, result)
        else:
            pieces[task.name].append(Piece(task.start, task.end, result))
    for name, size in sizes.items():
        if name not in out:
            out[name] = FileEntry(name, size, tuple(sorted(pieces[name], key=lambda p: p.start)))
    return out


def hash_buffer(
    name: str, data: bytes | memoryview, *, htype: str, method: Method,
    shard_size: int | None, workers: int | None = None,
) -> FileEntry:
    """Hash bytes already in memory exactly as :func:`hash_files` would hash that file."""
    view = memoryview(data)
    ranges = plan(len(view), method, shard_size)

    def one(start: int, end: int) -> bytes:
        hasher = new_hasher(htype)
        step = _BLAKE3_BUFFER if htype == "blake3" else 1 << 24
        for off in range(start, end, step):
            hasher.update(view[off : min(off + step, end)])
        return bytes(hasher.digest())

    jobs = [partial(one, s, e) for s, e in ranges]
    digests = _run(jobs, [e - s for s, e in ranges], 1 if htype == "blake3" else workers)
    for d in digests:
        if isinstance(d, Exception):
            raise d
    return FileEntry(
        name, len(view), tuple(Piece(s, e, d) for (s, e), d in zip(ranges, digests, strict=True))
    )


def hash_model(
    root: str | os.PathLike[str],
    *,
    htype: str = "sha256",
    method: Method = "files",
    shard_size: int | None = None,
    ignore_paths: Iterable[str] = (),
    allow_symlinks: bool = False,
    exclude: Iterable[str] = (),
    workers: int | None = None,
) -> tuple[Manifest, model_tree.Listing]:
    """List and hash a whole model; any unreadable or changing file is an error."""
    listing = model_tree.list_model(
        root, ignore_paths=ignore_paths, allow_symlinks=allow_symlinks, exclude=exclude
    )
    found = hash_listing(listing, htype=htype, method=method, shard_size=shard_size,
                         allow_symlinks=allow_symlinks, workers=workers)
    return found, listing


def hash_listing(
    listing: model_tree.Listing,
    *,
    htype: str = "sha256",
    method: Method = "files",
    shard_size: int | None = None,
    allow_symlinks: bool = False,
    workers: int | None = None,
) -> Manifest:
    """Hash every file of a listing; names a bundle cannot carry are refused first."""
    if method == "shards" and not shard_size:
        shard_size = DEFAULT_SHARD_SIZE
    for name in listing.files:
        if name == model_tree.SINGLE_FILE:
            continue
        model_tree.check_name(name, str(listing.root))
        if method == "shards" and ":" in name:
            raise UnsafePathError(
                f"{listing.root}: {model_tree.display(name)}: names with ':' cannot be signed "
                "with the shards method (its resources are 'path:start:end'); use files"
            )
    results = hash_files(
        listing.root, listing.files, htype=htype, method=method,
        shard_size=shard_size if method == "shards" else None,
        allow_symlinks=allow_symlinks, workers=workers,
    )
    files: dict[str, FileEntry] = {}
    for name, result in results.items():
        if isinstance(result, Exception):
            raise result
        files[name] = result
    return Manifest(htype, method, shard_size if method == "shards" else None, files)


def digest_model(
    model: str | os.PathLike[str],
    *,
    hash: str | None = None,
    method: Method | None = None,
    shard_size: int | None = None,
    ignore_paths: Iterable[str | os.PathLike[str]] | None = None,
    ignore_git_paths: bool = True,
    allow_symlinks: bool = False,
    workers: int | None = None,
    serialization: oms.Serialization | None = None,
    exclude: Iterable[str] = (),
) -> Manifest:
    """The manifest (and so the root digest) ``pqml sign`` would record for this model
    with the same options: the default signature file and git paths are skipped alike.

    With ``serialization`` (a bundle's, e.g. ``read_bundle(p).statement().serialization``)
    the hash, method, shard size and ignore paths not given here are the ones it records,
    so an unchanged model gives the root digest that bundle records. Otherwise they default
    to sha256 over whole files. ``exclude`` names files to leave out unrecorded (a bundle
    lying inside the model). A shard size that would cut the model into more shards than
    a bundle can hold is refused before any file is read.
    """
    root = Path(model)
    rec = serialization
    htype = hash_type(hash) if hash is not None else (rec.hash_type if rec else "sha256")
    registry_name(htype)
    chosen: Method = method or ("shards" if rec and rec.method == "shards" else "files")
    if chosen == "shards":
        shard_size = shard_size or (rec.shard_size if rec else None) or DEFAULT_SHARD_SIZE
    if ignore_paths is None and rec is not None:
        ignore = list(rec.ignore_paths) if root.is_dir() else []
    else:
        ignore = default_ignore_paths(root, ignore_paths or (), ignore_git_paths)
    listing = model_tree.list_model(root, ignore_paths=ignore, allow_symlinks=allow_symlinks,
                                    exclude=exclude)
    if chosen == "shards":
        assert shard_size is not None
        pieces = sum(-(-size // shard_size) for size in listing.files.values())
        if pieces > MAX_PIECES:
            raise PqmlError(
                f"{root}: a shard size of {shard_size} bytes cuts this model into {pieces} "
                f"shards, more than a signature bundle can hold ({MAX_PIECES}); "
                "use a larger shard size"
            )
    return hash_listing(listing, htype=htype, method=chosen, shard_size=shard_size,
                        allow_symlinks=allow_symlinks, workers=workers)


def default_ignore_paths(
    root: Path,
    ignore_paths: Iterable[str | os.PathLike[str]],
    ignore_git_paths: bool,
    signature: Path | None = None,
) -> list[str]:
    """Relative ignore names as ``pqml sign`` records them: the user's, git's (as
    model_signing does by default) and the signature file when it lies inside the model."""
    given = list(ignore_paths)
    if not root.is_dir():
        if given:
            raise PqmlError(f"{root}: ignore paths apply only to a model directory")
        return []
    names = {model_tree.normalize_relative(p, root) for p in given}
    if ignore_git_paths:
        names.update(model_tree.GIT_PATHS)
    sig = signature if signature is not None else root / "model.sig"
    base = os.path.realpath(root)
    target = os.path.realpath(sig)
    if target.startswith(base.rstrip(os.sep) + os.sep):
        names.add(os.path.relpath(target, base).replace(os.sep, "/"))
    return sorted(names)

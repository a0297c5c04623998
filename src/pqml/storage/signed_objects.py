"""``sign`` / ``verify`` / ``digest`` of a model held in object storage (a prefix of
objects, or one object), by URL.

The manifest, statement, DSSE envelope, certificate material and trust checks are the
signing package's own (:func:`~pqml.signing.signing.prepare_signers`,
:func:`~pqml.signing.signing.authenticate_bundle`, :mod:`pqml.signing.manifest`,
:mod:`pqml.signing.integrity`); only the two ends differ. The listing comes from
:func:`pqml.storage.walk` (object names under the prefix, sorted), and hashing goes
through :func:`~pqml.signing.manifest.hashing_on` with a runner that reads each piece by
range requests (8 MiB each, a few objects at once), so nothing is downloaded whole and
memory stays constant. An object whose size changed since the listing is a
FileChangedError, as for local files. The bundle is an object too (``PREFIX/model.sig``,
or ``OBJECT.sig``), written through :func:`pqml.storage.atomic_output` (never
half-written, never replaced without ``force``); it may also be a local path.

The options mean what they mean locally: ignore paths (model-relative names, or URLs
under the model), certificate-method bundles (``certificate``, ``certificate_chain``),
trust anchors and CRLs (local files: trust material is the verifier's, not the
store's), and partial verification (``files``: only those objects are looked up and
hashed, by range reads; nothing is listed). ``allow_symlinks`` is accepted and changes
nothing: an object store has no symbolic links (a key is an object, never a reference to
another), so there is nothing to follow or to refuse, and bundles record
``allow_symlinks: false``, which is what happened. Scripts that pass the flag for local
and remote trees alike keep working; no check is weakened.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import PurePosixPath
from typing import Any

from pqml.formats import oms
from pqml.primitives.errors import PqmlError
from pqml.signing import integrity, manifest, model_tree, signing
from pqml.signing.errors import FileChangedError, IntegrityError, UnsafePathError
from pqml.storage.errors import StorageError
from pqml.storage.listing import exists, stat, walk
from pqml.storage.reader import open_input
from pqml.storage.urls import is_url
from pqml.storage.writer import write_bytes

READ_SIZE = 8 * 1024 * 1024
THREADS = 4  # objects hashed at once: range requests are I/O, hashlib releases the GIL

PathLike = str | os.PathLike[str]


def _single(url: str) -> bool:
    info = stat(url)
    return not info.is_dir


def default_signature(url: str) -> str:
    """``URL/model.sig`` for a prefix, ``URL.sig`` beside a single object."""
    return url + ".sig" if _single(url) else url.rstrip("/") + "/model.sig"


def _relative_sig(url: str, sig: str) -> str | None:
    base = url.rstrip("/") + "/"
    return sig[len(base):] if is_url(sig) and sig.startswith(base) else None


def relative_name(url: str, item: PathLike) -> str:
    """A user-given name inside the model at ``url`` as a canonical model-relative name:
    a relative name as it is (``weights/a.bin``), or a URL under the model. The same
    rule as :func:`model_tree.normalize_relative` for local paths: no ``..``, nothing
    outside the model."""
    raw = os.fspath(item)
    if is_url(raw):
        base = url.rstrip("/") + "/"
        if not raw.startswith(base):
            raise UnsafePathError(f"{raw}: not inside the model {url}")
        raw = raw[len(base):]
    elif os.path.isabs(raw):
        raise UnsafePathError(f"{raw}: a local path is not inside the model {url} (give a "
                              "name relative to the model, or its URL)")
    return model_tree.normalize_relative(raw, url)  # type: ignore[arg-type]


def object_ignore_paths(url: str, ignore_paths: Iterable[PathLike], ignore_git_paths: bool,
                        sig: str, single: bool) -> list[str]:
    """Ignore names as ``sign`` records them, as :func:`manifest.default_ignore_paths` for
    a local tree: the user's, git's, and the bundle when it lies under the prefix."""
    given = list(ignore_paths)
    if single:
        if given:
            raise PqmlError(f"{url}: ignore paths apply only to a model directory (prefix)")
        return []
    names = {relative_name(url, p) for p in given}
    if ignore_git_paths:
        names.update(model_tree.GIT_PATHS)
    rel = _relative_sig(url, sig)
    if rel is not None:
        names.add(rel)
    return sorted(names)


def object_listing(url: str, *, ignore_paths: Iterable[str] = (),
                   exclude: Iterable[str] = ()) -> model_tree.Listing:
    """The model's objects (name -> size), as :func:`model_tree.list_model` lists files."""
    if _single(url):
        return model_tree.Listing(url, True, {model_tree.SINGLE_FILE: stat(url).size})  # type: ignore[arg-type]
    ignore, skip = tuple(ignore_paths), frozenset(exclude)
    files: dict[str, int] = {}
    ignored: set[str] = set()
    for info in walk(url):
        covering = next((p for p in ignore if model_tree.is_covered(info.rel, [p])), None)
        if covering is not None:
            ignored.add(covering)
            continue
        if info.rel not in skip:
            files[info.rel] = info.size
    return model_tree.Listing(url, False, files, tuple(sorted(ignored)))  # type: ignore[arg-type]


def _object_url(url: str, name: str, single: bool) -> str:
    return url if single else f"{url.rstrip('/')}/{name}"


def _runner(url: str, single: bool) -> Any:
    """A :data:`manifest.TaskRunner` hashing pieces of the objects under ``url``."""

    def one(task: Any, htype: str) -> bytes:
        with open_input(_object_url(url, task.name, single)) as src:
            if src.size != task.file_size:
                raise FileChangedError(f"{url}: {model_tree.display(task.name)} changed size")
            hasher = manifest.new_hasher(htype)
            offset = task.start
            while offset < task.end:
                data = src.pread(min(READ_SIZE, task.end - offset), offset)
                if not data:
                    raise FileChangedError(f"{url}: {model_tree.display(task.name)} shrank")
                hasher.update(data)
                offset += len(data)
            return bytes(hasher.digest())

    def run(_root: Any, tasks: Sequence[Any], htype: str, _links: bool) -> list[Any]:
        def guarded(task: Any) -> Any:
            try:
                return one(task, htype)
            except (OSError, PqmlError) as exc:
                return exc

        with ThreadPoolExecutor(max_workers=min(THREADS, max(1, len(tasks)))) as pool:
            return list(pool.map(guarded, tasks))

    return run


def _hash(listing: model_tree.Listing, url: str, **options: Any) -> manifest.Manifest:
    with manifest.hashing_on(_runner(url, listing.single_file)):
        return manifest.hash_listing(listing, **options)


def digest_object(url: str, *, hash: str | None = None, method: manifest.Method | None = None,
                  shard_size: int | None = None, signature: str | None = None,
                  ignore_paths: Iterable[PathLike] | None = None,
                  ignore_git_paths: bool = True, default_hash: str = "sha256",
                  default_method: manifest.Method = "files"
                  ) -> tuple[manifest.Manifest, bool]:
    """The manifest ``sign_object`` recorded (or would record): hashed as the bundle at
    ``signature`` (default :func:`default_signature`) says, where there is one, unless
    given here (``ignore_paths`` None or empty: the bundle's); else ``default_hash`` over
    ``default_method``, ignoring git's names and ``model.sig`` as ``sign`` would. Returns
    the manifest and whether a bundle's parameters were followed."""
    single = _single(url)
    sig = signature if signature is not None else default_signature(url)
    rec = _read_bundle(sig).statement().serialization if exists(sig) else None
    if rec is not None and rec.hash_type not in manifest.HASH_TYPES:
        raise PqmlError(f"{sig}: hash type {rec.hash_type!r} is not supported "
                        f"(supported: {', '.join(manifest.HASH_TYPES)})")
    htype = manifest.hash_type(hash or (rec.hash_type if rec else default_hash))
    chosen: manifest.Method = method or ("shards" if shard_size else None) or (
        ("shards" if rec.method == "shards" else "files") if rec else default_method)
    if chosen == "shards":
        shard_size = shard_size or (rec.shard_size if rec else None) or \
            manifest.DEFAULT_SHARD_SIZE
    given = list(ignore_paths or ())
    if not given and rec is not None:
        ignore = [] if single else list(rec.ignore_paths)
    else:  # as sign records them (its default bundle name included, as locally)
        default_sig = url.rstrip("/") + "/" + signing.SIGNATURE_NAME
        ignore = object_ignore_paths(url, given, ignore_git_paths, default_sig, single)
    rel = _relative_sig(url, sig)
    listing = object_listing(url, ignore_paths=ignore, exclude=[rel] if rel else [])
    found = _hash(listing, url, htype=htype, method=chosen,
                  shard_size=shard_size if chosen == "shards" else None)
    return found, rec is not None


def sign_object(url: str, keys: Sequence[Any], *, signature: str | None = None,
                profile: str = "default", hash: str | None = None,
                method: signing.MethodChoice = "auto", shard_size: int | None = None,
                ignore_paths: Iterable[PathLike] = (), ignore_git_paths: bool = True,
                passphrase: bytes | None = None, force: bool = False,
                certificate: PathLike | None = None,
                certificate_chain: Sequence[PathLike] = ()) -> signing.SignResult:
    """:func:`pqml.sign_model` for a prefix or object URL; the bundle goes to
    ``signature`` (path or URL; default :func:`default_signature`). Keys, certificate
    and hash are checked by :func:`signing.prepare_signers` before any object is read."""
    signers = signing.prepare_signers(keys, profile=profile, hash=hash, passphrase=passphrase,
                                      certificate=certificate,
                                      certificate_chain=certificate_chain)
    htype = signers.hash_type
    single = _single(url)
    sig = signature if signature is not None else default_signature(url)
    given = list(ignore_paths)
    ignore = object_ignore_paths(url, given, ignore_git_paths, sig, single)
    listing = object_listing(url, ignore_paths=ignore)
    chosen = signing._choose_method(method, htype, signers.first.algorithm, shard_size,
                                    listing.files)
    if chosen == "shards":
        shard_size = shard_size or manifest.DEFAULT_SHARD_SIZE
        if shard_size <= 0:
            raise PqmlError(f"shard size must be positive, got {shard_size}")
    if not force and exists(sig):  # before the hashing, which can take long
        from pqml._internal.errors import OutputExistsError

        raise OutputExistsError(f"{sig}: a signature bundle already exists; refusing to "
                                "overwrite it (use --force, or force=True, to re-sign)")
    found = _hash(listing, url, htype=htype, method=chosen,
                  shard_size=shard_size if chosen == "shards" else None)
    if not found.files:
        raise PqmlError(f"{url}: no objects to sign")
    warnings = signing._sign_warnings(url, signers.algorithms, htype, chosen,  # type: ignore[arg-type]
                                      [relative_name(url, p) for p in given], listing)
    name = PurePosixPath(url.rstrip("/")).name
    statement = found.to_statement(name, allow_symlinks=False, ignore_paths=ignore)
    write_bytes(sig, signers.bundle(statement).to_json(), force=force)
    return signing.SignResult(url, sig, found, tuple(signers.algorithms),  # type: ignore[arg-type]
                              signers.hints, tuple(ignore), tuple(warnings))


def _read_bundle(sig: str) -> oms.Bundle:
    try:
        size = stat(sig).size
    except (OSError, StorageError):
        raise PqmlError(f"{sig}: signature file does not exist") from None
    if size > signing.MAX_BUNDLE_SIZE:
        raise oms.BundleFormatError(f"{sig}: more than {signing.MAX_BUNDLE_SIZE} bytes is too "
                                    "large for a signature bundle")
    with open_input(sig) as f:
        data = f.pread(size, 0)
    try:
        return oms.parse_bundle(data)
    except oms.BundleFormatError as exc:
        raise oms.BundleFormatError(f"{sig}: {exc}") from None


def verify_object(url: str, trusted_keys: Iterable[Any] = (), *, signature: str | None = None,
                  certificate_chain: Iterable[PathLike] = (), policy: Any = None,
                  require_pq: bool = False, allow_unsigned_files: bool = False,
                  files: Iterable[PathLike] | None = None, expect_name: str | None = None,
                  expect_digest: str | None = None, crls: Iterable[PathLike] = ()
                  ) -> signing.VerificationResult:
    """:func:`pqml.verify_model` for a prefix or object URL: the bundle's signatures are
    checked first (:func:`signing.authenticate_bundle`: keys, certificate chains, CRLs,
    pins), then every signed object is hashed by range reads and compared; with
    ``files``, only those objects (model-relative names or URLs) are hashed."""
    trust = signing.build_trust(trusted_keys, certificate_chain, policy, require_pq,
                                expect_name=expect_name, expect_digest=expect_digest,
                                crls=crls)
    sig = signature if signature is not None else default_signature(url)
    auth = signing.authenticate_bundle(url, sig, _read_bundle(sig), trust)
    if files is not None:
        return _verify_named(url, auth, files)
    signed, statement = auth.manifest, auth.statement
    rel = _relative_sig(url, sig)
    listing = object_listing(url, ignore_paths=statement.serialization.ignore_paths,
                             exclude=[rel] if rel else [])
    signing.check_shape(url, auth, listing.single_file,
                        kinds=("a single object", "a prefix (directory)"))
    unsigned = [n for n in listing.files if n not in signed.files]
    if unsigned and not allow_unsigned_files:
        names = ", ".join(model_tree.display(n) for n in unsigned[:4])
        message = f"{url}: integrity check failed: unsigned objects: {names}"
        raise IntegrityError(message, report=auth.result(ok=False, error=message))
    kept = {n: s for n, s in listing.files.items() if n in signed.files}
    listing = model_tree.Listing(listing.root, listing.single_file, kept, listing.ignored)
    with manifest.hashing_on(_runner(url, listing.single_file)):
        report = integrity.compare(signed, listing)
    problems = report.failures(allow_unsigned_files=allow_unsigned_files)
    warnings = auth.warnings + tuple(f"unsigned object allowed: {model_tree.display(n)}"
                                     for n in unsigned)
    if problems:
        message = f"{url}: integrity check failed: {integrity.summarize(problems)}"
        raise IntegrityError(message, report=auth.result(ok=False, files=report.files,
                                                         warnings=warnings, error=message))
    return auth.result(files=report.files, warnings=warnings,
                       root_digest=signed.with_sizes(report.sizes).root_digest())


def _verify_named(url: str, auth: signing.Authenticated, files: Iterable[PathLike]
                  ) -> signing.VerificationResult:
    """Partial verification: each named object (every one covered by the signature) is
    looked up by its own name, its size compared, and only it hashed; nothing else is
    listed or read. A missing one is ``removed``, as locally."""
    signed = auth.manifest
    single = model_tree.SINGLE_FILE in signed.files
    items = [os.fspath(f) for f in files]
    relative = [f if single else relative_name(url, f) for f in items]
    names = list(dict.fromkeys(signing.requested_names(url, relative, signed)))  # type: ignore[arg-type]
    sizes = {}
    for name in names:
        target = _object_url(url, name, single)
        if exists(target):
            sizes[name] = stat(target).size
    wanted = replace(signed, files={n: signed.files[n] for n in names})
    listing = model_tree.Listing(url, single, sizes)  # type: ignore[arg-type]
    with manifest.hashing_on(_runner(url, single)):
        report = integrity.compare(wanted, listing)
    problems = report.failures()
    if problems:
        message = f"{url}: integrity check failed: {integrity.summarize(problems)}"
        raise IntegrityError(message, report=auth.result(
            ok=False, files=report.files, partial=True, error=message))
    return auth.result(files=report.files, partial=True)

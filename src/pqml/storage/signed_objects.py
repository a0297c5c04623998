"""``sign`` / ``verify`` / ``digest`` of a model held in object storage (a prefix of
objects, or one object), by URL.

The manifest, statement, DSSE envelope and signature checks are the signing package's own
(:mod:`pqml.signing.manifest`, :func:`~pqml.signing.signing.check_signatures`, …); only
the two ends differ. The listing comes from :func:`pqml.storage.walk` (object names
under the prefix, sorted), and hashing goes through
:func:`~pqml.signing.manifest.hashing_on` with a runner that reads each piece by range
requests (8 MiB each, a few objects at once), so nothing is downloaded whole and memory
stays constant. An object whose size changed since the listing is a FileChangedError, as
for local files. The bundle is an object too (``PREFIX/model.sig``, or ``OBJECT.sig``),
written through :func:`pqml.storage.atomic_output` (never half-written, never replaced
without ``force``); it may also be a local path.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath
from typing import Any

from pqml.formats import oms
from pqml.primitives.errors import PolicyError, PqmlError
from pqml.signing import integrity, manifest, model_tree, signing
from pqml.signing import policy as trust_policy
from pqml.signing.errors import (
    FileChangedError,
    IntegrityError,
    SignatureVerificationError,
    TrustPolicyError,
)
from pqml.storage.errors import StorageError
from pqml.storage.listing import stat, walk
from pqml.storage.reader import open_input
from pqml.storage.urls import is_url
from pqml.storage.writer import write_bytes

READ_SIZE = 8 * 1024 * 1024
THREADS = 4  # objects hashed at once: range requests are I/O, hashlib releases the GIL


def _single(url: str) -> bool:
    info = stat(url)
    return not info.is_dir


def default_signature(url: str) -> str:
    """``URL/model.sig`` for a prefix, ``URL.sig`` beside a single object."""
    return url + ".sig" if _single(url) else url.rstrip("/") + "/model.sig"


def _relative_sig(url: str, sig: str) -> str | None:
    base = url.rstrip("/") + "/"
    return sig[len(base):] if is_url(sig) and sig.startswith(base) else None


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


def _runner(url: str, single: bool) -> Any:
    """A :data:`manifest.TaskRunner` hashing pieces of the objects under ``url``."""
    base = url.rstrip("/")

    def one(task: Any, htype: str) -> bytes:
        target = url if single else f"{base}/{task.name}"
        with open_input(target) as src:
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


def _ignore_paths(url: str, sig: str, single: bool) -> list[str]:
    if single:
        return []
    names = set(model_tree.GIT_PATHS)
    rel = _relative_sig(url, sig)
    if rel is not None:
        names.add(rel)
    return sorted(names)


def digest_object(url: str, *, hash: str | None = None, method: manifest.Method | None = None,
                  shard_size: int | None = None, signature: str | None = None,
                  default_hash: str = "sha256", default_method: manifest.Method = "files"
                  ) -> tuple[manifest.Manifest, bool]:
    """The manifest ``sign_object`` recorded (or would record): hashed as the bundle at
    ``signature`` (default :func:`default_signature`) says, where there is one, unless
    given here; else ``default_hash`` over ``default_method``. Returns the manifest and
    whether a bundle's parameters were followed."""
    from pqml.storage.listing import exists

    single = _single(url)
    sig = signature if signature is not None else default_signature(url)
    rec = _read_bundle(sig).statement().serialization if exists(sig) else None
    htype = manifest.hash_type(hash or (rec.hash_type if rec else default_hash))
    chosen: manifest.Method = method or ("shards" if shard_size else None) or (
        ("shards" if rec.method == "shards" else "files") if rec else default_method)
    if chosen == "shards":
        shard_size = shard_size or (rec.shard_size if rec else None) or \
            manifest.DEFAULT_SHARD_SIZE
    ignore = list(rec.ignore_paths) if rec and not single else _ignore_paths(url, sig, single)
    rel = _relative_sig(url, sig)
    listing = object_listing(url, ignore_paths=ignore, exclude=[rel] if rel else [])
    found = _hash(listing, url, htype=htype, method=chosen,
                  shard_size=shard_size if chosen == "shards" else None)
    return found, rec is not None


def sign_object(url: str, keys: Sequence[Any], *, signature: str | None = None,
                profile: str = "default", hash: str | None = None,
                method: signing.MethodChoice = "auto", shard_size: int | None = None,
                passphrase: bytes | None = None, force: bool = False) -> signing.SignResult:
    """:func:`pqml.sign_model` for a prefix or object URL; the bundle goes to
    ``signature`` (path or URL; default :func:`default_signature`)."""
    from pqml.primitives import registry

    if not keys:
        raise PolicyError("at least one signing key is required (-k KEY)")
    prof = registry.profile(profile)
    signers = [signing._signing_key(k, passphrase) for k in keys]
    for key, where in signers:
        try:
            prof.check(registry.get(key.algorithm))
        except PolicyError as exc:
            raise PolicyError(f"{where}: {exc}") from None
    htype = manifest.hash_type(hash or prof.default("hash").name)
    prof.check(registry.get(manifest.registry_name(htype)))
    single = _single(url)
    sig = signature if signature is not None else default_signature(url)
    ignore = _ignore_paths(url, sig, single)
    listing = object_listing(url, ignore_paths=ignore)
    chosen = signing._choose_method(method, htype, signers[0][0].algorithm, shard_size,
                                    listing.files)
    if chosen == "shards":
        shard_size = shard_size or manifest.DEFAULT_SHARD_SIZE
    if not force:
        from pqml.storage.listing import exists

        if exists(sig):
            from pqml._internal.errors import OutputExistsError

            raise OutputExistsError(f"{sig}: a signature bundle already exists; refusing to "
                                    "overwrite it (use --force, or force=True, to re-sign)")
    found = _hash(listing, url, htype=htype, method=chosen,
                  shard_size=shard_size if chosen == "shards" else None)
    if not found.files:
        raise PqmlError(f"{url}: no objects to sign")
    name = PurePosixPath(url.rstrip("/")).name
    statement = found.to_statement(name, allow_symlinks=False, ignore_paths=ignore)
    payload = statement.to_payload()
    pae = oms.pae(oms.IN_TOTO_PAYLOAD_TYPE, payload)
    hints = [trust_policy.key_hint(k.public_key()) for k, _ in signers]
    sigs = tuple(oms.Signature(k.sign(pae), keyid=h)
                 for (k, _), h in zip(signers, hints, strict=True))
    bundle = oms.Bundle(oms.VerificationMaterial(oms.PublicKeyIdentifier(hint=hints[0])),
                        oms.Envelope(payload, sigs))
    write_bytes(sig, bundle.to_json(), force=force)
    return signing.SignResult(url, sig, found, tuple(k.algorithm for k, _ in signers),  # type: ignore[arg-type]
                              tuple(hints), tuple(ignore))


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
                  policy: Any = None, require_pq: bool = False,
                  allow_unsigned_files: bool = False, expect_name: str | None = None,
                  expect_digest: str | None = None) -> signing.VerificationResult:
    """:func:`pqml.verify_model` for a prefix or object URL: the bundle's signatures are
    checked first, then every signed object is hashed by range reads and compared."""
    trust = signing.build_trust(trusted_keys, (), policy, require_pq,
                                expect_name=expect_name, expect_digest=expect_digest)
    sig = signature if signature is not None else default_signature(url)
    bundle = _read_bundle(sig)
    checks, notes = signing.check_signatures(bundle, trust)
    outcome = trust_policy.evaluate(trust, checks)
    warnings = tuple(outcome.warnings + notes)
    if not outcome.ok:
        failures = outcome.signature_failures or outcome.policy_failures
        message = f"{sig}: {'; '.join(failures)}"
        report = signing.VerificationResult(False, url, sig, tuple(checks),  # type: ignore[arg-type]
                                            warnings=warnings, error=message)
        kind = SignatureVerificationError if outcome.signature_failures else TrustPolicyError
        raise kind(message, report=report)
    statement = bundle.statement()
    signed = manifest.from_statement(statement)
    auth = signing.Authenticated(url, sig, bundle, statement, signed, tuple(checks),  # type: ignore[arg-type]
                                 warnings)
    pins = signing._pin_failures(trust, statement, signed)
    if pins:
        message = f"{sig}: {'; '.join(pins)}"
        raise TrustPolicyError(message, report=auth.result(ok=False, error=message))
    rel = _relative_sig(url, sig)
    listing = object_listing(url, ignore_paths=statement.serialization.ignore_paths,
                             exclude=[rel] if rel else [])
    unsigned = [n for n in listing.files if n not in signed.files]
    if unsigned and not allow_unsigned_files:
        names = ", ".join(model_tree.display(n) for n in unsigned[:4])
        message = f"{url}: integrity check failed: unsigned objects: {names}"
        raise IntegrityError(message, report=auth.result(ok=False, error=message))
    files = {n: s for n, s in listing.files.items() if n in signed.files}
    listing = model_tree.Listing(listing.root, listing.single_file, files, listing.ignored)
    with manifest.hashing_on(_runner(url, listing.single_file)):
        report = integrity.compare(signed, listing)
    problems = report.failures(allow_unsigned_files=allow_unsigned_files)
    warnings += tuple(f"unsigned object allowed: {model_tree.display(n)}" for n in unsigned)
    if problems:
        message = f"{url}: integrity check failed: {integrity.summarize(problems)}"
        raise IntegrityError(message, report=auth.result(ok=False, files=report.files,
                                                         warnings=warnings, error=message))
    return auth.result(files=report.files, warnings=warnings,
                       root_digest=signed.with_sizes(report.sizes).root_digest())


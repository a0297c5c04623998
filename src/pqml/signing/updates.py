"""Over-the-air model updates: verify a whole new version, then swap it in with one rename.

An update directory holds every version a device keeps, and one symlink says which one is
in service; a service loads ``DIR/current`` and never sees anything else::

    DIR/current  -> versions/3        replaced by one rename(2): old or new, never a mix
    DIR/previous -> versions/2        what ``rollback`` returns to
    DIR/versions/3/… model.sig        each version keeps the bundle it was verified with
    DIR/versions/.staging-….pqml-tmp  an update being unpacked and verified
    DIR/.update.lock                  flock: one update or rollback at a time

:func:`apply_update` copies (or unpacks) the package into a staging directory inside
``DIR`` (same filesystem, so the later renames are atomic), flushes it to disk, verifies
the *staged copy* — the bytes that will be served, not the source they came from — with
:func:`pqml.signing.edge_verify.verify_model`, and only then renames it to
``versions/N``, points ``previous`` at the version in service and finally ``current`` at
the new one. A failure at any step, or SIGKILL between any two, leaves ``current`` on the
old, complete version: before the last rename nothing it points to has changed, and the
rename itself is atomic. Leftovers (a staging directory, an unreferenced version) are
removed by the next update, under the lock.

The model's name is pinned: the first update's bundle names it (or ``name`` does), and
every later bundle must sign the same name, so an update made for another model is
refused before any of its files is hashed.

Trust is what ``pqml verify`` trusts: release keys (``trusted_keys``), and for bundles
signed with a CA-issued certificate the CA's certificates (``certificate_chain``) and its
revocation lists (``crls``). The chain is checked by the same code as ``pqml verify``
(:mod:`pqml.signing.certificate_bundles`: valid at the signing time, code-signing usage,
not revoked by any CRL given), so a fleet provisioned with a CA root needs no release key.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pqml._internal.output_file import TEMP_SUFFIX
from pqml.primitives.errors import PqmlError
from pqml.signing import edge_verify, model_tree, signing
from pqml.signing.errors import UpdateError, UpdateInProgressError, VerificationError
from pqml.signing.policy import KeySource, TrustedKey
from pqml.signing.verify_options import VerifyOptions

CURRENT = "current"
PREVIOUS = "previous"
VERSIONS = "versions"
LOCK = ".update.lock"
REPLACED = "replaced"  # root digests of versions an update took out of service
MAX_REPLACED_BYTES = 1 << 20
STAGING_PREFIX = ".staging-"
BUNDLE_NAME = signing.SIGNATURE_NAME
MAX_ARCHIVE_MEMBERS = 100_000
DEFAULT_MAX_BYTES = 1 << 40  # 1 TiB unpacked: bounds a decompression bomb, not a model
_VERSION = re.compile(r"[0-9]{1,9}")

# Called with a step name between the steps of an update (tests pause there and SIGKILL
# the process); None in normal use.
stage_hook: Callable[[str], None] | None = None


@dataclass(frozen=True)
class VersionInfo:
    """One installed version, as its bundle records it (signatures not re-checked)."""

    version: int
    path: Path
    name: str | None
    root_digest: str | None

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "path": str(self.path), "name": self.name,
                "root_digest": self.root_digest}


@dataclass(frozen=True)
class UpdateStatus:
    directory: Path
    current: VersionInfo | None
    previous: VersionInfo | None
    versions: tuple[int, ...]
    leftovers: tuple[str, ...]  # staging directories or versions nothing points to

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "current": self.current.as_dict() if self.current else None,
            "previous": self.previous.as_dict() if self.previous else None,
            "versions": list(self.versions),
            "leftovers": list(self.leftovers),
        }


@dataclass(frozen=True)
class UpdateResult:
    directory: Path
    changed: bool  # False: this version was already in service
    current: VersionInfo
    previous: VersionInfo | None
    report: edge_verify.EdgeReport | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "changed": self.changed,
            "current": self.current.as_dict(),
            "previous": self.previous.as_dict() if self.previous else None,
            "verification": self.report.as_dict() if self.report else None,
        }


# ---- reading the directory -----------------------------------------------------------------


def _stage(step: str) -> None:
    if stage_hook is not None:
        stage_hook(step)


def _link_version(directory: Path, link: str) -> int | None:
    """The version ``DIR/link`` points to; None if there is no such link."""
    path = directory / link
    try:
        target = os.readlink(path)
    except FileNotFoundError:
        return None
    except OSError:
        raise UpdateError(f"{path}: not a symlink made by pqml update (refusing to touch "
                          "it)") from None
    head, _, tail = target.partition("/")
    if head != VERSIONS or not _VERSION.fullmatch(tail):
        raise UpdateError(f"{path}: points to {target!r}, not to {VERSIONS}/N (refusing to "
                          "touch it)")
    return int(tail)


def _versions(directory: Path) -> list[int]:
    try:
        names = os.listdir(directory / VERSIONS)
    except FileNotFoundError:
        return []
    return sorted(int(n) for n in names if _VERSION.fullmatch(n))


def _info(directory: Path, version: int | None) -> VersionInfo | None:
    if version is None:
        return None
    path = directory / VERSIONS / str(version)
    name = digest = None
    try:
        bundle = signing.read_bundle(path / BUNDLE_NAME)
        statement = bundle.statement()
        from pqml.signing import manifest

        found = manifest.from_statement(statement)
        name = statement.subject_name
        digest = found.root_digest() if found.complete else None
    except (PqmlError, OSError):
        pass  # status shows what it can; apply and rollback verify before relying on it
    return VersionInfo(version, path, name, digest)


def _check_directory(directory: Path) -> None:
    if not directory.exists():
        return
    if not directory.is_dir() or directory.is_symlink():
        raise UpdateError(f"{directory}: not a directory")
    foreign = sorted(set(os.listdir(directory)) - {CURRENT, PREVIOUS, VERSIONS, LOCK,
                                                          REPLACED})
    if foreign and not os.path.lexists(directory / CURRENT):
        raise UpdateError(f"{directory}: not an update directory (it holds "
                          f"{foreign[0]!r}); give a new or empty directory")


def status(directory: str | os.PathLike[str]) -> UpdateStatus:
    """What ``DIR`` serves, what rollback would return to, and leftovers of interrupted
    updates. Reads only; bundles are parsed, not verified."""
    root = Path(directory)
    if not root.is_dir():
        raise UpdateError(f"{root}: no such update directory")
    _check_directory(root)
    cur, prev = _link_version(root, CURRENT), _link_version(root, PREVIOUS)
    versions = _versions(root)
    leftovers = [n for n in _listdir(root / VERSIONS) if n.startswith(STAGING_PREFIX)]
    leftovers += [str(v) for v in versions if v not in (cur, prev)]
    return UpdateStatus(root, _info(root, cur), _info(root, prev), tuple(versions),
                        tuple(leftovers))


def _listdir(path: Path) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


# ---- the lock and durable renames -----------------------------------------------------------


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """flock on ``DIR/.update.lock``; the kernel drops it when the holder dies (SIGKILL
    included), so a killed update never blocks the next one."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UpdateInProgressError(f"{directory}: another update or rollback is in "
                                        "progress") from None
        yield
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(root: Path) -> None:
    """Flush every staged file and directory, so a power loss after the switch cannot
    leave ``current`` pointing at files the disk never received."""
    for dirpath, _, filenames in os.walk(root):
        for name in filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                continue
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(dirpath))


def _point(directory: Path, link: str, version: int) -> None:
    """Make ``DIR/link`` point to ``versions/version`` with one atomic rename."""
    temp = directory / f".{link}.{os.urandom(4).hex()}{TEMP_SUFFIX}"
    os.symlink(f"{VERSIONS}/{version}", temp)
    _stage(f"{link}-link")
    try:
        os.replace(temp, directory / link)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    _fsync_dir(directory)


def _clean(directory: Path, *, unreferenced: bool) -> None:
    """Remove staging directories (the lock is held: nobody is writing them), temporary
    links, and with ``unreferenced`` every version neither link points to."""
    for name in _listdir(directory):
        if name.endswith(TEMP_SUFFIX) and name.startswith("."):
            with contextlib.suppress(OSError):
                os.unlink(directory / name)
    keep = {_link_version(directory, CURRENT), _link_version(directory, PREVIOUS)}
    for name in _listdir(directory / VERSIONS):
        stale = name.startswith(STAGING_PREFIX) or (
            unreferenced and _VERSION.fullmatch(name) and int(name) not in keep)
        if stale:
            shutil.rmtree(directory / VERSIONS / name, ignore_errors=True)


# ---- replayed old versions -----------------------------------------------------------------


def _replaced(directory: Path) -> set[str]:
    """Root digests of versions that an update replaced: a signed old version stays
    validly signed forever, so only this record stops an attacker replaying it."""
    path = directory / REPLACED
    try:
        data = model_tree.read_regular(path, MAX_REPLACED_BYTES, "update history")
    except FileNotFoundError:
        return set()
    if len(data) > MAX_REPLACED_BYTES:
        raise UpdateError(f"{path}: more than {MAX_REPLACED_BYTES} bytes of history")
    return {line.strip() for line in data.decode("ascii", "replace").splitlines()}


def _record_replaced(directory: Path, digest: str) -> None:
    """Appended (and flushed) before the switch: if the switch never happens, the version
    still in service was recorded, which costs nothing (re-applying it is 'already
    serving', rollback does not consult the record)."""
    fd = os.open(directory / REPLACED, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC,
                 0o644)
    try:
        os.write(fd, f"{digest}\n".encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- staging ---------------------------------------------------------------------------------


def _is_archive(path: Path) -> bool:
    import tarfile

    return path.is_file() and tarfile.is_tarfile(path)


def _copy_file(src: str, dst: str) -> str:
    out = shutil.copy2(src, dst)
    _stage("copying")
    return out


def _copy_tree(package: Path, dest: Path) -> None:
    try:
        shutil.copytree(package, dest, symlinks=True,  # links copied as links: refused later
                        copy_function=_copy_file)
    except (OSError, shutil.Error) as exc:
        detail = exc.args[0][0][2] if isinstance(exc, shutil.Error) and exc.args and \
            isinstance(exc.args[0], list) and exc.args[0] else exc
        raise UpdateError(f"{package}: cannot copy the update: {detail}") from None


def _unpack(archive: Path, dest: Path, max_bytes: int) -> Path:
    """Extract ``archive`` into ``dest`` with tarfile's ``data`` filter (no absolute or
    ``..`` names, no devices, no links leaving the tree), after checking its member count
    and unpacked size; returns the model root (the single top directory, if that is all
    the archive holds)."""
    import tarfile

    try:
        with tarfile.open(archive, "r:*") as tar:
            total, members = 0, []
            for member in tar:
                members.append(member)
                total += max(member.size, 0)
                if len(members) > MAX_ARCHIVE_MEMBERS:
                    raise UpdateError(f"{archive}: more than {MAX_ARCHIVE_MEMBERS} entries")
                if total > max_bytes:
                    raise UpdateError(f"{archive}: unpacks to more than {max_bytes} bytes")
            tar.extractall(dest, members=members, filter="data")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise UpdateError(f"{archive}: cannot unpack the update: {exc}") from None
    entries = os.listdir(dest)
    if len(entries) == 1 and (dest / entries[0]).is_dir() \
            and not (dest / entries[0]).is_symlink():
        return dest / entries[0]
    return dest


def _stage_package(package: Path, signature: Path | None, staging: Path,
                   max_bytes: int) -> Path:
    """The package's model, in ``staging``, with its bundle at ``model.sig``."""
    if package.is_dir():
        model = staging / "model"
        _copy_tree(package, model)
    elif _is_archive(package):
        unpacked = staging / "unpacked"
        unpacked.mkdir()
        model = _unpack(package, unpacked, max_bytes)
    elif package.exists():
        raise UpdateError(f"{package}: not a directory or a tar archive")
    else:
        raise UpdateError(f"{package}: no such update")
    _stage("copied")
    bundle = model / BUNDLE_NAME
    if signature is not None:
        signing.read_bundle(signature)  # bounded and parsed: a bundle, not any file
        data = model_tree.read_regular(signature, signing.MAX_BUNDLE_SIZE, "signature bundle")
        if os.path.lexists(bundle):
            os.unlink(bundle)
        bundle.write_bytes(data)
    elif not bundle.is_file() or bundle.is_symlink():
        raise UpdateError(f"{package}: no {BUNDLE_NAME} in the update (pass --signature "
                          "BUNDLE)")
    return model


def _rename_error(exc: VerificationError, staged: Path, package: Path,
                  signature: Path | None) -> VerificationError:
    """The same error, naming what the user gave instead of the staging directory."""
    shown = str(signature) if signature is not None else f"{package}: {BUNDLE_NAME}"
    message = str(exc).replace(str(staged / BUNDLE_NAME), shown).replace(str(staged),
                                                                         str(package))
    return type(exc)(message, report=exc.report)


# ---- trust and verification ---------------------------------------------------------------


PathArg = str | os.PathLike[str]


@dataclass(frozen=True)
class _Trust:
    keys: list[KeySource | TrustedKey]
    certificate_chain: tuple[Path, ...]
    crls: tuple[Path, ...]


def _trust(trusted_keys: Iterable[KeySource | TrustedKey],
           certificate_chain: Iterable[PathArg] | PathArg | None,
           crls: Iterable[PathArg] | PathArg | None) -> _Trust:
    """The trust an update is verified against, checked before ``DIR`` is touched: paths
    normalised as :class:`VerifyOptions` does (a single path is a one-file list), at
    least one key or anchor, CRLs only with anchors (a CRL cannot revoke a bare key, so
    accepting one there would silently skip the revocation check it asks for), and every
    trust file a regular file."""
    opts = VerifyOptions(certificate_chain=certificate_chain, crls=crls)
    keys = list(trusted_keys)
    if not keys and not opts.certificate_chain:
        raise UpdateError("no trusted key: give the release public key (-k) or the CA's "
                          "certificates (--certificate-chain)")
    if opts.crls and not opts.certificate_chain:
        raise UpdateError("a CRL (--crl) needs the certificate chain it belongs to "
                          "(--certificate-chain)")
    for path in (*opts.certificate_chain, *opts.crls):
        try:
            regular = stat.S_ISREG(os.stat(path).st_mode)
        except OSError as exc:
            raise UpdateError(f"{path}: {exc.strerror or exc}") from None
        if not regular:
            raise UpdateError(f"{path}: not a regular file")
    return _Trust(keys, opts.certificate_chain, opts.crls)


def _verify(model: Path, trust: _Trust, *, expect_name: str | None,
            require_pq: bool) -> edge_verify.EdgeReport:
    """The edge verification of ``model`` (one hashing thread, every file signed, no
    symlink followed), certificate bundles checked against the anchors and CRLs."""
    return edge_verify.verify_model(model, model / BUNDLE_NAME, trust.keys,
                                    expect_name=expect_name, require_pq=require_pq,
                                    certificate_chain=trust.certificate_chain,
                                    crls=trust.crls)


# ---- apply and rollback ------------------------------------------------------------------


def apply_update(
    package: str | os.PathLike[str],
    directory: str | os.PathLike[str],
    trusted_keys: Iterable[KeySource | TrustedKey] = (),
    *,
    certificate_chain: Iterable[PathArg] | PathArg | None = (),
    crls: Iterable[PathArg] | PathArg | None = (),
    signature: str | os.PathLike[str] | None = None,
    name: str | None = None,
    require_pq: bool = False,
    allow_downgrade: bool = False,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> UpdateResult:
    """Verify ``package`` (a model directory or tar archive holding ``model.sig``, or with
    a detached ``signature``) against ``trusted_keys`` and/or ``certificate_chain`` (trust
    anchors for certificate bundles, with ``crls`` checked as ``pqml verify --crl`` does)
    and make it ``DIR/current``.

    The bundle must sign the model name in service (or ``name``, for the first version).
    On any failure the staged copy is removed and ``DIR/current`` is untouched; the
    version that was in service becomes ``DIR/previous``. Installing the version already
    in service changes nothing (``changed`` False). A version that an earlier update
    replaced is refused unless ``allow_downgrade`` (a replayed old update is validly
    signed; :func:`rollback` is the way back).
    """
    root = Path(directory)
    src = Path(package)
    sig = Path(signature) if signature is not None else None
    trust = _trust(trusted_keys, certificate_chain, crls)
    _check_directory(root)
    with _locked(root):
        _clean(root, unreferenced=False)
        cur = _link_version(root, CURRENT)
        cur_info = _info(root, cur)
        expected = name
        if cur_info is not None:
            if cur_info.name is None:  # fail closed: without it any model's update would do
                raise UpdateError(f"{cur_info.path}: its {BUNDLE_NAME} cannot be read, so the "
                                  "model name in service is unknown")
            if name is not None and name != cur_info.name:
                raise UpdateError(f"{root}: serves model {cur_info.name!r}, not {name!r}")
            expected = cur_info.name
        (root / VERSIONS).mkdir(exist_ok=True)
        staging = root / VERSIONS / f"{STAGING_PREFIX}{os.urandom(6).hex()}{TEMP_SUFFIX}"
        staging.mkdir(mode=0o700)
        _stage("staging")
        try:
            model = _stage_package(src, sig, staging, max_bytes)
            _fsync_tree(model)
            _stage("flushed")
            try:
                report = _verify(model, trust, expect_name=expected, require_pq=require_pq)
            except VerificationError as exc:
                raise _rename_error(exc, model, src, sig) from None
            _stage("verified")
            if cur_info is not None and report.root_digest is not None \
                    and report.root_digest == cur_info.root_digest:
                return UpdateResult(root, False, cur_info, _info(root, _link_version(
                    root, PREVIOUS)), report)
            if not allow_downgrade and report.root_digest in _replaced(root):
                raise UpdateError(
                    f"{src}: version {report.root_digest} was replaced by a later update; "
                    "refusing an old version (use rollback, or --allow-downgrade)")
            version = max([*_versions(root), 0]) + 1
            os.chmod(model, 0o755)
            final = root / VERSIONS / str(version)
            os.rename(model, final)
            report = replace(report, model=final, signature=final / BUNDLE_NAME)
            _fsync_dir(root / VERSIONS)
            _stage("renamed")
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        if cur_info is not None and cur_info.root_digest is not None:
            _record_replaced(root, cur_info.root_digest)
        if cur is not None:
            _point(root, PREVIOUS, cur)  # first: the version in service stays reachable
            _stage("previous")
        _point(root, CURRENT, version)
        _stage("switched")
        _clean(root, unreferenced=True)
        return UpdateResult(root, True, _info(root, version), cur_info, report)


def rollback(
    directory: str | os.PathLike[str],
    trusted_keys: Iterable[KeySource | TrustedKey] = (),
    *,
    certificate_chain: Iterable[PathArg] | PathArg | None = (),
    crls: Iterable[PathArg] | PathArg | None = (),
    require_pq: bool = False,
) -> UpdateResult:
    """Put ``DIR/previous`` back in service after verifying it again (its files may have
    changed on disk since it was installed); the version it replaces becomes previous, so
    a second rollback undoes the first. Trust as for :func:`apply_update`: a version whose
    signing certificate a CRL now revokes is not put back."""
    root = Path(directory)
    trust = _trust(trusted_keys, certificate_chain, crls)
    if not root.is_dir():
        raise UpdateError(f"{root}: no such update directory")
    _check_directory(root)
    with _locked(root):
        cur, prev = _link_version(root, CURRENT), _link_version(root, PREVIOUS)
        if prev is None or prev == cur or not (root / VERSIONS / str(prev)).is_dir():
            raise UpdateError(f"{root}: no previous version to roll back to")
        cur_info = _info(root, cur)
        path = root / VERSIONS / str(prev)
        report = _verify(path, trust, require_pq=require_pq,
                         expect_name=cur_info.name if cur_info is not None else None)
        _point(root, CURRENT, prev)
        _stage("switched")
        if cur is not None:
            _point(root, PREVIOUS, cur)
        return UpdateResult(root, True, _info(root, prev), cur_info, report)


def served_path(directory: str | os.PathLike[str]) -> Path:
    """``DIR/current`` resolved once: a service opens files under the returned path, so an
    update during a load cannot mix files of two versions."""
    root = Path(directory)
    version = _link_version(root, CURRENT)
    if version is None:
        raise UpdateError(f"{root}: no version installed")
    path = root / VERSIONS / str(version)
    if not stat.S_ISDIR(os.lstat(path).st_mode):
        raise UpdateError(f"{path}: missing")
    return path

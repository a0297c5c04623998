"""``pqml rekey``: change who can decrypt a pqml/v1 or age file without touching its payload.

The file key is unwrapped with one of the given identities; the new header holds the
kept stanzas (byte for byte), new stanzas for the added recipients, and a new MAC under the
same file key.

In place, when the file is a pqml/v1 file with a header area (docs/FORMAT.md) that the new
header fits: slot 1, then slot 0, each written through an ``O_DSYNC`` descriptor, so it is
on disk before the next write starts (and only its own range is flushed, not the dirty
pages of a freshly encrypted file); if slot 0 was not the one that opened, it is first
restored from slot 1. At every instant one slot holds a complete header, old or new, so a
crash leaves a file that opens with the old or the new recipients. This is the one place
pqml modifies an input in place (DESIGN.md §6): a copy costs O(file size) on filesystems
without reflinks (ext4: 1.9 s for 2 GiB), two slot writes cost milliseconds.

Otherwise (age, pqml/v1 without an area, a header that outgrew its area, a file we may not
write) the payload bytes are copied unchanged (``os.copy_file_range``: in-kernel, and a
reflink on filesystems that share extents) into a temporary file beside the original,
synced, which replaces it only when complete; the file's mode is kept. pqml/v1 files from
64 MiB get a header area in the new file (larger, if the header outgrew the old one), so
the next rekey is in place. Both paths hold an exclusive ``flock`` on the file, so a second
rekey at the same time fails at once instead of silently undoing the first.

Several files (:func:`rekey_many`, ``pqml rekey`` with many FILEs): every file is checked
first (opened with the identities, the recipients to remove found, the new header built)
and none is changed if one fails; with ``skip_missing`` the files without a stanza for a
recipient to remove are skipped instead. Then each planned header is written, file after
file, each as above, after checking that its header is still the one checked. That cannot
be atomic across files: if a write fails (a full disk, a file changed since the check) the
run stops there, and the per-file outcomes say which files were changed and which not.

Removing a recipient needs its stanza to be found without its private key. pqml/v1
stanzas carry a key id, so ``remove`` takes public keys. age stanzas do not name their
recipient: an age stanza can be removed only when the caller passes the matching identity
(it is found by unwrapping), or by ``reset`` (drop every stanza, keep only the added
recipients). Adding a quantum-vulnerable recipient needs ``allow_classical``; existing
classical stanzas are kept (rekeying is how they get migrated away) and reported.

Two honest verbs. The default is a *rewrap*: the header changes, the file key and the
payload do not. A removed recipient who ever unwrapped the file key (decrypted the file
once) can keep it and still decrypt this very file after the rewrap, and any copy they
hold; a rewrap only stops a holder who never opened the file. ``new_file_key=True``
(``--new-file-key``) is *file-key rotation*: the payload is decrypted and re-encrypted
under a fresh file key, streaming in constant memory into an unnamed output that
replaces the file only when complete (the old file is intact until then, also after
SIGKILL), so a removed recipient cannot decrypt the new version, whatever they kept
(copies they already hold still open, as with any tool). Every stanza kept then needs its
recipient's public key, since the new file key must be wrapped to it: pqml/v1 stanzas
name their key id, matched against the identities given, ``keep`` keys, the added
recipients and ``find_public`` (the CLI asks the keyring); age stanzas name no
recipient, so only those an identity given opens can be kept. A passphrase stanza is
kept when the passphrase is given. The result says which guarantee the caller got
(:attr:`RekeyResult.removed_may_still_decrypt`).

``drop`` (``--drop-revoked``: :func:`revoked_keys` asks the keyring) removes the stanzas
of revoked or compromised keys: pqml/v1 stanzas by key id, age stanzas by unwrapping with
the key's private key (an age stanza names no recipient; a revoked key still opens old
files, so the keyring keeps it). A file with none of them is skipped, not an error (by
:func:`rekey_many`; :func:`rekey` of that one file says so with a RekeyError).

Objects (URLs) take every option above with the same checks and guarantees
(:mod:`pqml.storage.encrypted_objects`); with no in-place write on an object store, each
is rewritten as a new version that appears only when complete (S3: a multipart upload
completed with ``If-Match`` on the version that was checked, aborted on any failure).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pqml._internal.errors import OutputPathError
from pqml._internal.output_file import atomic_output
from pqml._internal.text import plural
from pqml.encryption import encrypted_formats as fmts
from pqml.encryption.encrypt import named
from pqml.encryption.encryption_keys import resolve_identities, resolve_recipients
from pqml.encryption.errors import RekeyError, RekeyManyError
from pqml.formats.age._io import Source
from pqml.formats.age.header import Header, Stanza, make_header
from pqml.formats.pqml_v1.header_area import Located
from pqml.primitives.errors import PqmlError
from pqml.storage.urls import is_url


@dataclass
class RekeyResult:
    file: str
    format: str
    armored: bool
    stanzas_before: int
    stanzas_after: int
    added: list[dict[str, Any]] = field(default_factory=list)
    removed: int = 0
    header_size_before: int = 0
    header_size_after: int = 0
    payload_size: int = 0
    quantum_vulnerable_stanzas: int = 0
    in_place: bool = False  # header slots rewritten in place (else: copied and renamed)
    header_area: int | None = None  # slot size S after the rekey; None: no header area
    file_key_rotated: bool = False  # payload re-encrypted under a fresh file key
    # After removing recipients: True for a rewrap (a removed holder who kept the file key
    # can still decrypt this file), False after file-key rotation; None if none was removed.
    removed_may_still_decrypt: bool | None = None
    dropped: list[str] = field(default_factory=list)  # key ids dropped as revoked

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "guarantee": self.guarantee}

    @property
    def guarantee(self) -> str | None:
        """One sentence saying what removing recipients achieved, or None."""
        if self.removed_may_still_decrypt is None:
            return None
        if self.removed_may_still_decrypt:
            return REWRAP_GUARANTEE
        return NEW_FILE_KEY_GUARANTEE


Status = Literal["changed", "skipped", "failed", "unchanged"]


@dataclass
class RekeyOutcome:
    """What a rekey of several files did to one of them: ``changed`` (``result`` says
    how), ``skipped`` (a recipient to remove has no stanza, with ``skip_missing``),
    ``failed`` (its check or its write failed; ``error`` is the exception) or
    ``unchanged`` (fine, but not changed because another file failed). ``reason`` says
    why, for every status but ``changed``."""

    path: str
    status: Status
    reason: str | None = None
    result: RekeyResult | None = None
    error: Exception | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` record: path, status, reason and, when changed, the result."""
        record: dict[str, Any] = {"path": self.path, "status": self.status,
                                  "reason": self.reason}
        if self.result is not None:
            record.update((k, v) for k, v in self.result.to_dict().items() if k != "file")
        return record


REWRAP_GUARANTEE = (
    "the header was rewrapped, the file key is unchanged: a removed recipient who already "
    "had the file key can still decrypt copies they hold, and this rewrapped file too if "
    "they kept the file key (use --new-file-key to re-encrypt under a fresh file key)")
NEW_FILE_KEY_GUARANTEE = (
    "the payload was re-encrypted under a fresh file key: the removed recipients can no "
    "longer decrypt this file's new version (copies they already hold still open)")

PublicKeyFinder = Callable[[str], Any]
"""``find(key_id)``: the public key of a pqml/v1 key id, or None (e.g. the keyring's)."""


@dataclass(frozen=True)
class DropKey:
    """A key whose stanzas are to go (``--drop-revoked``): its pqml/v1 key id and stanza
    type, its state, and its private key (or None) to find its age stanzas by unwrapping."""

    key_id: str
    state: str
    stanza_type: str | None = None
    private_key: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class _Job:
    """The change asked for, the same for every file."""

    adds: list[Any]
    removes: list[Any]
    reset: bool
    allow_classical: bool
    skip_missing: bool = False
    new_file_key: bool = False
    keep: list[Any] = field(default_factory=list)  # public keys of recipients to keep
    find_public: PublicKeyFinder | None = None
    drop: tuple[DropKey, ...] | None = None  # None: no --drop-revoked


@dataclass
class _Plan:
    """One file's checked rekey: all that writing it needs, computed before any write."""

    path: Path | str  # a str is an object's URL
    detected: fmts.Detected
    located: Located  # the header that opened (its slot too) and where the payload starts
    file_size: int
    stanzas_before: int
    stanzas: list[Stanza] = field(default_factory=list)
    added: list[dict[str, Any]] = field(default_factory=list)
    new_header: Header | None = None
    area: int | None = None
    removed: int = 0
    skip: str | None = None  # why the file is skipped (skip_missing)
    new_recipients: list[Any] = field(default_factory=list)  # new file key: every recipient
    dropped: list[str] = field(default_factory=list)
    version: str | None = None  # an object's version tag (ETag) when it was checked


_NO_COPY_FILE_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF}
_READ_ONLY = {errno.EACCES, errno.EPERM, errno.EROFS}
LOCKED = ("another rekey is changing this file right now (it holds the file's lock); run "
          "this one again when it has finished")


def _copy_range(src: Any, dst: Any, offset: int, size: int) -> None:
    """Append ``size`` bytes of ``src`` from ``offset`` to ``dst``: in the kernel where
    possible (a reflink on filesystems that share extents), else through a buffer."""
    src_fd, dst_fd = src.fileno(), dst.fileno()
    done = 0
    while done < size:
        try:
            n = os.copy_file_range(src_fd, dst_fd, size - done, offset + done)
        except OSError as exc:
            if exc.errno in _NO_COPY_FILE_RANGE:
                break
            raise OutputPathError(f"{getattr(dst, 'target', 'output')}: cannot write: "
                                  f"{exc.strerror or exc} (no output was left)") from None
        if n <= 0:
            break
        done += n
    src.seek(offset + done)
    remaining = size - done
    while remaining:
        data = src.read(min(remaining, 4 * 1024 * 1024))
        if not data:
            raise RekeyError("file is truncated (it changed during the rekey)")
        dst.write(data)
        remaining -= len(data)


def _removal_stanzas(fmt: str, stanzas: Sequence[Stanza], removes: Sequence[Any],
                     identities: Sequence[Any], path: Path) -> tuple[set[int], str | None]:
    """Indexes of the recipient stanzas to drop, one or more per recipient to remove, and
    why not if a recipient to remove has no stanza (skippable with ``skip_missing``)."""
    drop: set[int] = set()
    if fmt == "pqml":
        from pqml.formats.pqml_v1 import recipients as conv

        for value in removes:
            rec = conv.recipient_for(value)
            kid = getattr(rec, "key_id", None)
            stype = getattr(getattr(rec, "kem_type", None), "stanza_type", None)
            hits = {i for i, s in enumerate(stanzas)
                    if kid is not None and s.type == stype and s.args[:1] == (kid,)}
            if not hits:
                return drop, (f"{path}: no stanza for the recipient to remove "
                              f"({stype} key id {kid})")
            drop |= hits
        return drop, None
    from pqml.formats.age import recipients as conv_age

    for value in removes:
        rec = conv_age.recipient_for(value)
        public = getattr(rec, "public_key", None)
        matching = [i for i in identities
                    if getattr(getattr(i, "private_key", None), "public_key", None) is not None
                    and i.private_key.public_key() == public]
        if not matching:
            raise RekeyError(
                f"{path}: age stanzas do not name their recipient, so this one can only be "
                "removed if its identity is also given with -i, or with --reset"
            )
        hits = {k for k, s in enumerate(stanzas)
                for ident in matching if ident.unwrap([s]) is not None}
        if not hits:
            return drop, f"{path}: no stanza for the recipient to remove"
        drop |= hits
    return drop, None


def _resolve_job(identities: Iterable[Any], add: Iterable[Any], remove: Iterable[Any],
                 reset: bool, allow_classical: bool, skip_missing: bool, where: str,
                 **more: Any) -> tuple[list[Any], _Job]:
    ids_in = resolve_identities(identities)
    keep = resolve_recipients(more.pop("keep", ()))
    drop = more.pop("drop", None)
    job = _Job(resolve_recipients(add), resolve_recipients(remove), reset, allow_classical,
               skip_missing, keep=keep, drop=None if drop is None else tuple(drop), **more)
    if not (job.adds or job.removes or reset or job.new_file_key or job.drop is not None):
        raise RekeyError(f"{where}nothing to do (give --add and/or --remove)")
    return ids_in, job


def rekey(path: str | os.PathLike[str], identities: Iterable[Any], *,
          add: Iterable[Any] = (), remove: Iterable[Any] = (), reset: bool = False,
          allow_classical: bool = False, new_file_key: bool = False,
          keep: Iterable[Any] = (), find_public: PublicKeyFinder | None = None,
          drop: Iterable[DropKey] | None = None) -> RekeyResult:
    """Rewrite the header of the pqml/v1 or age file ``path``: add recipients, remove
    recipients, or (``reset``) replace them all by ``add``. The payload is unchanged,
    unless ``new_file_key``: then it is re-encrypted under a fresh file key (see the
    module docstring; ``keep`` and ``find_public`` give the public keys of the
    recipients kept). ``drop``: keys whose stanzas go (:func:`revoked_keys`).
    Several files: :func:`rekey_many`, which checks them all before changing any."""
    if is_url(path):  # an object: rewritten as a new object (no in-place header area)
        from pqml.storage.encrypted_objects import rekey_object

        return rekey_object(str(path), identities, add=add, remove=remove, reset=reset,
                            allow_classical=allow_classical, new_file_key=new_file_key,
                            keep=keep, find_public=find_public, drop=drop)
    path = Path(path)
    ids_in, job = _resolve_job(identities, add, remove, reset, allow_classical, False,
                               f"{path}: ", new_file_key=new_file_key, keep=keep,
                               find_public=find_public, drop=drop)
    try:
        return _rekey(path, ids_in, job)
    except PqmlError as exc:
        raise named(exc, path) from None


def rekey_many(paths: Iterable[str | os.PathLike[str]], identities: Iterable[Any], *,
               add: Iterable[Any] = (), remove: Iterable[Any] = (), reset: bool = False,
               allow_classical: bool = False, skip_missing: bool = False,
               new_file_key: bool = False, keep: Iterable[Any] = (),
               find_public: PublicKeyFinder | None = None,
               drop: Iterable[DropKey] | None = None) -> list[RekeyOutcome]:
    """:func:`rekey` for several files, checking every file before changing any.

    If a file fails its check, no file is changed; with ``skip_missing``, a file where a
    recipient to remove has no stanza is skipped instead (and reported). Then the files
    are written one after the other; that is not atomic across files: if a write fails,
    the run stops there. Returns one :class:`RekeyOutcome` per file, in order; raises
    :class:`RekeyManyError` (its ``outcomes`` say what happened to each file) when a file
    failed, and RekeyError before touching any file for a request that cannot work.
    ``new_file_key``, ``keep``, ``find_public``, ``drop``: as for :func:`rekey`; a file
    without a stanza to ``drop`` is skipped."""
    # objects (URLs) are checked and written alike (pqml.storage.encrypted_objects)
    files: list[Path | str] = [p if is_url(p) else Path(p) for p in paths]  # type: ignore[misc]
    if not files:
        raise RekeyError("no files to rekey")
    _refuse_duplicates(files)
    ids_in, job = _resolve_job(identities, add, remove, reset, allow_classical,
                               skip_missing, "", new_file_key=new_file_key, keep=keep,
                               find_public=find_public, drop=drop)
    checked = _check_all(files, ids_in, job)
    failed = [c for c in checked if isinstance(c, Exception)]
    if failed:
        first = str(failed[0])
        outcomes = [_failed(p, c) if isinstance(c, Exception) else
                    RekeyOutcome(str(p), "skipped", _reason(c.skip, p)) if c.skip else
                    RekeyOutcome(str(p), "unchanged",
                                 "checked, but no file was changed because "
                                 f"{plural(len(failed), 'file')} failed the check")
                    for p, c in zip(files, checked, strict=True)]
        message = first if len(files) == 1 else (
            f"{len(failed)} of {len(files)} files cannot be rekeyed, so no file was "
            f"changed: {first}")
        raise RekeyManyError(message, outcomes)
    return _apply_all([c for c in checked if isinstance(c, _Plan)])


def _refuse_duplicates(files: list[Path | str]) -> None:
    """The same file twice would fail at its second write, after the first changed it."""
    seen: dict[Any, Path | str] = {}
    for path in files:
        if isinstance(path, str):  # an object URL
            key: Any = path
        else:
            try:
                st = path.stat()
                key = (st.st_dev, st.st_ino)
            except OSError:
                key = os.path.abspath(path)  # reported by its check
        if key in seen:
            raise RekeyError(f"{path}: given twice (also as {seen[key]}); nothing was changed")
        seen[key] = path


def _reason(text: str | None, path: Path | str) -> str | None:
    """A message without the file name in front (the outcome names the file)."""
    return None if text is None else text.removeprefix(f"{path}: ")


def _failed(path: Path | str, exc: Exception) -> RekeyOutcome:
    return RekeyOutcome(str(path), "failed", _reason(str(exc), path), error=exc)


def _as_error(exc: Exception, path: Path | str) -> PqmlError:
    """A PqmlError naming ``path`` for any failure of one file (OSError included)."""
    if isinstance(exc, PqmlError):
        return named(exc, path)
    if isinstance(exc, OSError):
        return named(RekeyError(exc.strerror or str(exc)), path)
    raise exc


def _check_all(files: list[Path | str], ids_in: list[Any], job: _Job
               ) -> list[_Plan | PqmlError]:
    """Every file's plan, or the error that rules it out; no file is written. A URL (a
    ``str``) is an object, checked by :func:`pqml.storage.encrypted_objects.check_object`."""
    checked: list[_Plan | PqmlError] = []
    for path in files:
        try:
            if isinstance(path, str):
                from pqml.storage.encrypted_objects import check_object

                checked.append(check_object(path, ids_in, job))
                continue
            with _open_locked(path) as (raw, _writable):
                checked.append(_plan(path, raw, ids_in, job)[0])
        except (PqmlError, OSError) as exc:
            checked.append(_as_error(exc, path))
    return checked


def _apply_all(plans: list[_Plan]) -> list[RekeyOutcome]:
    """Write the plans in order; at the first failure, stop and report every file."""
    outcomes: list[RekeyOutcome] = []
    for i, plan in enumerate(plans):
        if plan.skip:
            outcomes.append(RekeyOutcome(str(plan.path), "skipped",
                                         _reason(plan.skip, plan.path)))
            continue
        try:
            if isinstance(plan.path, str):  # an object: rewritten as a new object
                from pqml.storage.encrypted_objects import apply_object

                result = apply_object(plan)
            else:
                with _open_locked(plan.path) as (raw, writable):
                    source = _check_unchanged(plan, raw)
                    result = _apply(plan, raw, writable, source)
        except (PqmlError, OSError) as exc:
            error = _as_error(exc, plan.path)
            outcomes.append(_failed(plan.path, error))
            rest = plans[i + 1:]
            outcomes += [RekeyOutcome(str(p.path), "skipped", _reason(p.skip, p.path))
                         if p.skip else
                         RekeyOutcome(str(p.path), "unchanged",
                                      f"not reached: the rekey stopped at {plan.path}")
                         for p in rest]
            if len(plans) == 1:
                raise RekeyManyError(str(error), outcomes) from None
            changed = sum(1 for o in outcomes if o.status == "changed")
            not_reached = sum(1 for p in rest if not p.skip)
            raise RekeyManyError(
                f"{error}; the rekey stopped there: {plural(changed, 'file')} "
                f"{'was' if changed == 1 else 'were'} changed before it, {not_reached} "
                f"{'was' if not_reached == 1 else 'were'} not reached (a rekey of several "
                "files is not atomic across files)", outcomes) from None
        outcomes.append(RekeyOutcome(str(plan.path), "changed", result=result))
    return outcomes


@contextlib.contextmanager
def _open_locked(path: Path) -> Iterator[tuple[Any, bool]]:
    """``path`` open for reading and, when allowed, for in-place writes (``O_DSYNC``: a
    write is durable when it returns), under an exclusive lock taken without waiting."""
    writable = True
    # O_NONBLOCK: opening a FIFO read-only would wait for a writer forever; a regular file
    # ignores the flag, anything else is refused below.
    try:
        fd = os.open(path, os.O_RDWR | os.O_DSYNC | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno not in _READ_ONLY:
            raise
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)  # copy path may work
        writable = False
    with os.fdopen(fd, "rb", buffering=0) as f:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RekeyError(LOCKED) from None
        st, now = os.fstat(fd), os.stat(path)
        if (st.st_dev, st.st_ino) != (now.st_dev, now.st_ino):
            raise RekeyError("the file was replaced while the rekey opened it; run it again")
        if not stat.S_ISREG(st.st_mode):
            raise RekeyError("not a regular file")
        yield f, writable


def _rekey(path: Path, ids_in: list[Any], job: _Job) -> RekeyResult:
    with _open_locked(path) as (raw, writable):
        plan, source = _plan(path, raw, ids_in, job)
        if plan.skip:  # one file asked for: nothing to do is worth saying (no --skip-missing)
            raise RekeyError(plan.skip)
        return _apply(plan, raw, writable, source)


def _size(raw: Any) -> int:
    """The size of an open file, or of an object (its reader knows it)."""
    return raw.size if hasattr(raw, "size") else os.fstat(raw.fileno()).st_size


def _plan(path: Path | str, raw: Any, ids_in: list[Any], job: _Job) -> tuple[_Plan, Source]:
    """Unwrap the file key and build the new header (or find why not); no write. The
    returned source is at the payload."""
    probe = Source(raw)
    detected = fmts.detect(probe.peek(64))
    fmt = detected.format
    source = fmts.unarmored(detected, probe)
    identities = fmts.prepare_identities(fmt, ids_in)
    located = fmts.open_header(fmt, source, identities)
    header, file_key = located.header, located.file_key
    assert file_key is not None
    current = fmts.recipient_stanzas(fmt, header)
    plan = _Plan(path, detected, located, _size(raw), len(current))
    drop, missing = _removal_stanzas(fmt, current, job.removes, identities, path)
    if missing is not None:
        if not job.skip_missing:
            raise RekeyError(missing)
        plan.skip = missing
        return plan, source
    if job.drop is not None:
        revoked, plan.dropped = _revoked_stanzas(fmt, current, job.drop)
        if not revoked and not (job.adds or job.removes or job.reset or job.new_file_key):
            plan.skip = f"{path}: no stanza of a revoked or compromised key"
            return plan, source
        drop |= revoked
    kept = [] if job.reset else [s for i, s in enumerate(current) if i not in drop]
    new_objs, described = (fmts.prepare_recipients(fmt, job.adds,
                           allow_classical=job.allow_classical) if job.adds else ([], []))
    present = {(s.type, s.args[:1]) for s in kept}
    stanzas: list[Stanza] = list(kept)
    fresh: list[Any] = []
    for obj, desc in zip(new_objs, described, strict=True):
        kid = desc.get("key_id")
        if kid is not None and (desc["type"], (kid,)) in present:
            continue  # already a recipient
        fresh.append(obj)
        if not job.new_file_key:
            stanzas.extend(obj.wrap(file_key))
        plan.added.append(desc)
    if not kept and not fresh:
        raise RekeyError("no recipient would be left: add one with --add")
    plan.removed = len(current) - len(kept)
    if job.new_file_key:
        plan.new_recipients = [*_carry_over(fmt, kept, ids_in, identities, job, path),
                               *fresh]
        fmts.prepare_recipients(fmt, plan.new_recipients, allow_classical=True)  # checked now
        return plan, source
    plan.stanzas = stanzas
    payload_size = plan.file_size - located.payload_offset
    # an armored file is text, never rewritten in place: no new header area for it
    plan.new_header = _new_header(fmt, header, file_key, stanzas,
                                  0 if detected.armored else payload_size)
    plan.area = _area_size(fmt, plan.new_header)
    return plan, source


def _check_unchanged(plan: _Plan, raw: Any) -> Source:
    """The reopened file's source at the payload, after checking that the file is still
    the one planned (same format, header, payload offset and size): another writer
    between the check and the write would otherwise be silently undone."""
    probe = Source(raw)
    detected = fmts.detect(probe.peek(64))
    source = fmts.unarmored(detected, probe)
    now, then = fmts.open_header(detected.format, source), plan.located
    if (detected != plan.detected or now.header.marshal() != then.header.marshal()
            or (now.payload_offset, now.area_size) != (then.payload_offset, then.area_size)
            or (then.slot is not None and now.slot != then.slot)
            or _size(raw) != plan.file_size):
        raise RekeyError("the file changed since it was checked (another program wrote it); "
                         "it was not rekeyed: run the rekey again")
    return source


def _apply(plan: _Plan, raw: Any, writable: bool, source: Source) -> RekeyResult:
    """Write a plan's header: in place into the header area, else by copy and rename;
    or, for a new file key, the whole file re-encrypted (:func:`_reencrypt`)."""
    if plan.new_recipients:
        return _reencrypt(plan, raw, source)
    fmt, located, new_header = plan.detected.format, plan.located, plan.new_header
    assert new_header is not None
    payload_size = plan.file_size - located.payload_offset
    in_place = (writable and not plan.detected.armored and located.area_size is not None
                and plan.area == located.area_size)
    if in_place:
        _write_in_place(raw.fileno(), located, new_header)
    else:
        label = fmts.armor_label(fmt) if plan.detected.armored else None
        mode = os.fstat(raw.fileno()).st_mode & 0o7777
        # the file a symlink names, as in place: replacing the link would leave the real
        # file (a cache blob) opening with the old recipients
        payload_size = _replace(Path(os.path.realpath(plan.path)), mode, raw, source, label,
                                located,
                                _marshal(fmt, new_header), payload_size)
    described_after = [fmts.describe_stanza(fmt, s) for s in plan.stanzas]
    return RekeyResult(
        str(plan.path), plan.detected.name, plan.detected.armored, plan.stanzas_before,
        len(plan.stanzas), plan.added, plan.removed,
        len(located.header.marshal()), len(new_header.marshal()), payload_size,
        sum(1 for d in described_after if d.get("quantum_vulnerable")), in_place, plan.area,
        removed_may_still_decrypt=True if plan.removed else None, dropped=plan.dropped,
    )


def _pwrite_durable(fd: int, data: bytes, offset: int) -> None:
    """Write ``data`` at ``offset`` through the ``O_DSYNC`` descriptor: on disk on return."""
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n


def _write_in_place(fd: int, located: Located, new_header: Header) -> None:
    """Slot 1, then slot 0, each durable before the next write; a slot 0 that did not open
    is first restored from slot 1. So one slot always holds a whole header, old or new."""
    from pqml.formats.pqml_v1 import header_area

    size = located.area_size
    assert size is not None
    new = header_area.slot_bytes(new_header, size)
    try:
        if located.slot != 0:
            _pwrite_durable(fd, header_area.slot_bytes(located.header, size), 0)
        _pwrite_durable(fd, new, size)
        _pwrite_durable(fd, new, 0)
    except OSError as exc:
        raise RekeyError(f"cannot write the header in place: {exc.strerror or exc} (the "
                         "file still opens with its old or its new recipients)") from None


def _replace(path: Path, mode: int, raw: Any, source: Source, armor_label: bytes | None,
             located: Located, new_bytes: bytes, payload_size: int) -> int:
    """The copy path: the new header and the unchanged payload into a synced temporary
    file renamed over ``path`` (armored again with ``armor_label`` if it was armored).
    Returns the payload size (armored: the new file's)."""
    with atomic_output(path, mode=mode) as out:
        if armor_label is not None:
            from pqml.formats.age import armor

            writer = armor.ArmorWriter(out, armor_label)
            writer.write(new_bytes)
            while block := source.read(1024 * 1024):
                writer.write(block)
            writer.close()
            payload_size = out.size  # armored: report the rewritten file size
        else:
            out.write(new_bytes)
            _copy_range(raw, out, located.payload_offset, payload_size)
        try:
            os.fdatasync(out.fileno())  # the rename must not land before the data
        except OSError as exc:
            raise OutputPathError(f"{path}: cannot write: {exc.strerror or exc} (no output "
                                  "was left)") from None
    return payload_size


def _area_size(fmt: str, header: Header) -> int | None:
    if fmt != "pqml":
        return None
    from pqml.formats.pqml_v1 import header_area

    return header_area.area_size(header)


def _marshal(fmt: str, header: Header) -> bytes:
    if fmt == "pqml":
        from pqml.formats import pqml_v1

        return pqml_v1.marshal_header(header)
    return header.marshal()


def _plaintext_size(payload_size: int) -> int:
    from pqml.primitives import chunked

    try:
        return chunked.plaintext_size(payload_size)
    except PqmlError:
        return payload_size  # a damaged payload: the decision below only needs a size


def _new_header(fmt: str, header: Header, file_key: bytes, stanzas: list[Stanza],
                payload_size: int) -> Header:
    """The new header. pqml/v1: in the file's header area (grown if it no longer fits),
    or in a new 64 KiB one for a file of 64 MiB or more, so the next rekey is in place."""
    if fmt == "pqml":
        from pqml.formats import pqml_v1
        from pqml.formats.pqml_v1 import argon2id, header_area, recipients

        try:
            argon2id.check_alone(stanzas)
        except PqmlError:
            raise RekeyError("a passphrase (argon2id) stanza must stay alone: use --reset "
                             "to replace it") from None
        recipients.check_stanzas(stanzas)
        size = header_area.area_size(header) or header_area.reserve(
            None, _plaintext_size(payload_size))
        if size is not None:
            with contextlib.suppress(ValueError):  # larger than any area: none
                return header_area.fit(file_key, stanzas, size)
        return make_header(file_key, stanzas, pqml_v1.VERSION)
    from pqml.formats.age import scrypt

    try:
        scrypt.check_alone(stanzas)
    except PqmlError:
        raise RekeyError("a passphrase (scrypt) stanza must stay alone: use --reset to "
                         "replace it") from None
    return make_header(file_key, stanzas, header.version)


# ---- file-key rotation ----------------------------------------------------------------------


def _revoked_stanzas(fmt: str, stanzas: Sequence[Stanza], drops: Sequence[DropKey]
                     ) -> tuple[set[int], list[str]]:
    """Indexes of the stanzas of the keys in ``drops``, and those keys' ids: pqml/v1 by
    key id and stanza type; age (no key id) by unwrapping with the key's private key."""
    hits: set[int] = set()
    found_ids: list[str] = []
    for drop in drops:
        found: set[int] = set()
        if fmt == "pqml":
            found = {i for i, s in enumerate(stanzas)
                     if drop.stanza_type is not None and s.type == drop.stanza_type
                     and s.args[:1] == (drop.key_id,)}
        elif drop.private_key is not None:
            try:
                identity = fmts.prepare_identities("age", [drop.private_key])[0]
            except PqmlError:
                continue  # age has no stanza type for this key's algorithm
            for i, s in enumerate(stanzas):
                with contextlib.suppress(PqmlError):
                    if identity.unwrap([s]) is not None:
                        found.add(i)
        if found:
            hits |= found
            found_ids.append(drop.key_id)
    return hits, found_ids


def _known_pqml_recipients(values: Iterable[Any]) -> dict[tuple[str, str], Any]:
    """pqml/v1 recipient objects of ``values`` (public or private keys), by (stanza type,
    key id); values that are no pqml/v1 KEM key are left out."""
    from pqml.encryption.encryption_keys import Passphrase
    from pqml.formats.pqml_v1 import recipients as conv

    known: dict[tuple[str, str], Any] = {}
    for value in values:
        if isinstance(value, Passphrase):
            continue
        try:
            rec = conv.recipient_for(value)
        except (PqmlError, TypeError, ValueError):
            continue
        kid = getattr(rec, "key_id", None)
        stype = getattr(getattr(rec, "kem_type", None), "stanza_type", None)
        if kid is not None and stype is not None:
            known[(stype, kid)] = rec
    return known


def _carry_over(fmt: str, kept: Sequence[Stanza], ids_in: Sequence[Any],
                identities: Sequence[Any], job: _Job, path: Path) -> list[Any]:
    """A recipient for each kept stanza, to wrap the new file key to; RekeyError naming
    the stanza when its recipient's public key cannot be found (see the module doc)."""
    from pqml.encryption.encryption_keys import Passphrase, rules_for

    passphrases = [v for v in ids_in if isinstance(v, Passphrase)]
    passphrase_type = rules_for(fmt).passphrase_type  # type: ignore[arg-type]
    known = _known_pqml_recipients([*job.keep, *ids_in]) if fmt == "pqml" else {}
    out: list[Any] = []
    for index, stanza in enumerate(kept):
        if stanza.type == passphrase_type:
            if not passphrases:
                raise RekeyError("the passphrase stanza can be kept under a new file key "
                                 "only when the passphrase is given (--passphrase-file)")
            out.append(passphrases[0])
        elif fmt == "pqml":
            out.append(_pqml_recipient_of(stanza, known, job.find_public))
        else:
            out.append(_age_recipient_of(stanza, index, identities))
    return out


def _pqml_recipient_of(stanza: Stanza, known: dict[tuple[str, str], Any],
                       find_public: PublicKeyFinder | None) -> Any:
    kid = stanza.args[0] if stanza.args else ""
    rec = known.get((stanza.type, kid))
    if rec is None and find_public is not None and kid:
        candidate = find_public(kid)
        if candidate is not None:  # only if it really is the key the stanza names
            rec = _known_pqml_recipients([candidate]).get((stanza.type, kid))
    if rec is None:
        raise RekeyError(f"cannot keep the {stanza.type} recipient with key id {kid} under "
                         "a new file key: its public key is unknown (give it with --add, "
                         "keep the key in the keyring, or --remove it)")
    return rec


def _age_recipient_of(stanza: Stanza, index: int, identities: Sequence[Any]) -> Any:
    for identity in identities:
        private = getattr(identity, "private_key", None)
        if private is None:
            continue
        with contextlib.suppress(PqmlError):
            if identity.unwrap([stanza]) is not None:
                return private.public_key()
    raise RekeyError(f"cannot keep age stanza {index + 1} ({stanza.type}) under a new file "
                     "key: age stanzas do not name their recipient, so it must be opened "
                     "by an identity given with -i (or use --reset and --add the "
                     "recipients to keep)")


class _PlaintextReader:
    """``readinto``/``read`` over authenticated plaintext blocks (each view valid until
    the next is asked for): what the re-encryption pulls from the decryption."""

    def __init__(self, blocks: Iterator[memoryview]) -> None:
        self._blocks = blocks
        self._view = memoryview(b"")

    def _current(self) -> memoryview | None:
        while not len(self._view):
            block = next(self._blocks, None)
            if block is None:
                return None
            self._view = memoryview(block).cast("B")
        return self._view

    def readinto(self, buf: bytearray | memoryview) -> int:
        view = self._current()
        if view is None:
            return 0
        target = memoryview(buf).cast("B")
        n = min(len(target), len(view))
        target[:n] = view[:n]
        self._view = view[n:]
        return n

    def read(self, size: int = -1) -> bytes:
        view = self._current()
        if view is None:
            return b""
        n = len(view) if size is None or size < 0 else min(size, len(view))
        data = bytes(view[:n])
        self._view = view[n:]
        return data


def _plaintext_blocks(plan: _Plan, raw: Any, source: Source) -> Iterator[memoryview]:
    """The file's plaintext, block by block, each authenticated before it is yielded (the
    last one only after the whole payload); ``source`` is at the payload."""
    fmt, located = plan.detected.format, plan.located
    file_key = located.file_key
    assert file_key is not None
    if fmt == "pqml":
        from pqml.formats import pqml_v1

        payload: Any = source
        if not plan.detected.armored:
            raw.seek(located.payload_offset)
            payload = raw
        return pqml_v1.iter_payload(file_key, payload)
    from pqml.formats.age import stream

    nonce = source.read(stream.NONCE_SIZE)
    if len(nonce) != stream.NONCE_SIZE:
        raise RekeyError("file is truncated: the payload nonce is missing")
    return stream.iter_blocks(stream.PayloadCipher.for_file(file_key, nonce), source)


def _reencrypt(plan: _Plan, raw: Any, source: Source) -> RekeyResult:
    """File-key rotation: the plaintext, decrypted block by block, encrypted under a fresh
    file key for ``plan.new_recipients`` into an unnamed file that replaces ``plan.path``
    only once complete (same format, armor and mode; a header area as encryption gives
    one). A failure, SIGKILL included, leaves the old file as it was."""
    mode = os.fstat(raw.fileno()).st_mode & 0o7777
    target = Path(os.path.realpath(plan.path))
    with atomic_output(target, mode=mode) as out:
        header, head = reencrypt_to(plan, raw, source, out, plan.located.area_size)
        try:
            os.fdatasync(out.fileno())  # the rename must not land before the data
        except OSError as exc:
            raise OutputPathError(f"{target}: cannot write: {exc.strerror or exc} (no "
                                  "output was left)") from None
        written = out.size
    return rotated_result(plan, header, head, written)


def reencrypt_to(plan: _Plan, raw: Any, source: Source, out: Any, area: int | None
                 ) -> tuple[Header, bytes]:
    """The I/O-free half of file-key rotation, shared by files and objects: the new
    header (a fresh file key wrapped to ``plan.new_recipients``, header area ``area``:
    0 none, None automatic) and the re-encrypted payload, written to ``out`` as the old
    payload is decrypted from ``raw`` / ``source`` (at the payload), in constant memory.
    Nothing is committed here: the caller's output decides when the new version appears."""
    from pqml._internal.write_behind import WriteBehind

    fmt, located, detected = plan.detected.format, plan.located, plan.detected
    objs, _ = fmts.prepare_recipients(fmt, plan.new_recipients, allow_classical=True)
    old_payload = plan.file_size - located.payload_offset
    reader = _PlaintextReader(_plaintext_blocks(plan, raw, source))
    with WriteBehind(out) as sink:
        dst: Any = sink
        if detected.armored:
            from pqml.formats.age import armor

            dst = armor.ArmorWriter(sink, fmts.armor_label(fmt))
        header, head = _write_fresh(fmt, objs, dst, reader, detected.armored, area,
                                    _plaintext_size(old_payload))
        if detected.armored:
            dst.close()
    return header, head


def rotated_result(plan: _Plan, header: Header, head: bytes, written: int) -> RekeyResult:
    """The :class:`RekeyResult` of a file-key rotation that wrote ``written`` bytes."""
    fmt, located, detected = plan.detected.format, plan.located, plan.detected
    stanzas = fmts.recipient_stanzas(fmt, header)
    described = [fmts.describe_stanza(fmt, s) for s in stanzas]
    return RekeyResult(
        str(plan.path), detected.name, detected.armored, plan.stanzas_before, len(stanzas),
        plan.added, plan.removed, len(located.header.marshal()), len(head),
        written if detected.armored else written - len(head),
        sum(1 for d in described if d.get("quantum_vulnerable")), False,
        _area_size(fmt, header), file_key_rotated=True,
        removed_may_still_decrypt=False if plan.removed else None, dropped=plan.dropped)


def _write_fresh(fmt: str, objs: list[Any], dst: Any, reader: _PlaintextReader,
                 armored: bool, area: int | None, plaintext_size: int
                 ) -> tuple[Header, bytes]:
    """Header (a fresh file key wrapped to ``objs``) and payload into ``dst``."""
    if fmt == "pqml":
        from pqml.formats import pqml_v1

        file_key = os.urandom(pqml_v1.FILE_KEY_SIZE)
        header = pqml_v1.wrap_file_key(file_key, objs, allow_classical=True,
                                       header_area=0 if armored else area,
                                       plaintext_size=None if armored else plaintext_size)
        head = pqml_v1.marshal_header(header)
        dst.write(head)
        pqml_v1.encrypt_payload(file_key, reader, dst)
        return header, head
    from pqml.formats import age
    from pqml.formats.age import stream

    file_key = os.urandom(stream.FILE_KEY_SIZE)
    header = age.wrap_file_key(file_key, objs, allow_mixed_pq=True)
    head = header.marshal()
    dst.write(head)
    stream.encrypt_payload(file_key, reader, dst)
    return header, head


# ---- the keyring's view ---------------------------------------------------------------------


def revoked_keys(keyring: Any = None) -> list[DropKey]:
    """The encryption keys the keyring says are revoked or compromised, for ``drop``:
    their ids, stanza types and, where the keyring can give it without a passphrase, the
    private key (which finds their age stanzas)."""
    from pqml.formats.pqml_v1 import hpke_stanza
    from pqml.keys.keyring import Keyring
    from pqml.keys.states import KeyState

    ring = keyring if keyring is not None else Keyring()
    out: list[DropKey] = []
    for rec in ring.list(purpose="encrypt"):
        # revoked or compromised once is enough: a revoked key later disabled or destroyed
        # is still in its former holder's hands
        distrusted = ring.distrusted_since(rec.id)
        if distrusted is None:
            continue
        kem = hpke_stanza.BY_ALGORITHM.get(rec.algorithm)
        private = None
        if rec.has_private and rec.state in (KeyState.REVOKED, KeyState.COMPROMISED):
            with contextlib.suppress(PqmlError):
                private = ring.private_key(rec.id, use="decrypt")
        out.append(DropKey(rec.id, distrusted[1], kem.stanza_type if kem else None,
                           private))
    return out


def keyring_public_keys(keyring: Any = None) -> PublicKeyFinder:
    """``find_public`` over the keyring (opened on first use): a key id's public key, or
    None when the keyring does not hold that key."""
    ring: list[Any] = [keyring]

    def find(key_id: str) -> Any:
        try:
            if ring[0] is None:
                from pqml.keys.keyring import Keyring

                ring[0] = Keyring()
            return ring[0].public_key(key_id)
        except (PqmlError, ImportError):
            return None

    return find

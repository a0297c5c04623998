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

Removing a recipient needs its stanza to be found without its private key. pqml/v1
stanzas carry a key id, so ``remove`` takes public keys. age stanzas do not name their
recipient: an age stanza can be removed only when the caller passes the matching identity
(it is found by unwrapping), or by ``reset`` (drop every stanza, keep only the added
recipients). Adding a quantum-vulnerable recipient needs ``allow_classical``; existing
classical stanzas are kept (rekeying is how they get migrated away) and reported.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pqml._internal.errors import OutputPathError
from pqml._internal.output_file import atomic_output
from pqml.encryption import encrypted_formats as fmts
from pqml.encryption.encrypt import named
from pqml.encryption.encryption_keys import resolve_identities, resolve_recipients
from pqml.encryption.errors import RekeyError
from pqml.formats.age._io import Source
from pqml.formats.age.header import Header, Stanza, make_header
from pqml.formats.pqml_v1.header_area import Located
from pqml.primitives.errors import PqmlError


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


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
                     identities: Sequence[Any], path: Path) -> set[int]:
    """Indexes of the recipient stanzas to drop, one or more per recipient to remove."""
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
                raise RekeyError(f"{path}: no stanza for the recipient to remove "
                                 f"({stype} key id {kid})")
            drop |= hits
        return drop
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
            raise RekeyError(f"{path}: no stanza for the recipient to remove")
        drop |= hits
    return drop


def rekey(path: str | os.PathLike[str], identities: Iterable[Any], *,
          add: Iterable[Any] = (), remove: Iterable[Any] = (), reset: bool = False,
          allow_classical: bool = False) -> RekeyResult:
    """Rewrite the header of the pqml/v1 or age file ``path``: add recipients, remove
    recipients, or (``reset``) replace them all by ``add``. The payload is unchanged."""
    path = Path(path)
    ids_in = resolve_identities(identities)
    adds = resolve_recipients(add)
    removes = resolve_recipients(remove)
    if not adds and not removes and not reset:
        raise RekeyError(f"{path}: nothing to do (give --add and/or --remove)")
    try:
        return _rekey(path, ids_in, adds, removes, reset, allow_classical)
    except PqmlError as exc:
        raise named(exc, path) from None


@contextlib.contextmanager
def _open_locked(path: Path) -> Iterator[tuple[Any, bool]]:
    """``path`` open for reading and, when allowed, for in-place writes (``O_DSYNC``: a
    write is durable when it returns), under an exclusive lock taken without waiting."""
    writable = True
    try:
        fd = os.open(path, os.O_RDWR | os.O_DSYNC | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno not in _READ_ONLY:
            raise
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)  # the copy path may still work
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


def _rekey(path: Path, ids_in: list[Any], adds: list[Any], removes: list[Any], reset: bool,
           allow_classical: bool) -> RekeyResult:
    mode = path.stat().st_mode & 0o7777
    with _open_locked(path) as (raw, writable):
        probe = Source(raw)
        detected = fmts.detect(probe.peek(64))
        fmt = detected.format
        source = fmts.unarmored(detected, probe)
        identities = fmts.prepare_identities(fmt, ids_in)
        located = fmts.open_header(fmt, source, identities)
        header, file_key = located.header, located.file_key
        assert file_key is not None
        current = fmts.recipient_stanzas(fmt, header)
        drop = _removal_stanzas(fmt, current, removes, identities, path)
        kept = [] if reset else [s for i, s in enumerate(current) if i not in drop]
        new_objs, described = (fmts.prepare_recipients(fmt, adds,
                               allow_classical=allow_classical) if adds else ([], []))
        present = {(s.type, s.args[:1]) for s in kept}
        added: list[dict[str, Any]] = []
        stanzas: list[Stanza] = list(kept)
        for obj, desc in zip(new_objs, described, strict=True):
            kid = desc.get("key_id")
            if kid is not None and (desc["type"], (kid,)) in present:
                continue  # already a recipient
            stanzas.extend(obj.wrap(file_key))
            added.append(desc)
        if not stanzas:
            raise RekeyError("no recipient would be left: add one with --add")
        payload_size = os.fstat(raw.fileno()).st_size - located.payload_offset
        # an armored file is text, never rewritten in place: no new header area for it
        new_header = _new_header(fmt, header, file_key, stanzas,
                                 0 if detected.armored else payload_size)
        area = _area_size(fmt, new_header)
        in_place = (writable and not detected.armored and located.area_size is not None
                    and area == located.area_size)
        if in_place:
            _write_in_place(raw.fileno(), located, new_header)
        else:
            label = fmts.armor_label(fmt) if detected.armored else None
            payload_size = _replace(path, mode, raw, source, label, located,
                                    _marshal(fmt, new_header), payload_size)
    described_after = [fmts.describe_stanza(fmt, s) for s in stanzas]
    return RekeyResult(
        str(path), detected.name, detected.armored, len(current), len(stanzas), added,
        len(current) - len(kept), len(header.marshal()), len(new_header.marshal()),
        payload_size, sum(1 for d in described_after if d.get("quantum_vulnerable")),
        in_place, area,
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

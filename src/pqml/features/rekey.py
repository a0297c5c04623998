"""``pqml rekey``: change who can decrypt a pqml/v1 or age file without touching its payload.

The file key is unwrapped with one of the given identities; the new header holds the
kept stanzas (byte for byte), new stanzas for the added recipients, and a new MAC under the
same file key. The payload bytes are copied unchanged (``os.copy_file_range``: in-kernel,
and a reflink on filesystems that share extents) into a temporary file beside the
original, which replaces it only when complete; the file's mode is kept.

Removing a recipient needs its stanza to be found without its private key. pqml/v1
stanzas carry a key id, so ``remove`` takes public keys. age stanzas do not name their
recipient: an age stanza can be removed only when the caller passes the matching identity
(it is found by unwrapping), or by ``reset`` (drop every stanza, keep only the added
recipients). Adding a quantum-vulnerable recipient needs ``allow_classical``; existing
classical stanzas are kept (rekeying is how they get migrated away) and reported.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pqml.errors import OutputPathError, PqmlError, RekeyError
from pqml.features import encrypted_formats as fmts
from pqml.features.encrypt import named
from pqml.features.encryption_keys import resolve_identities, resolve_recipients
from pqml.features.output_file import atomic_output
from pqml.formats.age._io import Source
from pqml.formats.age.header import Header, Stanza, make_header


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_NO_COPY_FILE_RANGE = {errno.EXDEV, errno.ENOSYS, errno.EOPNOTSUPP, errno.EINVAL, errno.EBADF}


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


def _removal_stanzas(fmt: str, header: Header, removes: Sequence[Any],
                     identities: Sequence[Any], path: Path) -> set[int]:
    """Indexes of the stanzas to drop, one or more per recipient to remove."""
    drop: set[int] = set()
    if fmt == "pqml":
        from pqml.formats.pqml_v1 import recipients as conv

        for value in removes:
            rec = conv.recipient_for(value)
            kid = getattr(rec, "key_id", None)
            stype = getattr(getattr(rec, "kem_type", None), "stanza_type", None)
            hits = {i for i, s in enumerate(header.stanzas)
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
        hits = {k for k, s in enumerate(header.stanzas)
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


def _rekey(path: Path, ids_in: list[Any], adds: list[Any], removes: list[Any], reset: bool,
           allow_classical: bool) -> RekeyResult:
    mode = path.stat().st_mode & 0o7777
    with open(path, "rb", buffering=0) as raw:
        probe = Source(raw)
        detected = fmts.detect(probe.peek(64))
        fmt = detected.format
        if detected.armored:
            from pqml.formats.age import armor

            source = Source(armor.ArmorReader(probe))
        else:
            source = probe
        header = fmts.read_header(fmt, source)
        identities = fmts.prepare_identities(fmt, ids_in)
        file_key = fmts.unwrap(fmt, header, identities)
        drop = _removal_stanzas(fmt, header, removes, identities, path)
        kept = [] if reset else [s for i, s in enumerate(header.stanzas) if i not in drop]
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
        new_header = _new_header(fmt, header, file_key, stanzas)
        old_size = len(header.marshal())
        new_bytes = new_header.marshal()
        with atomic_output(path, mode=mode) as out:
            if detected.armored:
                from pqml.formats.age import armor

                writer = armor.ArmorWriter(out)
                writer.write(new_bytes)
                while block := source.read(1024 * 1024):
                    writer.write(block)
                writer.close()
                payload_size = out.size  # armored: report the rewritten file size
            else:
                out.write(new_bytes)
                file_size = os.fstat(raw.fileno()).st_size
                payload_size = file_size - old_size
                _copy_range(raw, out, old_size, payload_size)
    described_after = [fmts.describe_stanza(fmt, s) for s in stanzas]
    return RekeyResult(
        str(path), detected.name, detected.armored, len(header.stanzas), len(stanzas),
        added, len(header.stanzas) - len(kept), old_size, len(new_bytes), payload_size,
        sum(1 for d in described_after if d.get("quantum_vulnerable")),
    )


def _new_header(fmt: str, header: Header, file_key: bytes, stanzas: list[Stanza]) -> Header:
    if fmt == "pqml":
        from pqml.formats import pqml_v1
        from pqml.formats.pqml_v1 import argon2id

        try:
            argon2id.check_alone(stanzas)
        except PqmlError:
            raise RekeyError("a passphrase (argon2id) stanza must stay alone: use --reset "
                             "to replace it") from None
        return pqml_v1.rewrap(header, file_key, stanzas)
    from pqml.formats.age import scrypt

    try:
        scrypt.check_alone(stanzas)
    except PqmlError:
        raise RekeyError("a passphrase (scrypt) stanza must stay alone: use --reset to "
                         "replace it") from None
    return make_header(file_key, stanzas, header.version)

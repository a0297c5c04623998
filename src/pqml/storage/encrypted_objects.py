"""``encrypt`` / ``decrypt`` / ``inspect`` where the input or the output is a URL.

The file functions of :mod:`pqml.encryption.encrypt` hand over to these when a URL is
involved; the cryptography is the same stream code (``encrypt_to`` and the decrypt
source), only the ends differ: the input is read by range requests of 8 MiB
(:func:`~pqml.storage.reader.open_stream`), the output is an
:func:`~pqml.storage.writer.atomic_output` (an S3 multipart upload completed only after
the whole input was read and, for decryption, authenticated). Memory stays constant:
one read buffer, the write-behind blocks and one upload part.

Objects never get a pqml/v1 header area: there is no in-place write on an object store,
so a rekey rewrites the object (:func:`rekey_object`): checked first, then streamed into
a new version that replaces the old one only when complete (S3: a multipart upload
completed with ``If-Match`` on the ETag that was checked, aborted on any failure), with
``--new-file-key`` (every chunk re-encrypted) and ``--drop-revoked`` as for files.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import PurePosixPath
from typing import Any

from pqml.encryption import encrypt as feature
from pqml.encryption import encrypted_formats as fmts
from pqml.encryption.encryption_keys import (
    Format,
    check_format,
    resolve_identities,
    resolve_recipients,
)
from pqml.formats.age._io import Source
from pqml.primitives.errors import PqmlError
from pqml.storage.errors import StorageURLError
from pqml.storage.reader import open_stream
from pqml.storage.urls import is_url, local_path
from pqml.storage.writer import atomic_output

Target = str | os.PathLike[str]


def _base_name(src: Target) -> str:
    text = os.fspath(src).rstrip("/")
    return PurePosixPath(text).name if is_url(text) else os.path.basename(text)


def _output(src: Target, dst: Target | None, fmt: Format | None) -> str:
    """The output path or URL: ``dst``; or, when ``dst`` is None (encryption) or names a
    prefix/directory (``s3://b/out/``, ``out/``), the input's name with the format's
    suffix added (encryption) or removed (decryption) inside it."""
    name = _base_name(src)
    if fmt is not None:
        name += fmts.SUFFIX[fmt]
    else:
        plain = feature._decrypted_name(name)
        if plain == name and (dst is None or os.fspath(dst).endswith("/")):
            raise StorageURLError(f"{os.fspath(src)}: does not end in .pqml or .age; name "
                                  "the output")
        name = plain
    if dst is None:
        text = os.fspath(src)
        return text[: len(text) - len(_base_name(src))] + name
    text = os.fspath(dst)
    if is_url(text):
        return text + name if text.endswith("/") else text
    text = local_path(text)
    return os.path.join(text, name) if feature._names_directory(text) else text


def _refuse_same(src: Target, dst: str) -> None:
    if is_url(src) and os.fspath(src) == dst:
        raise feature.OutputPathError(f"{dst}: the output is the input object; refusing to "
                                      "overwrite an input (choose another -o)")
    if not is_url(src) and not is_url(dst):
        feature.check_not_input(local_path(src), dst)


def encrypt_object(src: Target, dst: Target | None, recipients: Iterable[Any], *,
                   format: Format = "pqml", armor: bool = False,
                   allow_classical: bool = False, progress: Any = None, force: bool = False
                   ) -> feature.EncryptResult:
    """Encrypt ``src`` (path or URL) to ``dst`` (path or URL; default ``src`` + suffix)."""
    check_format(format)
    resolved = resolve_recipients(recipients)
    fmts.prepare_recipients(format, resolved, allow_classical=allow_classical)
    target = _output(src, dst, format)
    _refuse_same(src, target)
    with open_stream(src) as reader:
        size_hint = None if is_url(target) else reader.raw.size  # type: ignore[attr-defined]
        with atomic_output(target, mode=feature.CIPHERTEXT_MODE, force=force) as out:
            try:
                size, described = feature.encrypt_to(
                    reader, out, resolved, format=format, armor=armor,
                    allow_classical=allow_classical, progress=progress,
                    plaintext_size=size_hint)
            except feature.OutputPathError:
                raise
            except PqmlError as exc:
                raise feature.named(exc, os.fspath(src)) from None
    return feature.EncryptResult(os.fspath(src), target, fmts.Detected(format, armor).name,
                                 armor, size, out.size, described)


def decrypt_object(src: Target, dst: Target | None, identities: Iterable[Any], *,
                   progress: Any = None, force: bool = False) -> feature.DecryptResult:
    """Decrypt ``src`` (path or URL) to ``dst`` (path or URL); the output appears only once
    the whole input authenticated."""
    resolved = resolve_identities(identities)
    target = _output(src, dst, None)
    _refuse_same(src, target)
    with open_stream(src) as reader, \
            atomic_output(target, mode=feature.PLAINTEXT_MODE, force=force) as out:
        try:
            detected, size = feature._decrypt_source(Source(reader), None, out, resolved,
                                                     progress)
        except feature.OutputPathError:
            raise
        except PqmlError as exc:
            raise feature.named(exc, os.fspath(src)) from None
    return feature.DecryptResult(os.fspath(src), target, detected.name, detected.armored,
                                 size)


def inspect_object(url: str) -> dict[str, Any]:
    """``pqml inspect`` of an object: the header is read by one range request, the sizes
    come from the store (an armored object is read through to count its payload)."""
    from pqml.encryption import inspect as inspecting

    with open_stream(url, buffer_size=64 * 1024) as reader:
        raw = reader.raw
        try:
            probe = Source(reader)
            detected = fmts.detect(probe.peek(64))
            source = fmts.unarmored(detected, probe)
            located = fmts.open_header(detected.format, source)
            if detected.armored:
                payload_size = inspecting._Counter(source).drain()
            else:
                payload_size = raw.size - located.payload_offset  # type: ignore[attr-defined]
            return inspecting._facts(url, detected, located, payload_size,
                                     raw.size, None)  # type: ignore[attr-defined]
        except PqmlError as exc:
            raise feature.named(exc, url) from None


HEADER_READ = 256 * 1024  # a header, two 64 KiB area slots included, in one range request
PAYLOAD_READ = 8 * 1024 * 1024  # one range request per 8 MiB when streaming the payload


class _ObjectReader(io.BufferedReader):
    """A buffered reader of one object that still knows the object's size and version:
    what :mod:`pqml.encryption.rekey` plans and streams from (one range request per
    buffer fill, not one per 64 KiB chunk)."""

    @property
    def size(self) -> int:
        return int(self.raw.size)  # type: ignore[attr-defined]

    @property
    def etag(self) -> str | None:
        return self.raw.etag  # type: ignore[attr-defined,no-any-return]


def _open_object(url: str, buffer_size: int) -> _ObjectReader:
    from pqml.storage.reader import open_input

    return _ObjectReader(open_input(url), buffer_size=buffer_size)  # type: ignore[arg-type]


def _if_match(url: str, version: str | None) -> str | None:
    """The version to make the replacement conditional on: S3's ``If-Match`` on the
    ETag; other stores take no condition (the version is still compared on reopening)."""
    from pqml.storage.urls import scheme_of

    return version if scheme_of(url) in ("s3", "s3a") else None


def check_object(url: str, ids_in: list[Any], job: Any) -> Any:
    """The rekey plan of the object at ``url`` (:func:`pqml.encryption.rekey._plan`:
    the file key unwrapped, the stanzas to remove or drop found, the new header or the
    recipients of a new file key), with the object's version; nothing is written."""
    from pqml.encryption import rekey as rekeying

    with _open_object(url, HEADER_READ) as reader:
        plan, _ = rekeying._plan(url, reader, ids_in, job)
        plan.version = reader.etag
    if plan.detected.armored and not plan.new_recipients and not plan.skip:
        raise StorageURLError(f"{url}: an armored object cannot be rewrapped here; use "
                              "--new-file-key (it re-encrypts), or decrypt it and encrypt "
                              "it again")
    return plan


def apply_object(plan: Any) -> Any:
    """Write a checked plan (:func:`check_object`) as a new version of the object.

    The object is reopened and must still be the version checked (same ETag, header and
    size). The new version is streamed into an :class:`~pqml.storage.writer.ObjectOutput`
    (an S3 multipart upload, conditional on that ETag) and appears only on
    :meth:`~pqml.storage.writer.ObjectOutput.commit`, after the whole old payload was
    read and, for a new file key, authenticated; any failure aborts the upload, so the
    old object stays as it was and no new version appears. Rewrap: the new header, then
    the payload bytes copied by range reads. New file key: every chunk decrypted and
    re-encrypted (:func:`pqml.encryption.rekey.reencrypt_to`); an existing header area
    is kept, none is added (an object is never rewritten in place)."""
    from pqml.encryption import rekey as rekeying
    from pqml.encryption.errors import RekeyError
    from pqml.storage.writer import open_output

    url = str(plan.path)
    rotate = bool(plan.new_recipients)
    with _open_object(url, PAYLOAD_READ if rotate else HEADER_READ) as reader:
        if plan.version is not None and reader.etag != plan.version:
            raise RekeyError("the object changed since it was checked (another writer); it "
                             "was not rekeyed: run the rekey again")
        source = rekeying._check_unchanged(plan, reader)
        located = plan.located
        out = open_output(url, force=True, if_match=_if_match(url, plan.version))
        try:
            if rotate:
                header, head = rekeying.reencrypt_to(plan, reader, source, out,
                                                     located.area_size or 0)
            else:
                new = rekeying._marshal(plan.detected.format, plan.new_header)
                out.write(new)
                raw, offset = reader.raw, located.payload_offset
                while offset < plan.file_size:
                    block = raw.pread(PAYLOAD_READ, offset)  # type: ignore[attr-defined]
                    if not block:
                        raise RekeyError("the object is truncated (it changed during the "
                                         "rekey)")
                    out.write(block)
                    offset += len(block)
        except BaseException:
            out.discard()
            raise
        out.commit()
    if rotate:
        return rekeying.rotated_result(plan, header, head, out.size)
    fmt = plan.detected.format
    described = [fmts.describe_stanza(fmt, s) for s in plan.stanzas]
    return rekeying.RekeyResult(
        url, plan.detected.name, False, plan.stanzas_before, len(plan.stanzas), plan.added,
        plan.removed, len(located.header.marshal()), len(new),
        plan.file_size - located.payload_offset,
        sum(1 for d in described if d.get("quantum_vulnerable")), False, plan.area,
        removed_may_still_decrypt=True if plan.removed else None, dropped=plan.dropped)


def rekey_object(url: str, identities: Iterable[Any], *, add: Iterable[Any] = (),
                 remove: Iterable[Any] = (), reset: bool = False,
                 allow_classical: bool = False, new_file_key: bool = False,
                 keep: Iterable[Any] = (), find_public: Any = None,
                 drop: Iterable[Any] | None = None) -> Any:
    """:func:`pqml.rekey` of one object: the same checks, options and guarantees as a
    local rekey (:mod:`pqml.encryption.rekey`), written as a new object by
    :func:`apply_object` (objects have no in-place header area: every rekey rewrites the
    object). ``new_file_key`` re-encrypts every chunk under a fresh file key, so a
    removed recipient who kept the old file key cannot decrypt the new version; ``drop``
    removes the stanzas of revoked keys (:func:`pqml.encryption.rekey.revoked_keys`).
    An object with nothing to drop is a RekeyError here (:func:`pqml.rekey_many` skips
    it instead). Armored objects are rekeyed only with a new file key."""
    from pqml.encryption import rekey as rekeying
    from pqml.encryption.errors import RekeyError

    ids_in, job = rekeying._resolve_job(identities, add, remove, reset, allow_classical,
                                        False, f"{url}: ", new_file_key=new_file_key,
                                        keep=keep, find_public=find_public, drop=drop)
    try:
        plan = check_object(url, ids_in, job)
        if plan.skip:
            raise RekeyError(plan.skip)
        return apply_object(plan)
    except feature.OutputPathError:
        raise
    except PqmlError as exc:
        raise feature.named(exc, url) from None

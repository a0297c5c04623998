"""``encrypt`` / ``decrypt`` / ``inspect`` where the input or the output is a URL.

The file functions of :mod:`pqml.encryption.encrypt` hand over to these when a URL is
involved; the cryptography is the same stream code (``encrypt_to`` and the decrypt
source), only the ends differ: the input is read by range requests of 8 MiB
(:func:`~pqml.storage.reader.open_stream`), the output is an
:func:`~pqml.storage.writer.atomic_output` (an S3 multipart upload completed only after
the whole input was read and, for decryption, authenticated). Memory stays constant:
one read buffer, the write-behind blocks and one upload part.

Objects never get a pqml/v1 header area: there is no in-place write on an object store,
so a rekey rewrites the object (see :func:`rekey_object`'s note in the report).
"""

from __future__ import annotations

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


def rekey_object(url: str, identities: Iterable[Any], *, add: Iterable[Any] = (),
                 remove: Iterable[Any] = (), reset: bool = False,
                 allow_classical: bool = False) -> Any:
    """Change an encrypted object's recipients: the same checks and new header as a local
    rekey (:mod:`pqml.encryption.rekey`), written as a new object (the new header, then
    the payload copied by range reads) that replaces the old one only if it is still the
    version that was read (S3 ``If-Match`` on its ETag). Objects have no in-place header
    area: every rekey rewrites the object. Armored objects and a new file key are not
    done here (decrypt and encrypt again)."""
    from pqml.encryption import rekey as rekeying
    from pqml.storage.reader import open_input
    from pqml.storage.writer import open_output

    ids_in, job = rekeying._resolve_job(identities, add, remove, reset, allow_classical,
                                        False, f"{url}: ")
    try:
        with open_input(url) as raw:
            plan, _ = rekeying._plan(url, raw, ids_in, job)  # type: ignore[arg-type]
            if plan.detected.armored:
                raise StorageURLError(f"{url}: an armored object cannot be rekeyed here; "
                                      "decrypt it and encrypt it again")
            assert plan.new_header is not None
            fmt, located = plan.detected.format, plan.located
            out = open_output(url, force=True, if_match=getattr(raw, "etag", None))
            try:
                out.write(rekeying._marshal(fmt, plan.new_header))
                offset = located.payload_offset
                while offset < raw.size:
                    block = raw.pread(8 * 1024 * 1024, offset)
                    out.write(block)
                    offset += len(block)
            except BaseException:
                out.discard()
                raise
            out.commit()
    except feature.OutputPathError:
        raise
    except PqmlError as exc:
        raise feature.named(exc, url) from None
    header = rekeying._marshal(fmt, plan.new_header)
    described = [fmts.describe_stanza(fmt, s) for s in plan.stanzas]
    return rekeying.RekeyResult(
        url, plan.detected.name, False, plan.stanzas_before, len(plan.stanzas), plan.added,
        plan.removed, len(located.header.marshal()), len(header),
        raw.size - located.payload_offset,
        sum(1 for d in described if d.get("quantum_vulnerable")), False, plan.area,
        removed_may_still_decrypt=True if plan.removed else None)

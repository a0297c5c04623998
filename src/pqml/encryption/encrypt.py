"""Encrypt and decrypt streams, files and directory trees, in pqml/v1 or age v1.

The CLI (``pqml encrypt`` / ``pqml decrypt``) and the Python API
(``pqml.encrypt_file`` / ``pqml.decrypt_file``) are these functions. Everything streams in
constant memory (4 MiB blocks: one being read, up to three being written by a
:mod:`write_behind` thread meanwhile). File outputs go through :mod:`output_file`: an
unnamed file linked in only after the input was fully read and authenticated, so a
failure (or SIGKILL) leaves nothing; trees appear whole, from a hidden directory renamed
into place. An existing output is never replaced unless ``force=True`` (``--force``).
Errors are PqmlError subclasses whose one-line message names the file.

Streams (stdin/stdout) cannot be taken back: as with age, decrypted plaintext is written
to a stream as it authenticates, chunk by chunk, and a failure at the end of a
truncated stream is reported after some plaintext went out.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pqml._internal.errors import OutputPathError
from pqml._internal.output_file import (
    AtomicOutput,
    AtomicTree,
    atomic_output,
    atomic_tree,
    check_not_input,
    is_inside,
)
from pqml._internal.write_behind import WriteBehind
from pqml.encryption import encrypted_formats as fmts
from pqml.encryption import parallel
from pqml.encryption.encryption_keys import (
    Format,
    check_format,
    resolve_identities,
    resolve_recipients,
)
from pqml.encryption.errors import UnsafeTreeEntryError
from pqml.formats.age._io import Readable, Source
from pqml.formats.pqml_v1.file import Writable
from pqml.primitives.errors import PqmlError
from pqml.storage.urls import is_url

Progress = Callable[[int], object]
BLOCK_SIZE = 4 * 1024 * 1024
CIPHERTEXT_MODE = 0o644
PLAINTEXT_MODE = 0o600  # decrypted model weights are as sensitive as a key


@dataclass
class EncryptResult:
    input: str
    output: str
    format: str
    armored: bool
    plaintext_size: int
    encrypted_size: int | None
    recipients: list[dict[str, Any]] = field(default_factory=list)

    @property
    def quantum_vulnerable(self) -> bool:
        return any(not r.get("post_quantum") for r in self.recipients)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "quantum_vulnerable": self.quantum_vulnerable}


@dataclass
class DecryptResult:
    input: str
    output: str
    format: str
    armored: bool
    plaintext_size: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def named(exc: PqmlError, path: str | os.PathLike[str]) -> PqmlError:
    """The same error class with the file name in front of the message."""
    text = str(exc)
    prefix = f"{path}: "
    if text.startswith(prefix):
        return exc
    try:
        new = type(exc)(prefix + text)
    except TypeError:  # an error class with another constructor
        new = PqmlError(prefix + text)
    new.__cause__ = None
    return new


# ---- streams --------------------------------------------------------------------------------


def encrypt_to(src: Readable, dst: Writable, recipients: Sequence[Any], *,
               format: Format = "pqml", armor: bool = False, allow_classical: bool = False,
               progress: Progress | None = None, plaintext_size: int | None = None
               ) -> tuple[int, list[dict[str, Any]]]:
    """Encrypt ``src`` into ``dst`` (file-likes); ``recipients`` already resolved.
    ``plaintext_size``, when known (a regular file), lets a large pqml/v1 file get a
    header area, so rekeying it later rewrites the header in place.

    Returns the plaintext size and the recipients' descriptions."""
    check_format(format)
    objs, described = fmts.prepare_recipients(format, recipients,
                                              allow_classical=allow_classical)
    if format == "pqml":
        from pqml.formats import pqml_v1

        with WriteBehind(dst) as sink:
            if not armor:
                size = pqml_v1.encrypt(objs, src, sink, allow_classical=True,
                                       progress=progress, plaintext_size=plaintext_size)
                return size, described
            from pqml.formats.age.armor import PQML_LABEL, ArmorWriter

            armored = ArmorWriter(sink, PQML_LABEL)  # text: no header area (never in place)
            size = pqml_v1.encrypt(objs, src, armored, allow_classical=True,
                                   progress=progress, header_area=0)
            armored.close()
        return size, described
    from pqml.formats import age

    with WriteBehind(dst) as sink:
        size = age.encrypt(objs, src, sink, armor=armor, allow_mixed_pq=True,
                           progress=progress)
    return size, described


def _decrypt_source(source: Source, raw: Any, dst: Writable, identities: Sequence[Any],
                    progress: Progress | None, workers: int = 1) -> tuple[fmts.Detected, int]:
    """Detect, unwrap and decrypt. ``raw`` is the seekable regular file under ``source``
    (or None): the payload is then read from it directly, by ``workers`` processes into
    the atomic output ``dst`` when more than one."""
    detected = fmts.detect(source.peek(64))
    ids = fmts.prepare_identities(detected.format, identities)
    if raw is not None and workers > 1 and not detected.armored:
        located = fmts.open_header(detected.format, source, ids)
        assert located.file_key is not None
        size = parallel.decrypt_payload(detected.format, located.file_key, raw.name,
                                        located.payload_offset,
                                        os.fstat(raw.fileno()).st_size, dst, workers, progress)
        return detected, size
    if detected.format == "pqml":
        from pqml.formats import pqml_v1

        if detected.armored:
            source, raw = fmts.unarmored(detected, source), None
        located = pqml_v1.open_header(source, ids)
        file_key = located.file_key
        assert file_key is not None
        payload: Any = source
        if raw is not None:
            raw.seek(located.payload_offset)
            payload = raw
        with WriteBehind(dst) as sink:
            size = pqml_v1.decrypt_payload(file_key, payload, sink, progress=progress)
        return detected, size
    from pqml.formats import age

    reader = age.AgeReader(ids, source, armor=detected.armored)
    total = 0
    with WriteBehind(dst) as sink:
        for part in reader.blocks(sink.buffer):
            sink.submit(part)  # empty views too: their buffer goes back to the pool
            total += len(part)
            if progress is not None and len(part):
                progress(len(part))
    return detected, total


def decrypt_to(src: Readable, dst: Writable, identities: Sequence[Any], *,
               progress: Progress | None = None) -> tuple[str, int]:
    """Decrypt a pqml/v1 or age (binary or armored) stream; identities already resolved.
    Returns the format name and the plaintext size."""
    detected, size = _decrypt_source(Source(src), None, dst, identities, progress)
    return detected.name, size


def _stream_target(dst: str | os.PathLike[str]) -> Path:
    """A stream has no name to put in a directory: ``-o DIR/`` needs a file name."""
    if _names_directory(dst):
        raise OutputPathError(f"{os.fspath(dst)}: is a directory; a stream has no name to "
                              "give the output there (name the output file)")
    return Path(dst)


def encrypt_to_path(src: Readable, dst: str | os.PathLike[str], recipients: Iterable[Any], *,
                    format: Format = "pqml", armor: bool = False,
                    allow_classical: bool = False, progress: Progress | None = None,
                    name: str = "<stdin>", force: bool = False) -> EncryptResult:
    """Encrypt a stream (e.g. stdin) into the file ``dst``, atomically; an existing
    ``dst`` is refused unless ``force``."""
    resolved = resolve_recipients(recipients)
    fmts.prepare_recipients(format, resolved, allow_classical=allow_classical)
    with atomic_output(_stream_target(dst), mode=CIPHERTEXT_MODE, overwrite=force) as out:
        try:
            size, described = encrypt_to(src, out, resolved, format=format, armor=armor,
                                         allow_classical=allow_classical, progress=progress)
        except OutputPathError:
            raise
        except PqmlError as exc:
            raise named(exc, name) from None
    return EncryptResult(name, str(dst), fmts.Detected(format, armor).name, armor, size,
                         out.size, described)


def decrypt_to_path(src: Readable, dst: str | os.PathLike[str], identities: Iterable[Any], *,
                    progress: Progress | None = None, name: str = "<stdin>",
                    force: bool = False) -> DecryptResult:
    """Decrypt a stream (e.g. stdin) into the file ``dst``; it appears only once the whole
    stream authenticated. An existing ``dst`` is refused unless ``force``."""
    resolved = resolve_identities(identities)
    with atomic_output(_stream_target(dst), mode=PLAINTEXT_MODE, overwrite=force) as out:
        try:
            detected, size = _decrypt_source(Source(src), None, out, resolved, progress)
        except OutputPathError:
            raise
        except PqmlError as exc:
            raise named(exc, name) from None
    return DecryptResult(name, str(dst), detected.name, detected.armored, size)


# ---- files ----------------------------------------------------------------------------------


def _output_name(path: Path, fmt: Format) -> Path:
    return path.with_name(path.name + fmts.SUFFIX[fmt])


def _decrypted_name(name: str) -> str:
    """``x.pqml`` / ``x.age`` -> ``x`` (a name without either suffix is kept)."""
    for suffix in (".pqml", ".age"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


def _names_directory(dst: str | os.PathLike[str]) -> bool:
    """``-o DIR/`` (a trailing slash) or an existing directory: the output goes inside."""
    text = os.fspath(dst)
    return text.endswith(("/", os.sep)) or os.path.isdir(text)


@contextlib.contextmanager
def _file_output(src_path: Path, dst: str | os.PathLike[str] | None, fmt: Format | None
                 ) -> Iterator[Path]:
    """The output path of one file: ``dst``, or inside it when it names a directory
    (``-o DIR/`` creates DIR, removed again if the job fails and left it empty), with the
    name encryption (``fmt``) or decryption (``fmt`` None) gives ``src_path``."""
    if dst is None:
        assert fmt is not None
        yield _output_name(src_path, fmt)
        return
    if not _names_directory(dst):
        yield Path(dst)
        return
    directory = Path(dst)
    if fmt is not None:
        name = src_path.name + fmts.SUFFIX[fmt]
    else:
        name = _decrypted_name(src_path.name)
        if name == src_path.name:
            raise OutputPathError(f"{os.fspath(dst)}: cannot name the output in this "
                                  f"directory: {src_path} does not end in .pqml or .age "
                                  "(name the output file)")
    created = False
    if not directory.is_dir():
        try:
            directory.mkdir()
        except OSError as exc:
            raise OutputPathError(f"{os.fspath(dst)}: cannot create the output directory: "
                                  f"{exc.strerror or exc}") from None
        created = True
    try:
        yield directory / name
    except BaseException:
        if created:
            with contextlib.suppress(OSError):
                directory.rmdir()
        raise


@contextlib.contextmanager
def _file_job(src_path: Path, dst_path: Path, output: contextlib.AbstractContextManager[Any],
              tree_call: str, jobs: int | None
              ) -> Iterator[tuple[Any, AtomicOutput, os.stat_result, int]]:
    """One file in, one atomic output out, for encrypt_file and decrypt_file: refuses an
    output over the input and a directory input, opens both (``output``: an
    :func:`atomic_output` or a tree's file), and names the input file in any PqmlError
    (an OutputPathError already names the output). Yields the raw input, the output, the
    input's stat and the number of worker processes to use."""
    check_not_input(src_path, dst_path)
    if src_path.is_dir():
        raise PqmlError(f"{src_path}: is a directory (use {tree_call}, or -o OUTDIR)")
    with open(src_path, "rb", buffering=0) as raw, output as out:
        try:
            st = os.fstat(raw.fileno())
            workers = parallel.jobs_for(st.st_size, jobs) if stat.S_ISREG(st.st_mode) else 1
            yield raw, out, st, workers
        except OutputPathError:
            raise
        except PqmlError as exc:
            raise named(exc, src_path) from None


def _encrypt_one(src_path: Path, dst_path: Path, output: contextlib.AbstractContextManager[Any],
                 resolved: list[Any], *, format: Format, armor: bool, allow_classical: bool,
                 progress: Progress | None, jobs: int | None) -> EncryptResult:
    with _file_job(src_path, dst_path, output, "encrypt_tree", jobs) as job:
        raw, out, st, workers = job
        if workers > 1 and not armor:
            objs, described = fmts.prepare_recipients(format, resolved,
                                                      allow_classical=allow_classical)
            parallel.encrypt_file(format, objs, str(src_path), st.st_size, out, workers,
                                  progress)
            size = st.st_size
        else:
            size, described = encrypt_to(
                raw, out, resolved, format=format, armor=armor,
                allow_classical=allow_classical, progress=progress,
                plaintext_size=st.st_size if stat.S_ISREG(st.st_mode) else None)
        written = out.size
    return EncryptResult(str(src_path), str(dst_path), fmts.Detected(format, armor).name,
                         armor, size, written, described)


def encrypt_file(src: str | os.PathLike[str], dst: str | os.PathLike[str] | None,
                 recipients: Iterable[Any], *, format: Format = "pqml", armor: bool = False,
                 allow_classical: bool = False, progress: Progress | None = None,
                 jobs: int | None = None, force: bool = False) -> EncryptResult:
    """Encrypt the file ``src`` to ``dst`` (default: ``src`` + ``.pqml`` / ``.age``; a
    directory, existing or written ``"dir/"``, gets that name inside it). Either may be
    a URL (``s3://bucket/key``: see :mod:`pqml.storage.encrypted_objects`).

    ``recipients``: age recipient strings, key files (PEM public or private, age
    recipients/identity files), key objects, or one :class:`Passphrase`. ``jobs``: worker
    processes for the multi-process path (default 1, serial; see encryption/parallel.py).
    An existing output is refused (:class:`OutputExistsError`) unless ``force``."""
    check_format(format)
    if is_url(src) or is_url(dst):  # object storage: same streams, other ends
        from pqml.storage.encrypted_objects import encrypt_object

        return encrypt_object(src, dst, recipients, format=format, armor=armor,
                              allow_classical=allow_classical, progress=progress, force=force)
    src_path = Path(src)
    resolved = resolve_recipients(recipients)
    fmts.prepare_recipients(format, resolved, allow_classical=allow_classical)  # policy first
    with _file_output(src_path, dst, format) as dst_path:
        return _encrypt_one(src_path, dst_path,
                            atomic_output(dst_path, mode=CIPHERTEXT_MODE, overwrite=force),
                            resolved, format=format, armor=armor,
                            allow_classical=allow_classical, progress=progress, jobs=jobs)


def _decrypt_one(src_path: Path, dst_path: Path, output: contextlib.AbstractContextManager[Any],
                 resolved: list[Any], progress: Progress | None, jobs: int | None
                 ) -> DecryptResult:
    with _file_job(src_path, dst_path, output, "decrypt_tree", jobs) as job:
        raw, out, _, workers = job
        detected, size = _decrypt_source(Source(raw), raw, out, resolved, progress, workers)
    return DecryptResult(str(src_path), str(dst_path), detected.name, detected.armored, size)


def decrypt_file(src: str | os.PathLike[str], dst: str | os.PathLike[str],
                 identities: Iterable[Any], *, progress: Progress | None = None,
                 jobs: int | None = None, force: bool = False) -> DecryptResult:
    """Decrypt the pqml/v1 or age file ``src`` to ``dst`` (either may be a URL); ``dst``
    appears only once the whole file authenticated (a directory, existing or written
    ``"dir/"``, gets ``src``'s name without ``.pqml`` / ``.age`` inside it). An existing
    output is refused (:class:`OutputExistsError`) unless ``force``. ``identities``: key files, age
    identity strings, key objects or a :class:`Passphrase`."""
    if is_url(src) or is_url(dst):  # object storage: same streams, other ends
        from pqml.storage.encrypted_objects import decrypt_object

        return decrypt_object(src, dst, identities, progress=progress, force=force)
    src_path = Path(src)
    resolved = resolve_identities(identities)
    with _file_output(src_path, dst, None) as dst_path:
        return _decrypt_one(src_path, dst_path,
                            atomic_output(dst_path, mode=PLAINTEXT_MODE, overwrite=force),
                            resolved, progress, jobs)


# ---- directory trees ------------------------------------------------------------------------


def _walk(root: Path, allow_symlinks: bool = False) -> Iterator[tuple[Path, Path]]:
    """``(name, file to read)`` for the regular files under ``root``, in a stable order;
    anything else is refused (UnsafeTreeEntryError) before any output is written.

    A symbolic link is refused unless ``allow_symlinks``: a link in a model directory
    would otherwise pull an outside file (``~/.aws/credentials``) into what is sent to the
    recipients. Allowed links must resolve inside ``root``; a link to a file is read
    from its resolved target (so it is not re-resolved later), a link to a directory is
    not descended (what it points to is inside the tree, and is walked there)."""
    real_root = Path(os.path.realpath(root))

    def inside(link: Path) -> Path:
        if not allow_symlinks:
            raise UnsafeTreeEntryError(f"{link}: is a symbolic link; refusing to follow it "
                                       "(pass --allow-symlinks / allow_symlinks=True to "
                                       "follow links that stay inside the tree)")
        target = Path(os.path.realpath(link))
        if target != real_root and real_root not in target.parents:
            raise UnsafeTreeEntryError(f"{link}: is a symbolic link that resolves outside "
                                       f"the tree ({root}); refusing to follow it")
        return target

    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        for name in dirnames:
            if os.path.islink(os.path.join(dirpath, name)):
                inside(Path(dirpath) / name)  # checked, never descended
        for name in sorted(filenames):
            path = Path(dirpath) / name
            read = inside(path) if path.is_symlink() else path
            try:
                mode = read.stat().st_mode
            except OSError:
                raise UnsafeTreeEntryError(f"{path}: broken symbolic link") from None
            if not stat.S_ISREG(mode):
                raise UnsafeTreeEntryError(f"{path}: not a regular file (fifo, socket or "
                                           "device)")
            yield path, read


def _check_tree_output(src_dir: Path, dst_dir: Path) -> None:
    if not src_dir.is_dir():
        raise PqmlError(f"{src_dir}: not a directory")
    if is_inside(dst_dir, src_dir):
        raise OutputPathError(f"{dst_dir}: the output directory is inside the input tree "
                              f"{src_dir}; choose an output outside it")
    if is_inside(src_dir, dst_dir):
        raise OutputPathError(f"{dst_dir}: the output directory contains the input tree "
                              f"{src_dir}; choose an output outside it")
    if dst_dir.exists() and not dst_dir.is_dir():
        raise OutputPathError(f"{dst_dir}: exists and is not a directory")


COPIED = "copied (signature bundle, not encrypted)"
"""The ``format`` of a tree result for a signature bundle passed through in clear."""


def is_signature_bundle(path: Path) -> bool:
    """A model signature bundle (``model.sig`` or ``*.sig`` that parses as an OMS bundle):
    public by design, so tree encryption copies it in clear beside the encrypted files,
    where verify-before-load of the encrypted model finds it."""
    if path.name != "model.sig" and not path.name.endswith(".sig"):
        return False
    from pqml.formats import oms

    try:
        if path.stat().st_size > 256 << 20:
            return False
        oms.parse_bundle(path.read_bytes())
    except (OSError, PqmlError):
        return False
    return True


def _copy_bundle(path: Path, tree: AtomicTree, rel: Path, progress: Progress | None
                 ) -> EncryptResult:
    data = path.read_bytes()
    with tree.file(rel, mode=CIPHERTEXT_MODE, source=str(path)) as out:
        out.write(data)
    if progress is not None:
        progress(len(data))
    return EncryptResult(str(path), str(tree.target / rel), COPIED, False, len(data),
                         len(data))


def encrypt_tree(src_dir: str | os.PathLike[str], dst_dir: str | os.PathLike[str],
                 recipients: Iterable[Any], *, format: Format = "pqml", armor: bool = False,
                 allow_classical: bool = False, progress: Progress | None = None,
                 jobs: int | None = None, copy_signatures: bool = True,
                 force: bool = False, allow_symlinks: bool = False) -> list[EncryptResult]:
    """Encrypt every file under ``src_dir`` into the mirrored tree ``dst_dir`` (each file
    gets the format's suffix). The tree appears whole or not at all (see
    :class:`~pqml._internal.output_file.AtomicTree`); the output may not be inside the
    input tree, so nothing is ever encrypted twice or overwritten in place. An existing
    ``dst_dir`` must be empty unless ``force``, which replaces the whole old tree.

    Signature bundles (``model.sig``, ``x.sig``: see :func:`is_signature_bundle`) are
    copied unencrypted under their own name unless ``copy_signatures=False``, so the
    encrypted model can be verified before load; their results come last, with
    ``format`` :data:`COPIED`. A bundle reveals file names, sizes and plaintext digests.

    A symbolic link in the tree is refused unless ``allow_symlinks``, and even then one
    resolving outside ``src_dir`` is (UnsafeTreeEntryError): see :func:`_walk`."""
    src_root, dst_root = Path(src_dir), Path(dst_dir)
    _check_tree_output(src_root, dst_root)
    resolved = resolve_recipients(recipients)
    fmts.prepare_recipients(format, resolved, allow_classical=allow_classical)  # fail early
    files = list(_walk(src_root, allow_symlinks))
    bundles = [(p, r) for p, r in files if copy_signatures and is_signature_bundle(r)]
    results = []
    with atomic_tree(dst_root, overwrite=force) as tree:
        for path, read in files:
            if (path, read) in bundles:
                continue
            rel = _output_name(path.relative_to(src_root), format)
            results.append(_encrypt_one(
                read, dst_root / rel, tree.file(rel, mode=CIPHERTEXT_MODE, source=str(path)),
                resolved, format=format, armor=armor, allow_classical=allow_classical,
                progress=progress, jobs=jobs))
        for path, read in bundles:
            results.append(_copy_bundle(read, tree, path.relative_to(src_root), progress))
    return results


def decrypt_tree(src_dir: str | os.PathLike[str], dst_dir: str | os.PathLike[str],
                 identities: Iterable[Any], *, progress: Progress | None = None,
                 jobs: int | None = None, force: bool = False, allow_symlinks: bool = False
                 ) -> tuple[list[DecryptResult], list[str]]:
    """Decrypt every pqml/v1 or age file under ``src_dir`` into ``dst_dir`` (the
    ``.pqml`` / ``.age`` suffix removed). Returns the results and the files skipped
    because they are not encrypted; signature bundles (which tree encryption leaves in
    clear) are copied instead, with ``format`` :data:`COPIED`. The tree appears whole or
    not at all, and no decrypted file has a name before the whole tree authenticated
    (up to ``output_file.MAX_PENDING`` files). An existing ``dst_dir`` must be empty
    unless ``force``, which replaces the whole old tree. Symbolic links: as
    :func:`encrypt_tree` (refused unless ``allow_symlinks``, never outside ``src_dir``)."""
    src_root, dst_root = Path(src_dir), Path(dst_dir)
    _check_tree_output(src_root, dst_root)
    resolved = resolve_identities(identities)
    results: list[DecryptResult] = []
    skipped: list[str] = []
    with atomic_tree(dst_root, overwrite=force) as tree:
        for path, read in list(_walk(src_root, allow_symlinks)):
            with open(read, "rb") as f:
                try:
                    fmts.detect(f.read(64))
                except PqmlError:
                    if is_signature_bundle(read):
                        copied = _copy_bundle(read, tree, path.relative_to(src_root),
                                              progress)
                        results.append(DecryptResult(copied.input, copied.output, COPIED,
                                                     False, copied.plaintext_size))
                    else:
                        skipped.append(str(path))
                    continue
            rel = path.relative_to(src_root)
            rel = rel.parent / _decrypted_name(rel.name)
            results.append(_decrypt_one(
                read, dst_root / rel, tree.file(rel, mode=PLAINTEXT_MODE, source=str(path)),
                resolved, progress, jobs))
    return results, skipped

"""Verify before load: nothing is deserialized unless its signature verified first.

``load(path, trusted=[...])`` finds the model's OMS bundle, checks its signatures against
the trusted keys and policy (the whole manifest is authenticated), then reads *only* the
requested file, hashing exactly the bytes it hands to the deserializer: the file is read
once into memory, so it cannot be swapped between the check and the load. A file the
signature does not cover, a modified one or an untrusted bundle raises before any byte
reaches pickle, joblib or torch.

:func:`verify_for_load` is the reusable core for other loaders (encrypted models,
safetensors): it returns a :class:`VerifiedModel` that can check files on disk, read them
verified, or check a stream of bytes as it is produced (e.g. plaintext while it is being
decrypted) with :meth:`VerifiedModel.stream`.

Every function here that verifies takes the keys as ``trusted`` and everything else about
how to verify (bundle location, certificate chain, policy, ``require_pq``, symlinks) as
``verify=VerifyOptions(...)`` (:mod:`pqml.signing.verify_options`).
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pqml.primitives.errors import PolicyError, PqmlError
from pqml.signing import integrity, manifest, model_tree, signing
from pqml.signing.errors import IntegrityError, UnsafePathError, UnsignedFileError
from pqml.signing.manifest import FileEntry, Manifest
from pqml.signing.policy import KeySource, TrustedKey
from pqml.signing.verify_options import VerifyOptions, as_options, reject_verify_keywords

Trusted = Iterable[KeySource | TrustedKey] | KeySource | None


class UnverifiedLoadWarning(UserWarning):
    """Emitted when a caller opted out of verification by name (allow_unverified=True)."""


def _keys(trusted: Trusted) -> list[KeySource | TrustedKey]:
    if trusted is None:
        return []
    if isinstance(trusted, (str, bytes, os.PathLike, TrustedKey)) or hasattr(trusted, "algorithm"):
        return [trusted]  # type: ignore[list-item]
    return list(trusted)


class StreamCheck:
    """Check one file's bytes as they stream by (``update``), then ``finish``.

    Each shard is compared as soon as its last byte arrives, so a decrypting loader stops
    at the first bad shard; ``finish`` fails if the stream was shorter or longer than the
    signed file. Nothing it has seen is trustworthy until ``finish`` returns.
    """

    def __init__(self, label: str, entry: FileEntry, htype: str) -> None:
        self._label = label
        self._entry = entry
        self._htype = htype
        self._pieces = entry.pieces
        self._index = 0
        self._offset = 0
        self._hasher = manifest.new_hasher(htype) if entry.pieces else None
        self._failed = False

    def _fail(self, problem: str) -> None:
        self._failed = True
        raise IntegrityError(f"{self._label}: {problem}")

    def _close_piece(self) -> None:
        piece = self._pieces[self._index]
        assert self._hasher is not None
        if self._hasher.digest() != piece.digest:
            where = f" (bytes {piece.start}-{piece.end})" if len(self._pieces) > 1 else ""
            self._fail(f"content does not match the signature{where}")
        self._index += 1
        self._hasher = manifest.new_hasher(self._htype) if self._index < len(self._pieces) else None

    def _settle(self) -> None:
        while self._index < len(self._pieces) and self._pieces[self._index].end == self._offset:
            self._close_piece()

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._failed:
            raise IntegrityError(f"{self._label}: stream already failed verification")
        view = memoryview(data).cast("B")
        while len(view):
            self._settle()
            if self._index >= len(self._pieces):
                self._fail("longer than the signed file")
            piece = self._pieces[self._index]
            assert self._hasher is not None
            take = len(view) if piece.end < 0 else min(len(view), piece.end - self._offset)
            self._hasher.update(view[:take])
            self._offset += take
            view = view[take:]

    def finish(self) -> None:
        """Raise IntegrityError unless exactly the signed bytes went through."""
        if self._failed:
            raise IntegrityError(f"{self._label}: stream already failed verification")
        self._settle()
        if self._index < len(self._pieces) and self._pieces[self._index].end < 0:
            self._close_piece()  # files-method digest without a recorded size
        size = self._entry.size
        if self._index < len(self._pieces) or (size is not None and self._offset != size):
            self._fail(f"shorter than the signed file ({self._offset} of {size} bytes)")


@dataclass(frozen=True)
class VerifiedModel:
    """A model whose bundle verified against the trust policy; files are checked on use."""

    root: Path
    signature: Path
    manifest: Manifest
    signatures: tuple[signing.SignatureCheck, ...]
    warnings: tuple[str, ...] = ()
    checked: tuple[integrity.FileStatus, ...] = ()
    allow_symlinks: bool = False
    workers: int | None = field(default=None, compare=False)

    def name_of(self, path: str | os.PathLike[str]) -> str:
        """The signed name of ``path`` (absolute, or relative to the model root)."""
        if model_tree.SINGLE_FILE in self.manifest.files:
            return model_tree.SINGLE_FILE
        return model_tree.normalize_relative(path, self.root)

    def entry(self, name: str) -> FileEntry:
        """What the signature says about ``name``; UnsignedFileError if it says nothing."""
        found = self.manifest.files.get(name)
        if found is None:
            raise UnsignedFileError(
                f"{self.root}: {model_tree.display(name, self.root)} is not covered by the "
                "signature"
            )
        return found

    def check(self, names: Iterable[str]) -> integrity.IntegrityReport:
        """Hash these files on disk; IntegrityError (with the report) if any differs."""
        wanted = list(names)
        for name in wanted:
            self.entry(name)
        report = integrity.check_named(self.manifest, self.root, wanted,
                                       allow_symlinks=self.allow_symlinks, workers=self.workers)
        problems = report.failures()
        if problems:
            raise IntegrityError(f"{self.root}: {integrity.summarize(problems, root=self.root)}",
                                 report=report)
        return report

    def read_bytes(self, name: str) -> bytes:
        """The file's bytes, read once and verified: exactly what the signature covers."""
        entry = self.entry(name)
        label = f"{self.root}: {model_tree.display(name)}" if name != "." else str(self.root)
        try:
            fd = model_tree.open_file(self.root, name, allow_symlinks=self.allow_symlinks)
        except FileNotFoundError:
            raise IntegrityError(f"{label}: signed file is missing") from None
        with os.fdopen(fd, "rb", buffering=0) as handle:
            size = os.fstat(fd).st_size
            if entry.size is not None and size != entry.size:
                raise IntegrityError(f"{label}: size {size} differs from the signed {entry.size}")
            data = handle.readall()
        actual = manifest.hash_buffer(
            name, data, htype=self.manifest.hash_type, method=self.manifest.method,
            shard_size=self.manifest.shard_size, workers=self.workers,
        )
        if not integrity._matches(entry, actual):
            raise IntegrityError(f"{label}: content does not match the signature")
        return data

    def stream(self, name: str) -> StreamCheck:
        """A checker for this file's bytes produced elsewhere (decryption, download)."""
        return StreamCheck(f"{self.root}: {model_tree.display(name, self.root)}", self.entry(name),
                           self.manifest.hash_type)

    def check_piece(self, name: str, start: int, data: bytes | bytearray | memoryview) -> None:
        """Random access: check the bytes of the signed piece that begins at ``start``
        (a whole shard under the ``shards`` method, the whole file under ``files``), e.g.
        the plaintext of just the shards holding one tensor. IntegrityError if they differ
        or ``start`` / ``len(data)`` do not match a signed piece exactly."""
        entry = self.entry(name)
        label = f"{self.root}: {model_tree.display(name, self.root)}"
        piece = next((p for p in entry.pieces if p.start == start), None)
        size = len(memoryview(data).cast("B"))
        if piece is None or (piece.end >= 0 and piece.end - piece.start != size):
            raise IntegrityError(f"{label}: no signed piece is bytes {start}-{start + size}")
        hasher = manifest.new_hasher(self.manifest.hash_type)
        hasher.update(data)
        if hasher.digest() != piece.digest:
            raise IntegrityError(f"{label}: bytes {start}-{start + size} do not match the "
                                 "signature")


MAX_PIECE_BUFFER = 256 << 20
"""Largest signed piece :class:`VerifiedReader` holds in memory to serve reads from; a
larger one (a big file under the ``files`` method) is streamed through the hash once."""

_BLOCK = 1 << 20


class VerifiedReader:
    """Random access to one signed file whose bytes are produced elsewhere (e.g. decrypted
    by :func:`pqml.open`), checked against the signed manifest as they are read.

    ``read_into(offset, view)`` fills ``view`` with the plaintext at ``offset`` and returns
    the number of bytes written. The plaintext size must equal the signed size (checked
    here, before any read). Then :meth:`read` hashes exactly the signed pieces covering the
    requested range and returns bytes copied out of the very buffers that were hashed (the
    last piece stays cached, so neighbouring reads do not hash it again). A piece larger
    than :data:`MAX_PIECE_BUFFER` (a big file signed with the ``files`` method) is instead
    streamed through the hash once, before the first read returns, and reads then come
    from ``read_into`` directly.

    ``bytes_hashed`` and ``pieces_checked`` count the work done (instrumentation).
    """

    def __init__(self, model: VerifiedModel, name: str, size: int,
                 read_into: Callable[[int, memoryview], int], *,
                 max_buffer: int | None = None) -> None:
        self.model, self.name, self.size = model, name, size
        self._label = f"{model.root}: {model_tree.display(name)}" if name != "." else \
            str(model.root)
        entry = model.entry(name)
        if entry.size is not None and entry.size != size:
            raise IntegrityError(f"{self._label}: size {size} differs from the signed "
                                 f"{entry.size}")
        spans = [(p.start, size if p.end < 0 else p.end) for p in entry.pieces]
        tiled = [s for s, _ in spans] == [0, *[e for _, e in spans[:-1]]] and \
            spans[-1][1] == size if spans else size == 0
        if not tiled:
            raise IntegrityError(f"{self._label}: the signed pieces do not cover its "
                                 f"{size} bytes")
        self._spans = spans
        self._read_into = read_into
        limit = MAX_PIECE_BUFFER if max_buffer is None else max_buffer
        self._streamed = any(e - s > limit for s, e in spans)
        self._whole_checked = False
        self._cache: tuple[int, bytearray] | None = None
        self.bytes_hashed = 0
        self.pieces_checked = 0

    def _fill(self, offset: int, view: memoryview) -> None:
        done = 0
        while done < len(view):
            n = self._read_into(offset + done, view[done:])
            if not n:
                raise IntegrityError(f"{self._label}: shorter than the signed file")
            done += n

    def _piece(self, index: int) -> bytearray:
        start, end = self._spans[index]
        if self._cache is not None and self._cache[0] == start:
            return self._cache[1]
        self._cache = None
        buf = bytearray(end - start)
        self._fill(start, memoryview(buf))
        self.model.check_piece(self.name, start, buf)
        self.bytes_hashed += len(buf)
        self.pieces_checked += 1
        self._cache = (start, buf)
        return buf

    def check_all(self) -> None:
        """Stream the whole file through the hash (once); IntegrityError if it differs."""
        if self._whole_checked:
            return
        check = self.model.stream(self.name)
        buf = bytearray(min(_BLOCK, self.size) or 1)
        view = memoryview(buf)
        pos = 0
        while pos < self.size:
            n = min(len(buf), self.size - pos)
            self._fill(pos, view[:n])
            check.update(view[:n])
            self.bytes_hashed += n
            pos += n
        check.finish()
        self.pieces_checked += len(self._spans)
        self._whole_checked = True

    def read(self, offset: int, size: int) -> bytearray:
        """``size`` verified bytes at ``offset`` (IntegrityError past the end)."""
        if offset < 0 or size < 0 or offset + size > self.size:
            raise IntegrityError(f"{self._label}: bytes {offset}-{offset + size} lie "
                                 f"outside its {self.size} bytes")
        out = bytearray(size)
        if not size:
            return out
        if self._streamed:
            self.check_all()
            self._fill(offset, memoryview(out))
            return out
        end = offset + size
        for index, (start, stop) in enumerate(self._spans):
            if stop <= offset:
                continue
            if start >= end:
                break
            piece = self._piece(index)
            lo, hi = max(start, offset), min(stop, end)
            out[lo - offset:hi - offset] = piece[lo - start:hi - start]
        return out


def verify_for_load(
    model: str | os.PathLike[str],
    files: Sequence[str | os.PathLike[str]],
    trusted: Trusted = None,
    *,
    verify: VerifyOptions | None = None,
    check_files: bool = True,
    workers: int | None = None,
) -> VerifiedModel:
    """Authenticate the model's bundle, then check only ``files`` (partial verification).

    The signatures and policy are checked first (the whole manifest is authenticated);
    every name in ``files`` must be covered by it (UnsignedFileError otherwise, before any
    hashing). With ``check_files`` they are hashed on disk now; without, the caller uses
    :meth:`VerifiedModel.read_bytes` or :meth:`VerifiedModel.stream` to check the bytes it
    actually consumes. ``model`` is the model's root (a directory, or a single signed
    file); its bundle is ``verify.signature``, else found there. ``verify.model_root``, if
    set, must name the same root. Raises a VerificationError subclass on any failure.
    """
    options = as_options(verify)
    root = Path(model)
    if options.model_root is not None and options.model_root.absolute() != root.absolute():
        raise PqmlError(f"{root}: verify.model_root names another model root "
                        f"({options.model_root}); give the root once")
    return _verify(root, files, trusted, options, options.signature, check_files=check_files,
                   workers=workers)


def _verify(
    root: Path,
    files: Sequence[str | os.PathLike[str]],
    trusted: Trusted,
    options: VerifyOptions,
    signature: Path | None,
    *,
    check_files: bool,
    workers: int | None = None,
) -> VerifiedModel:
    trust = signing.build_trust(_keys(trusted), options.certificate_chain, options.policy,
                                options.require_pq, crls=options.crls)
    auth = signing.authenticate(root, trust, signature=signature)
    names = signing.requested_names(auth.root, files, auth.manifest)
    model = VerifiedModel(auth.root, auth.signature, auth.manifest, auth.checks, auth.warnings,
                          allow_symlinks=options.allow_symlinks, workers=workers)
    if check_files and names:
        report = model.check(names)
        model = VerifiedModel(auth.root, auth.signature, auth.manifest, auth.checks,
                              auth.warnings, report.files, options.allow_symlinks, workers)
    return model


# ---- locating the bundle for a file ------------------------------------------------------


def _peek(sig: Path) -> tuple[bool, str | None]:
    """(single-file model?, subject name) of a bundle, *unverified*: only used to decide
    where the model root is; verification proper happens afterwards."""
    try:
        statement = signing.read_bundle(sig).statement()
    except PqmlError:
        return False, None
    single = any(r.name == "." or r.name.startswith(".:") for r in statement.resources)
    return single, statement.subject_name


def _single_file_bundle(sig: Path) -> bool:
    return _peek(sig)[0]


def locate(
    path: str | os.PathLike[str],
    *,
    model_root: str | os.PathLike[str] | None = None,
    signature: str | os.PathLike[str] | None = None,
) -> tuple[Path, Path]:
    """The (model root, bundle) that should cover ``path``.

    Without hints: ``path.sig`` (a single-file model), else the nearest ``model.sig`` in
    the file's directory or an ancestor (a sibling ``model.sig`` may also sign just this
    file, as model_signing's default output does). With only ``signature``: the file
    itself for a single-file bundle, else the ancestor named like the bundle's subject,
    else the bundle's directory. ``model_root`` removes all guessing.
    """
    target = Path(path)
    if model_root is not None:
        root = Path(model_root)
        return root, Path(signature) if signature is not None else signing.find_signature(root)
    if signature is not None:
        sig = Path(signature)
        single, subject = _peek(sig)
        if single:
            return target, sig
        # The subject names the model directory (model_signing's rule): prefer the
        # ancestor of the file with that name, else the directory holding the bundle.
        named = [d for d in target.absolute().parents if d.name == subject]
        return (named[0] if named else sig.parent), sig
    own = target.with_name(target.name + ".sig")
    if own.is_file():
        return target, own
    for directory in target.absolute().parents:
        candidate = directory / signing.SIGNATURE_NAME
        if candidate.is_file():
            if directory == target.absolute().parent and _single_file_bundle(candidate):
                return target, candidate
            return directory, candidate
    raise PqmlError(
        f"{target}: no signature found ({own.name}, or model.sig in its directory or a "
        "parent); pass verify=VerifyOptions(signature=...) or (model_root=...)"
    )


def read_verified(
    path: str | os.PathLike[str],
    trusted: Trusted = None,
    *,
    verify: VerifyOptions | None = None,
    allow_unverified: bool = False,
) -> bytes:
    """The bytes of ``path``, verified against its model's signature (or, only when the
    caller opts out by name with ``allow_unverified``, unverified with a warning)."""
    options = as_options(verify)
    target = Path(path)
    if allow_unverified:
        warnings.warn(
            f"{target}: loading without signature verification (allow_unverified=True)",
            UnverifiedLoadWarning, stacklevel=3,
        )
        return target.read_bytes()
    if not _keys(trusted) and not options.adds_trust:
        raise PolicyError(
            f"{target}: trusted keys are required to load it (trusted=[...]); "
            "pass allow_unverified=True to load it unverified"
        )
    if target.is_dir():
        raise PqmlError(f"{target}: is a directory; pass the file to load")
    root, sig = locate(target, model_root=options.model_root, signature=options.signature)
    wanted = target.absolute() if root != target else target
    model = _verify(root, [wanted], trusted, options, sig, check_files=False)
    return model.read_bytes(model.name_of(wanted))


# ---- encrypted models --------------------------------------------------------------------
#
# Convention: the model is signed in plaintext, then its files are encrypted (``pqml
# encrypt -o enc/ model/`` copies model.sig beside them, in clear). The signed name of
# ``enc/x.safetensors.pqml`` is ``x.safetensors``: the encrypted suffix is dropped.

ENCRYPTED_SUFFIXES = (".pqml", ".age")


def plaintext_name(name: str) -> str:
    """``name`` without a trailing ``.pqml`` / ``.age`` (the name the signature uses)."""
    for suffix in ENCRYPTED_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix) and \
                not name.endswith("/" + suffix):
            return name[: -len(suffix)]
    return name


def locate_encrypted(
    path: str | os.PathLike[str],
    *,
    model_root: str | os.PathLike[str] | None = None,
    signature: str | os.PathLike[str] | None = None,
) -> tuple[Path, Path]:
    """Like :func:`locate` for an encrypted file: also finds the plaintext file's own
    bundle (``x.joblib.sig`` beside ``x.joblib.pqml``)."""
    target = Path(path)
    if model_root is None and signature is None:
        plain = target.with_name(plaintext_name(target.name))
        for own in (target.with_name(target.name + ".sig"), plain.with_name(plain.name + ".sig")):
            if own.is_file():
                return target, own
    return locate(target, model_root=model_root, signature=signature)


def verify_encrypted(
    path: str | os.PathLike[str],
    trusted: Trusted = None,
    *,
    verify: VerifyOptions | None = None,
) -> tuple[VerifiedModel, str]:
    """Authenticate the bundle covering the encrypted file ``path`` (nothing is decrypted)
    and return it with the signed (plaintext) name of ``path``. UnsignedFileError if the
    signature does not cover that name."""
    options = as_options(verify)
    target = Path(path)
    if not _keys(trusted) and not options.adds_trust:
        raise PolicyError(f"{target}: trusted keys are required to verify it (trusted=[...])")
    if target.is_dir():
        raise PqmlError(f"{target}: is a directory; pass the file to load")
    if not options.allow_symlinks and target.is_symlink():
        raise UnsafePathError(f"{target}: is a symbolic link "
                              "(pass verify=VerifyOptions(allow_symlinks=True))")
    if not target.is_file():
        raise PqmlError(f"{target}: no such file")
    root, sig = locate_encrypted(target, model_root=options.model_root,
                                 signature=options.signature)
    model = _verify(root, [], trusted, options, sig, check_files=False)
    if model_tree.SINGLE_FILE in model.manifest.files:
        name = model_tree.SINGLE_FILE
    else:
        name = plaintext_name(model_tree.normalize_relative(target.absolute(), model.root))
    model.entry(name)  # UnsignedFileError before anything is decrypted
    return model, name


def read_verified_encrypted(
    path: str | os.PathLike[str],
    identities: Any,
    trusted: Trusted = None,
    *,
    verify: VerifyOptions | None = None,
) -> bytes:
    """The plaintext of the encrypted file ``path``, verified against its model's
    signature: the bundle is authenticated first, then the file is decrypted into memory
    while its plaintext is hashed, and returned only if it is exactly what was signed."""
    model, name = verify_encrypted(path, trusted, verify=verify)
    from pqml.encryption.random_access import open as open_encrypted

    with open_encrypted(path, identities) as f:
        raw = f.raw
        size = raw.size  # type: ignore[attr-defined]
        entry = model.entry(name)
        label = f"{path}: plaintext ({model_tree.display(name, model.root)})"
        if entry.size is not None and entry.size != size:
            raise IntegrityError(f"{label}: size {size} differs from the signed {entry.size}")
        data = bytearray(size)
        view = memoryview(data)
        check = model.stream(name)
        pos = 0
        while pos < size:
            n = raw.readinto(view[pos:pos + _BLOCK])
            if not n:
                raise IntegrityError(f"{label}: shorter than the signed file")
            check.update(view[pos:pos + n])
            pos += n
        check.finish()
    del view
    return bytes(data)


def read_decrypted_unverified(path: str | os.PathLike[str], identities: Any) -> bytes:
    from pqml.encryption.random_access import open as open_encrypted

    with open_encrypted(path, identities) as f:
        return f.read()


# ---- deserializers, chosen by suffix ---------------------------------------------------------


def _torch(data: bytes, kwargs: dict[str, Any]) -> Any:
    import torch

    kwargs.setdefault("weights_only", True)
    return torch.load(io.BytesIO(data), **kwargs)


def _joblib(data: bytes, kwargs: dict[str, Any]) -> Any:
    import joblib

    return joblib.load(io.BytesIO(data), **kwargs)


def _pickle(data: bytes, kwargs: dict[str, Any]) -> Any:
    import pickle

    return pickle.loads(data, **kwargs)  # only ever called on verified bytes


def _numpy(data: bytes, kwargs: dict[str, Any]) -> Any:
    import numpy

    kwargs.setdefault("allow_pickle", False)
    return numpy.load(io.BytesIO(data), **kwargs)


def _safetensors(data: bytes, kwargs: dict[str, Any]) -> Any:
    framework = kwargs.pop("framework", "numpy")
    if framework in ("pt", "torch"):
        from safetensors.torch import load as load_torch

        return load_torch(data)
    from safetensors.numpy import load as load_numpy

    return load_numpy(data)


def _json(data: bytes, kwargs: dict[str, Any]) -> Any:
    return json.loads(data, **kwargs)


LOADERS: dict[str, Callable[[bytes, dict[str, Any]], Any]] = {
    ".joblib": _joblib, ".jbl": _joblib,
    ".pt": _torch, ".pth": _torch, ".ckpt": _torch, ".bin": _torch,
    ".pkl": _pickle, ".pickle": _pickle,
    ".npy": _numpy, ".npz": _numpy,
    ".safetensors": _safetensors,
    ".json": _json,
}


def _deserializer(name: str) -> Callable[[bytes, dict[str, Any]], Any]:
    for suffix in reversed([s.lower() for s in Path(name).suffixes]):
        if suffix in LOADERS:
            return LOADERS[suffix]
    raise PqmlError(
        f"{name}: no loader for this file type ({', '.join(sorted(LOADERS))}); pass loader="
    )


def load(
    path: str | os.PathLike[str],
    trusted: Trusted = None,
    *,
    verify: VerifyOptions | None = None,
    loader: Callable[..., Any] | None = None,
    allow_unverified: bool = False,
    identities: Any = None,
    **kwargs: Any,
) -> Any:
    """Verify ``path`` against its model's signature, then deserialize it.

    ``trusted`` are the keys to trust; ``verify`` (a :class:`VerifyOptions`) says how to
    verify: where the bundle is, certificate chain, policy, ``require_pq``, symlinks.

    The deserializer follows the suffix: joblib, torch (``weights_only=True`` unless you
    pass ``weights_only=False``), pickle, NumPy (``allow_pickle=False``), safetensors, JSON;
    ``loader`` (called with a BytesIO and ``kwargs``) overrides it. Only ``path`` is hashed:
    the signature covers the whole manifest, the other files are not read.

    ``identities=`` (key files, identity strings, key objects, a Passphrase) loads an
    encrypted file (``x.joblib.pqml``): the plaintext model's bundle is authenticated
    before anything is decrypted, the plaintext is hashed as it is decrypted into memory
    and must match the signed digest of ``x.joblib`` before it is deserialized.
    """
    reject_verify_keywords(kwargs)
    as_options(verify)
    deserialize = None if loader is not None else _deserializer(Path(path).name)
    if identities is not None:
        if allow_unverified:
            warnings.warn(
                f"{path}: loading without signature verification (allow_unverified=True)",
                UnverifiedLoadWarning, stacklevel=2,
            )
            data = read_decrypted_unverified(path, identities)
        else:
            data = read_verified_encrypted(path, identities, trusted, verify=verify)
    else:
        data = read_verified(path, trusted, verify=verify, allow_unverified=allow_unverified)
    if loader is not None:
        return loader(io.BytesIO(data), **kwargs)
    assert deserialize is not None
    return deserialize(data, dict(kwargs))

"""Encrypt and decrypt files, trees and single huge objects on an engine (pqml/v1).

The driver does everything that touches a private key or a file key, exactly as the local
path does (:func:`pqml.encryption.parallel.encrypt_file` is the model): it draws the file
key, wraps it to the recipients (public keys), derives the chunk key with a fresh salt and
computes the prefix (header or header area, salt, commitment); for decryption it opens
the header with the identities and checks the key commitment. Workers receive one file's
:class:`~pqml.encryption.parallel.Codec` and their chunk range, nothing else.

Every output of a job appears only after all of its parts succeeded (a tree: after every
file did); the first failure cancels the rest and discards every output of the job. Trees
may be local directories or object prefixes on either side (:mod:`~pqml.distributed.
trees`); a tree of objects is one multipart upload per file, all completed at the end.
Only binary pqml/v1 is distributed (its chunks are independent and it has a fixed layout
from the size); age and armored files are refused with a pointer to the local engine.
"""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from pqml.distributed import planner, trees
from pqml.distributed.engine import Engine
from pqml.distributed.errors import EngineError
from pqml.distributed.outputs import LocalPartOutput, WholeOutput, open_part_output
from pqml.distributed.parts import CipherTask, run_cipher
from pqml.encryption import encrypted_formats as fmts
from pqml.encryption import parallel
from pqml.encryption.encrypt import (
    CIPHERTEXT_MODE,
    COPIED,
    PLAINTEXT_MODE,
    DecryptResult,
    EncryptResult,
    named,
)
from pqml.encryption.encryption_keys import resolve_identities, resolve_recipients
from pqml.primitives.errors import PqmlError

Progress = Callable[[int], object]
WINDOW_FILES = 256  # tree files whose outputs are open at once (each holds an fd)


@dataclass
class JobReport:
    """How a job ran: proof of where (node ids), and how long."""

    engine: str
    workers: int
    tasks: int = 0
    nodes: dict[str, int] = field(default_factory=dict)  # node id -> tasks it ran
    seconds: float = 0.0

    def count(self, node: str) -> None:
        self.tasks += 1
        self.nodes[node] = self.nodes.get(node, 0) + 1

    def as_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "workers": self.workers, "tasks": self.tasks,
                "nodes": dict(self.nodes), "seconds": round(self.seconds, 3)}


def _check_source(engine: Engine, location: str) -> None:
    if engine.name == "ray" and location.startswith("memory://"):
        raise EngineError(f"{location}: memory:// objects live in one process; Ray "
                          "workers cannot read them (use a path or an object store URL)")


def _input(location: str, name: str) -> planner.Input:
    """A file to read: local paths must be regular files (a fifo has no layout)."""
    from pqml.storage.reader import open_input
    from pqml.storage.urls import is_url

    if not is_url(location):
        st = os.stat(location)
        if stat.S_ISDIR(st.st_mode):
            raise PqmlError(f"{location}: is a directory")
        if not stat.S_ISREG(st.st_mode):
            raise PqmlError(f"{location}: not a regular file (the engines read by ranges)")
        return planner.Input(location, name, st.st_size)
    with open_input(location) as f:
        return planner.Input(location, name, f.size)


def _planned(progress: Progress | None, nbytes: int) -> None:
    """Tell a progress callback that asks (one with a ``planned`` method, as the CLI's bar)
    how many more bytes the job will report, before it reports them."""
    planned = getattr(progress, "planned", None)
    if planned is not None and nbytes:
        planned(nbytes)


def _run(engine: Engine, jobs: list[tuple[Any, CipherTask]], report: JobReport,
         progress: Progress | None) -> None:
    """Run the cipher tasks; route each result to its output."""
    _planned(progress, sum(task.plaintext_bytes for _, task in jobs))
    for index, result in engine.map_unordered(run_cipher, [t for _, t in jobs]):
        output, task = jobs[index]
        output.accept(task.item, result)
        report.count(result.node)
        if progress is not None and result.plaintext:
            progress(result.plaintext)


@contextlib.contextmanager
def _all_or_nothing(outputs: list[Any]) -> Iterator[None]:
    """Commit every output if the block completes, discard every one otherwise (and
    when a commit fails midway, discard those not yet committed)."""
    try:
        yield
    except BaseException:
        for out in outputs:
            out.discard()
        raise
    done = 0
    try:
        for out in outputs:
            out.commit()
            done += 1
    except BaseException:
        for out in outputs[done + 1:]:
            out.discard()
        raise


# ---- encryption ----------------------------------------------------------------------------


def _encrypt_tasks(inp: planner.Input, objs: list[Any], output: Any, part_size: int
                   ) -> tuple[list[tuple[Any, CipherTask]], int]:
    """Key, header and parts of one file (the driver's side of encryption); returns the
    tasks and the encrypted size."""
    from pqml.formats import pqml_v1
    from pqml.primitives import chunked

    file_key = os.urandom(pqml_v1.FILE_KEY_SIZE)
    header = pqml_v1.wrap_file_key(file_key, objs, allow_classical=True,
                                   plaintext_size=inp.size)
    cipher = chunked.ChunkCipher.for_salt(pqml_v1.payload_key(file_key),
                                          os.urandom(chunked.SALT_SIZE),
                                          pqml_v1.PAYLOAD_CONTEXT)
    del file_key  # wrapped in the header; workers get only the derived chunk key
    keys = cipher.keys
    codec = parallel.Codec("pqml", keys.key, keys.base_nonce, keys.commitment)
    prefix = pqml_v1.marshal_header(header) + cipher.header
    items = planner.plan_encrypt(inp, output.target, len(prefix), part_size=part_size)
    total = planner.encrypted_size(inp.size, len(prefix))
    output.begin(prefix, total)
    count = planner.chunk_count(inp.size)
    return [(output, CipherTask(item, codec, True, count, inp.size, len(prefix),
                                prefix if item.part == 1 else b"", output.sink))
            for item in items], total


def _default_output(src: str, suffix: str = ".pqml") -> str:
    return src.rstrip("/") + suffix


def encrypt(src: str | os.PathLike[str], dst: str | os.PathLike[str] | None,
            recipients: Iterable[Any], *, engine: Engine, allow_classical: bool = False,
            force: bool = False, part_size: int = planner.PART_SIZE,
            allow_symlinks: bool = False, progress: Progress | None = None
            ) -> tuple[list[EncryptResult], JobReport]:
    """Encrypt a file or object (``dst`` default: ``src`` + ``.pqml``), or a tree — a
    local directory or every object under a URL ending in ``/`` — into the directory or
    prefix ``dst`` (see :mod:`pqml.distributed.trees`), to pqml/v1 on ``engine``.

    Returns one result per file (signature bundles of a tree copied in clear, last, as
    ``pqml encrypt`` does) and the job's :class:`JobReport`."""

    started = time.perf_counter()
    report = JobReport(engine.name, engine.workers)
    resolved = resolve_recipients(recipients)
    objs, described = fmts.prepare_recipients("pqml", resolved,
                                              allow_classical=allow_classical)
    source = os.fspath(src)
    _check_source(engine, source)
    if trees.names_tree(source):
        if dst is None:
            raise PqmlError(f"{source}: is a tree: give an output directory or prefix")
        results = _encrypt_tree(source, os.fspath(dst), objs, described, engine,
                                report, force=force, part_size=part_size,
                                allow_symlinks=allow_symlinks, progress=progress)
    else:
        target = os.fspath(dst) if dst is not None else _default_output(source)
        if target.endswith("/"):
            target += Path(source.rstrip("/")).name + ".pqml"
        inp = _input(source, Path(source).name)
        output = open_part_output(target, mode=CIPHERTEXT_MODE, force=force, node=engine.node)
        try:
            with _all_or_nothing([output]):
                jobs, total = _encrypt_tasks(inp, objs, output, part_size)
                _run(engine, jobs, report, progress)
        except PqmlError as exc:
            raise named(exc, source) from None
        results = [EncryptResult(source, target, "pqml/v1", False, inp.size, total,
                                 described)]
    report.seconds = time.perf_counter() - started
    return results, report


def _windows(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


Plan = Callable[[planner.Input, Any], tuple[list[tuple[Any, CipherTask]], int]]
Done = tuple[planner.Input, str, int]  # input, output path or URL, size


def _run_tree(dst: str, work: list[tuple[planner.Input, str]],
              copies: list[tuple[planner.Input, str]], plan: Plan, mode: int,
              engine: Engine, report: JobReport, *, force: bool,
              progress: Progress | None) -> tuple[list[Done], list[Done]]:
    """Run ``plan`` for every ``(input, relative output name)`` of ``work`` into the
    tree ``dst`` and copy ``copies`` (signature bundles) as they are; returns what was
    done for each. A local ``dst`` is an atomic tree (files handled in windows, so few
    descriptors are open; the tree appears when all are done); a URL ``dst`` is one
    object per file, every upload held open until every part of every file succeeded,
    then all completed (an object store has no rename: the nearest to a tree appearing
    whole); any failure aborts them all."""
    from pqml.storage.urls import is_url

    if is_url(dst):
        return _run_object_tree(dst, work, copies, plan, mode, engine, report, force=force,
                                progress=progress)
    from pqml._internal.output_file import atomic_tree

    done: list[Done] = []
    copied: list[Done] = []
    with atomic_tree(dst, overwrite=force) as tree:
        for window in _windows(work, WINDOW_FILES):
            outputs: list[Any] = []
            jobs: list[tuple[Any, CipherTask]] = []
            sizes: list[Done] = []
            with _all_or_nothing(outputs):
                for inp, rel in window:
                    out = LocalPartOutput(tree.output(rel, mode=mode, source=inp.location),
                                          engine.node, tree.finished)
                    outputs.append(out)
                    try:
                        more, size = plan(inp, out)
                    except PqmlError as exc:
                        raise named(exc, inp.location) from None
                    jobs += more
                    sizes.append((inp, str(Path(dst) / rel), size))
                _run(engine, jobs, report, progress)
            done += sizes
        for inp, rel in copies:
            data = trees.read_small(inp)
            with tree.file(rel, mode=CIPHERTEXT_MODE, source=inp.location) as f:
                f.write(data)
            copied.append((inp, str(Path(dst) / rel), len(data)))
            if progress is not None:
                _planned(progress, len(data))
                progress(len(data))
    return done, copied


def _run_object_tree(dst: str, work: list[tuple[planner.Input, str]],
                     copies: list[tuple[planner.Input, str]], plan: Plan, mode: int,
                     engine: Engine, report: JobReport, *, force: bool,
                     progress: Progress | None) -> tuple[list[Done], list[Done]]:
    from pqml._internal.errors import OutputPathError

    outputs: list[Any] = []
    jobs: list[tuple[Any, CipherTask]] = []
    done: list[Done] = []
    copied: list[Done] = []
    names: dict[str, str] = {}

    def url_for(inp: planner.Input, rel: str) -> str:
        url = trees.object_url(dst, rel)
        if url in names:
            raise OutputPathError(f"{url}: two inputs map to this output ({names[url]} "
                                  f"and {inp.location})")
        names[url] = inp.location
        return url

    with _all_or_nothing(outputs):
        # the destination was checked (empty, or --force): no per-object look-up here;
        # completions still carry If-None-Match unless --force
        for inp, rel in work:
            url = url_for(inp, rel)
            out = open_part_output(url, mode=mode, force=force, node=engine.node,
                                   check=False)
            outputs.append(out)
            try:
                more, size = plan(inp, out)
            except PqmlError as exc:
                raise named(exc, inp.location) from None
            jobs += more
            done.append((inp, url, size))
        for inp, rel in copies:
            url = url_for(inp, rel)
            data = trees.read_small(inp)
            outputs.append(WholeOutput(url, data, force=force, check=False))
            copied.append((inp, url, len(data)))
        _run(engine, jobs, report, progress)
    if progress is not None:
        _planned(progress, sum(size for _, _, size in copied))
        for _, _, size in copied:
            progress(size)
    return done, copied


def _encrypt_tree(source: str, dst: str, objs: list[Any], described: list[dict[str, Any]],
                  engine: Engine, report: JobReport, *, force: bool, part_size: int,
                  allow_symlinks: bool, progress: Progress | None) -> list[EncryptResult]:
    trees.check_destination(source, dst, force=force)
    inputs = trees.inputs(source, allow_symlinks=allow_symlinks)
    bundle_names = {i.name for i in inputs if trees.is_bundle(i)}
    work = [(i, i.name + ".pqml") for i in inputs if i.name not in bundle_names]
    copies = [(i, i.name) for i in inputs if i.name in bundle_names]

    def plan(inp: planner.Input, out: Any) -> tuple[list[tuple[Any, CipherTask]], int]:
        return _encrypt_tasks(inp, objs, out, part_size)

    done, copied = _run_tree(dst, work, copies, plan, CIPHERTEXT_MODE, engine, report,
                             force=force, progress=progress)
    return [*(EncryptResult(i.location, out, "pqml/v1", False, i.size, n, described)
              for i, out, n in done),
            *(EncryptResult(i.location, out, COPIED, False, n, n) for i, out, n in copied)]


# ---- decryption ----------------------------------------------------------------------------


def _decrypt_tasks(inp: planner.Input, ids: list[Any], output: Any, part_size: int
                   ) -> tuple[list[tuple[Any, CipherTask]], int]:
    """Open the header (the driver's side), plan the parts; returns the tasks and the
    plaintext size."""
    from pqml.formats import pqml_v1
    from pqml.formats.age._io import Source
    from pqml.primitives import chunked
    from pqml.storage.reader import open_input

    with open_input(inp.location) as raw:
        detected = fmts.detect(raw.pread(64, 0))
        if detected.format != "pqml" or detected.armored:
            raise EngineError(f"{inp.location}: is {'armored ' if detected.armored else ''}"
                              f"{detected.name}; --engine ray and trees in object stores "
                              "decrypt binary pqml/v1 only (decrypt it alone with --engine "
                              "local)")
        located = pqml_v1.open_header(Source(raw), ids)
        assert located.file_key is not None
        try:
            cipher = pqml_v1.chunk_cipher(located.file_key,
                                          raw.pread(chunked.HEADER_SIZE,
                                                    located.payload_offset))
        except chunked.ChunkedFormatError as exc:
            from pqml.formats.age.errors import PayloadError

            raise PayloadError(str(exc)) from None
    keys = cipher.keys
    codec = parallel.Codec("pqml", keys.key, keys.base_nonce, keys.commitment)
    try:
        items = planner.plan_decrypt(inp, output.target, located.payload_offset,
                                     part_size=part_size)
        plaintext = planner.decrypted_size(inp.size, located.payload_offset)
    except chunked.ChunkedFormatError as exc:
        from pqml.formats.age.errors import PayloadError

        raise PayloadError(str(exc)) from None
    output.begin(b"", plaintext)
    count = items[-1].stop_chunk
    return [(output, CipherTask(item, codec, False, count, plaintext, 0, b"", output.sink))
            for item in items], plaintext


def _decrypted_name(name: str) -> str:
    from pqml.encryption.encrypt import _decrypted_name as strip

    return strip(name)


def decrypt(src: str | os.PathLike[str], dst: str | os.PathLike[str],
            identities: Iterable[Any], *, engine: Engine, force: bool = False,
            part_size: int = planner.PART_SIZE, allow_symlinks: bool = False,
            progress: Progress | None = None
            ) -> tuple[list[DecryptResult], list[str], JobReport]:
    """Decrypt a pqml/v1 file or object into ``dst``, or a tree (a local directory or a
    URL ending in ``/``) into the directory or prefix ``dst`` (``.pqml`` suffixes
    removed; files that are not encrypted are skipped and listed, signature bundles
    copied). Local outputs are 0600; outputs appear only after every chunk of every file
    authenticated. Returns results, skipped paths and the report."""

    started = time.perf_counter()
    report = JobReport(engine.name, engine.workers)
    ids = fmts.prepare_identities("pqml", resolve_identities(identities))
    source = os.fspath(src)
    _check_source(engine, source)
    skipped: list[str] = []
    if trees.names_tree(source):
        results = _decrypt_tree(source, os.fspath(dst), ids, engine, report, skipped,
                                force=force, part_size=part_size,
                                allow_symlinks=allow_symlinks, progress=progress)
    else:
        target = os.fspath(dst)
        if target.endswith("/"):
            target += _decrypted_name(Path(source.rstrip("/")).name)
        inp = _input(source, Path(source).name)
        output = open_part_output(target, mode=PLAINTEXT_MODE, force=force, node=engine.node)
        try:
            with _all_or_nothing([output]):
                jobs, size = _decrypt_tasks(inp, ids, output, part_size)
                _run(engine, jobs, report, progress)
        except PqmlError as exc:
            raise named(exc, source) from None
        results = [DecryptResult(source, target, "pqml/v1", False, size)]
    report.seconds = time.perf_counter() - started
    return results, skipped, report


def _decrypt_tree(source: str, dst: str, ids: list[Any], engine: Engine,
                  report: JobReport, skipped: list[str], *, force: bool, part_size: int,
                  allow_symlinks: bool, progress: Progress | None) -> list[DecryptResult]:
    trees.check_destination(source, dst, force=force)
    work, copies = [], []
    for inp in trees.inputs(source, allow_symlinks=allow_symlinks):
        head = trees.head(inp)  # a failing read is an error, not "not encrypted"
        try:
            fmts.detect(head)
        except PqmlError:
            if trees.is_bundle(inp):
                copies.append((inp, inp.name))
            else:
                skipped.append(inp.location)
            continue
        rel = PurePosixPath(inp.name)
        work.append((inp, str(rel.parent / _decrypted_name(rel.name))))

    def plan(inp: planner.Input, out: Any) -> tuple[list[tuple[Any, CipherTask]], int]:
        return _decrypt_tasks(inp, ids, out, part_size)

    done, copied = _run_tree(dst, work, copies, plan, PLAINTEXT_MODE, engine, report,
                             force=force, progress=progress)
    return [*(DecryptResult(i.location, out, "pqml/v1", False, n) for i, out, n in done),
            *(DecryptResult(i.location, out, COPIED, False, n) for i, out, n in copied)]

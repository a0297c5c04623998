"""pqml/v1 files in Ray Data: ``read_pqml`` (a datasource) and ``write_pqml`` (a datasink).

For users whose pipelines are already Ray Data: encrypted files are read like
``ray.data.read_binary_files`` reads plain ones — one row per file, ``{"path", "bytes"}``
with the plaintext — and a dataset's binary column is written as one pqml/v1 file per row.

Keys follow the rules of :mod:`pqml.distributed`. Reading: the driver opens every header
with the identities and hands each read task only that file's chunk key (a
:class:`~pqml.encryption.parallel.Codec`); identities never reach a worker, and every
chunk is authenticated (a tampered file fails the read task, and so the dataset's
execution, with the file named). Writing: workers receive the recipients' public keys only
(as PEM) and draw each file's key themselves; each file appears whole or not at all
(:func:`pqml.storage.writer.atomic_output`: a local unnamed file or a completed multipart
upload), and an existing file is refused unless ``force``.

Ray Data is imported only when these functions are called (it needs pandas and pyarrow:
the ``ray`` extra's ``ray[data]``).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Any

from pqml.distributed import planner
from pqml.distributed.parts import CipherTask, Sink, transform


def _ray_data() -> Any:
    from pqml.distributed.errors import EngineError
    from pqml.distributed.ray_engine import import_ray

    import_ray()
    try:
        import ray.data
    except ImportError as exc:
        raise EngineError(f"Ray Data is not installed ({exc.name or exc}): install the "
                          "'ray' extra (pip install 'pqml[ray]')") from None
    return ray.data


def _files(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]]) -> list[str]:
    """Files named, and the ``*.pqml`` files under named local directories (sorted)."""
    from pqml.storage.urls import is_url

    given = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    out: list[str] = []
    for p in given:
        text = os.fspath(p)
        if not is_url(text) and os.path.isdir(text):
            out += sorted(i.location for i in planner.list_tree(text)
                          if i.name.endswith(".pqml"))
        else:
            out.append(text)
    return out


def _read_plan(location: str, ids: list[Any]) -> CipherTask:
    """Open one header on the driver: the task that decrypts the whole file."""
    from pqml.distributed.jobs import _decrypt_tasks, _input

    class _Whole:  # decryption into one row: the part output is the task's return value
        target = location
        sink = Sink("return")

        def begin(self, prefix: bytes, total: int) -> None:
            return None

    tasks, plaintext = _decrypt_tasks(_input(location, os.path.basename(location)), ids,
                                      _Whole(), planner.MAX_PART)
    first, last = tasks[0][1], tasks[-1][1]
    whole = planner.WorkItem(location, first.item.name, 1, 1, first.item.start, last.item.end,
                             0, plaintext, 0, last.item.stop_chunk)
    return CipherTask(whole, first.codec, False, first.chunk_count, plaintext, 0, b"",
                      Sink("return"))


def _read_block(tasks: list[CipherTask]) -> list[Any]:
    import pyarrow as pa

    from pqml.encryption.encrypt import named
    from pqml.primitives.errors import PqmlError

    paths, data = [], []
    for task in tasks:
        try:
            out, _ = transform(task)
        except PqmlError as exc:
            raise named(exc, task.item.source) from None
        paths.append(task.item.source)
        data.append(bytes(out))
    return [pa.table({"path": pa.array(paths, pa.string()),
                      "bytes": pa.array(data, pa.binary())})]


def read_pqml(paths: str | os.PathLike[str] | Sequence[str | os.PathLike[str]],
              identities: Iterable[Any], **read_args: Any) -> Any:
    """A Ray Dataset of the decrypted files: rows ``{"path": str, "bytes": bytes}``.

    ``paths``: pqml/v1 files or URLs, or local directories (their ``*.pqml`` files).
    ``identities``: as ``pqml.decrypt_file`` takes them; used on the driver only.
    ``read_args`` go to ``ray.data.read_datasource`` (``override_num_blocks``, …)."""
    from pqml.encryption import encrypted_formats as fmts
    from pqml.encryption.encryption_keys import resolve_identities

    data = _ray_data()
    from ray.data.block import BlockMetadata

    ids = fmts.prepare_identities("pqml", resolve_identities(identities))
    plans = [_read_plan(location, ids) for location in _files(paths)]

    class PqmlDatasource(data.Datasource):  # type: ignore[misc,name-defined]
        def estimate_inmemory_data_size(self) -> int:
            return sum(p.plaintext_size for p in plans)

        def get_read_tasks(self, parallelism: int, per_task_row_limit: int | None = None,
                           data_context: Any = None) -> list[Any]:
            n = max(1, min(parallelism, len(plans)))
            groups = [plans[i::n] for i in range(n)]
            return [data.ReadTask(
                lambda group=group: _read_block(group),
                BlockMetadata(num_rows=len(group),
                              size_bytes=sum(p.plaintext_size for p in group),
                              exec_stats=None,
                              input_files=tuple(p.item.source for p in group)))
                for group in groups if group]

        def get_name(self) -> str:
            return "pqml"

    return data.read_datasource(PqmlDatasource(), **read_args)


def _write_one(target: str, data: bytes, recipients: list[Any], force: bool) -> None:
    import io

    from pqml.formats import pqml_v1
    from pqml.storage.writer import atomic_output

    with atomic_output(target, force=force, mode=0o644) as out:
        pqml_v1.encrypt(recipients, io.BytesIO(data), out, allow_classical=True,
                        plaintext_size=len(data))


def write_pqml(dataset: Any, path: str | os.PathLike[str], recipients: Iterable[Any], *,
               column: str = "bytes", name_column: str | None = "path",
               allow_classical: bool = False, force: bool = False,
               **write_args: Any) -> None:
    """Write each row's ``column`` (bytes) as ``path/NAME.pqml``, NAME the base name of
    the row's ``name_column`` (``path``, as ``read_binary_files`` and ``read_pqml`` give)
    or, without one, ``<task>-<row>``. ``recipients``: public keys as ``pqml encrypt -r``
    takes them (no passphrase); workers get them as PEM only."""
    from pqml.encryption import encrypted_formats as fmts
    from pqml.encryption.encryption_keys import resolve_recipients
    from pqml.keys.key_files import public_text
    from pqml.primitives.base import PublicKey
    from pqml.primitives.errors import PqmlError
    from pqml.storage.urls import is_url

    data = _ray_data()
    resolved = resolve_recipients(recipients)
    fmts.prepare_recipients("pqml", resolved, allow_classical=allow_classical)
    if not all(isinstance(r, PublicKey) for r in resolved):
        raise PqmlError("write_pqml encrypts to public keys only (no passphrase)")
    pems = [public_text(r).encode("ascii") for r in resolved]
    base = os.fspath(path).rstrip("/")

    class PqmlDatasink(data.Datasink):  # type: ignore[misc,name-defined]
        def on_write_start(self, *args: Any) -> None:
            if not is_url(base):
                os.makedirs(base, exist_ok=True)

        def write(self, blocks: Iterable[Any], ctx: Any) -> None:
            from ray.data.block import BlockAccessor

            from pqml.keys.key_files import load_public

            keys = [load_public(pem) for pem in pems]
            row = 0
            for block in blocks:
                for record in BlockAccessor.for_block(block).to_arrow().to_pylist():
                    name = os.path.basename(str(record[name_column])) if name_column \
                        else f"{ctx.task_idx}-{row}"
                    name = name[:-len(".pqml")] if name.endswith(".pqml") else name
                    if not name or name in (".", ".."):
                        raise PqmlError(f"row {row}: no file name in {name_column!r}")
                    _write_one(f"{base}/{name}.pqml", record[column], keys, force)
                    row += 1

        def get_name(self) -> str:
            return "pqml"

    dataset.write_datasink(PqmlDatasink(), **write_args)

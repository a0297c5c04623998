"""``--engine local|ray`` and ``--address``: where encrypt, decrypt, sign, verify and scan
do their work. The local engine is the default and leaves every command as it was; Ray
runs one task per part or file on a cluster (``--address``) or a local one. Trees with
an object store on either side (``s3://bucket/data/``) run through the same jobs on the
local engine when no ``--engine`` is given (:func:`object_tree`). The logic is in
:mod:`pqml.distributed`; this module only adds the options and hands over.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from typing import Any

import click

ENGINE_HELP = ("Where the work runs: local (default: this process, or -j processes) or "
               "ray (one task per part; a local cluster, or --address).")
ADDRESS_HELP = "Ray cluster to join (auto, HOST:PORT or ray://HOST:10001); needs --engine ray."


def engine_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add ``--engine`` and ``--address`` (parameters ``engine`` and ``address``)."""
    command = click.option("--address", metavar="ADDR", default=None, help=ADDRESS_HELP)(command)
    return click.option("--engine", type=click.Choice(["local", "ray"]), default="local",
                        show_default=True, help=ENGINE_HELP)(command)


def is_local(engine: str, address: str | None) -> bool:
    if engine == "local" and address is not None:
        raise click.UsageError("--address needs --engine ray")
    return engine == "local"


@contextlib.contextmanager
def _engine(engine: str, address: str | None, jobs: int | None) -> Iterator[Any]:
    from pqml.distributed.engine import open_engine

    eng = open_engine(engine, address=address, workers=jobs)
    try:
        yield eng
    finally:
        eng.close()


@contextlib.contextmanager
def hashing(engine: str, address: str | None, jobs: int | None = None) -> Iterator[None]:
    """Inside the block, model hashing (sign, verify) runs on the engine."""
    if is_local(engine, address):
        yield
        return
    from pqml.distributed.jobs import JobReport
    from pqml.distributed.sign import hash_runner
    from pqml.signing import manifest

    with _engine(engine, address, jobs) as eng, \
            manifest.hashing_on(hash_runner(eng, JobReport(eng.name, eng.workers))):
        yield


@contextlib.contextmanager
def scanning(engine: str, address: str | None, jobs: int | None = None) -> Iterator[None]:
    """Inside the block, scan's per-file analysis runs on the engine."""
    if is_local(engine, address):
        yield
        return
    from pqml.distributed.jobs import JobReport
    from pqml.distributed.scan import batch_runner
    from pqml.scan import runner

    with _engine(engine, address, jobs) as eng, \
            runner.scanning_on(batch_runner(eng, JobReport(eng.name, eng.workers))):
        yield


def object_tree(input: str | None, output: str | None) -> bool:
    """Whether the command is a tree job with an object store on either side: INPUT a
    URL ending in ``/`` (a URL without it that is only a prefix is refused with that
    hint), or a local directory with a URL -o. Those run in :mod:`pqml.distributed.jobs`
    on the local engine (``-j`` processes) unless ``--engine ray`` is given."""
    from pqml.storage.listing import names_tree
    from pqml.storage.urls import is_url

    if input in (None, "-"):
        return False
    if is_url(input):
        return names_tree(input)  # type: ignore[arg-type]
    return is_url(output) and names_tree(input)  # type: ignore[arg-type]


@contextlib.contextmanager
def job_progress(label: str) -> Iterator[Any]:
    """A rich progress bar for a distributed job, drawn only on a terminal (None
    otherwise): the job announces the bytes it plans before running them (``planned``),
    so the bar is sized from the plan, not from a second listing of the input."""
    if not _stderr_is_terminal():
        yield None
        return
    from pqml.cli.encrypt import byte_bar

    with byte_bar(label, None) as (bar, task):
        yield _JobBar(bar, task)


class _JobBar:
    """The job's progress callback: bytes done, and ``planned`` bytes to come."""

    def __init__(self, bar: Any, task: Any) -> None:
        self._bar, self._task, self.total = bar, task, 0

    def __call__(self, done: int) -> None:
        self._bar.advance(self._task, done)

    def planned(self, more: int) -> None:
        self.total += more
        self._bar.update(self._task, total=self.total)


def _stderr_is_terminal() -> bool:
    import sys

    return sys.stderr.isatty()


def run_tree(action: str, input: str, output: str | None, keys: list[Any], *,
             jobs: int | None, **options: Any) -> Any:
    """``pqml encrypt|decrypt`` of an object-store tree without ``--engine``: the
    distributed job on the local engine (serial, or ``-j`` processes). Returns what
    :func:`pqml.distributed.jobs.encrypt` / ``decrypt`` return."""
    from pqml.distributed import jobs as distributed
    from pqml.distributed.local import LocalEngine
    from pqml.primitives.errors import PqmlError

    if output in (None, "-"):
        raise PqmlError(f"{input}: is a tree: give -o OUTDIR or -o PREFIX/ for the "
                        f"{action}ed tree")
    eng = LocalEngine(jobs or 1)
    fn = distributed.encrypt if action == "encrypt" else distributed.decrypt
    with job_progress(f"{action}ing") as progress:
        return fn(input, output, keys, engine=eng, progress=progress, **options)


def _needs_paths(input: str | None, output: str | None) -> None:
    if input in (None, "-") or output in (None, "-"):
        raise click.UsageError("--engine ray needs an input and -o OUTPUT that are files, "
                               "directories or URLs (not standard input or output)")


def encrypt(input: str | None, output: str | None, recipients: list[Any], *, fmt: str,
            armor: bool, allow_classical: bool, force: bool, allow_symlinks: bool,
            jobs: int | None, engine: str, address: str | None, as_json: bool,
            refs: Any) -> None:
    """``pqml encrypt --engine ray``: pqml/v1, binary, to a file, object or tree."""
    from pqml.distributed import jobs as distributed
    from pqml.distributed.errors import EngineError

    _needs_paths(input, output)
    if fmt != "pqml" or armor:
        raise EngineError("--engine ray writes binary pqml/v1 only (no --format age, no "
                          "--armor): use --engine local for those")
    with _engine(engine, address, jobs) as eng, job_progress("encrypting") as progress:
        results, report = distributed.encrypt(
            input, output, recipients, engine=eng,  # type: ignore[arg-type]
            allow_classical=allow_classical, force=force, allow_symlinks=allow_symlinks,
            progress=progress)
    refs.record_many("encrypt", [(r.output, r.plaintext_size) for r in results])
    from pqml.cli.encrypt import _warn_classical

    if results:
        _warn_classical(results[0].recipients)
    if as_json:
        click.echo(json.dumps({"results": [r.to_dict() for r in results],
                               "engine": report.as_dict()}, indent=2))
        return
    click.echo(f"encrypted {len(results)} file(s) with {report.tasks} task(s) on "
               f"{len(report.nodes)} node(s) in {report.seconds:.1f} s", err=True)


def decrypt(input: str | None, output: str | None, identities: list[Any], *, force: bool,
            allow_symlinks: bool, jobs: int | None, engine: str, address: str | None,
            as_json: bool, refs: Any) -> None:
    """``pqml decrypt --engine ray``: binary pqml/v1 files, objects or trees."""
    from pqml.distributed import jobs as distributed

    _needs_paths(input, output)
    with _engine(engine, address, jobs) as eng, job_progress("decrypting") as progress:
        results, skipped, report = distributed.decrypt(
            input, output, identities, engine=eng,  # type: ignore[arg-type]
            force=force, allow_symlinks=allow_symlinks, progress=progress)
    refs.record_many("decrypt", [(r.input, r.plaintext_size) for r in results])
    for path in skipped:
        click.echo(f"pqml: warning: {path}: not an encrypted file, skipped", err=True)
    if as_json:
        click.echo(json.dumps({"decrypted": [r.to_dict() for r in results],
                               "skipped": skipped, "engine": report.as_dict()}, indent=2))
        return
    click.echo(f"decrypted {len(results)} file(s) with {report.tasks} task(s) on "
               f"{len(report.nodes)} node(s) in {report.seconds:.1f} s", err=True)

"""Scan large trees on an engine: the per-file analysis on workers, the join here.

The local scanner (:func:`pqml.scan.runner.run`) walks, batches and joins; through its
seam :func:`pqml.scan.runner.scanning_on` its batches run as tasks on the engine (each
batch exactly what a local worker process scans: up to 32 files or 16 MiB). Linking
bundles to artifacts, risk, baseline and suppressions stay on the driver, so the
findings are those of a local scan of the same tree.

URL roots (``s3://bucket/prefix/``) are listed on the driver; each task carries only
URLs, and the worker reads its objects itself by range reads
(:func:`pqml.scan.remote.scan_object`), so nothing is downloaded to the driver. The
workers reach the store with their own environment (``AWS_*``, ``AWS_ENDPOINT_URL``, …).
``memory://`` objects live in the driver's process: Ray workers cannot read them, and
such a scan is refused before any task starts.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

from pqml.distributed.engine import Engine
from pqml.distributed.jobs import JobReport
from pqml.distributed.parts import ScanTask, run_scan


def batch_runner(engine: Engine, report: JobReport) -> Any:
    """A :data:`pqml.scan.runner.BatchRunner` that scans on ``engine``."""

    def batches(plain: list[Any], risk: Any) -> Iterator[list[Any]]:
        if engine.name != "local":
            _check_reachable(plain)
        tasks = [ScanTask(tuple(batch), risk) for batch in plain]
        for _, (node, part) in engine.map_unordered(run_scan, tasks):
            report.count(node)
            yield part

    return batches


def _check_reachable(plain: list[Any]) -> None:
    """Refuse objects only the driver's process can read."""
    from pqml.scan.errors import ScanError
    from pqml.storage.urls import is_url, scheme_of

    for batch in plain:
        for _, path, _, _ in batch:
            if is_url(path) and scheme_of(path) == "memory":
                raise ScanError(f"{path}: memory:// objects live in this process; workers "
                                "of another engine cannot read them (use --engine local)")


def scan(roots: Sequence[str], options: Any = None, *, engine: Engine,
         progress: Any = None) -> tuple[Any, JobReport]:
    """:func:`pqml.scan.runner.run` with the files analysed on ``engine``."""
    from pqml.scan import runner

    started = time.perf_counter()
    report = JobReport(engine.name, engine.workers)
    with runner.scanning_on(batch_runner(engine, report)):
        result = runner.run(list(roots), options, progress)
    result.jobs = engine.workers
    report.seconds = time.perf_counter() - started
    return result, report

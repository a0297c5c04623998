"""Sign and verify models with the hashing on an engine; keys never leave the driver.

Workers only hash: each gets one byte range of one file (a whole file for OMS's ``files``
method, one shard for ``shards``) and returns its digest. Everything else is the local
signer's own code, run on the driver through the hashing seam
:func:`pqml.signing.manifest.hashing_on`: listing with its link and name rules, the
manifest, the in-toto statement, every signature, the trust policy and the comparison.
So a bundle signed here has exactly the payload ``pqml sign`` writes for the same model
and options (tests check it byte for byte, and model_signing 1.1.1 verifies it), and a
verification reports exactly what ``pqml verify`` reports.

Scaling: a SHA-256 over one file is one sequential computation, so with ``files`` a big
file is one task; ``shards`` (pqml's default for PQ keys, 64 MiB each) spreads one big
file over the whole cluster.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pqml.distributed.engine import Engine
from pqml.distributed.jobs import JobReport
from pqml.distributed.parts import HashTask, run_hash
from pqml.distributed.planner import WorkItem
from pqml.signing import manifest


def hash_runner(engine: Engine, report: JobReport) -> manifest.TaskRunner:
    """A :data:`pqml.signing.manifest.TaskRunner` that hashes on ``engine``."""

    def run(root: Path, tasks: Sequence[Any], htype: str, allow_symlinks: bool) -> list[Any]:
        work = []
        for t in tasks:
            location = str(root) if t.name == "." else str(root / t.name)
            item = WorkItem(location, t.name, 1, 1, t.start, t.end)
            work.append(HashTask(item, str(root), t.file_size, htype, allow_symlinks))
        results: list[Any] = [None] * len(work)
        for index, found in engine.map_unordered(run_hash, work):
            results[index] = found.error if found.error is not None else found.digest
            report.count(found.node)
        return results

    return run


def sign_model(model: str | os.PathLike[str], keys: Sequence[Any], *, engine: Engine,
               **options: Any) -> tuple[Any, JobReport]:
    """:func:`pqml.signing.signing.sign_model` (same ``options``) with the files hashed
    on ``engine``; returns its SignResult and the job's report."""
    from pqml.signing import signing

    started = time.perf_counter()
    report = JobReport(engine.name, engine.workers)
    with manifest.hashing_on(hash_runner(engine, report)):
        result = signing.sign_model(model, keys, **options)
    report.seconds = time.perf_counter() - started
    return result, report


def verify_model(model: str | os.PathLike[str], trusted_keys: Sequence[Any] = (), *,
                 engine: Engine, **options: Any) -> tuple[Any, JobReport]:
    """:func:`pqml.signing.signing.verify_model` (same ``options``, same errors) with
    the files hashed on ``engine``; returns its VerificationResult and the report."""
    from pqml.signing import signing

    started = time.perf_counter()
    report = JobReport(engine.name, engine.workers)
    with manifest.hashing_on(hash_runner(engine, report)):
        result = signing.verify_model(model, trusted_keys, **options)
    report.seconds = time.perf_counter() - started
    return result, report

"""Run a scan: walk the roots, analyse files in parallel processes, then join the results.

Roots are local paths or fsspec URLs (``s3://bucket/prefix/``, ``memory://…``): a URL's
objects are listed (:func:`pqml.scan.walk.iter_objects`) and each is read by whoever
analyses it — a worker process here, or a worker of an engine — through range reads
(:mod:`pqml.scan.remote`), so the findings are those of the same tree on disk. Their
locations show as URLs; finding paths (and so fingerprints and baselines) stay relative
to the root, as for a local tree. A storage failure stops the scan (exit code 2).

Per-file analysis (:mod:`detect`) is independent, so files are batched across processes,
this one and ``jobs - 1`` workers (the AST work holds the GIL; threads would not help).
What needs the whole tree runs afterwards in the parent: linking OMS bundles to the
artifacts they sign, risk assessment, fingerprints, the baseline, inline
``# pqml: ignore`` suppressions.
"""

from __future__ import annotations

import gc
import os
import pickle
import posixpath
import queue
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from pqml._internal.batching import size_batches
from pqml.scan import baseline, risk
from pqml.scan.config import RiskConfig, ScanConfig
from pqml.scan.detect import FileResult, scan_file
from pqml.scan.errors import ScanError
from pqml.scan.files import artifacts, oms_bundles
from pqml.scan.model import Finding, ScanWarning, assign_fingerprints
from pqml.scan.walk import FileEntry, IgnoreRules, iter_files, iter_objects
from pqml.storage.urls import is_url

Progress = Callable[[int, int], None]  # (files done so far, total files)

_BATCH_FILES = 32
_BATCH_BYTES = 16 << 20
_PARALLEL_MIN_FILES = 48

Batch = list[tuple[int, str, str, int]]  # (root index, path, rel, size)
BatchRunner = Callable[[list[Batch], RiskConfig], Iterable[list[tuple[int, "FileResult"]]]]
_RUNNER: ContextVar[BatchRunner | None] = ContextVar("pqml_scan_runner", default=None)


@contextmanager
def scanning_on(runner: BatchRunner) -> Iterator[None]:
    """Inside the block, :func:`run` hands its batches to ``runner(batches, risk)``,
    which yields each batch's :func:`_scan_batch` result as it finishes: how
    :mod:`pqml.distributed` scans on a cluster while walking and joining stay here."""
    token = _RUNNER.set(runner)
    try:
        yield
    finally:
        _RUNNER.reset(token)


@dataclass
class ScanOptions:
    ignore: list[str] = field(default_factory=list)
    jobs: int | None = None
    baseline: str | None = None
    config: ScanConfig = field(default_factory=ScanConfig)
    gitignore: bool = True  # False: --no-gitignore (pqml.toml can turn it off too)
    #: the baseline was named by a repository's own pqml.toml: it cannot hide artifacts
    baseline_from_repository: bool = False


@dataclass
class ScanResult:
    roots: list[str]
    findings: list[Finding]
    warnings: list[ScanWarning]
    files_scanned: int
    python_files: int
    python_lines: int
    seconds: float
    jobs: int
    baselined: int = 0
    bundles: list[oms_bundles.BundleRecord] = field(default_factory=list)
    config: ScanConfig = field(default_factory=ScanConfig)
    #: the directory each root's finding paths are relative to (a file root: its parent)
    root_dirs: list[str] = field(default_factory=list)
    #: URL roots -> the URL their finding paths are relative to (a prefix, or an
    #: object's parent)
    url_bases: dict[str, str] = field(default_factory=dict)

    def display_path(self, f: Finding) -> str:
        """Where a person finds ``f``: its root-relative path when one root was scanned;
        with several (``pqml scan a/ b/``), joined to its root (``a/x.py``), since
        ``x.py`` alone could be either. Every report shows this form. A finding under a
        URL root shows as its URL (``s3://bucket/prefix/x.py``), with one root or many."""
        base_url = self.url_bases.get(f.root)
        if base_url is not None:
            return f"{base_url.rstrip('/')}/{f.path}"
        if len(self.roots) <= 1:
            return f.path
        dirs = dict(zip(self.roots, self.root_dirs or self.roots, strict=False))
        base = dirs.get(f.root, f.root).replace(os.sep, "/")
        return posixpath.normpath(posixpath.join(base, f.path)) if base else f.path

    def location(self, f: Finding) -> str:
        """:meth:`display_path` and line: ``a/x.py:3``."""
        return f"{self.display_path(f)}:{f.line}"

    @property
    def active(self) -> list[Finding]:
        """Findings not accepted by the baseline."""
        return [f for f in self.findings if not f.baselined]

    def summary(self) -> dict[str, Any]:
        active = self.active
        by_level: dict[str, int] = {}
        for f in active:
            level = f.risk.level if f.risk else "info"
            by_level[level] = by_level.get(level, 0) + 1
        arts = [f for f in active if f.kind == "artifact"]
        return {
            "files_scanned": self.files_scanned,
            "python_files": self.python_files,
            "python_lines": self.python_lines,
            "seconds": round(self.seconds, 3),
            "jobs": self.jobs,
            "findings": len(active),
            "baselined": self.baselined,
            "quantum_vulnerable": sum(1 for f in active if f.quantum_vulnerable),
            "by_level": by_level,
            "artifacts": len(arts),
            "unprotected_artifacts": sum(
                1 for f in arts if f.details.get("protection", {}).get("status") == "none"),
            "repository_config": self.config.source if self.config.from_repository else None,
        }


def _batches(entries: list[FileEntry]) -> list[list[FileEntry]]:
    return size_batches(entries, lambda e: e.size, max_items=_BATCH_FILES,
                        max_bytes=_BATCH_BYTES)


def _scan_batch(batch: list[tuple[int, str, str, int]],
                risk_cfg: RiskConfig) -> list[tuple[int, FileResult]]:
    """Analyse files and do the per-file part of the join in the worker: inline
    suppressions, risk and fingerprints (fingerprints only depend on the file itself)."""
    with _gc_paused():
        return _scan_files(batch, risk_cfg)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is analysed. A module's AST is
    thousands of objects that live until its analysis ends and hold no reference cycles
    (neither do findings): the collector, triggered by their allocation, only walks them
    again and again (a few per cent of the scan's time). Cycles made meanwhile wait for
    the next collection after the batch; a caller's disabled collector stays disabled."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _scan_files(batch: Batch, risk_cfg: RiskConfig) -> list[tuple[int, FileResult]]:
    out = []
    for root_index, path, rel, size in batch:
        if is_url(path):
            from pqml.scan.remote import scan_object

            r = scan_object(path, rel, size)
        else:
            r = scan_file(path, rel, size)
        r.findings = [f for f in r.findings
                      if "pqml: ignore" not in f.evidence and "pqml:ignore" not in f.evidence]
        for f in r.findings:
            f.risk = risk.assess(f, risk_cfg)
        assign_fingerprints(r.findings)
        out.append((root_index, r))
    return out


def _preload() -> None:
    """Import the detectors once in the parent, so forked workers inherit them warm."""
    from pqml.scan.files import configs, dependencies, jwk, pem, ssh_keys  # noqa: F401


def _parallel(batches: list[Batch], risk_cfg: RiskConfig,
              children: int) -> Iterator[list[tuple[int, FileResult]]]:
    """Each batch's result, scanned by ``children`` worker processes and by this one
    (``--jobs N`` is N processes analysing, this one included): the parent would otherwise
    sit idle while the workers run, and what it scans itself is never pickled. Every
    process claims the next batch from a shared counter when it is free, so none waits
    while another holds more than the batch it is on (a pool's queue would hand a worker
    batches ahead, and its management threads would compete with this process for the
    GIL); workers send results back on a queue this process empties between batches."""
    import multiprocessing

    _preload()
    ctx = multiprocessing.get_context()
    claim = ctx.Value("i", 0)
    results = ctx.Queue()
    workers = [ctx.Process(target=_worker, args=(k, batches, risk_cfg, claim, results),
                           daemon=True) for k in range(children)]
    finished: set[int] = set()
    try:
        for w in workers:
            w.start()
        while (i := _claim(claim, len(batches))) is not None:
            yield _scan_batch(batches[i], risk_cfg)
            while not results.empty():
                part = _received(results.get(), finished)
                if part is not None:
                    yield part
        while len(finished) < children:
            try:
                message = results.get(timeout=0.5)
            except queue.Empty:
                lost = [w for k, w in enumerate(workers)
                        if k not in finished and not w.is_alive()]
                if lost and results.empty():  # a dead worker's messages are all sent
                    raise ScanError(f"a scan worker process died (exit code "
                                    f"{lost[0].exitcode})") from None
                continue
            part = _received(message, finished)
            if part is not None:
                yield part
    finally:  # a store failing, Ctrl-C, a worker's error: do not wait for the rest
        for k, w in enumerate(workers):
            if k not in finished and w.is_alive():
                w.terminate()
        for w in workers:
            if w.pid is not None:
                w.join()
        results.close()


def _claim(counter: Any, n: int) -> int | None:
    """The index of the next batch nobody has claimed, or None once all are."""
    with counter.get_lock():
        i: int = counter.value
        if i >= n:
            return None
        counter.value = i + 1
    return i


def _received(message: tuple[str, Any], finished: set[int]) -> Any:
    """A worker's batch result; None for its last word (raised if an error)."""
    kind, value = message
    if kind == "part":
        return pickle.loads(value)
    if kind == "error":
        raise value
    finished.add(value)
    return None


def _worker(k: int, batches: list[Batch], risk_cfg: RiskConfig, claim: Any,
            results: Any) -> None:
    """Worker process ``k``: scan batches until none is left, sending each result back,
    then its index (or the error that stopped it, raised again in the parent). Results
    are pickled here, not by the queue's thread, so that one that cannot be is an error
    the parent hears about rather than a batch silently lost."""
    try:
        while (i := _claim(claim, len(batches))) is not None:
            part = _scan_batch(batches[i], risk_cfg)
            results.put(("part", pickle.dumps(part, pickle.HIGHEST_PROTOCOL)))
    except BaseException as exc:
        try:
            pickle.loads(pickle.dumps(exc))
        except Exception:  # the parent must still learn why
            exc = ScanError(f"{type(exc).__name__}: {exc}")
        results.put(("error", exc))
        return
    results.put(("done", k))


def default_jobs() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def collect(roots: Sequence[str], ignore: IgnoreRules, default_excludes: bool,
            gitignore: bool = True,
            warnings: list[ScanWarning] | None = None) -> list[FileEntry]:
    """The files (and objects, for URL roots) to scan, in walk order."""
    entries: list[FileEntry] = []
    for i, root in enumerate(roots):
        if is_url(root):
            entries.extend(iter_objects(root, i, ignore, default_excludes, gitignore,
                                        warnings))
            continue
        if not os.path.exists(root):
            raise ScanError(f"{root}: no such file or directory")
        entries.extend(iter_files(root, i, ignore, default_excludes, gitignore, warnings))
    return entries


def _url_bases(roots: Sequence[str], entries: list[FileEntry]) -> dict[str, str]:
    """Each URL root's base: itself if a prefix, else its parent. A root whose walk
    yielded exactly itself is an object; one that yielded nothing is looked up."""
    from pqml.scan import remote

    bases = {}
    for i, root in enumerate(roots):
        if not is_url(root):
            continue
        own = [e for e in entries if e.root_index == i][:2]
        prefix = not (len(own) == 1 and own[0].path == root) if own else remote.is_prefix(root)
        bases[root] = remote.base_of(root, prefix)
    return bases


def run(roots: Sequence[str], options: ScanOptions | None = None,
        progress: Progress | None = None) -> ScanResult:
    """Scan ``roots`` (paths or URLs). Raises :class:`ScanError` (storage failures as
    :class:`pqml.scan.remote.ScanStorageError`, also a StorageError)."""
    if not any(is_url(r) for r in roots):
        return _run(roots, options, progress)
    from pqml.scan.remote import storage_errors

    with storage_errors():
        return _run(roots, options, progress)


def _run(roots: Sequence[str], options: ScanOptions | None,
         progress: Progress | None) -> ScanResult:
    options = options or ScanOptions()
    cfg = options.config
    started = time.perf_counter()
    # a repository's own ignore patterns may skip its code, never its ML artifacts: its
    # files are walked anyway and only their artifact findings kept (see _repo_ignored)
    repo_rules = IgnoreRules(cfg.ignore) if cfg.from_repository else None
    ignore = IgnoreRules([*options.ignore] if repo_rules else [*cfg.ignore, *options.ignore])
    walk_warnings: list[ScanWarning] = []
    entries = collect(roots, ignore, cfg.default_excludes, options.gitignore and cfg.gitignore,
                      walk_warnings)
    url_bases = _url_bases(roots, entries)
    root_dirs = [url_bases[r] if r in url_bases else r if os.path.isdir(r)
                 else os.path.dirname(r) for r in roots]
    jobs = options.jobs or cfg.jobs or default_jobs()
    accepted = baseline.load(options.baseline) if options.baseline else None
    results: list[tuple[int, FileResult]] = []
    total = len(entries)
    done = 0
    if progress:
        progress(0, total)
    batches = _batches(entries)
    plain = [[(e.root_index, e.path, e.rel, e.size) for e in b] for b in batches]
    external = _RUNNER.get()
    if external is not None:
        for part in external(plain, cfg.risk):
            results.extend(part)
            done += len(part)
            if progress:
                progress(done, total)
    elif jobs > 1 and total >= _PARALLEL_MIN_FILES and len(batches) > 1:
        for part in _parallel(plain, cfg.risk, min(jobs, len(batches)) - 1):
            results.extend(part)
            done += len(part)
            if progress:
                progress(done, total)
    else:
        jobs = 1
        for b in plain:
            part = _scan_batch(b, cfg.risk)
            results.extend(part)
            done += len(part)
            if progress:
                progress(done, total)
    if repo_rules is not None:
        for _, r in results:
            if _repo_ignored(repo_rules, r.rel):
                r.findings = [f for f in r.findings if f.kind == "artifact"]
                r.warnings, r.bundle, r.is_python = [], None, False
    results.sort(key=lambda r: (r[0], r[1].rel))
    result = _finish(list(roots), results, cfg, jobs, accepted, started, walk_warnings)
    result.root_dirs = root_dirs
    result.url_bases = url_bases
    if options.baseline_from_repository:
        for f in result.findings:
            if f.baselined and f.kind == "artifact":
                f.baselined = False
                result.baselined -= 1
    return result


def _repo_ignored(rules: IgnoreRules, rel: str) -> bool:
    """Whether a repository's own ``ignore`` patterns cover ``rel`` (the file or a folder
    it is in)."""
    parts = tuple(rel.split("/"))
    return any(rules.verdict(parts[:i], True) is True for i in range(1, len(parts))) or (
        rules.verdict(parts, False) is True)


def _finish(roots: list[str], results: list[tuple[int, FileResult]], cfg: ScanConfig, jobs: int,
            accepted: set[str] | None, started: float,
            walk_warnings: list[ScanWarning] | None = None) -> ScanResult:
    findings: list[Finding] = []
    warnings: list[ScanWarning] = list(walk_warnings or [])
    bundles: dict[int, list[oms_bundles.BundleRecord]] = {}
    files_by_root: dict[int, set[str]] = {}
    python_files = python_lines = 0
    for root_index, r in results:
        files_by_root.setdefault(root_index, set()).add(r.rel)
        for f in r.findings:
            f.root = roots[root_index]
            findings.append(f)
        warnings += [ScanWarning(r.rel, w) for w in r.warnings]
        if r.bundle is not None:
            bundles.setdefault(root_index, []).append(r.bundle)  # type: ignore[arg-type]
        if r.is_python:
            python_files += 1
            python_lines += r.python_lines
    for f in _link_signatures(roots, findings, bundles, files_by_root):
        f.risk = risk.assess(f, cfg.risk)  # its protection changed: assess it again
        assign_fingerprints([f])  # one finding per artifact file
    n_baselined = baseline.apply(findings, accepted) if accepted is not None else 0
    findings.sort(key=lambda f: (f.root, f.path, f.line, f.algorithm, f.usage))
    return ScanResult(roots=roots, findings=findings, warnings=warnings,
                      files_scanned=len(results), python_files=python_files,
                      python_lines=python_lines, seconds=time.perf_counter() - started,
                      jobs=jobs, baselined=n_baselined,
                      bundles=[b for bs in bundles.values() for b in bs], config=cfg)


def _link_signatures(roots: list[str], findings: list[Finding],
                     bundles: dict[int, list[oms_bundles.BundleRecord]],
                     files_by_root: dict[int, set[str]]) -> list[Finding]:
    """Mark artifacts listed by an OMS bundle in the same root as signed; return the
    artifact findings that changed or were created."""
    changed: list[Finding] = []
    index = {r: i for i, r in enumerate(roots)}
    signed: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for root_index, records in bundles.items():
        files = files_by_root.get(root_index, set())
        for record in records:
            record.covered = oms_bundles.resolve_coverage(record, files)
            for path in record.covered:
                signed.setdefault((root_index, path), []).append(record.as_dict())
    have_artifact = {(index[f.root], f.path) for f in findings if f.kind == "artifact"}
    for root_index, path in signed:
        if (root_index, path) not in have_artifact:  # a signed model's other files
            f = artifacts.finding(path, {"format": "file", "category": "model",
                                         "pickle_based": False, "code_execution_risk": False,
                                         "dangerous_imports": [], "member_of_signed_model": True})
            f.root = roots[root_index]
            findings.append(f)
            changed.append(f)
    for f in findings:
        if f.kind == "signature-bundle":
            record_covered = next((b.covered for b in bundles.get(index[f.root], [])
                                   if b.path == f.path), [])
            f.details["bundle"]["covered_files"] = record_covered
        if f.kind != "artifact":
            continue
        sigs = signed.get((index[f.root], f.path), [])
        if sigs:
            artifacts.apply_protection(f, sigs)
            if not any(g is f for g in changed):
                changed.append(f)
    return changed

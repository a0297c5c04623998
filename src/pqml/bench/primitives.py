"""Benchmark every available KEM and signature through pqml and through the bare backend.

Both sides run interleaved in short batches (pqml, backend, pqml, ...) and the median
per-operation time is reported, so a noisy shared machine affects both sides alike and
the ratio shows the wrapper's own overhead.
"""

from __future__ import annotations

import platform
import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from pqml.primitives import registry

_MSG = b"pqml benchmark message " * 4


@dataclass
class Result:
    algorithm: str
    operation: str
    pqml_us: float  # median microseconds per operation
    backend_us: float | None
    rounds: int

    @property
    def overhead_pct(self) -> float | None:
        if self.backend_us is None or self.backend_us <= 0:
            return None
        return (self.pqml_us / self.backend_us - 1.0) * 100.0

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["pqml_ops_per_s"] = 1e6 / self.pqml_us if self.pqml_us else None
        d["backend_ops_per_s"] = 1e6 / self.backend_us if self.backend_us else None
        d["overhead_pct"] = self.overhead_pct
        return d


def pqml_ops(name: str) -> dict[str, Callable[[], Any]]:
    """The same operations as primitives.baseline, through pqml's interfaces."""
    alg = registry.get(name)
    scheme = alg.scheme()
    sk = scheme.generate()
    pk = sk.public_key()
    if alg.family == "kem":
        _, ct = pk.encapsulate()
        return {"keygen": scheme.generate, "encaps": pk.encapsulate,
                "decaps": lambda: sk.decapsulate(ct)}
    sig = sk.sign(_MSG)
    return {"keygen": scheme.generate, "sign": lambda: sk.sign(_MSG),
            "verify": lambda: pk.verify(sig, _MSG)}


def _batch(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def _calibrate(fn: Callable[[], Any], target: float) -> int:
    """Iterations per batch so that one batch takes about ``target`` seconds."""
    once = _batch(fn, 1)
    return max(1, min(100_000, int(target / max(once, 1e-7))))


def measure_pair(ours: Callable[[], Any], theirs: Callable[[], Any] | None,
                 budget: float, min_rounds: int = 5) -> tuple[float, float | None, int]:
    rounds = max(min_rounds, 9)
    batch_target = budget / (rounds * (2 if theirs else 1))
    n_ours = _calibrate(ours, batch_target)
    n_theirs = _calibrate(theirs, batch_target) if theirs else 0
    ours_t: list[float] = []
    theirs_t: list[float] = []
    deadline = time.perf_counter() + budget
    for i in range(rounds):
        ours_t.append(_batch(ours, n_ours))
        if theirs:
            theirs_t.append(_batch(theirs, n_theirs))
        if i + 1 >= min_rounds and time.perf_counter() > deadline:
            break
    med_theirs = statistics.median(theirs_t) * 1e6 if theirs_t else None
    return statistics.median(ours_t) * 1e6, med_theirs, len(ours_t)


def run(names: Iterable[str] | None = None, budget: float = 0.5,
        progress: Callable[[str], None] | None = None) -> list[Result]:
    """Benchmark ``names`` (default: every available KEM and signature)."""
    from pqml.primitives import baseline

    if names is None:
        algs = [a for a in registry.all_algorithms()
                if a.family in ("kem", "signature") and a.available and a.impl]
    else:
        algs = [registry.get(n).require_available() for n in names]
    results: list[Result] = []
    for alg in algs:
        if progress:
            progress(alg.name)
        ours = pqml_ops(alg.name)
        theirs = baseline.direct_ops(alg.name) or {}
        for op, fn in ours.items():
            p, b, r = measure_pair(fn, theirs.get(op), budget)
            results.append(Result(alg.name, op, p, b, r))
    return results


def machine() -> dict[str, Any]:
    import os

    import cryptography

    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "processor": _cpu_model() or platform.processor(),
        "cpus": os.cpu_count(),
        "cryptography": cryptography.__version__,
        "date": time.strftime("%Y-%m-%d"),
    }


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None

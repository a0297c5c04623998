"""Distributed benchmark: the Ray engine against the local path, on the same data.

Run: .venv/bin/python bench/distributed.py [--tree-mib 1024] [--object-mib 2048]
                                          [--repeat 3] [--dir DIR] [--tasks 2000]

One process (the driver), one local Ray cluster started once (``ray.init(num_cpus=2)``),
inputs in the page cache (a warm machine: this measures the engines, not the disk), every
case run --repeat times interleaved round-robin, medians reported. Cases:

- encrypt a tree of --tree-mib MiB in files of mixed sizes (64 KiB .. 256 MiB, log-uniform,
  seeded): the local path serial and with ``-j 2`` (``pqml encrypt -j 2``), and the
  distributed job on Ray with 1 and 2 workers (tasks in flight);
- encrypt and decrypt one object of --object-mib MiB: the same four;
- sign the tree (ML-DSA-65, shards of 64 MiB): the local signer (threads) and Ray 2;
- scheduler overhead: --tasks empty tasks through each engine, per task.

The goal (issue 16): Ray at 2 workers adds at most 15 % over the local path at 2 workers
on this 2-core machine. Prints the machine, command, date, medians and ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def _noop(x: int) -> int:
    return x


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _write(path: Path, size: int, block: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def _mixed_sizes(total: int, seed: int = 16) -> list[int]:
    """File sizes from 64 KiB to 256 MiB, log-uniform, adding up to ``total``."""
    rng = random.Random(seed)
    sizes: list[int] = []
    left = total
    while left > 0:
        size = min(left, int(2 ** rng.uniform(16, 28)))
        sizes.append(size)
        left -= size
    return sizes


class _LocalRunner:
    """Runs named cases in a child forked now, timing them there."""

    def __init__(self, cases: dict[str, Callable[[], object]]) -> None:
        import multiprocessing

        self._conn, child = multiprocessing.Pipe()
        self._proc = multiprocessing.get_context("fork").Process(
            target=self._serve, args=(child, cases))
        self._proc.start()

    @staticmethod
    def _serve(conn: Any, cases: dict[str, Callable[[], object]]) -> None:
        while (name := conn.recv()) is not None:
            conn.send(_timed(cases[name]))

    def run(self, name: str) -> float:
        self._conn.send(name)
        return float(self._conn.recv())

    def close(self) -> None:
        self._conn.send(None)
        self._proc.join()


def _fresh(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree-mib", type=int, default=1024)
    parser.add_argument("--object-mib", type=int, default=2048)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--dir", type=Path, default=None)
    parser.add_argument("--only", default="", metavar="TEXT",
                        help="run only the cases whose name contains TEXT (e.g. 'object')")
    args = parser.parse_args()

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray

    import pqml
    from pqml.distributed import jobs, sign
    from pqml.distributed.local import LocalEngine
    from pqml.distributed.ray_engine import RayEngine
    from pqml.encryption import encrypt as local
    from pqml.signing import signing

    work = Path(tempfile.mkdtemp(prefix="pqml-dist-bench-", dir=args.dir))
    try:
        block = os.urandom(64 * MIB)
        tree = work / "tree"
        sizes = _mixed_sizes(args.tree_mib * MIB)
        for i, size in enumerate(sizes):
            _write(tree / f"shard-{i:03d}.bin", size, block)
        obj = work / "object.bin"
        _write(obj, args.object_mib * MIB, block)
        xw = pqml.generate_key("X-Wing")
        pqml.save_private_key(xw, work / "k.pem")
        pqml.save_public_key(xw, work / "k.pub")
        ml = pqml.generate_key("ML-DSA-65")
        pqml.save_private_key(ml, work / "s.pem")
        pub, sk = [str(work / "k.pub")], [str(work / "k.pem")]
        local.encrypt_file(obj, work / "object.pqml", pub)  # the decryption input

        out = work / "out"

        def tree_local(jobs_: int | None) -> Callable[[], object]:
            return lambda: (_fresh(out), local.encrypt_tree(tree, out, pub, jobs=jobs_))

        def obj_local(jobs_: int | None) -> Callable[[], object]:
            return lambda: (_fresh(out), local.encrypt_file(obj, out, pub, jobs=jobs_))

        def dec_local(jobs_: int | None) -> Callable[[], object]:
            return lambda: (_fresh(out), local.decrypt_file(work / "object.pqml", out, sk,
                                                            jobs=jobs_))

        sig = work / "model.sig"

        def sign_local() -> object:
            _fresh(sig)
            return signing.sign_model(tree, [work / "s.pem"], signature=sig,
                                      method="shards")

        local_cases: dict[str, Callable[[], object]] = {
            "tree encrypt, local serial": tree_local(None),
            "tree encrypt, local -j 2": tree_local(2),
            "object encrypt, local serial": obj_local(None),
            "object encrypt, local -j 2": obj_local(2),
            "object decrypt, local -j 2": dec_local(2),
            "tree sign (shards), local": sign_local,
        }
        # The local path runs in a process forked before Ray starts: a process with Ray's
        # threads would make the local pool spawn fresh interpreters (parallel._context),
        # which a user running `pqml encrypt -j 2` never pays.
        local_runner = _LocalRunner(local_cases)

        started = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - started
        ray1, ray2 = RayEngine(workers=1), RayEngine(workers=2)
        out2 = work / "out2"

        def tree_engine(engine: Any) -> Callable[[], object]:
            return lambda: (_fresh(out2), jobs.encrypt(tree, out2, pub, engine=engine))

        def obj_engine(engine: Any) -> Callable[[], object]:
            return lambda: (_fresh(out2), jobs.encrypt(obj, out2, pub, engine=engine))

        def dec_engine(engine: Any) -> Callable[[], object]:
            return lambda: (_fresh(out2), jobs.decrypt(work / "object.pqml", out2, sk,
                                                       engine=engine))

        sig2 = work / "model2.sig"

        def sign_ray() -> object:
            _fresh(sig2)
            return sign.sign_model(tree, [work / "s.pem"], engine=ray2, signature=sig2,
                                   method="shards")

        ray_cases: dict[str, Callable[[], object]] = {
            "tree encrypt, Ray 1 worker": tree_engine(ray1),
            "tree encrypt, Ray 2 workers": tree_engine(ray2),
            "object encrypt, Ray 1 worker": obj_engine(ray1),
            "object encrypt, Ray 2 workers": obj_engine(ray2),
            "object decrypt, Ray 2 workers": dec_engine(ray2),
            "tree sign (shards), Ray 2 workers": sign_ray,
        }
        order = [n for n in (*local_cases, *ray_cases) if args.only in n]

        def run(name: str) -> float:
            return local_runner.run(name) if name in local_cases else _timed(ray_cases[name])

        for name in order:  # warm-up: worker processes, imports, page cache
            run(name)
        times: dict[str, list[float]] = {name: [] for name in order}
        for _ in range(args.repeat):
            for name in order:
                times[name].append(run(name))
        local_runner.close()
        medians = {name: statistics.median(times[name]) for name in sorted(
            order, key=lambda n: (n.split(",")[0], order.index(n)))}

        local2 = LocalEngine(2)
        overhead = {}
        for label, engine in (("Ray", ray2), ("local pool", local2)):
            list(engine.map_unordered(_noop, list(range(100))))  # warm
            t = _timed(lambda e=engine: list(e.map_unordered(_noop, list(range(args.tasks)))))
            overhead[label] = t / args.tasks
        ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    tree_mib, obj_mib = sum(sizes) / MIB, args.object_mib
    print("## Distributed engines (bench/distributed.py)\n")
    print(f"Command: `{' '.join([Path(sys.executable).name, *sys.argv])}`  ")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Linux "
          f"{platform.release()}, Python {platform.python_version()}, Ray {ray.__version__}  ")
    print(f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}  ")
    print(f"Data: tree of {len(sizes)} files, {tree_mib:.0f} MiB (64 KiB-256 MiB, "
          f"log-uniform); one {obj_mib} MiB object; inputs in the page cache; medians of "
          f"{args.repeat} interleaved runs. Ray cluster start: {ray_start:.1f} s (not "
          "counted).\n")
    print("| case | median s | min s | max s | MiB/s (median) |")
    print("|---|---:|---:|---:|---:|")
    for name, seconds in medians.items():
        mib = tree_mib if name.startswith("tree") else obj_mib
        print(f"| {name} | {seconds:.2f} | {min(times[name]):.2f} | {max(times[name]):.2f} "
              f"| {mib / seconds:.0f} |")
    print()

    def ratio(a: str, b: str) -> float | None:
        return medians[a] / medians[b] if a in medians and b in medians else None

    for what in ("tree encrypt", "object encrypt", "object decrypt"):
        r = ratio(f"{what}, Ray 2 workers", f"{what}, local -j 2")
        if r is not None:
            verdict = "met" if r <= 1.15 else "NOT met"
            print(f"- {what}: Ray 2 workers / local -j 2 = {r:.2f} (goal <= 1.15: {verdict})")
    r = ratio("tree sign (shards), Ray 2 workers", "tree sign (shards), local")
    if r is not None:
        print(f"- tree sign: Ray 2 workers / local threads = {r:.2f}")
    for what in ("tree encrypt", "object encrypt"):
        r = ratio(f"{what}, Ray 1 worker", f"{what}, Ray 2 workers")
        if r is not None:
            print(f"- {what}: Ray 1 -> 2 workers speed-up {r:.2f}x")
    for label, per in overhead.items():
        print(f"- scheduler overhead, {label}: {per * 1e3:.2f} ms per empty task "
              f"({args.tasks} tasks)")


if __name__ == "__main__":
    main()

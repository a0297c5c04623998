"""Keyring benchmark: ``pqml keys list`` over 10,000 keys (issue goal: under 0.3 s).

The keyring is filled through the real API (``Keyring.new``: X-Wing keys, files written
and synced, one transaction each), some keys moved to other states and given uses, once
per --dir and reused by later runs. Then, interleaved over --rounds rounds:

* the real CLI process, ``pqml keys list`` (table) and ``pqml keys list --json``, stdout
  on a pipe that is drained, wall time from spawn to exit;
* ``pqml --version`` as the floor (interpreter + click + pqml start-up);
* the API, ``Keyring(home).list()`` in this process (fresh connection each time).

Run: .venv/bin/python bench/keyring.py [--keys 10000] [--rounds 7] [--dir /tmp/pqml-bench-keyring]
Prints Markdown for docs/PERFORMANCE.md (medians) with machine, command and date.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from pqml.keys.keyring import Keyring
from pqml.keys.states import KeyState

GOAL = 0.3


def fill(home: Path, count: int) -> float:
    """Make ``count`` keys in ``home`` (kept: later runs reuse them); seconds taken."""
    kr = Keyring(home, timeout=60)
    have = len(kr.list())
    start = time.perf_counter()
    for i in range(have, count):
        rec = kr.new(label=f"bench-{i:05d}")
        if i % 7 == 0:
            kr.record_use(rec.id, operation="encrypt", asset=f"/data/model-{i}.safetensors",
                          nbytes=i * 1000)
        if i % 11 == 0:
            kr.set_state(rec.id, KeyState.RETIRED)
        if (i + 1) % 1000 == 0:
            print(f"  {i + 1} keys", file=sys.stderr, flush=True)
    kr.close()
    return time.perf_counter() - start


def cli_time(argv: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system, of the child: less disturbed than wall
    time by the other jobs of a shared machine) and bytes written."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, capture_output=True, check=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, len(proc.stdout)


def api_time(home: Path) -> tuple[float, int]:
    start = time.perf_counter()
    with Keyring(home) as kr:
        n = len(kr.list())
    return time.perf_counter() - start, n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/pqml-bench-keyring"))
    parser.add_argument("--fresh", action="store_true", help="delete --dir first")
    args = parser.parse_args()
    home = args.dir / f"home-{args.keys}"
    if args.fresh and args.dir.exists():
        shutil.rmtree(args.dir)
    filled = fill(home, args.keys)
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env["PQML_HOME"] = str(home)
    pqml = [sys.executable, "-m", "pqml.cli.main"]
    cases = {
        "pqml keys list": [*pqml, "keys", "list"],
        "pqml keys list --json": [*pqml, "keys", "list", "--json"],
        "pqml --version (start-up floor)": [*pqml, "--version"],
    }
    times: dict[str, list[float]] = {name: [] for name in [*cases, "API Keyring.list()"]}
    cpu: dict[str, list[float]] = {name: [] for name in cases}
    sizes: dict[str, int] = {}
    for argv in cases.values():  # warm the page cache once
        cli_time(argv, env)
    for _ in range(args.rounds):
        for name, argv in cases.items():
            seconds, used, size = cli_time(argv, env)
            times[name].append(seconds)
            cpu[name].append(used)
            sizes[name] = size
        seconds, n = api_time(home)
        times["API Keyring.list()"].append(seconds)
        assert n == args.keys, n
    print(f"## pqml keys list over {args.keys:,} keys\n")
    print(f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, Python "
          f"{platform.python_version()}, SQLite {__import__('sqlite3').sqlite_version}; "
          f"{time.strftime('%Y-%m-%d')}")
    print(f"Command: .venv/bin/python bench/keyring.py --keys {args.keys} --rounds "
          f"{args.rounds}")
    if filled > 1:
        print(f"Filling the keyring through Keyring.new: {filled:.1f} s")
    print(f"Load average at the end: {os.getloadavg()[0]:.2f}")
    print(f"\n| what | median wall (s) | min wall (s) | median CPU (s) | output | "
          f"goal {GOAL} s |")
    print("|---|---|---|---|---|---|")
    for name, values in times.items():
        median = statistics.median(values)
        used = f"{statistics.median(cpu[name]):.3f}" if name in cpu else "-"
        out = f"{sizes[name]:,} B" if name in sizes else f"{args.keys:,} records"
        goal = ("met" if median < GOAL else "MISSED") if "keys list" in name else "-"
        print(f"| {name} | {median:.3f} | {min(values):.3f} | {used} | {out} | {goal} |")
    floor = statistics.median(times["pqml --version (start-up floor)"])
    listing = statistics.median(times["pqml keys list"])
    print(f"\nkeys list beyond start-up: {listing - floor:.3f} s "
          f"({listing / floor:.2f}x the floor)")


if __name__ == "__main__":
    main()

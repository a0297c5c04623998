"""Transparency log benchmark: appends, record() in a fresh process, verify, proofs.

1. Appends: one process appending ENTRIES one at a time through ``LogStore.append``
   (checkpoints batched every 1000 entries, each signed with ML-DSA-44), and the same in
   batches of 1000 through ``append_many``; entries/s.
2. ``record()``: what logging adds to ``pqml decrypt`` — a fresh process runs a real
   decrypt (the CLI, in process), then one ``record()`` is timed: the imports it adds,
   opening the log, one append; median over PROCS processes. Also a warm ``record()`` in a
   long-lived process, and whole ``pqml decrypt`` processes for scale.
3. ``pqml log verify --no-sign`` of a log of BIG entries (1,000,000 by default, built once
   with append_many), as a subprocess; and ``verify_log`` in process.
4. Inclusion proofs (``LogStore.prove`` under a fixed checkpoint) at random indices of
   that log, median ms.

Run: .venv/bin/python bench/log.py [--big 1000000] [--rounds 3] [--dir /tmp]
Prints Markdown for docs/PERFORMANCE.md (medians; machine, command and date on top).
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pqml.log.entry import Actor, Asset, LogEntry
from pqml.log.store import LogStore
from pqml.log.verify import verify_log

BIN = Path(sys.executable).parent
ACTOR = Actor.current()


def entry(i: int) -> LogEntry:
    return LogEntry("decrypt", "ok", time=1.7e9 + i, actor=ACTOR, key_ids=("3f2a9c1e5b7d",),
                    assets=(Asset(f"/data/models/m{i % 977}.safetensors", "sha256:" + "ab" * 32),),
                    details={"bytes": 123456 + i, "format": "pqml/v1"})


def bench_appends(work: Path, n: int) -> tuple[float, float]:
    entries = [entry(i) for i in range(n)]
    one = LogStore(work / "one", checkpoint_every=1000)
    one.append(entries[0])  # first use: creates the keys
    start = time.perf_counter()
    for e in entries:
        one.append(e)
    single = n / (time.perf_counter() - start)
    many = LogStore(work / "many", checkpoint_every=1000)
    many.append(entries[0])
    start = time.perf_counter()
    for lo in range(0, n, 1000):
        many.append_many(entries[lo:lo + 1000])
    batched = n / (time.perf_counter() - start)
    for store in (one, many):
        store.close()
        shutil.rmtree(store.directory)
    return single, batched


AFTER_DECRYPT = """
import sys, time
from pqml.cli.main import cli
home, key, enc, out = sys.argv[1:5]
try:  # a real `pqml decrypt`, in this process, before logging it
    cli(["decrypt", "-i", key, "-o", out, "--force", enc], standalone_mode=False)
except SystemExit:
    pass
start = time.perf_counter()  # what a feature does to log: import, build an entry, record
from pqml.log.entry import Asset, LogEntry
from pqml.log.recorder import record
import pqml.log.store
imported = time.perf_counter()
record(LogEntry("decrypt", "ok", key_ids=("3f2a9c1e5b7d",), assets=(Asset(enc, None),),
                details={"bytes": 1, "format": "pqml/v1"}), home=home)
print(imported - start, time.perf_counter() - imported)
"""


def bench_record(work: Path, procs: int
                 ) -> tuple[list[float], list[float], list[float], list[float]]:
    """record() after a real decrypt in a fresh process (the lazy imports it adds, opening
    the log, one append), whole `pqml decrypt` processes for scale, and a warm record()."""
    home, key, plain = work / "home", work / "me.key", work / "plain"
    # bytecode cached as an installed pqml has it (in a private folder, not the tree)
    env = {**os.environ, "PQML_LOG": "on", "PQML_HOME": str(work / "keyring"),
           "PYTHONPYCACHEPREFIX": str(work / "pycache")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([str(BIN / "pqml"), "keygen", "-o", str(key)], check=True, env=env,
                   capture_output=True)
    recipient = work / "me.pub"
    recipient.write_text(subprocess.run([str(BIN / "pqml"), "pubkey", str(key)], check=True,
                                        env=env, capture_output=True, text=True).stdout)
    plain.write_bytes(os.urandom(4096))
    subprocess.run([str(BIN / "pqml"), "encrypt", "-r", str(recipient), "-o", str(plain) + ".pqml",
                    str(plain)], check=True, env=env, capture_output=True)
    argv = [sys.executable, "-c", AFTER_DECRYPT, str(home), str(key), str(plain) + ".pqml",
            str(work / "out")]
    subprocess.run(argv, check=True, env=env, capture_output=True)  # first use: makes keys
    imports, added, whole = [], [], []
    for _ in range(procs):
        out = subprocess.run(argv, check=True, env=env, capture_output=True, text=True)
        imports.append(float(out.stdout.split()[-2]))
        added.append(float(out.stdout.split()[-1]))
        start = time.perf_counter()
        subprocess.run([str(BIN / "pqml"), "decrypt", "-i", str(key), "-o", str(work / "out"),
                        "--force", str(plain) + ".pqml"], check=True, env=env,
                       capture_output=True)
        whole.append(time.perf_counter() - start)
    from pqml.log.recorder import record

    warm = []
    for i in range(2000):
        e = entry(i)
        start = time.perf_counter()
        record(e, home=home)
        warm.append(time.perf_counter() - start)
    return imports, added, whole, warm


def build_big(path: Path, n: int) -> None:
    store = LogStore(path, checkpoint_every=1000)
    for lo in range(0, n, 10_000):
        store.append_many([entry(i) for i in range(lo, min(n, lo + 10_000))])
    store.checkpoint()
    store.close()


def bench_verify(path: Path, rounds: int) -> tuple[list[float], list[float]]:
    cli, inproc = [], []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run([str(BIN / "pqml"), "log", "verify", "--no-sign", "--log", str(path)],
                       check=True, capture_output=True)
        cli.append(time.perf_counter() - start)
        start = time.perf_counter()
        verify_log(path, sign=False)
        inproc.append(time.perf_counter() - start)
    return cli, inproc


def bench_proofs(path: Path, count: int) -> list[float]:
    store = LogStore(path)
    note = store.checkpoint()
    rng = random.Random(1)
    times = []
    for _ in range(count):
        index = rng.randrange(store.size)
        start = time.perf_counter()
        store.prove(index, checkpoint=note)
        times.append(time.perf_counter() - start)
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--big", type=int, default=1_000_000, help="entries of the verify log")
    ap.add_argument("--appends", type=int, default=20_000, help="entries per append run")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--procs", type=int, default=20, help="fresh processes for record()")
    ap.add_argument("--dir", default=None, help="where to build the logs (default: /tmp)")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pqml-log-bench-", dir=args.dir))
    try:
        singles, batches = zip(*(bench_appends(work, args.appends)
                                 for _ in range(args.rounds)), strict=True)
        imports, added, whole, warm = bench_record(work, args.procs)
        start = time.perf_counter()
        build_big(work / "big", args.big)
        built = time.perf_counter() - start
        cli, inproc = bench_verify(work / "big", args.rounds)
        proofs = bench_proofs(work / "big", 200)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = statistics.median
    print(f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
          f"{platform.system()}, Python {platform.python_version()}; "
          f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"Command: .venv/bin/python bench/log.py --big {args.big} --appends {args.appends} "
          f"--rounds {args.rounds} --procs {args.procs}\n")
    print("| measure | median | goal |")
    print("|---|---|---|")
    print(f"| append, one entry per call (checkpoint every 1000) | {med(singles):,.0f} "
          "entries/s | >= 20,000 entries/s |")
    print(f"| append_many, 1000 per call | {med(batches):,.0f} entries/s | |")
    print(f"| record() after a `pqml decrypt` in the same fresh process | "
          f"{med(added) * 1e3:.3f} ms | < 1 ms |")
    print(f"| importing pqml.log (entry, recorder, store) after that decrypt | "
          f"{med(imports) * 1e3:.2f} ms | |")
    print(f"| (for scale: a whole `pqml decrypt` process, 4 KiB file) | {med(whole) * 1e3:.0f} "
          "ms | |")
    print(f"| record(), warm (long-lived process) | {med(warm) * 1e3:.3f} ms | |")
    print(f"| `pqml log verify --no-sign`, {args.big:,} entries (subprocess) | {med(cli):.2f} s "
          "| < 5 s |")
    print(f"| verify_log, {args.big:,} entries (in process) | {med(inproc):.2f} s | |")
    print(f"| inclusion proof in a {args.big:,}-entry log | {med(proofs) * 1e3:.2f} ms | "
          "< 10 ms |")
    print(f"\nBuilding the {args.big:,}-entry log with append_many took {built:.1f} s "
          f"({args.big / built:,.0f} entries/s, JSON encoding of the entries included).")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Edge verification benchmark: a 100 MB model verified on one core within 64 MiB.

The constrained profile: every verifying process is pinned to CPU 0
(``os.sched_setaffinity``, what ``taskset -c 0`` does) and runs under
``RLIMIT_AS`` = 64 MiB — the whole address space, shared libraries and thread stacks
included, so stricter than a 64 MiB RSS or cgroup ``memory.max`` limit (which this
container does not let an unprivileged process set). Per algorithm, interleaved over
--rounds rounds, three commands run as fresh processes:

* ``floor``: ``python -c pass`` under the same limits (interpreter start-up alone);
* ``edge``: ``python -m pqml.signing.edge_verify MODEL -k PUB`` (the edge path);
* ``cli``: ``pqml verify MODEL -k PUB`` (the full command line, for comparison; if it
  cannot start within 64 MiB that is reported, not hidden). Its command module loads
  lazily inside the run, so only its wall time and peak RSS compare.

Reported (medians): start-up (spawn until the verifier module is imported, measured by
the child itself against the parent's spawn time), verify time (the verification call),
wall time, and peak RSS (``ru_maxrss`` of the child, from ``wait4``). The model is read
from the page cache (it was just written or verified), as on a device that verifies
right after download.

Run: .venv/bin/python bench/edge.py [--size-mb 100] [--rounds 5] [--dir /tmp/pqml-bench-edge]
Prints Markdown for docs/PERFORMANCE.md with machine, command and date.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import pqml
from pqml.signing import signing

ALGORITHMS = ["Falcon-512", "ML-DSA-44", "ML-DSA-65", "SLH-DSA-SHA2-128s", "SLH-DSA-SHA2-128f"]
LIMIT = 64 << 20

# The children report the wall clock after imports and after verification (start-up and
# verify time apart, trusting nothing but the two clocks) and their own VmHWM: peak RSS of
# the process image since exec (ru_maxrss of a forked child would count the parent's pages
# it started with).
_REPORT = """
def vm_hwm():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
print(json.dumps({"imported": t_imported, "done": time.time(), "bytes": size,
                  "rss": vm_hwm()}))
"""
EDGE_CHILD = """
import sys, time, json
from pqml.signing import edge_verify
t_imported = time.time()
size = edge_verify.verify_model(sys.argv[1], sys.argv[2], [sys.argv[3]]).bytes
""" + _REPORT
CLI_CHILD = """
import sys, time, json
from pqml.cli.main import cli
t_imported = time.time()
cli.main(["verify", sys.argv[1], "--signature", sys.argv[2], "-k", sys.argv[3]],
         standalone_mode=False)
size = 0
""" + _REPORT
FLOOR_CHILD = """
import time, json
t_imported = time.time()
size = 0
""" + _REPORT


def constrain() -> None:
    """In the child before exec: one core, 64 MiB of address space."""
    os.sched_setaffinity(0, {0})
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def make_model(root: Path, size_mb: int) -> Path:
    model = root / "edge-model"
    if model.is_dir():
        return model
    model.mkdir(parents=True)
    chunk = os.urandom(1 << 20)
    # a few shards as a real checkpoint has them, plus small config files
    shards = 4
    per = size_mb // shards
    for i in range(shards):
        with open(model / f"model-{i:05d}-of-{shards:05d}.safetensors", "wb") as f:
            for j in range(per):
                f.write(chunk[j % 7:] + chunk[: j % 7])
    (model / "config.json").write_text('{"architecture": "edge-detector", "layers": 24}')
    (model / "tokenizer.json").write_text('{"vocab": 32000}')
    return model


def prepare(root: Path, model: Path, alg: str) -> tuple[Path, Path]:
    sig, pub = root / f"{alg}.sig", root / f"{alg}.pub"
    if sig.exists() and pub.exists():
        return sig, pub
    sk = pqml.generate_key(alg)
    pqml.save_public_key(sk, pub)
    signing.sign_model(model, [sk], signature=sig, force=True)
    return sig, pub


def run_child(code: str, args: list[str]) -> dict[str, float] | str:
    """One constrained child; its numbers, or the first line of its error."""
    start = time.time()
    proc = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=constrain)
    out, err = proc.communicate()
    end = time.time()
    if proc.returncode != 0:
        lines = err.decode(errors="replace").strip().splitlines()
        return lines[-1] if lines else f"exit {proc.returncode}"
    data = json.loads(out.splitlines()[-1])  # the cli child prints its report first
    return {"startup": data["imported"] - start, "verify": data["done"] - data["imported"],
            "wall": end - start, "bytes": data["bytes"], "rss": data["rss"]}


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/pqml-bench-edge"))
    ap.add_argument("--alg", action="append", help="only these algorithms")
    args = ap.parse_args()
    algs = args.alg or ALGORITHMS
    args.dir.mkdir(parents=True, exist_ok=True)
    model = make_model(args.dir, args.size_mb)
    size = sum(p.stat().st_size for p in model.iterdir())
    bundles = {}
    for alg in algs:
        print(f"  signing with {alg}", file=sys.stderr, flush=True)
        bundles[alg] = prepare(args.dir, model, alg)
    kinds = {"floor": FLOOR_CHILD, "edge": EDGE_CHILD, "cli": CLI_CHILD}
    times: dict[tuple[str, str], list[dict[str, float]]] = {}
    errors: dict[tuple[str, str], str] = {}
    for r in range(args.rounds):
        order = algs[r % len(algs):] + algs[: r % len(algs)]
        for alg in order:
            sig, pub = bundles[alg]
            child_args = [str(model), str(sig), str(pub)]
            for kind, code in kinds.items():
                result = run_child(code, child_args)
                if isinstance(result, str):
                    errors[(alg, kind)] = result
                else:
                    times.setdefault((alg, kind), []).append(result)
    print(f"## Edge verification: {size / 2**20:.0f} MiB model, one core, RLIMIT_AS 64 MiB\n")
    print(f"Machine: {cpu_model()}, {os.cpu_count()} cpus (child pinned to cpu 0), Python "
          f"{platform.python_version()}, {time.strftime('%Y-%m-%d')}")
    print(f"Command: .venv/bin/python bench/edge.py --size-mb {args.size_mb} "
          f"--rounds {args.rounds}\n")
    print("| algorithm | bundle bytes | path | start-up | verify | wall | peak RSS (max) | "
          "MB/s |")
    print("|---|---|---|---|---|---|---|---|")
    for alg in algs:
        sig_size = bundles[alg][0].stat().st_size
        for kind in kinds:
            key = (alg, kind)
            if key in errors and key not in times:
                print(f"| {alg} | {sig_size} | {kind} | fails: {errors[key][:70]} | | | | |")
                continue
            runs = times[key]
            med = {k: statistics.median(x[k] for x in runs) for k in ("startup", "verify",
                                                                       "wall")}
            peak = max(x["rss"] for x in runs)
            speed = f"{size / 1e6 / med['verify']:.0f}" if kind == "edge" else "-"
            # the cli's commands load lazily, inside its "verify": only its wall time compares
            split = kind != "cli"
            startup = f"{med['startup'] * 1000:.0f} ms" if split else "-"
            verify = f"{med['verify'] * 1000:.0f} ms" if split else "-"
            print(f"| {alg} | {sig_size} | {kind} | {startup} | {verify} | "
                  f"{med['wall'] * 1000:.0f} ms | "
                  f"{peak / 2**20:.1f} MiB | {speed} |")


if __name__ == "__main__":
    main()

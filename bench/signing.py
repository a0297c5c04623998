"""Model signing benchmark: pqml next to model_signing 1.1.1 on the same model, one run.

The model is 4 x SIZE MiB random files + 3 small JSON files (default SIZE = 512: 2 GiB),
created in a temporary directory and deleted afterwards. Every measured operation runs once
per round, rounds interleave the tools (so load on this shared machine hits both alike),
and the table shows medians. Both tools use one ECDSA P-256 key for the comparison.

Run: .venv/bin/python bench/signing.py [--size-mib 512] [--rounds 5] [--dir /tmp]
Prints Markdown for docs/PERFORMANCE.md; --json OUT also writes the raw timings.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pqml
from pqml.bench import primitives as pqml_bench
from pqml.signing import signing, verified_load
from pqml.signing.verify_options import VerifyOptions

BIN = Path(sys.executable).parent
N_FILES = 4


def make_model(root: Path, size_mib: int) -> list[Path]:
    root.mkdir(parents=True)
    weights = []
    chunk = 8 << 20
    for i in range(N_FILES):
        path = root / f"model-{i:05d}-of-{N_FILES:05d}.bin"
        with open(path, "wb") as f:
            left = size_mib << 20
            while left:
                n = min(chunk, left)
                f.write(os.urandom(n))
                left -= n
        weights.append(path)
    for name in ("config.json", "generation_config.json", "tokenizer_config.json"):
        (root / name).write_text(json.dumps({"name": name, "layers": 32, "vocab": 32000}))
    return weights


def floor(paths: list[Path]) -> None:
    """Two threads hashing the weight files with hashlib: what SHA-256 costs here."""
    def worker(mine: list[Path]) -> None:
        buf = memoryview(bytearray(1 << 20))
        for p in mine:
            h = hashlib.sha256()
            with open(p, "rb", buffering=0) as f:
                while n := f.readinto(buf):
                    h.update(buf[:n])

    threads = [threading.Thread(target=worker, args=(paths[i::2],)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def run_cli(*args: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(list(args), capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(args)} failed: {done.stderr.strip()}")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--size-mib", type=int, default=512, help="size of each of the 4 files")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--startup-runs", type=int, default=11)
    ap.add_argument("--dir", default=None, help="where to create the model (default: $TMPDIR)")
    ap.add_argument("--no-cli", action="store_true", help="skip the subprocess (CLI) rows")
    ap.add_argument("--json", help="also write raw timings here")
    args = ap.parse_args()

    import model_signing  # noqa: F401 - fail early if the peer is missing

    need = N_FILES * (args.size_mib << 20) * 1.05 + (64 << 20)
    base = Path(args.dir or tempfile.gettempdir())
    free = shutil.disk_usage(base).free
    if free < need:
        print(f"bench: {base} has {free >> 20} MiB free, needs {int(need) >> 20} MiB; "
              "use --size-mib or --dir", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="pqml-bench-", dir=base))
    try:
        return run(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    import model_signing

    model, sigs = work / "model", work / "sigs"
    sigs.mkdir()
    print(f"… creating {N_FILES} x {args.size_mib} MiB in {model}", file=sys.stderr)
    weights = make_model(model, args.size_mib)
    ec = pqml.generate_key("ECDSA-P256", allow_classical=True)
    ml = pqml.generate_key("ML-DSA-65")
    keys = {}
    for name, key in (("ec", ec), ("ml", ml)):
        pqml.save_private_key(key, work / f"{name}.pem")
        pqml.save_public_key(key, work / f"{name}.pub")
        keys[name], keys[f"{name}.pub"] = work / f"{name}.pem", work / f"{name}.pub"
    floor(weights)  # warm the page cache: every row reads from memory

    ms_sig, pq_sig, pq_ml_sig = sigs / "ms.sig", sigs / "pqml-ecdsa.sig", sigs / "pqml-ml.sig"
    b3_sig = sigs / "pqml-blake3.sig"
    part = weights[0].name

    def ms_sign() -> None:
        model_signing.signing.Config().use_elliptic_key_signer(private_key=keys["ec"]).sign(
            model, ms_sig)

    def ms_verify() -> None:
        model_signing.verifying.Config().use_elliptic_key_verifier(
            public_key=keys["ec.pub"]).verify(model, ms_sig)

    ops: dict[str, Callable[[], object]] = {
        "hashlib floor (2 threads, SHA-256)": lambda: floor(weights),
        "model_signing sign key (API)": ms_sign,
        "pqml sign, ECDSA-P256 (files)": lambda: signing.sign_model(
            model, [ec], signature=pq_sig, force=True),
        "model_signing verify key (API)": ms_verify,
        "pqml verify, ECDSA-P256 (files)": lambda: signing.verify_model(
            model, [ec.public_key()], signature=pq_sig),
        "pqml partial verify, 1 file (files)": lambda: verified_load.verify_for_load(
            model, [part], [ec.public_key()], verify=VerifyOptions(signature=pq_sig)),
        "pqml sign, ML-DSA-65 (shards 64 MiB)": lambda: signing.sign_model(
            model, [ml], signature=pq_ml_sig, force=True),
        "pqml verify, ML-DSA-65 (shards)": lambda: signing.verify_model(
            model, [ml.public_key()], signature=pq_ml_sig),
        "pqml partial verify, 1 file (shards)": lambda: verified_load.verify_for_load(
            model, [part], [ml.public_key()], verify=VerifyOptions(signature=pq_ml_sig)),
        "pqml sign, ML-DSA-65, BLAKE3": lambda: signing.sign_model(
            model, [ml], signature=b3_sig, hash="blake3", force=True),
        "pqml verify, ML-DSA-65, BLAKE3": lambda: signing.verify_model(
            model, [ml.public_key()], signature=b3_sig),
    }
    if not args.no_cli:
        ms_cli, pq_cli = str(BIN / "model_signing"), str(BIN / "pqml")
        cli_ms_sig, cli_pq_sig = sigs / "cli-ms.sig", sigs / "cli-pqml.sig"
        ops.update({
            "model_signing sign key (CLI)": lambda: run_cli(
                ms_cli, "sign", "key", str(model), "--private_key", str(keys["ec"]),
                "--signature", str(cli_ms_sig)),
            "pqml sign -k ecdsa (CLI)": lambda: run_cli(
                pq_cli, "sign", str(model), "-k", str(keys["ec"]), "--signature",
                str(cli_pq_sig), "--force"),
            "model_signing verify key (CLI)": lambda: run_cli(
                ms_cli, "verify", "key", str(model), "--public_key", str(keys["ec.pub"]),
                "--signature", str(cli_ms_sig)),
            "pqml verify -k ecdsa (CLI)": lambda: run_cli(
                pq_cli, "verify", str(model), "-k", str(keys["ec.pub"]), "--signature",
                str(cli_pq_sig)),
        })
    times: dict[str, list[float]] = {name: [] for name in ops}
    order = list(ops)
    for r in range(args.rounds):
        print(f"… round {r + 1}/{args.rounds}", file=sys.stderr)
        # Sign before verify for each bundle, otherwise a fresh order every round, so a
        # burst of load from other processes does not always hit the same rows.
        random.Random(r).shuffle(order)
        for name in sorted(order, key=lambda n: ("verify" in n, order.index(n))):
            times[name].append(timed(ops[name]))

    startup = measure_startup(work, keys, args.startup_runs)
    report(args, times, startup)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"machine": pqml_bench.machine(), "size_mib": args.size_mib, "times": times,
             "startup": startup}, indent=2))
    return 0


def measure_startup(work: Path, keys: dict[str, Path], runs: int) -> dict[str, list[float]]:
    """``pqml verify`` on a 3-byte model as a subprocess: what start-up costs."""
    tiny = work / "tiny"
    tiny.mkdir()
    (tiny / "w.bin").write_bytes(b"abc")
    pq = str(BIN / "pqml")
    run_cli(pq, "sign", str(tiny), "-k", str(keys["ec"]), "-k", str(keys["ml"]))
    argv = [pq, "verify", str(tiny), "-k", str(keys["ml.pub"])]
    cached = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    # An empty cache prefix and no writing: every module (click, cryptography…) compiles
    # from source on each run, the worst case.
    empty = work / "empty-pycache"
    empty.mkdir()
    no_cache = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(empty)}
    run_cli(*argv, env=cached)  # lets Python write bytecode caches, as any install has
    out: dict[str, list[float]] = {"bytecode cached (normal install)": [],
                                   "no bytecode cache at all (worst case)": []}
    for _ in range(runs):
        out["bytecode cached (normal install)"].append(timed(lambda: run_cli(*argv, env=cached)))
        out["no bytecode cache at all (worst case)"].append(
            timed(lambda: run_cli(*argv, env=no_cache)))
    return out


def report(args: argparse.Namespace, times: dict[str, list[float]],
           startup: dict[str, list[float]]) -> None:
    med = {name: statistics.median(v) for name, v in times.items()}
    info = pqml_bench.machine()
    size = N_FILES * args.size_mib
    print(f"Command: `.venv/bin/python bench/signing.py --size-mib {args.size_mib} "
          f"--rounds {args.rounds}`  ")
    print(f"Machine: {info['processor']}, {info['cpus']} cpus, {platform.system()}, Python "
          f"{info['python']}, cryptography {info['cryptography']}, model_signing 1.1.1, "
          f"{info['date']}  ")
    print(f"Model: {N_FILES} x {args.size_mib} MiB random + 3 JSON files ({size} MiB), "
          f"page cache warm; medians of {args.rounds} interleaved rounds.\n")
    best = {name: min(v) for name, v in times.items()}
    floor_s = med["hashlib floor (2 threads, SHA-256)"]
    print("| operation | median s | min s | GB/s (median) | median / floor |")
    print("|---|---:|---:|---:|---:|")
    for name, value in med.items():
        print(f"| {name} | {value:.3f} | {best[name]:.3f} | "
              f"{size * 1.048576 / 1000 / value:.2f} | {value / floor_s:.2f} |")
    rows = [
        ("sign, API", "model_signing sign key (API)", "pqml sign, ECDSA-P256 (files)"),
        ("verify, API", "model_signing verify key (API)", "pqml verify, ECDSA-P256 (files)"),
        ("sign, CLI", "model_signing sign key (CLI)", "pqml sign -k ecdsa (CLI)"),
        ("verify, CLI", "model_signing verify key (CLI)", "pqml verify -k ecdsa (CLI)"),
    ]
    print("\n| comparison (ECDSA P-256, SHA-256 files) | model_signing s | pqml s | "
          "speed-up (medians) | speed-up (minima) |")
    print("|---|---:|---:|---:|---:|")
    for label, theirs, ours in rows:
        if theirs in med and ours in med:
            print(f"| {label} | {med[theirs]:.3f} | {med[ours]:.3f} | "
                  f"{med[theirs] / med[ours]:.2f}x | {best[theirs] / best[ours]:.2f}x |")
    part_files = med["pqml partial verify, 1 file (files)"] / med["pqml verify, ECDSA-P256 (files)"]
    part_shards = (med["pqml partial verify, 1 file (shards)"]
                   / med["pqml verify, ML-DSA-65 (shards)"])
    print(f"\nPartial verify of one {args.size_mib} MiB file / full verify: "
          f"{part_files:.0%} (files method), {part_shards:.0%} (shards method).  ")
    for label, values in startup.items():
        print(f"`pqml verify` of a 3-byte model (subprocess, {label}): median "
              f"{statistics.median(values):.3f} s, min {min(values):.3f} s over {len(values)}.  ")


if __name__ == "__main__":
    raise SystemExit(main())

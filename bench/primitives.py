"""Wrapper-overhead benchmark: every available KEM and signature, pqml vs the bare backend.

Run: .venv/bin/python bench/primitives.py [--budget SECONDS] [--json OUT]
Prints a Markdown table for docs/PERFORMANCE.md (medians of interleaved batches).
"""

from __future__ import annotations

import argparse
import json
import sys

from pqml.bench import primitives as bench


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--budget", type=float, default=1.0, help="seconds per operation")
    ap.add_argument("--alg", action="append", help="only these algorithms")
    ap.add_argument("--json", help="also write raw results here")
    args = ap.parse_args()

    results = bench.run(args.alg, args.budget,
                        progress=lambda n: print(f"… {n}", file=sys.stderr))
    info = bench.machine()
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": info, "results": [r.as_dict() for r in results]}, f, indent=2)
    print(f"Machine: {info['processor']}, {info['cpus']} cpus, Python {info['python']}, "
          f"cryptography {info['cryptography']}, {info['date']}; budget {args.budget} s/op\n")
    print("| algorithm | op | pqml ops/s | backend ops/s | pqml / backend time |")
    print("|---|---|---:|---:|---:|")
    for r in results:
        ratio = "-" if r.backend_us is None else f"{r.pqml_us / r.backend_us:.3f}"
        back = "-" if r.backend_us is None else f"{1e6 / r.backend_us:,.1f}"
        print(f"| {r.algorithm} | {r.operation} | {1e6 / r.pqml_us:,.1f} | {back} | {ratio} |")
    over = [r.overhead_pct for r in results if r.overhead_pct is not None]
    if over:
        over.sort()
        print(f"\nMedian overhead {over[len(over) // 2]:+.1f} %, worst {over[-1]:+.1f} % "
              f"over {len(over)} operations with a direct backend counterpart.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

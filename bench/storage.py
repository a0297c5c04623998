"""Encrypt/decrypt throughput through a real S3 server (moto_server on loopback) against
local files: medians of N runs, and the ratio. Usage: python bench/storage.py [MiB] [runs]

moto is an in-process Python server: its numbers measure pqml's streaming and multipart
path plus moto's own overhead, not a real S3 (which is network-bound)."""

from __future__ import annotations

import datetime
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "storage"))

import moto_server

import pqml


def median_time(fn, runs: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    mib = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    import s3fs

    key = pqml.generate_key("x-wing")
    with tempfile.TemporaryDirectory() as d, moto_server.running() as endpoint:
        moto_server.set_env(endpoint)
        fs = s3fs.S3FileSystem(endpoint_url=endpoint)
        bucket = moto_server.new_bucket(fs)
        src = Path(d) / "data.bin"
        src.write_bytes(os.urandom(mib << 20))
        cases = {
            "encrypt local->local": lambda: pqml.encrypt_file(src, Path(d) / "l.pqml",
                                                              [key.public_key()], force=True),
            "encrypt local->s3": lambda: pqml.encrypt_file(src, f"s3://{bucket}/o.pqml",
                                                           [key.public_key()], force=True),
            "decrypt local->local": lambda: pqml.decrypt_file(Path(d) / "l.pqml",
                                                              Path(d) / "l.out", [key],
                                                              force=True),
            "decrypt s3->local": lambda: pqml.decrypt_file(f"s3://{bucket}/o.pqml",
                                                           Path(d) / "o.out", [key], force=True),
        }
        print(f"# bench/storage.py {mib} MiB x {runs} runs; {platform.node()} "
              f"{platform.machine()} {os.cpu_count()} cpus; "
              f"{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC")
        results = {}
        for name, fn in cases.items():
            results[name] = median_time(fn, runs)
            print(f"{name:24s} median {results[name]:7.3f} s  "
                  f"{mib / results[name]:8.1f} MiB/s")
        for op in ("encrypt", "decrypt"):
            local = results[f"{op} local->local"]
            remote = next(v for k, v in results.items() if k.startswith(op) and "s3" in k)
            print(f"{op}: s3 (moto) / local time ratio {remote / local:.2f}x")


if __name__ == "__main__":
    main()

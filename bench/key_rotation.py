"""Key rotation benchmark: rotate a keyring key that protects 1,000 encrypted files, by
header rewrap and by file-key rotation (re-encryption), side by side.

Run: .venv/bin/python bench/key_rotation.py [--files 1000] [--big 4] [--repeat 3]
                                           [--dir DIR] [--json OUT]

The set: ``--files`` pqml/v1 files, of which ``--big`` are 64 MiB (so they carry a header
area and are rewrapped in place) and the rest small, with log-uniform sizes from 1 KiB to
1 MiB (most model shards and dataset parts in a directory are small; the big ones
dominate the bytes). Each file has two recipients: the key being rotated and a second
keyring key (kept by the rotation; under a new file key its public key comes from the
keyring). The keyring records every file as an asset of the key.

Measured in process (:func:`pqml.keys.rotation.rotate`, the code ``pqml keys rotate``
runs, journal and keyring updates included), medians of ``--repeat`` rotations; each
repeat rotates the successor of the previous one over the same files, so every run does
the same work. Then the same for ``--new-file-key`` (every byte decrypted and re-encrypted
into a new file that replaces the old one), on the same set. One ``pqml keys rotate``
through the command line is timed too (start-up included). The plaintexts of the big
files are sparse; the ciphertexts are not (about 256 MiB for 4 big files). Everything is
made in a temporary directory that is removed at the end.

Prints a Markdown section for docs/PERFORMANCE.md: command, machine, date, medians, the
ratio and whether the issue's goal (rewrap of 1,000 files under 5 s) is met.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
GOAL_S = 5.0


def _sizes(n: int, big: int, rng: random.Random) -> list[int]:
    small = [int(math.exp(rng.uniform(math.log(1024), math.log(MIB)))) for _ in range(n - big)]
    return [64 * MIB + rng.randrange(4096) for _ in range(big)] + small


def _make_set(root: Path, ring: Any, sizes: list[int], rng: random.Random) -> int:
    from pqml.encryption import encrypt as feature

    recipients = [ring.public_key("bench"), ring.public_key("keeper")]
    src_small = root / "plain.bin"
    src_small.write_bytes(rng.randbytes(MIB))
    uses = []
    total = 0
    for i, size in enumerate(sizes):
        out = root / f"shard-{i:04d}.safetensors.pqml"
        if size >= 64 * MIB:
            src = root / "big.plain"
            with open(src, "wb") as f:
                f.truncate(size)  # sparse plaintext
            feature.encrypt_file(src, out, recipients)
            src.unlink()
        else:
            with open(src_small, "rb") as f:
                data = f.read(size)
            part = root / "part.plain"
            part.write_bytes(data)
            feature.encrypt_file(part, out, recipients)
            part.unlink()
        uses.append((str(out), size))
        total += out.stat().st_size
    src_small.unlink()
    ring.record_uses("bench", operation="encrypt", uses=uses)
    return total


def _rotate(mode: str) -> tuple[float, Any]:
    from pqml.keys.keyring import Keyring
    from pqml.keys.rotation import rotate

    ring = Keyring()
    t = time.perf_counter()
    result = rotate(ring, "bench", mode=mode)  # type: ignore[arg-type]
    elapsed = time.perf_counter() - t
    ring.close()
    if result.count("failed", "missing", "skipped"):
        raise SystemExit(f"rotation did not move every asset: {result.to_dict()}")
    return elapsed, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--big", type=int, default=4, help="files of 64 MiB (header area)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None,
                        help="where to make the files (default: the temporary directory)")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pqml-rotation-bench-", dir=args.dir))
    os.environ["PQML_HOME"] = str(work / "home")
    try:
        return _bench(args, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _bench(args: argparse.Namespace, work: Path) -> int:
    from pqml.bench import primitives as machine_info
    from pqml.keys.keyring import Keyring

    rng = random.Random(20261204)
    ring = Keyring()
    ring.new("X-Wing", label="bench")
    ring.new("X-Wing", label="keeper")
    files = work / "files"
    files.mkdir()
    sizes = _sizes(args.files, args.big, rng)
    t = time.perf_counter()
    on_disk = _make_set(files, ring, sizes, rng)
    setup = time.perf_counter() - t
    ring.close()
    plaintext = sum(sizes)
    print(f"made {args.files} files ({args.big} of 64 MiB), {plaintext / MIB:.0f} MiB of "
          f"plaintext, {on_disk / MIB:.0f} MiB on disk, in {setup:.1f} s", file=sys.stderr)

    rewrap = []
    for i in range(args.repeat):
        elapsed, result = _rotate("rewrap")
        rewrap.append(elapsed)
        print(f"rewrap {i + 1}: {elapsed:.3f} s ({result.moved} moved)", file=sys.stderr)
    reencrypt = []
    for i in range(args.repeat):
        elapsed, result = _rotate("new-file-key")
        reencrypt.append(elapsed)
        print(f"new file key {i + 1}: {elapsed:.3f} s ({result.moved} moved)",
              file=sys.stderr)
    t = time.perf_counter()
    cli = subprocess.run([sys.executable, "-m", "pqml.cli.main", "keys", "rotate", "bench"],
                         capture_output=True, text=True)
    cli_s = time.perf_counter() - t
    if cli.returncode != 0:
        raise SystemExit(f"pqml keys rotate failed: {cli.stderr}")

    info = machine_info.machine()
    med_rewrap, med_reenc = statistics.median(rewrap), statistics.median(reencrypt)
    fs = subprocess.run(["stat", "-f", "-c", "%T", str(work)], capture_output=True,
                        text=True).stdout.strip() or "?"
    data = {"files": args.files, "big_files": args.big, "plaintext_bytes": plaintext,
            "ciphertext_bytes": on_disk, "rewrap_s": rewrap, "new_file_key_s": reencrypt,
            "cli_rewrap_s": cli_s, "machine": info, "filesystem": fs}
    if args.json:
        args.json.write_text(json.dumps(data, indent=2))
    per_file = lambda s: s / args.files * 1000  # noqa: E731  ms per file
    command = (f".venv/bin/python bench/key_rotation.py --files {args.files} --big "
               f"{args.big} --repeat {args.repeat}")
    runs = lambda xs: ", ".join(f"{x:.2f}" for x in xs)  # noqa: E731
    table = "\n".join([
        "| rotation of the key (in process, journal and keyring included) | median | "
        "per file | runs |",
        "|---|---|---|---|",
        f"| header rewrap (`pqml keys rotate KEY`) | {med_rewrap:.2f} s | "
        f"{per_file(med_rewrap):.2f} ms | {runs(rewrap)} |",
        f"| file-key rotation (`--new-file-key`: every byte re-encrypted) | "
        f"{med_reenc:.2f} s | {per_file(med_reenc):.2f} ms | {runs(reencrypt)} |",
        f"| header rewrap through the CLI (start-up included), once | {cli_s:.2f} s | "
        f"{per_file(cli_s):.2f} ms | |"])
    print(f"""
### Key rotation ({args.files} files)

Command: `{command}`
Machine: {info['processor']}, {info['cpus']} CPUs, Python {info['python']}, cryptography
{info['cryptography']}, files on {fs}; {info['date']}.
Set: {args.files} pqml/v1 files, {args.big} of 64 MiB (header area) and {args.files - args.big}
of 1 KiB-1 MiB (log-uniform); {plaintext / MIB:.0f} MiB of plaintext, {on_disk / MIB:.0f} MiB
on disk; two recipients each (the rotated key and one kept).

{table}

Re-encryption costs {med_reenc / med_rewrap:.1f}x the rewrap on this set
({on_disk / MIB / med_reenc:.0f} MiB/s of ciphertext rewritten). Goal (rewrap of 1,000
files under {GOAL_S:.0f} s): {'met' if med_rewrap < GOAL_S and args.files >= 1000 else 'NOT met'}
({med_rewrap:.2f} s).
""")
    return 0


if __name__ == "__main__":
    sys.exit(main())

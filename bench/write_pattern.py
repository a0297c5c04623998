"""How the shape of page-cache writes changes their cost: the measurement behind
``pqml/_internal/write_behind.py``'s WRITE_PIECE and ``pieces``.

Run: .venv/bin/python bench/write_pattern.py [--size-mib 2048] [--rounds 8] [--dir DIR]

Writes --size-mib MiB to a new file in DIR, one case at a time, each in a fresh process
(as a CLI run is), interleaved round-robin, ``sync`` before each, and prints the median
and range per case as Markdown:

- ``4 MiB aligned`` / ``1 MiB aligned`` / ``256 KiB aligned``: plain writes of that size
  from offset 0, so every write starts on a page (and large-folio) boundary;
- ``256 KiB pieces, shifted``: the pieces pqml writes (``write_behind.pieces``), whose
  ends fall one byte past a page boundary;
- ``copy, writer thread, …``: reading another file on this thread while a second thread
  writes, aligned or shifted: a decryption's I/O with the cipher left out;
- ``pqml …``: pqml itself (in process) decrypting an age and a pqml/v1 file and
  encrypting, with its pieces as shipped or patched to aligned 256 KiB cuts.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIB = 1024 * 1024


def _aligned(size: int) -> Callable[[int, memoryview, int], None]:
    def write(fd: int, block: memoryview, total: int) -> None:
        done = 0
        while done < total:
            done += os.write(fd, block[:min(size, total - done)])
    return write


def _pqml_pieces(fd: int, block: memoryview, total: int) -> None:
    from pqml._internal.write_behind import pieces

    done = 0
    while done < total:
        part = block[:min(len(block), total - done)]
        for start, end in pieces(done, len(part)):
            done += os.write(fd, part[start:end])


def _copy_with_writer_thread(shifted: bool) -> Callable[[int, memoryview, int], None]:
    """Read SOURCE on this thread, write on another in 256 KiB pieces (aligned, or
    pqml's shifted ones): the shape of a decryption, with the cipher left out."""
    def copy(fd: int, block: memoryview, total: int) -> None:
        import queue
        import threading

        from pqml._internal.write_behind import WRITE_PIECE, pieces

        todo: queue.SimpleQueue[tuple[bytearray, int] | None] = queue.SimpleQueue()
        free: queue.SimpleQueue[bytearray] = queue.SimpleQueue()
        for _ in range(3):
            free.put(bytearray(4 * MIB))
        position = 0

        def writer() -> None:
            nonlocal position
            while (item := todo.get()) is not None:
                buf, n = item
                view = memoryview(buf)[:n]
                cuts = (pieces(position, n) if shifted else
                        [(s, min(n, s + WRITE_PIECE)) for s in range(0, n, WRITE_PIECE)])
                for start, end in cuts:
                    os.write(fd, view[start:end])
                position += n
                free.put(buf)

        thread = threading.Thread(target=writer)
        thread.start()
        with open(SOURCE, "rb", buffering=0) as src:
            while True:
                buf = free.get()
                n = src.readinto(buf) or 0
                if not n:
                    break
                todo.put((buf, n))
        todo.put(None)
        thread.join()
    return copy


def _pqml(op: str, shifted: bool) -> Callable[[int, memoryview, int], None]:
    """pqml itself, in process: decrypt the age or pqml/v1 file made by run(), or encrypt
    SOURCE, with write_behind.pieces as shipped or patched to aligned 256 KiB cuts."""
    def work(fd: int, block: memoryview, total: int) -> None:
        from pqml._internal import write_behind
        from pqml.encryption import encrypt

        shipped = write_behind.pieces
        if not shifted:
            step = write_behind.WRITE_PIECE
            write_behind.pieces = lambda position, size: [  # type: ignore[assignment]
                (s, min(size, s + step)) for s in range(0, size, step)]
        out = SOURCE.with_name("pqml-out.bin")  # ``fd`` stays empty: pqml writes here
        try:
            if op == "encrypt":
                encrypt.encrypt_file(SOURCE, out, [KEY.public_key()])
            else:
                encrypt.decrypt_file(SOURCE.with_name(f"source.{op}"), out, [KEY])
        finally:
            write_behind.pieces = shipped
            out.unlink(missing_ok=True)
    return work


SOURCE = Path()  # set by run(): the input of the copy patterns
KEY: Any = None

PATTERNS: dict[str, Callable[[int, memoryview, int], None]] = {
    "pqml decrypt age file, aligned cuts": _pqml("age", False),
    "pqml decrypt age file, shifted (shipped)": _pqml("age", True),
    "pqml decrypt pqml/v1 file, aligned cuts": _pqml("pqml", False),
    "pqml decrypt pqml/v1 file, shifted (shipped)": _pqml("pqml", True),
    "pqml encrypt pqml/v1, aligned cuts": _pqml("encrypt", False),
    "pqml encrypt pqml/v1, shifted (shipped)": _pqml("encrypt", True),
    "copy, writer thread, 256 KiB aligned": _copy_with_writer_thread(False),
    "copy, writer thread, 256 KiB pieces shifted (pqml)": _copy_with_writer_thread(True),
    "4 MiB aligned": _aligned(4 * MIB),
    "1 MiB aligned": _aligned(MIB),
    "256 KiB aligned": _aligned(256 * 1024),
    "256 KiB pieces, shifted (pqml)": _pqml_pieces,
}


def _prepare(size: int, where: Path) -> None:
    """The inputs every case reads: a plain file, its age and pqml/v1 encryptions, a key."""
    from pqml.encryption import encrypt
    from pqml.formats.keyfile import private_key_to_pem
    from pqml.primitives import registry

    block = os.urandom(4 * MIB)
    with open(where / "source.bin", "wb") as f:
        for done in range(0, size, len(block)):
            f.write(block[:min(len(block), size - done)])
    key = registry.scheme("X-Wing").generate()
    (where / "key.pem").write_bytes(private_key_to_pem(key))
    for fmt in ("age", "pqml"):
        encrypt.encrypt_file(where / "source.bin", where / f"source.{fmt}",
                             [key.public_key()], format=fmt)  # type: ignore[arg-type]


def one(name: str, size: int, where: Path) -> float:
    """Time case ``name`` once, in this (fresh) process, as a CLI run would be."""
    global SOURCE, KEY
    from pqml.keys.key_files import load_private

    SOURCE = where / "source.bin"
    KEY = load_private((where / "key.pem").read_bytes())
    block = memoryview(bytearray(os.urandom(4 * MIB)))
    target = where / "write-pattern.bin"
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    t = time.perf_counter()
    try:
        PATTERNS[name](fd, block, size)
    finally:
        os.close(fd)
    elapsed = time.perf_counter() - t
    target.unlink()
    return elapsed


def run(size: int, rounds: int, where: Path) -> dict[str, list[float]]:
    """Every case in a fresh process, interleaved round-robin: in one long-lived process
    the aligned and shifted pqml cases measured the same, in fresh processes (how the
    CLI runs) they did not."""
    import subprocess

    _prepare(size, where)
    times: dict[str, list[float]] = {name: [] for name in PATTERNS}
    names = list(PATTERNS)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            if name.startswith(("copy", "pqml")):
                src = (where / "source.age" if "age file" in name else
                       where / "source.pqml" if "decrypt pqml" in name else
                       where / "source.bin")
                with open(src, "rb") as f:  # its input in the page cache, as in the
                    while f.read(16 * MIB):  # encryption benchmark
                        pass
            os.sync()
            res = subprocess.run([sys.executable, __file__, "--one", name, "--work",
                                  str(where), "--size-mib", str(size // MIB)],
                                 capture_output=True, text=True, check=True)
            times[name].append(float(res.stdout))
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--rounds", type=int, default=8)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--one", help="(internal) time this case once and print seconds")
    ap.add_argument("--work", help="(internal) the directory --one works in")
    args = ap.parse_args()
    if args.one:
        print(f"{one(args.one, args.size_mib * MIB, Path(args.work)):.4f}")
        return 0
    from pqml.bench import primitives as machine_info

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        times = run(args.size_mib * MIB, args.rounds, Path(tmp))
    info = machine_info.machine()
    print(f"Command: `python bench/write_pattern.py --size-mib {args.size_mib} --rounds "
          f"{args.rounds}`  \nMachine: {info['processor']}, {info['cpus']} CPUs, "
          f"{os.uname().sysname} {os.uname().release}; {info['date']}.\n")
    print("| writes of " + f"{args.size_mib} MiB | median s | min-max s | runs |")
    print("|---|---:|---|---|")
    for name, runs in times.items():
        print(f"| {name} | {statistics.median(runs):.2f} | {min(runs):.2f}-{max(runs):.2f} | "
              + ", ".join(f"{t:.2f}" for t in runs) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

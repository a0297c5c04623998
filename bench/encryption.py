"""Encryption benchmark: pqml/v1, pqml's age format and Debian's `age`, side by side.

Run: .venv/bin/python bench/encryption.py [--size-mib 2048] [--repeat 3] [--dir DIR]
                                        [--markdown OUT] [--json OUT]

One process tree, one input file of --size-mib MiB, every tool run as its command-line
program (so start-up is included, as a user sees it), interleaved round-robin, medians of
--repeat runs. Cases:

- pqml/v1 encrypt and decrypt (``pqml encrypt -r age1pq…``), serial (the default) and
  with two worker processes (``-j 2``);
- pqml writing and reading age files (``--format age``), serial and ``-j 2``;
- Debian ``age`` 1.1.1 with an X25519 recipient (it predates the post-quantum type);
- ``dd`` copying the input (the same reads and writes without cryptography: the I/O floor);
- the in-memory ceiling: AES-256-GCM on 4 MiB and 1 MiB buffers, one core (pyca AESGCM),
  and Cobblestone256 (the pqml/v1 payload construction) on 4 MiB buffers;
- ``rekey`` on the encrypted file (in process, add then remove a recipient);
- ``safe_open`` + ``get_tensor`` of one 4 MiB tensor in a --size-mib encrypted safetensors
  file (in process, a fresh open each time, and get_tensor alone).

Prints a Markdown section for docs/PERFORMANCE.md: command, machine, date, medians,
throughputs, ratios and whether each goal of the encryption issue is met.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
PQML = [sys.executable, "-m", "pqml.cli.main"]


def _timed(fn: Callable[[], object]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def _run(cmd: list[str]) -> tuple[float, float, float]:
    """Run ``cmd``; return wall, user and system seconds (its worker processes included)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        raise SystemExit(f"benchmark command failed: {' '.join(cmd)}\n{res.stderr.decode()}")
    return wall, after.ru_utime - before.ru_utime, after.ru_stime - before.ru_stime


def _evict(path: Path) -> None:
    """Drop ``path`` (only this file) from the page cache: a cold, on-disk input."""
    os.sync()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _write_input(path: Path, size: int) -> None:
    block = os.urandom(64 * MIB)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, len(block))
            f.write(block[:n])
            left -= n


def _warm(path: Path) -> None:
    """Read ``path`` once (untimed) so every run starts with its input in the page cache."""
    with open(path, "rb", buffering=0) as f:
        buf = bytearray(16 * MIB)
        while f.readinto(buf):
            pass


def _compile_pqml() -> None:
    """Byte-compile pqml as ``pip install`` does. Without it, under
    PYTHONDONTWRITEBYTECODE=1 (set in this project's sandbox) every pqml command would
    recompile ~60 modules first: 42 ms of each run that no installed copy pays."""
    import compileall

    import pqml

    compileall.compile_dir(str(Path(pqml.__file__).parent), quiet=1)


def copy_floor(src: str, dst: str) -> None:
    """Read ``src`` in 4 MiB blocks and write them through WriteBehind: pqml's I/O with
    the cryptography left out."""
    from pqml._internal.write_behind import WriteBehind

    with open(src, "rb", buffering=0) as f, open(dst, "wb", buffering=0) as out, \
            WriteBehind(out) as sink:
        while True:
            buf = sink.buffer(4 * MIB)
            n = f.readinto(buf)
            sink.submit(memoryview(buf)[:n or 0])
            if not n:
                break


def _gb_s(size: int, seconds: float) -> float:
    return size / 1e9 / seconds


# ---- in-memory ceiling -----------------------------------------------------------------------


def ceiling(total: int = 2 * 1024 * MIB) -> dict[str, float]:
    """Single-core in-memory GB/s: AESGCM on 4 MiB and 1 MiB buffers, Cobblestone256."""
    from cryptography.cobblestone import Cobblestone256Encryptor
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    out: dict[str, float] = {}
    aead = AESGCM(os.urandom(32))
    nonce = os.urandom(12)
    for label, size in (("AESGCM 4 MiB", 4 * MIB), ("AESGCM 1 MiB", MIB)):
        buf = os.urandom(size)
        runs = []
        for _ in range(3):
            t = time.perf_counter()
            for _ in range(total // size):
                aead.encrypt(nonce, buf, None)
            runs.append(time.perf_counter() - t)
        out[label] = _gb_s(total, min(runs))
    buf = os.urandom(4 * MIB)
    dst = bytearray(8 * MIB)
    runs = []
    for _ in range(3):
        enc = Cobblestone256Encryptor(os.urandom(32), b"pqml/v1")
        t = time.perf_counter()
        for _ in range(total // len(buf)):
            enc.update_into(buf, dst)
        runs.append(time.perf_counter() - t)
    out["Cobblestone256 4 MiB"] = _gb_s(total, min(runs))
    return out


# ---- safetensors file for the one-tensor load ------------------------------------------------


def _encrypted_safetensors(path: Path, size: int, recipient: Any) -> str:
    """A ~``size``-byte safetensors file of 4 MiB float32 tensors, encrypted while it is
    generated (nothing big in memory). Returns the name of a tensor in the middle."""
    from pqml.encryption import encrypt as feature

    per = 4 * MIB
    count = max(1, size // per)
    header: dict[str, Any] = {"__metadata__": {"format": "pt"}}
    for i in range(count):
        header[f"layers.{i:05d}.weight"] = {"dtype": "F32", "shape": [1024, 1024],
                                            "data_offsets": [i * per, (i + 1) * per]}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    block = os.urandom(per)

    class Plain(io.RawIOBase):
        def __init__(self) -> None:
            self.parts = [struct.pack("<Q", len(text)) + text]
            self.left = count

        def readable(self) -> bool:
            return True

        def readinto(self, buf: Any) -> int:
            while self.parts or self.left:
                if not self.parts:
                    self.parts.append(block)
                    self.left -= 1
                part = self.parts[0]
                n = min(len(buf), len(part))
                buf[:n] = part[:n]
                rest = part[n:]
                if rest:
                    self.parts[0] = rest
                else:
                    self.parts.pop(0)
                return n
            return 0

    with open(path, "wb", buffering=0) as f:
        feature.encrypt_to(Plain(), f, [recipient])
    return f"layers.{count // 2:05d}.weight"


# ---- main ------------------------------------------------------------------------------------


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size-mib", type=int, default=2048)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    ap.add_argument("--dir", default=None, help="where the files go (default: a temp dir)")
    ap.add_argument("--markdown", help="write the Markdown section here too")
    ap.add_argument("--json", help="write the raw timings here")
    ap.add_argument("--copy", nargs=2, metavar=("SRC", "DST"),
                    help="(internal) copy SRC to DST through pqml's I/O path, no crypto")
    args = ap.parse_args()
    if args.copy:
        copy_floor(*args.copy)
        return 0

    from pqml.bench import primitives as machine_info
    from pqml.encryption.rekey import rekey
    from pqml.formats import age_keys
    from pqml.formats.keyfile import private_key_to_pem
    from pqml.primitives import registry

    size = args.size_mib * MIB
    base = Path(args.dir or tempfile.gettempdir())
    need = 4 * size + 256 * MIB
    free = shutil.disk_usage(base).free
    if free < need:
        raise SystemExit(f"{base}: {free / MIB:.0f} MiB free, the benchmark needs "
                         f"{need / MIB:.0f} MiB (use --dir or a smaller --size-mib)")
    work = Path(tempfile.mkdtemp(prefix="pqml-bench-enc-", dir=base))
    _compile_pqml()
    age = shutil.which("age")
    log = lambda msg: print(f"… {msg}", file=sys.stderr, flush=True)  # noqa: E731
    try:
        me, other = (registry.scheme("X-Wing").generate() for _ in range(2))
        (work / "me.pem").write_bytes(private_key_to_pem(me))
        rec = age_keys.encode_recipient(me.public_key())
        plain = work / "plain.bin"
        log(f"writing {args.size_mib} MiB input in {work}")
        _write_input(plain, size)
        age_id = work / "age.txt"
        age_rec = None
        if age:
            subprocess.run(["age-keygen", "-o", str(age_id)], check=True, capture_output=True)
            age_rec = next(line.split()[-1] for line in age_id.read_text().splitlines()
                           if line.startswith("# public key:"))

        enc = {"pqml": work / "ref.pqml", "pqml-age": work / "ref.age", "age": work / "ref.x.age"}
        _run([*PQML, "encrypt", "-r", rec, "-o", str(enc["pqml"]), str(plain)])
        _run([*PQML, "encrypt", "--format", "age", "-r", rec, "-o", str(enc["pqml-age"]),
              str(plain)])
        if age:
            _run([age, "-r", age_rec, "-o", str(enc["age"]), str(plain)])  # type: ignore[list-item]
        out = work / "out.bin"
        key = str(work / "me.pem")
        cases: dict[str, list[str]] = {
            "pqml/v1 encrypt": [*PQML, "encrypt", "-r", rec, "-o", str(out), str(plain)],
            "pqml/v1 decrypt": [*PQML, "decrypt", "-i", key, "-o", str(out), str(enc["pqml"])],
            "pqml/v1 encrypt -j 2": [*PQML, "encrypt", "-j", "2", "-r", rec, "-o", str(out),
                                     str(plain)],
            "pqml/v1 decrypt -j 2": [*PQML, "decrypt", "-j", "2", "-i", key, "-o", str(out),
                                     str(enc["pqml"])],
            "pqml age-format encrypt": [*PQML, "encrypt", "--format", "age", "-r", rec, "-o",
                                        str(out), str(plain)],
            "pqml age-format decrypt": [*PQML, "decrypt", "-i", key, "-o", str(out),
                                        str(enc["pqml-age"])],
            "pqml age-format encrypt -j 2": [*PQML, "encrypt", "-j", "2", "--format", "age",
                                             "-r", rec, "-o", str(out), str(plain)],
            "pqml age-format decrypt -j 2": [*PQML, "decrypt", "-j", "2", "-i", key, "-o",
                                             str(out), str(enc["pqml-age"])],
        }
        dd = shutil.which("dd")
        if dd:  # the same read and write with no cryptography, one thread; an odd block
            # size, as page-aligned writes hit ext4's slow large-folio path on this VM
            cases["dd copy (no crypto)"] = [dd, f"if={plain}", f"of={out}", "bs=262145",
                                            "status=none"]
        # pqml's own I/O path with no cryptography: reads on one thread, write-behind on
        # the other. The floor for any tool built like pqml on this machine.
        cases["copy floor (no crypto)"] = [sys.executable, __file__, "--copy", str(plain),
                                           str(out)]
        if age:
            cases["age 1.1.1 encrypt"] = [age, "-r", age_rec, "-o", str(out), str(plain)]  # type: ignore[list-item]
            cases["age 1.1.1 decrypt"] = [age, "-d", "-i", str(age_id), "-o", str(out),
                                          str(enc["age"])]
        # the same encryptions from an input that is not in the page cache (read from disk)
        for name in ("pqml/v1 encrypt", "pqml/v1 encrypt -j 2", "age 1.1.1 encrypt",
                     "dd copy (no crypto)", "copy floor (no crypto)"):
            if name in cases:
                cases[f"{name}, cold input"] = cases[name]
        inputs = {name: (enc["pqml"] if "pqml/v1 decrypt" in name else enc["pqml-age"]
                         if "age-format decrypt" in name else enc["age"] if "age 1.1.1 decrypt"
                         in name else plain) for name in cases}
        times: dict[str, list[float]] = {name: [] for name in cases}
        cpu: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
        for r in range(-args.warmup, args.repeat):
            names = list(cases)
            names = names[r % len(names):] + names[:r % len(names)]  # rotate the order
            for name in names:
                log(f"round {r + 1}/{args.repeat}: {name}" if r >= 0 else f"warm-up: {name}")
                if name.endswith("cold input"):
                    _evict(inputs[name])
                else:
                    _warm(inputs[name])  # this VM pages out idle page cache: re-read it
                os.sync()  # no other tool's dirty pages are written back during this run
                wall, user, system = _run(cases[name])
                out.unlink(missing_ok=True)
                if r < 0:
                    continue  # untimed: the first run after writing 8 GiB of inputs is slow
                times[name].append(wall)
                cpu[name].append((user, system))

        log("in-memory ceiling")
        ceil = ceiling(min(2048 * MIB, max(256 * MIB, size)))

        log("rekey")
        rekeys = []
        os.sync()
        in_place = []
        for _ in range(max(5, args.repeat)):
            for change in ({"add": [other.public_key()]}, {"remove": [other.public_key()]}):
                t = time.perf_counter()
                result = rekey(enc["pqml"], [me], **change)
                rekeys.append(time.perf_counter() - t)
                in_place.append(result.in_place)

        log("encrypted safetensors")
        for p in enc.values():
            p.unlink(missing_ok=True)
        st_path = work / "model.safetensors.pqml"
        tensor = _encrypted_safetensors(st_path, size, me.public_key())
        os.sync()
        import pqml.safetensors as pst

        opens, gets = [], []
        for _ in range(20):
            t = time.perf_counter()
            with pst.safe_open(st_path, [me]) as f:
                t1 = time.perf_counter()
                arr = f.get_tensor(tensor)
                t2 = time.perf_counter()
            opens.append(t2 - t)
            gets.append(t2 - t1)
        assert arr.nbytes == 4 * MIB
    finally:
        shutil.rmtree(work, ignore_errors=True)

    med = {name: statistics.median(v) for name, v in times.items()}
    info = machine_info.machine()
    fs = _filesystem(base)
    lines = _markdown(args, info, fs, size, med, times, cpu, ceil, rekeys, in_place,
                      opens, gets)
    text = "\n".join(lines) + "\n"
    print(text)
    if args.markdown:
        Path(args.markdown).write_text(text)
    if args.json:
        Path(args.json).write_text(json.dumps({
            "size": size, "times": times, "cpu_user_sys": cpu, "ceiling_gb_s": ceil,
            "rekey_s": rekeys, "rekey_in_place": in_place,
            "open_get_tensor_s": opens, "get_tensor_s": gets, "machine": info,
            "filesystem": fs}, indent=2))
    return 0


def _filesystem(path: Path) -> str:
    try:
        res = subprocess.run(["df", "-T", str(path)], capture_output=True, text=True)
        fields = res.stdout.splitlines()[1].split()
        return f"{fields[1]} ({fields[-1]})"
    except (OSError, IndexError):
        return "?"


def _markdown(args: Any, info: dict[str, Any], fs: str, size: int, med: dict[str, float],
              times: dict[str, list[float]], cpu: dict[str, list[tuple[float, float]]],
              ceil: dict[str, float], rekeys: list[float], in_place: list[bool],
              opens: list[float],
              gets: list[float]) -> list[str]:
    gib = size / (1024 * MIB)
    cmd = (f"python bench/encryption.py --size-mib {args.size_mib} --repeat {args.repeat} "
           f"--warmup {args.warmup}")
    if args.dir:
        cmd += f" --dir {args.dir}"
    lines = [
        "## Encryption (bench/encryption.py)",
        "",
        f"Command: `{cmd}`  ",
        f"Machine: {info['processor']}, {info['cpus']} CPUs, Python {info['python']}, "
        f"cryptography {info['cryptography']}, files on {fs}; {info['date']}.  ",
        f"Input: one {gib:g} GiB file (page cache warm); each tool runs as its command-line "
        f"program, interleaved round-robin; before each run its input is read once (this VM "
        f"pages out idle page cache) and `sync` flushes earlier writes; {args.warmup} "
        f"untimed round(s) first, then medians of {args.repeat} runs.",
        "",
        "| case | median s | GB/s | vs age | runs (s) | CPU user s | CPU sys s "
        "| user CPU vs age |",
        "|---|---:|---:|---:|---|---:|---:|---:|",
    ]
    for name, m in med.items():
        ref = "age 1.1.1 " + ("encrypt" if "encrypt" in name else "decrypt")
        if name.endswith("cold input"):
            ref += ", cold input"
        mine = name.startswith("pqml") and ref in med
        ratio = f"{med[ref] / m:.2f}×" if mine else "-"
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        user = statistics.median(u for u, _ in cpu[name])
        system = statistics.median(s_ for _, s_ in cpu[name])
        ref_user = statistics.median(u for u, _ in cpu[ref]) if ref in cpu else None
        cpu_ratio = f"{ref_user / user:.2f}×" if mine and ref_user and user else "-"
        lines.append(f"| {name} | {m:.2f} | {_gb_s(size, m):.2f} | {ratio} | {runs} | "
                     f"{user:.2f} | {system:.2f} | {cpu_ratio} |")
    lines += ["", "In-memory, one core: " + ", ".join(f"{k} {v:.2f} GB/s"
                                                    for k, v in ceil.items()) + ".", ""]
    rk, op, gt = statistics.median(rekeys), statistics.median(opens), statistics.median(gets)
    lines += [
        f"Rekey of the {gib:g} GiB pqml/v1 file (add or remove one recipient, in process; "
        f"{sum(in_place)} of {len(in_place)} in place, the others copied): "
        f"median {rk * 1000:.0f} ms (min {min(rekeys) * 1000:.0f}, max "
        f"{max(rekeys) * 1000:.0f}).  ",
        f"One 4 MiB tensor from a {gib:g} GiB encrypted safetensors file: safe_open + "
        f"get_tensor median {op * 1000:.1f} ms, get_tensor alone {gt * 1000:.1f} ms "
        "(20 fresh opens).",
        "",
    ]
    ceiling_best = max(v for k, v in ceil.items() if k.startswith("AESGCM"))
    goals = []

    def goal(text: str, ok: bool | None, detail: str) -> None:
        mark = "met" if ok else ("not met" if ok is not None else "n/a")
        goals.append(f"| {text} | {detail} | {mark} |")

    for op_name in ("encrypt", "decrypt"):
        native, theirs = med.get(f"pqml/v1 {op_name}"), med.get(f"age 1.1.1 {op_name}")
        agefmt = med.get(f"pqml age-format {op_name}")
        if native and theirs:
            goal(f"pqml/v1 {op_name} ≥ 2× age", theirs / native >= 2, f"{theirs / native:.2f}×")
        if agefmt and theirs:
            goal(f"age format {op_name} ≥ 1.2× age", theirs / agefmt >= 1.2,
                 f"{theirs / agefmt:.2f}×")
        if native:
            share = _gb_s(size, native) / ceiling_best
            floors = [med[k] for k in ("dd copy (no crypto)", "copy floor (no crypto)")
                      if k in med]
            beside = (f"; the fastest copy with no cryptography: "
                      f"{_gb_s(size, min(floors)) / ceiling_best * 100:.0f} %" if floors else "")
            goal(f"pqml/v1 {op_name} ≥ 50 % of the AES-GCM ceiling", share >= 0.5,
                 f"{share * 100:.0f} % ({_gb_s(size, native):.2f} of {ceiling_best:.2f} GB/s)"
                 + beside)
    goal("rekey < 50 ms", rk < 0.05, f"{rk * 1000:.0f} ms")
    goal("one-tensor load < 20 ms", op < 0.02, f"{op * 1000:.1f} ms (open + get_tensor)")
    lines += ["| goal | measured | status |", "|---|---:|---|", *goals]
    return lines


if __name__ == "__main__":
    raise SystemExit(main())

"""Migration benchmark: what ``pqml migrate --apply`` costs per artifact kind.

Run: .venv/bin/python bench/migration.py [--files 200] [--blob-mib 64] [--repeat 3]

Three measurements, medians of ``--repeat`` runs, each on a fresh copy of the inputs in a
temporary directory (removed at the end), in process (:func:`pqml.keys.migration.migrate`,
journal included):

* ``--files`` classical age files (X25519, 4 KiB to 1 MiB, log-uniform) -> X-Wing: the
  header rewrite through rekey, payload copied by ``copy_file_range``; per-file cost.
* one ``--blob-mib`` MiB JWE (RSA-OAEP-256 + A256GCM) -> pqml/v1: decrypted in memory
  and re-encrypted; against the bare cost of AES-GCM-decrypting it.
* a dry run over the same files (survey only: headers read, file keys opened).

Prints a Markdown section (command, machine, date, medians, ratios) for
docs/PERFORMANCE.md.
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import pqml
from pqml.keys import key_files
from pqml.keys.migration import migrate


def _b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwe(pub: rsa.RSAPublicKey, plaintext: bytes) -> bytes:
    header = _b64u(json.dumps({"alg": "RSA-OAEP-256", "enc": "A256GCM"}).encode())
    cek, nonce = os.urandom(32), os.urandom(12)
    sealed = AESGCM(cek).encrypt(nonce, plaintext, header.encode())
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                        label=None)
    return ".".join([header, _b64u(pub.encrypt(cek, oaep)), _b64u(nonce),
                     _b64u(sealed[:-16]), _b64u(sealed[-16:])]).encode()


def _timed(fn, *args, **kwargs) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    fn(*args, **kwargs)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--blob-mib", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="pqml-bench-migration-"))
    os.environ["PQML_HOME"] = str(base / "home")
    try:
        x = pqml.generate_key("X25519", allow_classical=True)
        key_files.save_private(x, base / "x.txt", "age")
        target = key_files.public_text(pqml.generate_key("X-Wing"), age=True)
        originals = base / "orig"
        originals.mkdir()
        rng = random.Random(7)
        for i in range(args.files):
            size = int(math.exp(rng.uniform(math.log(4096), math.log(1 << 20))))
            src = originals / f"p{i}"
            src.write_bytes(os.urandom(size))
            pqml.encrypt_file(src, originals / f"f{i:04d}.age", [str(base / "x.txt")],
                              format="age", allow_classical=True)
            src.unlink()
        rsa_key = rsa.generate_private_key(65537, 3072)
        key_files.save_private(
            pqml.registry.scheme("RSA-OAEP").wrap_private(rsa_key), base / "rsa.pem")
        plaintext = os.urandom(args.blob_mib << 20)
        blob = _jwe(rsa_key.public_key(), plaintext)
        (originals / "model.jwe").write_bytes(blob)

        files_t, dry_t, blob_t, gcm_t = [], [], [], []
        for r in range(args.repeat):
            work = base / f"run{r}"
            shutil.copytree(originals, work)
            paths = sorted(work.glob("f*.age"))
            ident = [base / "x.txt"]
            dry_t.append(_timed(migrate, paths, to=[target], identities=ident))
            files_t.append(_timed(migrate, paths, to=[target], identities=ident, apply=True))
            blob_t.append(_timed(migrate, [work / "model.jwe"], to=[target],
                                 identities=[base / "rsa.pem"], apply=True))
            cek, nonce = os.urandom(32), os.urandom(12)
            sealed = AESGCM(cek).encrypt(nonce, plaintext, None)
            gcm_t.append(_timed(AESGCM(cek).decrypt, nonce, sealed, None))
            shutil.rmtree(work)
        med = statistics.median
        n = args.files
        print("## Migration (`pqml migrate`)\n")
        print(f"`{' '.join([Path(sys.executable).name, *sys.argv])}` on "
              f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
              f"Python {platform.python_version()}, "
              f"{datetime.now(UTC).strftime('%Y-%m-%d')}; medians of {args.repeat}.\n")
        print("| what | median | per item |")
        print("|---|---|---|")
        print(f"| dry run, {n} X25519 age files | {med(dry_t):.3f} s | "
              f"{med(dry_t) / n * 1e3:.2f} ms |")
        print(f"| --apply, {n} X25519 age files -> X-Wing (header rewrite) | "
              f"{med(files_t):.3f} s | {med(files_t) / n * 1e3:.2f} ms |")
        print(f"| --apply, one {args.blob_mib} MiB JWE (RSA-OAEP-256/A256GCM) -> pqml/v1 | "
              f"{med(blob_t):.3f} s | {args.blob_mib / med(blob_t):.0f} MiB/s |")
        print(f"| bare AES-256-GCM decryption of {args.blob_mib} MiB (pyca) | "
              f"{med(gcm_t):.3f} s | ratio migrate/bare {med(blob_t) / med(gcm_t):.1f}x |")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()

"""Evaluation of ``pqml scan`` on real open-source packages it was never tuned on.

The packages are pinned by exact version and wheel sha256 in ``packages.json``; only the
labels (``labels.json``, written by hand, rules in ``LABELLING.md``) live in the repository.
:func:`fetch` downloads the wheels with pip (exact version, hash-checked) into a cache
outside the repository -- only when ``bench/scan.py --eval`` asks, never during tests.

Matching is strict: a label is found when a finding in the same file lies within
:data:`LINE_SLACK` lines and its algorithm belongs to a compatible family
(:func:`families`). A finding is correct when it matches some label that way.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
LINE_SLACK = 2


def cache_dir() -> Path:
    base = os.environ.get("PQML_SCAN_EVAL_CACHE")
    return Path(base) if base else Path.home() / ".cache" / "pqml" / "scan-eval"


def load() -> tuple[list[dict], list[dict]]:
    packages = json.loads((HERE / "packages.json").read_text())["packages"]
    labels = json.loads((HERE / "labels.json").read_text())["labels"]
    return packages, labels


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch(packages: list[dict]) -> dict[str, Path]:
    """Each package's labelled files extracted under the cache; wheels are downloaded by
    exact version and refused unless their sha256 is the pinned one."""
    wheels = cache_dir() / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    roots: dict[str, Path] = {}
    for pkg in packages:
        wheel = wheels / pkg["wheel"]
        if not wheel.exists():
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                 "--only-binary", ":all:", "--python-version", "3.11", "--implementation",
                 "py", "--abi", "none", "--platform", "any",
                 f"{pkg['name']}=={pkg['version']}", "-d", str(wheels)], check=True)
        digest = _sha256(wheel)
        if digest != pkg["sha256"]:
            wheel.unlink()
            raise SystemExit(f"{pkg['wheel']}: sha256 {digest} is not the pinned "
                             f"{pkg['sha256']}; removed")
        root = cache_dir() / "src" / f"{pkg['name']}-{pkg['version']}"
        with zipfile.ZipFile(wheel) as zf:
            for name in pkg["files"]:
                dst = root / name
                if not dst.exists():
                    dst.parent.mkdir(parents=True, exist_ok=True)
                    dst.write_bytes(zf.read(name))
        roots[pkg["name"]] = root
    return roots


def families(algorithm: str) -> set[str]:
    """Label families a finding's algorithm is compatible with."""
    a = algorithm
    if a.startswith("RSA"):
        return {"RSA"}
    if a.startswith("HMAC"):
        return {"HMAC", *families(a[5:])} if len(a) > 4 else {"HMAC"}
    if a in ("Ed25519", "Ed448"):
        return {"EdDSA"}
    if a in ("X25519", "X448"):
        return {"XDH"}
    if a == "sntrup761x25519":
        return {"sntrup761x25519", "XDH"}
    if a.startswith("SHA3") or a.startswith("SHAKE"):
        return {"SHA-3"}
    if a == "SHA-1":
        return {"SHA-1"}
    if a.startswith("SHA-"):
        return {"SHA-2"}
    for prefix in ("AES", "PBKDF2", "HKDF", "ConcatKDF"):
        if a.startswith(prefix):
            return {prefix}
    return {a}


def evaluate(packages: list[dict], labels: list[dict], roots: dict[str, Path],
             split: str | None = None, verbose: bool = False) -> dict:
    from pqml.scan import ScanOptions, scan

    chosen = [p for p in packages if split is None or p["split"] == split]
    names = {p["name"] for p in chosen}
    want = [x for x in labels if x["package"] in names]
    got: dict[tuple[str, str, int], set[str]] = {}
    for pkg in chosen:
        result = scan([str(roots[pkg["name"]])], ScanOptions(jobs=1, gitignore=False))
        for f in result.findings:
            got.setdefault((pkg["name"], f.path, f.line), set()).update(families(f.algorithm))
    by_file: dict[tuple[str, str], list[tuple[int, set[str]]]] = {}
    for (name, path, line), fams in got.items():
        by_file.setdefault((name, path), []).append((line, fams))

    def hit(name: str, path: str, line: int, family: str) -> bool:
        return any(abs(ln - line) <= LINE_SLACK and family in fams
                   for ln, fams in by_file.get((name, path), ()))

    found = [x for x in want if hit(x["package"], x["path"], x["line"], x["family"])]
    label_index: dict[tuple[str, str], list[tuple[int, str]]] = {}
    for x in want:
        label_index.setdefault((x["package"], x["path"]), []).append((x["line"], x["family"]))
    # a finding is one (file, line) with its families; it is right if any family matches
    correct = [k for k, fams in got.items()
               if any(abs(ln - k[2]) <= LINE_SLACK and fam in fams
                      for ln, fam in label_index.get((k[0], k[1]), ()))]
    missed = [x for x in want if x not in found]
    wrong = sorted(set(got) - set(correct))
    if verbose:
        for x in missed:
            print(f"  MISS {x['package']} {x['path']}:{x['line']} {x['family']} ({x['kind']})")
        for k in wrong:
            print(f"  FP   {k[0]} {k[1]}:{k[2]} {sorted(got[k])}")
    kinds = Counter(x["kind"] for x in want)
    kinds_found = Counter(x["kind"] for x in found)
    fams = Counter(x["family"] for x in want)
    fams_found = Counter(x["family"] for x in found)
    return {
        "labels": len(want), "found": len(found), "findings": len(got),
        "correct": len(correct),
        "recall": len(found) / len(want) if want else 1.0,
        "precision": len(correct) / len(got) if got else 1.0,
        "by_kind": {k: (kinds_found[k], n) for k, n in sorted(kinds.items())},
        "by_family": {k: (fams_found[k], n) for k, n in sorted(fams.items())},
    }

"""Accuracy and speed of ``pqml scan``.

Accuracy: scan ``bench/scan_corpus/repo`` (hand-labelled, see its LABELING.md) and compare
the findings with ``labels.json`` on ``(path, line, algorithm)``: recall = matched labels /
labels, precision = matched findings / findings (duplicates on one line and algorithm
count once). Usage agreement among matches is reported beside.

Speed: lines of Python per second per core, single process and ``--jobs 2``, over (a) the
corpus and (b) real-world code: the Python sources of packages installed in this venv
(pyca/cryptography, rich, click, hypothesis, jsonschema, cyclonedx, numpy, torch), scanned
with every detector on (all files, not only .py).

    python bench/scan.py                 # print results
    python bench/scan.py --write-docs    # also update docs/PERFORMANCE.md
    python bench/scan.py --verbose       # list misses and false positives
    python bench/scan.py --eval          # real packages (bench/scan_eval, fetched on demand)
    python bench/scan.py --eval --split heldout --verbose
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CORPUS = HERE / "scan_corpus"
sys.path.insert(0, str(REPO / "src"))

from pqml.scan import ScanOptions, scan  # noqa: E402

GOALS = {"recall": 0.90, "precision": 0.95, "lines_per_s_core": 50_000}
REAL_WORLD = ("cryptography", "rich", "click", "hypothesis", "jsonschema", "cyclonedx",
              "numpy", "torch")


def ensure_corpus(rebuild: bool) -> None:
    if rebuild or not (CORPUS / "repo" / "generated").exists():
        subprocess.run([sys.executable, str(CORPUS / "build.py")], check=True)


def accuracy(verbose: bool, split: str | None = None) -> dict:
    """Compare with the labels; ``split`` restricts both sides to one part of the corpus:
    "development" (the scanner was tuned on it), "holdout" and "holdout2" (written and
    labelled after the scanner was frozen; see LABELING.md for their history)."""
    labels = json.loads((CORPUS / "labels.json").read_text())["labels"]
    if split is not None:
        labels = [x for x in labels if x.get("split", "development") == split]
    want = {(x["path"], x["line"], x["algorithm"]): x["usage"] for x in labels}
    result = scan([str(CORPUS / "repo")], ScanOptions(jobs=1, gitignore=False))
    got: dict[tuple[str, int, str], set[str]] = {}
    for f in result.findings:
        top = f.path.split("/", 1)[0]
        f_split = top if top in ("holdout", "holdout2") else "development"
        if split is not None and f_split != split:
            continue
        got.setdefault((f.path, f.line, f.algorithm), set()).add(f.usage)
    matched = set(want) & set(got)
    usage_ok = sum(1 for k in matched if want[k] in got[k])
    missed = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    by_dir_miss = Counter(k[0].split("/")[0] for k in missed)
    if verbose:
        for k in missed:
            print(f"  MISS {k[0]}:{k[1]} {k[2]} ({want[k]})")
        for k in extra:
            print(f"  FP   {k[0]}:{k[1]} {k[2]} ({', '.join(sorted(got[k]))})")
    py_files = sum(1 for p in (CORPUS / "repo").rglob("*.py"))
    return {
        "labels": len(want),
        "findings": len(got),
        "matched": len(matched),
        "recall": len(matched) / len(want),
        "precision": len(matched) / len(got) if got else 1.0,
        "usage_agreement": usage_ok / len(matched) if matched else 1.0,
        "missed": [f"{p}:{ln} {a}" for p, ln, a in missed],
        "false_positives": [f"{p}:{ln} {a}" for p, ln, a in extra],
        "missed_by_dir": dict(by_dir_miss),
        "python_files": py_files,
    }


def dense_tree(copies: int = 40) -> Path:
    """The corpus's Python files copied ``copies`` times: every file is crypto-dense, so
    every line goes through the AST analysis (no file is skipped by the import filter)."""
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="pqml-scan-dense-"))
    sources = sorted((CORPUS / "repo").rglob("*.py"))
    for i in range(copies):
        for src in sources:
            dst = root / f"copy{i}" / src.relative_to(CORPUS / "repo")
            dst.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dst)
    return root


def _site_packages() -> Path:
    import sysconfig

    return Path(sysconfig.get_paths()["purelib"])


def real_world_roots() -> list[str]:
    base = _site_packages()
    return [str(base / name) for name in REAL_WORLD if (base / name).is_dir()]


def throughput(roots: list[str], jobs: int, repeat: int) -> dict:
    times = []
    lines = files = 0
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = scan(roots, ScanOptions(jobs=jobs, gitignore=False))
        times.append(time.perf_counter() - t0)
        lines, files = result.python_lines, result.files_scanned
    # best of the runs: on a shared machine other processes only ever add time
    best = min(times)
    rate = lines / best
    return {"jobs": jobs, "seconds": best, "median_seconds": statistics.median(times),
            "python_lines": lines, "files": files, "lines_per_s": rate,
            "lines_per_s_core": rate / jobs, "runs": repeat}


def machine() -> str:
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    return (f"{cpu or 'unknown CPU'}, {cores} cores available, {platform.system()} "
            f"{platform.release()}, Python {platform.python_version()}")


def render(acc: dict, splits: dict[str, dict], speed: list[tuple[str, dict]],
           command: str) -> str:
    def ok(value: float, goal: float) -> str:
        return "met" if value >= goal else "**not met**"

    lines = [
        "## Scanning (bench/scan.py)",
        "",
        f"Command: `{command}` -- {dt.date.today().isoformat()}, {machine()}.",
        "",
        "Accuracy on the hand-labelled corpus `bench/scan_corpus/` "
        f"({acc['python_files']} Python files, a notebook, configs, keys, certificates, "
        "ML artifacts; conventions in its LABELING.md; labels written by hand, never from "
        "scanner output). A finding matches a label on (path, line, algorithm).",
        "",
        "| metric | value | goal |",
        "|---|---|---|",
        f"| labels | {acc['labels']} | |",
        f"| recall | {acc['recall']:.1%} ({acc['matched']}/{acc['labels']}) | "
        f"≥ {GOALS['recall']:.0%}: {ok(acc['recall'], GOALS['recall'])} |",
        f"| precision | {acc['precision']:.1%} ({acc['matched']}/{acc['findings']}) | "
        f"≥ {GOALS['precision']:.0%}: {ok(acc['precision'], GOALS['precision'])} |",
        f"| usage agreement (matched) | {acc['usage_agreement']:.1%} | |",
        "",
        "By part of the corpus (LABELING.md tells its history; the held-out parts were "
        "written after the scanner was frozen, and their **first-run** numbers -- held-out "
        "recall 83.3 % (35/42) and 83.3 % (15/18), precision 97.2 % and 100 % -- are the "
        "honest estimate for unseen code; the rows below are after the general fixes "
        "those runs prompted):",
        "",
        "| part | labels | recall | precision |",
        "|---|---|---|---|",
        *(f"| {name} | {a['labels']} | {a['recall']:.1%} | {a['precision']:.1%} |"
          for name, a in splits.items()),
        "",
    ]
    if acc["missed"]:
        lines.append("Missed labels: " + "; ".join(f"`{m}`" for m in acc["missed"]) + ".")
        lines.append("")
    if acc["false_positives"]:
        lines.append("False positives: " + "; ".join(f"`{m}`" for m in acc["false_positives"])
                     + ".")
        lines.append("")
    lines += [
        "Throughput, all detectors on, best of the runs (median in brackets); lines of "
        "Python per second per core = rate / jobs:",
        "",
        "| tree | jobs | files | Python lines | seconds | lines/s | lines/s/core | goal "
        f"≥ {GOALS['lines_per_s_core']:,}/s/core |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, s in speed:
        lines.append(
            f"| {name} | {s['jobs']} | {s['files']} | {s['python_lines']:,} | "
            f"{s['seconds']:.2f} ({s['median_seconds']:.2f}) | {s['lines_per_s']:,.0f} | "
            f"{s['lines_per_s_core']:,.0f} | "
            f"{ok(s['lines_per_s_core'], GOALS['lines_per_s_core'])} |")
    lines += [
        "",
        "The site-packages tree is real-world code scanned with every detector (13 k files, "
        "binaries included): most modules import no crypto library, so they are read and "
        "filtered by one regular expression and never parsed. The crypto-dense tree is the "
        "worst case: every file imports crypto APIs, so every line is parsed and analysed. "
        "With `--jobs 2` the per-core rate includes the process pool's start-up and the "
        "serial join in the parent (bundles, risk, fingerprints). The machine is shared "
        "with other benchmarks (two vCPUs): the best run is the least disturbed one, and "
        "the parallel speed-up is bounded by what the other vCPU has free.",
        "",
    ]
    return "\n".join(lines) + "\n"


def write_docs(section: str) -> None:
    doc = REPO / "docs" / "PERFORMANCE.md"
    text = doc.read_text() if doc.exists() else "# Performance\n"
    start = text.find("## Scanning (bench/scan.py)")
    if start >= 0:  # replace our section only; others' sections stay as they are, and so
        # do its ### subsections (written by hand, e.g. the --eval results)
        ends = [e for e in (text.find("\n## ", start + 1), text.find("\n### ", start + 1))
                if e >= 0]
        end = min(ends) if ends else -1
        text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    doc.write_text(text)


def real_packages(split: str | None, verbose: bool) -> None:
    """Recall and precision on the pinned real packages (bench/scan_eval/LABELLING.md)."""
    sys.path.insert(0, str(HERE / "scan_eval"))
    import eval as scan_eval  # bench/scan_eval/eval.py

    packages, labels = scan_eval.load()
    roots = scan_eval.fetch(packages)
    print(f"Command: python bench/scan.py --eval -- {dt.date.today().isoformat()}, "
          f"{machine()}")
    for name in ((split,) if split else ("build", "heldout")):
        r = scan_eval.evaluate(packages, labels, roots, name, verbose)
        print(f"{name}: recall {r['recall']:.1%} ({r['found']}/{r['labels']}), precision "
              f"{r['precision']:.1%} ({r['correct']}/{r['findings']})")
        for title, table in (("kind", r["by_kind"]), ("family", r["by_family"])):
            print(f"  by {title}: " + ", ".join(f"{k} {f}/{n}" for k, (f, n) in table.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--verbose", action="store_true")
    ap.add_argument("--write-docs", action="store_true")
    ap.add_argument("--rebuild", action="store_true", help="regenerate the binary corpus")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--eval", action="store_true",
                    help="fetch the pinned packages of bench/scan_eval (pip, sha256-checked, "
                         "cached outside the repository) and report recall and precision")
    ap.add_argument("--split", choices=("build", "heldout"), default=None)
    args = ap.parse_args()
    if args.eval:
        real_packages(args.split, args.verbose)
        return
    ensure_corpus(args.rebuild)
    acc = accuracy(args.verbose)
    splits = {name: accuracy(False, name) for name in ("development", "holdout", "holdout2")}
    for name, a in [("all", acc), *splits.items()]:
        print(f"{name}: recall {a['recall']:.1%} ({a['matched']}/{a['labels']}), precision "
              f"{a['precision']:.1%} ({a['matched']}/{a['findings']}), usage agreement "
              f"{a['usage_agreement']:.1%}")
    speed: list[tuple[str, dict]] = []
    if not args.skip_speed:
        roots = real_world_roots()
        names = ", ".join(Path(r).name for r in roots)
        dense = dense_tree()
        try:
            for label, tree, repeat in ((f"site-packages ({names})", roots, args.repeat),
                                        ("crypto-dense: corpus .py x40", [str(dense)],
                                         args.repeat)):
                for jobs in (1, 2):
                    s = throughput(tree, jobs, repeat)
                    speed.append((label, s))
                    print(f"{label} jobs={jobs}: {s['python_lines']:,} lines in "
                          f"{s['seconds']:.2f} s = {s['lines_per_s']:,.0f} lines/s, "
                          f"{s['lines_per_s_core']:,.0f}/s/core")
        finally:
            import shutil

            shutil.rmtree(dense, ignore_errors=True)
    if args.write_docs:
        write_docs(render(acc, splits, speed, "python bench/scan.py --write-docs"))
        print("updated docs/PERFORMANCE.md")


if __name__ == "__main__":
    main()

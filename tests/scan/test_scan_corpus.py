"""The labelled corpus (bench/scan_corpus) keeps recall and precision above the goals.

The corpus is copied and its binary part generated in a temporary directory, so the test
neither depends on nor writes into the source tree. bench/scan.py reports the same numbers
(and speed) in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from pqml.scan import ScanOptions, scan

from conftest import REPO

CORPUS = REPO / "bench" / "scan_corpus"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("corpus") / "repo"
    shutil.copytree(CORPUS / "repo", root, ignore=shutil.ignore_patterns("generated"))
    spec = importlib.util.spec_from_file_location("scan_corpus_build", CORPUS / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    build.OUT = root / "generated"
    build.main()
    return root


def test_recall_and_precision_meet_the_goals(corpus: Path) -> None:
    labels = json.loads((CORPUS / "labels.json").read_text())["labels"]
    want = {(x["path"], x["line"], x["algorithm"]) for x in labels}
    got = {(f.path, f.line, f.algorithm) for f in scan([str(corpus)], ScanOptions(jobs=1)).findings}
    recall = len(want & got) / len(want)
    precision = len(want & got) / len(got)
    assert recall >= 0.90, sorted(want - got)
    assert precision >= 0.95, sorted(got - want)


def test_decoy_files_produce_nothing(corpus: Path) -> None:
    result = scan([str(corpus / "tools" / "decoys.py"), str(corpus / "docs"),
                   str(corpus / "services" / "feature_flags.py")], ScanOptions(jobs=1))
    assert result.findings == []

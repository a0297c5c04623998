"""The real-package evaluation set (bench/scan_eval): pinned, labelled, split, hash-checked,
and scored strictly. Nothing here touches the network: the fetch test plants a wheel."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from conftest import REPO

EVAL_DIR = REPO / "bench" / "scan_eval"


def _module():
    spec = importlib.util.spec_from_file_location("scan_eval_harness", EVAL_DIR / "eval.py")
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_packages_are_pinned_labelled_and_split_by_package() -> None:
    packages, labels = _module().load()
    assert len(packages) >= 10
    for p in packages:
        assert re.fullmatch(r"[0-9a-f]{64}", p["sha256"]), p["name"]
        assert re.fullmatch(r"\d+(\.\d+)+", p["version"]) and p["split"] in ("build", "heldout")
        assert p["wheel"].endswith(".whl") and p["files"]
    assert {p["split"] for p in packages} == {"build", "heldout"}
    files = {(p["name"], f) for p in packages for f in p["files"]}
    assert len(labels) >= 300
    held = {p["name"] for p in packages if p["split"] == "heldout"}
    assert sum(1 for x in labels if x["package"] in held) >= 150
    keys = set()
    for x in labels:
        assert (x["package"], x["path"]) in files, x
        assert x["line"] > 0 and x["family"] and x["kind"]
        key = (x["package"], x["path"], x["line"], x["family"])
        assert key not in keys, key
        keys.add(key)
    assert (EVAL_DIR / "LABELLING.md").read_text().count("held-out") >= 2


def test_fetch_refuses_a_wheel_whose_hash_is_not_the_pinned_one(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mod = _module()
    monkeypatch.setenv("PQML_SCAN_EVAL_CACHE", str(tmp_path))
    pkg = {"name": "demo", "version": "1.0", "wheel": "demo-1.0-py3-none-any.whl",
           "sha256": "0" * 64, "split": "build", "files": ["demo/m.py"]}
    wheel = tmp_path / "wheels" / pkg["wheel"]
    wheel.parent.mkdir(parents=True)
    wheel.write_bytes(b"not the pinned wheel")
    with pytest.raises(SystemExit, match="not the pinned"):
        mod.fetch([pkg])
    assert not wheel.exists()


def test_fetch_extracts_only_listed_files_of_a_matching_wheel(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import zipfile

    mod = _module()
    monkeypatch.setenv("PQML_SCAN_EVAL_CACHE", str(tmp_path))
    wheel = tmp_path / "wheels" / "demo-1.0-py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo/m.py", "import hashlib\n")
        zf.writestr("demo/other.py", "x = 1\n")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    pkg = {"name": "demo", "version": "1.0", "wheel": wheel.name, "sha256": digest,
           "split": "build", "files": ["demo/m.py"]}
    root = mod.fetch([pkg])["demo"]
    assert (root / "demo" / "m.py").read_text() == "import hashlib\n"
    assert not (root / "demo" / "other.py").exists()


def test_strict_matching_needs_file_line_window_and_compatible_family(tmp_path: Path) -> None:
    mod = _module()
    root = tmp_path / "demo"
    (root / "demo").mkdir(parents=True)
    (root / "demo" / "m.py").write_text(
        "import hashlib\nimport hmac\n\n\nh = hashlib.sha256(b'x')\n"
        "m = hmac.new(b'k', b'm', hashlib.sha1)\nx = hashlib.md5(b'y')\n")
    pkg = {"name": "demo", "split": "build", "files": ["demo/m.py"]}
    labels = [
        {"package": "demo", "path": "demo/m.py", "line": 3, "family": "SHA-2", "kind": "call"},
        {"package": "demo", "path": "demo/m.py", "line": 6, "family": "HMAC", "kind": "call"},
        {"package": "demo", "path": "demo/m.py", "line": 7, "family": "RSA", "kind": "call"},
        {"package": "demo", "path": "demo/other.py", "line": 5, "family": "SHA-2",
         "kind": "call"},
    ]
    r = mod.evaluate([pkg], labels, {"demo": root}, "build")
    assert (r["found"], r["labels"]) == (2, 4)  # line 3 is within 2 of line 5; RSA is wrong
    assert (r["correct"], r["findings"]) == (2, 3)  # md5 on line 7 matches no label
    assert mod.families("HMAC-SHA-256") == {"HMAC", "SHA-2"}
    assert mod.families("RSA-PSS") == {"RSA"} and mod.families("X448") == {"XDH"}


def test_labels_file_is_valid_json_with_one_record_per_line() -> None:
    text = (EVAL_DIR / "labels.json").read_text()
    assert json.loads(text)["labels"]
    assert text.count("\n") >= 300

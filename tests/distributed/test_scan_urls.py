"""``pqml scan s3://… --engine ray`` on the package's real two-node Ray cluster and real
moto_server: the workers read the objects themselves (the driver only lists them), and
the findings and JSON report are those of the local scan of the same tree."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path
from typing import Any

import pytest

import pqml
from pqml.distributed import scan as distributed_scan
from pqml.scan import runner
from pqml.scan.errors import ScanError
from pqml.scan.runner import ScanOptions
from scan.report_json import normal_json
from storage.moto_server import upload_tree

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")

APP = """\
from cryptography.hazmat.primitives.asymmetric import ec, rsa
key = rsa.generate_private_key(65537, 3072)
signer = ec.generate_private_key(ec.SECP256R1())
"""


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("true",))


def _tree(root: Path, keys: dict[str, Path], n: int = 40) -> Path:
    """``n`` Python files with RSA / ECDSA (two batches of tasks at least), a pickle that
    runs code, a pqml-encrypted file, and a .gitignore'd file."""
    (root / "src").mkdir(parents=True)
    for i in range(n):
        (root / "src" / f"m{i:02d}.py").write_text(APP)
    (root / ".gitignore").write_text("scratch/\n")
    (root / "scratch").mkdir()
    (root / "scratch" / "old.py").write_text(APP)
    (root / "model.pkl").write_bytes(pickle.dumps(_Evil()))
    (root / "w.bin").write_bytes(os.urandom(5000))
    pqml.encrypt_file(root / "w.bin", root / "w.bin.pqml", [keys["xwing.pub"]])
    (root / "w.bin").unlink()
    return root




def _driver_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Objects this (the driver's) process reads bytes of; the workers are other
    processes on the cluster's nodes, which this does not reach."""
    from pqml.storage.reader import ObjectInput

    seen: list[str] = []
    fetch = ObjectInput._fetch

    def counted(self: ObjectInput, offset: int, size: int) -> bytes:
        seen.append(self.name)
        return fetch(self, offset, size)

    monkeypatch.setattr(ObjectInput, "_fetch", counted)
    return seen


def test_ray_workers_read_the_objects_and_find_what_local_finds(
        tmp_path: Path, keys: dict[str, Path], s3: Any, bucket: str, ray_cluster: Any,
        ray_engine: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    _, nodes = ray_cluster
    root = _tree(tmp_path / "repo", keys)
    upload_tree(s3, root, f"{bucket}/repo")
    url = f"s3://{bucket}/repo/"
    reads = _driver_reads(monkeypatch)
    mine, report = distributed_scan.scan([url], ScanOptions(), engine=ray_engine)
    assert set(reads) == {f"{url}.gitignore"}  # the walk's rules, never a scanned file
    theirs = runner.run([str(root)], ScanOptions(jobs=1))
    assert [(f.path, f.line, f.algorithm, f.fingerprint) for f in mine.findings] == \
        [(f.path, f.line, f.algorithm, f.fingerprint) for f in theirs.findings]
    assert mine.files_scanned == theirs.files_scanned == 43  # 40, .gitignore, 2 artifacts
    assert report.tasks == 2 and set(report.nodes) <= set(nodes)
    kinds = {f.path: f for f in mine.findings if f.kind == "artifact"}
    assert kinds["model.pkl"].details["artifact"]["code_execution_risk"]
    assert kinds["w.bin.pqml"].details["protection"]["status"] == "encrypted"
    assert mine.location(mine.findings[0]).startswith(url)


def test_cli_scan_url_on_ray_equals_local(tmp_path: Path, keys: dict[str, Path], s3: Any,
                                          bucket: str, ray_engine: Any, cli: Any) -> None:
    root = _tree(tmp_path / "repo", keys, n=3)
    upload_tree(s3, root, f"{bucket}/p")
    url = f"s3://{bucket}/p/"
    res = cli("scan", url, "--json", "--engine", "ray", "--no-progress")
    assert res.exit_code == 0, res.output
    local = cli("scan", root, "-f", "json", "--no-progress")
    mine = normal_json(json.loads(res.stdout), url)
    assert mine == normal_json(json.loads(local.stdout), "") and mine["findings"]


def test_memory_urls_are_refused_on_ray(tmp_path: Path, ray_engine: Any) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    fs.pipe("/ray-scan/app.py", APP.encode())
    try:
        with pytest.raises(ScanError, match="memory:// objects live in this process"):
            distributed_scan.scan(["memory://ray-scan/"], engine=ray_engine)
    finally:
        fs.rm("/ray-scan", recursive=True)


def test_missing_object_on_ray_is_a_one_line_error(bucket: str, ray_engine: Any,
                                                   cli: Any) -> None:
    res = cli("scan", f"s3://{bucket}/nothing/", "--json", "--engine", "ray")
    assert res.exit_code == 2
    assert res.stderr.strip() == f"pqml: error: s3://{bucket}/nothing/: no such object or prefix"

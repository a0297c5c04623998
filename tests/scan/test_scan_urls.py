"""``pqml scan`` over fsspec URLs (``memory://`` and ``s3://`` on a real moto_server): the
same findings and reports as the same tree on disk, locations shown as URLs, ignore rules
relative to the prefix, bounded range reads, and one-line errors with exit code 2."""

# ruff: noqa: F811 - the moto fixtures are imported, then named as parameters
from __future__ import annotations

import json
import os
import pickle
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import pqml
from pqml.cli.main import cli
from pqml.scan import remote, runner
from pqml.scan.runner import ScanOptions
from pqml.storage.errors import MissingExtraError, StorageError
from scan.report_json import normal_json
from storage.moto_server import bucket, s3, s3_endpoint  # noqa: F401 - fixtures

APP = """\
from cryptography.hazmat.primitives.asymmetric import ec, rsa

def make():
    signing = ec.generate_private_key(ec.SECP384R1())
    return rsa.generate_private_key(65537, 2048), signing
"""
TOKENS = "import jwt\n\ndef token(k):\n    return jwt.encode({}, k, algorithm='RS256')\n"
IGNORED = "from Crypto.PublicKey import RSA\nRSA.generate(1024)\n"


class _Evil:
    def __reduce__(self) -> tuple[Any, ...]:
        return (os.system, ("true",))


def _make_tree(root: Path) -> Path:
    """Python with RSA/ECDSA, a pickle that runs code, a pqml-encrypted file, a Parquet
    file with post-quantum KMS keys, and files .gitignore, --ignore and the default
    exclusions skip."""
    (root / "src" / "pkg").mkdir(parents=True)
    (root / "src" / "pkg" / "app.py").write_text(APP)
    (root / "src" / "pkg" / "tokens.py").write_text(TOKENS)
    (root / "src" / "pkg" / ".gitignore").write_text("generated_*.py\n")
    (root / "src" / "pkg" / "generated_keys.py").write_text(IGNORED)
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / "build").mkdir()
    (root / "build" / "gen.py").write_text(IGNORED)
    (root / "debug.log").write_text("-----BEGIN RSA PRIVATE KEY-----\n")
    (root / "vendor" / "lib").mkdir(parents=True)
    (root / "vendor" / "lib" / "old.py").write_text(IGNORED)
    (root / ".git").mkdir()
    (root / ".git" / "hook.py").write_text(IGNORED)
    (root / "models").mkdir()
    (root / "models" / "model.pkl").write_bytes(pickle.dumps({"w": [1.0, 2.0], "x": _Evil()}))
    key = pqml.generate_key("x-wing")
    pqml.save_public_key(key, root.parent / "id.pub")
    (root / "models" / "w.bin").write_bytes(os.urandom(3000))
    pqml.encrypt_file(root / "models" / "w.bin", root / "models" / "w.bin.pqml",
                      [root.parent / "id.pub"])
    (root / "models" / "w.bin").unlink()
    pa = pytest.importorskip("pyarrow")
    from pqml import parquet as pqp

    table = pa.table({"id": list(range(100)), "ssn": [f"{i:09d}" for i in range(100)]})
    (root / "data").mkdir()
    pqp.write_table(table, root / "data" / "t.parquet",
                    pqp.MasterKeys({"footer": pqml.generate_key("ml-kem-1024")}),
                    footer_key="footer")
    return root


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _make_tree(tmp_path_factory.mktemp("scan-urls") / "repo")


def _files(root: Path) -> Iterator[tuple[str, bytes]]:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            yield path.relative_to(root).as_posix(), path.read_bytes()


@pytest.fixture
def memory_tree(tree: Path) -> Iterator[str]:
    """The tree uploaded under a fresh ``memory://`` prefix; removed after."""
    import fsspec

    fs = fsspec.filesystem("memory")
    prefix = f"/scan-{uuid.uuid4().hex[:8]}/repo"
    for rel, data in _files(tree):
        fs.pipe(f"{prefix}/{rel}", data)
    yield f"memory:/{prefix}/"
    fs.rm(prefix, recursive=True)


@pytest.fixture
def s3_tree(tree: Path, s3: Any, bucket: str) -> str:
    for rel, data in _files(tree):
        s3.pipe(f"{bucket}/team/repo/{rel}", data)
    return f"s3://{bucket}/team/repo/"


def run(*args: object) -> Any:
    return CliRunner().invoke(cli, ["scan", "--no-progress", *map(str, args)],
                              catch_exceptions=False)


def assert_one_line_error(result: Any, code: int, match: str) -> None:
    assert result.exit_code == code, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pqml: error: "), result.stderr
    assert match in lines[0] and "Traceback" not in result.output
    assert result.stdout == ""




def _same_json(local: Path, url: str, *extra: object) -> dict[str, Any]:
    mine, theirs = run(url, "--json", *extra), run(local, "-f", "json", *extra)
    assert mine.exit_code == theirs.exit_code == 0, mine.output + theirs.output
    doc = json.loads(mine.stdout)
    assert doc["roots"] == [url]
    base = url.rstrip("/") + "/"
    assert normal_json(doc, base) == normal_json(json.loads(theirs.stdout), "")
    return doc


# ---- the same report -------------------------------------------------------------------------


def test_memory_prefix_scans_like_the_local_tree(tree: Path, memory_tree: str) -> None:
    doc = _same_json(tree, memory_tree)
    got = {(f["path"], f["algorithm"]) for f in doc["findings"]}
    assert {("src/pkg/app.py", "RSA"), ("src/pkg/app.py", "ECDSA"),
            ("models/w.bin.pqml", "X-Wing"), ("data/t.parquet", "ML-KEM-1024")} <= got
    paths = {f["path"] for f in doc["findings"]}
    assert not paths & {"build/gen.py", "debug.log", "src/pkg/generated_keys.py",
                        ".git/hook.py"}
    pkl = next(f for f in doc["findings"] if f["path"] == "models/model.pkl")
    assert pkl["details"]["artifact"]["code_execution_risk"]
    assert "posix.system" in pkl["details"]["artifact"]["dangerous_imports"] or \
        "os.system" in pkl["details"]["artifact"]["dangerous_imports"]
    parquet = next(f for f in doc["findings"] if f["path"] == "data/t.parquet")
    assert parquet["details"]["protection"]["status"] == "encrypted"
    assert parquet["details"]["artifact"]["encryption"]["key_material"] == "external"


def test_ignore_patterns_apply_relative_to_the_prefix(tree: Path, memory_tree: str) -> None:
    doc = _same_json(tree, memory_tree, "--ignore", "vendor/**", "--ignore", "*.pkl")
    paths = {f["path"] for f in doc["findings"]}
    assert "vendor/lib/old.py" not in paths and "models/model.pkl" not in paths
    # an anchored pattern is anchored at the prefix, not at the bucket
    doc = _same_json(tree, memory_tree, "--ignore", "src/pkg/**")
    assert not any(f["path"].startswith("src/") for f in doc["findings"])
    # .gitignore objects are honoured (and --no-gitignore turns them off) as on disk
    doc = _same_json(tree, memory_tree, "--no-gitignore")
    assert {"build/gen.py", "src/pkg/generated_keys.py"} <= {f["path"] for f in doc["findings"]}


def test_one_object_and_several_roots(tree: Path, memory_tree: str) -> None:
    one = run(memory_tree + "src/pkg/app.py", "--json")
    assert one.exit_code == 0, one.output
    doc = json.loads(one.stdout)
    assert {f["location"] for f in doc["findings"]} == {
        f"{memory_tree}src/pkg/app.py:4", f"{memory_tree}src/pkg/app.py:5"}
    both = run(memory_tree + "src", tree / "models", "--json")
    assert both.exit_code == 0, both.output
    locations = {f["location"].rsplit(":", 1)[0] for f in json.loads(both.stdout)["findings"]}
    assert f"{memory_tree}src/pkg/app.py" in locations
    assert f"{tree}/models/model.pkl" in locations


def test_sarif_cbom_and_table_reports(tree: Path, memory_tree: str, tmp_path: Path) -> None:
    mine = json.loads(run(memory_tree, "-f", "sarif").stdout)["runs"][0]
    theirs = json.loads(run(tree, "-f", "sarif").stdout)["runs"][0]
    assert mine["originalUriBaseIds"] == {"ROOT0": {"uri": memory_tree}}
    for doc, base in ((mine, memory_tree), (theirs, "")):
        for key in ("originalUriBaseIds", "invocations"):
            doc.pop(key)
        for item in doc["results"]:
            loc = item["properties"].pop("location")
            where = item["locations"][0]["physicalLocation"]
            assert loc == f"{base}{where['artifactLocation']['uri']}:" \
                          f"{where['region']['startLine']}"
    assert mine == theirs

    def cbom(target: object) -> Any:
        doc = json.loads(run(target, "-f", "cbom").stdout)
        return _strip(doc["components"], memory_tree)

    assert cbom(memory_tree) == cbom(tree)
    res = run(memory_tree, "-f", "table")
    assert res.exit_code == 0 and f"{memory_tree}src/pkg/app.py" in "".join(
        res.stdout.split())


def _strip(obj: Any, base: str) -> Any:
    """CBOM content without references (they name the root) and with ``base`` removed."""
    if isinstance(obj, dict):
        return {k: _strip(v, base) for k, v in obj.items() if k not in ("bom-ref", "ref")}
    if isinstance(obj, list):
        return sorted((_strip(v, base) for v in obj), key=json.dumps)
    return obj.replace(base, "") if isinstance(obj, str) else obj


def test_repository_config_in_the_prefix_applies(tree: Path, tmp_path: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    prefix = f"/cfg-{uuid.uuid4().hex[:8]}"
    for rel, data in _files(tree):
        fs.pipe(f"{prefix}/{rel}", data)
    fs.pipe(f"{prefix}/pqml.toml", b'[scan]\nignore = ["src/**", "models/**"]\n')
    try:
        res = run(f"memory:/{prefix}", "--json")
        assert res.exit_code == 0, res.output
        assert f"applied repository config memory:/{prefix}/pqml.toml" in res.stderr
        paths = {f["path"] for f in json.loads(res.stdout)["findings"]}
        assert not any(p.startswith("src/") for p in paths)
        assert "models/model.pkl" in paths  # a repository's config never hides artifacts
        res = run(f"memory:/{prefix}", "--json", "--no-repo-config")
        assert any(f["path"].startswith("src/") for f in json.loads(res.stdout)["findings"])
        # --config as a URL is the user's own: applied as is
        fs.pipe(f"{prefix}-settings.toml", b"[scan]\nfail_on = ['critical']\n")
        res = run(tree, "--config", f"memory:/{prefix}-settings.toml", "--json")
        assert res.exit_code == 1, res.output  # the pickle is critical
    finally:
        fs.rm(prefix, recursive=True)


def test_report_written_to_a_url(tree: Path, memory_tree: str) -> None:
    import fsspec

    out = f"{memory_tree.rstrip('/')}-report.json"
    res = run(memory_tree, "-f", "json", "-o", out)
    assert res.exit_code == 0, res.output
    doc = json.loads(fsspec.filesystem("memory").cat_file(out.removeprefix("memory:/")))
    assert doc["roots"] == [memory_tree] and doc["findings"]


def test_many_objects_on_worker_processes(memory_tree: str, tmp_path: Path) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    prefix = memory_tree.removeprefix("memory:/") + "many"
    local = tmp_path / "many"
    local.mkdir()
    for i in range(60):
        (local / f"m{i}.py").write_text(APP)
        fs.pipe(f"{prefix}/m{i}.py", APP.encode())
    mine = runner.run([f"memory:/{prefix}/"], ScanOptions(jobs=2))
    theirs = runner.run([str(local)], ScanOptions(jobs=2))
    assert mine.jobs == 2 and mine.files_scanned == 60
    assert [(f.path, f.line, f.fingerprint) for f in mine.findings] == \
        [(f.path, f.line, f.fingerprint) for f in theirs.findings]


# ---- bounded reads ---------------------------------------------------------------------------


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Every range read of an object: (url, bytes)."""
    from pqml.storage.reader import ObjectInput

    seen: list[tuple[str, int]] = []
    fetch = ObjectInput._fetch

    def counted(self: ObjectInput, offset: int, size: int) -> bytes:
        data = fetch(self, offset, size)
        seen.append((self.name, len(data)))
        return data

    monkeypatch.setattr(ObjectInput, "_fetch", counted)
    return seen


def test_large_objects_are_read_only_as_far_as_the_local_caps(
        memory_tree: str, reads: list[tuple[str, int]]) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    prefix = memory_tree.removeprefix("memory:/") + "big"
    big = 12 << 20
    fs.pipe(f"{prefix}/huge.py", b"# " + b"x" * big)  # over the 8 MiB text cap
    fs.pipe(f"{prefix}/weights.safetensors", b"\x10" + bytes(7) + b"{}" + bytes(big))
    fs.pipe(f"{prefix}/blob.bin", os.urandom(big))  # not a pickle after all
    fs.pipe(f"{prefix}/data.parquet", b"PAR1" + bytes(big) + b"PAR1")
    result = runner.run([f"memory:/{prefix}"], ScanOptions(jobs=1))
    assert any(w.path == "huge.py" and "over 8 MiB" in w.message for w in result.warnings)
    per_object: dict[str, int] = {}
    for url, n in reads:
        per_object[url.rsplit("/", 1)[-1]] = per_object.get(url.rsplit("/", 1)[-1], 0) + n
    assert per_object["huge.py"] <= 64 << 10
    assert per_object["weights.safetensors"] <= 64 << 10
    assert per_object["data.parquet"] <= (64 + 256) << 10
    assert per_object["blob.bin"] <= 2 << 20
    assert sum(per_object.values()) < big // 2


def test_no_temporary_files(tree: Path, memory_tree: str, tmp_path: Path,
                            monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    result = runner.run([memory_tree], ScanOptions(jobs=1))
    assert result.findings and list(scratch.iterdir()) == []


# ---- failures --------------------------------------------------------------------------------


def test_missing_prefix_and_unknown_scheme_are_one_line_errors(memory_tree: str) -> None:
    assert_one_line_error(run(memory_tree + "nothing-here/", "--json"), 2,
                          "nothing-here/: no such object or prefix")
    assert_one_line_error(run("nope://bucket/x", "--json"), 2, "unknown storage scheme")
    with pytest.raises(remote.ScanStorageError) as caught:
        runner.run([memory_tree + "nothing-here/"])
    assert isinstance(caught.value, StorageError) and caught.value.exit_code == 2


def test_missing_extra_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # import gcsfs -> ImportError
    res = run("gs://bucket/models/", "--json")
    assert_one_line_error(res, 2, "pip install 'pqml[gcs]'")
    with pytest.raises(remote.ScanMissingExtraError) as caught:
        runner.run(["gs://bucket/models/"])
    assert isinstance(caught.value, MissingExtraError)


def test_listing_that_fails_part_way_is_an_error(memory_tree: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from fsspec.implementations.memory import MemoryFileSystem

    def broken(self: Any, path: str, **kwargs: Any) -> Any:
        raise ConnectionResetError("connection reset by peer")

    with monkeypatch.context() as patch:  # undone before the fixture removes the tree
        patch.setattr(MemoryFileSystem, "find", broken)
        assert_one_line_error(run(memory_tree, "--json"), 2, "connection reset by peer")


def test_read_failing_mid_scan_is_an_error_not_a_warning(
        memory_tree: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from fsspec.implementations.memory import MemoryFileSystem

    cat_file = MemoryFileSystem.cat_file

    def flaky(self: Any, path: str, *args: Any, **kwargs: Any) -> Any:
        if path.endswith(("model.pkl", "app.py")):
            raise TimeoutError("read timed out")
        return cat_file(self, path, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(MemoryFileSystem, "cat_file", flaky)
        assert_one_line_error(run(memory_tree, "--json"), 2, "read timed out")
        # and inside an artifact detector (which turns odd input into a warning)
        with pytest.raises(remote.ScanStorageError, match="read timed out"):
            runner.run([memory_tree + "models/"], ScanOptions(jobs=1))


def test_object_deleted_after_the_listing_is_a_warning(memory_tree: str) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")

    def delete_once(done: int, total: int) -> None:
        if done == 0:  # listed, not yet read
            fs.rm(memory_tree.removeprefix("memory:/") + "src/pkg/tokens.py")

    result = runner.run([memory_tree], ScanOptions(jobs=1), delete_once)
    assert [(w.path, w.message) for w in result.warnings] == [
        ("src/pkg/tokens.py", "cannot read: no such object")]
    assert any(f.path == "src/pkg/app.py" for f in result.findings)


def test_baseline_urls_are_refused(memory_tree: str) -> None:
    assert_one_line_error(run(memory_tree, "--baseline", "s3://b/base.json"), 2,
                          "--baseline takes a local file")


def test_help_mentions_urls() -> None:
    res = CliRunner().invoke(cli, ["scan", "--help"])
    assert "s3://bucket/prefix/" in res.output and "URL" in res.output
    assert "--json" in res.output


def test_json_flag_conflicts_with_another_format(tree: Path) -> None:
    assert_one_line_error(run(tree, "--json", "-f", "sarif"), 2, "--json and --format sarif")


# ---- a real S3 server ------------------------------------------------------------------------


def test_s3_prefix_scans_like_the_local_tree(tree: Path, s3_tree: str) -> None:
    doc = _same_json(tree, s3_tree)
    assert any(f["location"] == f"{s3_tree}src/pkg/app.py:5" for f in doc["findings"])
    _same_json(tree, s3_tree.rstrip("/"), "--ignore", "models/")


def test_s3_many_objects_on_worker_processes(s3: Any, bucket: str, tmp_path: Path) -> None:
    local = tmp_path / "many"
    local.mkdir()
    for i in range(50):
        (local / f"m{i}.py").write_text(APP)
        s3.pipe(f"{bucket}/many/m{i}.py", APP.encode())
    mine = runner.run([f"s3://{bucket}/many/"], ScanOptions(jobs=2))
    theirs = runner.run([str(local)], ScanOptions(jobs=2))
    assert mine.jobs == 2 and mine.files_scanned == 50
    assert [(f.path, f.line, f.fingerprint) for f in mine.findings] == \
        [(f.path, f.line, f.fingerprint) for f in theirs.findings]


def test_s3_missing_bucket_and_unreachable_store(s3_endpoint: str,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    missing = f"s3://pqml-missing-{uuid.uuid4().hex[:8]}/models/"
    assert_one_line_error(run(missing, "--json"), 2, f"{missing}: no such object or prefix")
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("AWS_RETRY_MODE", "standard")
    res = run("s3://bucket/models/", "--json")
    assert_one_line_error(res, 2, "s3://bucket/models/: cannot")
    assert "connect" in res.stderr.lower()

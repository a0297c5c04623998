"""Trees in object storage without ``--engine`` (the local engine): prefix -> prefix,
prefix -> directory and directory -> prefix, both ways, through a real S3 server
(moto_server on loopback) and ``memory://``. Outputs decrypt byte for byte, appear only
when every file succeeded, never overwrite, and name the object that failed."""

# ruff: noqa: F811 - the moto fixtures are imported, then named as parameters
from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

import pqml
from pqml.distributed import jobs
from pqml.distributed.local import LocalEngine
from pqml.encryption import encrypt as local
from pqml.errors import OutputExistsError, PqmlError
from pqml.formats.age.errors import NoIdentityMatchError, PayloadError
from pqml.storage.errors import StorageURLError
from storage.moto_server import bucket, objects_under, pending_uploads, s3, s3_endpoint, upload_tree  # noqa: F401 - fixtures

MiB = 1 << 20
SIZES = {"w/a.bin": 6 * MiB + 5, "w/b.bin": 16384, "config.json": 300, "empty.txt": 0}


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("tree-keys")
    out = {}
    for name, alg in (("id", "x-wing"), ("other", "x-wing"), ("sign", "ML-DSA-65")):
        key = pqml.generate_key(alg)
        pqml.save_private_key(key, d / f"{name}.pem")
        pqml.save_public_key(key, d / f"{name}.pub")
        out[name], out[f"{name}.pub"] = d / f"{name}.pem", d / f"{name}.pub"
    return out


def cli(*args: object) -> Any:
    from click.testing import CliRunner

    from pqml.cli.main import cli as main

    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


def _model(root: Path, keys: dict[str, Path]) -> Path:
    rng = random.Random(16)
    for name, size in SIZES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(rng.randbytes(size))
    pqml.sign_model(root, [keys["sign"]])  # model.sig: copied in clear, both ways
    return root








def _same_tree(tree: Path, model: Path) -> None:
    names = sorted(p.relative_to(tree).as_posix() for p in tree.rglob("*") if p.is_file())
    assert names == sorted([*SIZES, "model.sig"])
    for name in names:
        assert (tree / name).read_bytes() == (model / name).read_bytes(), name


def test_cli_prefix_to_prefix_and_back_both_ways(tmp_path: Path, s3: Any, bucket: str,
                                                 keys: dict[str, Path]) -> None:
    model = _model(tmp_path / "model", keys)
    upload_tree(s3, model, f"{bucket}/data")
    res = cli("encrypt", "-r", keys["id.pub"], "-o", f"s3://{bucket}/enc/",
              f"s3://{bucket}/data/", "--json")
    assert res.exit_code == 0, res.output
    results = json.loads(res.stdout)
    assert [r["output"] for r in results][-1] == f"s3://{bucket}/enc/model.sig"
    assert results[-1]["format"] == local.COPIED
    enc = objects_under(s3, f"{bucket}/enc")
    assert sorted(enc) == sorted([f"{n}.pqml" for n in SIZES] + ["model.sig"])
    assert enc["model.sig"] == (model / "model.sig").read_bytes()
    # each object is an ordinary pqml/v1 file the local path decrypts
    (tmp_path / "a.pqml").write_bytes(enc["w/a.bin.pqml"])
    local.decrypt_file(tmp_path / "a.pqml", tmp_path / "a", [keys["id"]])
    assert (tmp_path / "a").read_bytes() == (model / "w/a.bin").read_bytes()

    s3.pipe(f"{bucket}/enc/NOTES.txt", b"not encrypted")  # skipped and named
    res = cli("decrypt", "-i", keys["id"], "-o", tmp_path / "dec", f"s3://{bucket}/enc/",
              "--json")
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["skipped"] == [f"s3://{bucket}/enc/NOTES.txt"]
    assert f"s3://{bucket}/enc/NOTES.txt: not an encrypted file, skipped" in res.stderr
    _same_tree(tmp_path / "dec", model)
    assert {(p.stat().st_mode & 0o777) for p in (tmp_path / "dec" / "w").iterdir()} == {0o600}

    res = cli("decrypt", "-i", keys["id"], "-o", f"s3://{bucket}/plain/",
              f"s3://{bucket}/enc/")
    assert res.exit_code == 0, res.output
    plain = objects_under(s3, f"{bucket}/plain")
    assert plain == {n: (model / n).read_bytes() for n in [*SIZES, "model.sig"]}
    assert pending_uploads(s3, bucket) == []


def test_cli_directory_to_prefix_and_prefix_to_directory(tmp_path: Path, s3: Any,
                                                        bucket: str,
                                                        keys: dict[str, Path]) -> None:
    model = _model(tmp_path / "model", keys)
    res = cli("encrypt", "-r", keys["id.pub"], "-j", "2", "-o", f"s3://{bucket}/enc",
              model)
    assert res.exit_code == 0, res.output
    res = cli("encrypt", "-r", keys["id.pub"], "-o", tmp_path / "enc-local",
              f"s3://{bucket}/enc/")  # already encrypted objects: encrypted again
    assert res.exit_code == 0, res.output
    assert (tmp_path / "enc-local" / "w" / "a.bin.pqml.pqml").is_file()
    local.encrypt_tree(model, tmp_path / "enc", [keys["id.pub"]])
    res = cli("decrypt", "-i", keys["id"], "-o", f"s3://{bucket}/dec/", tmp_path / "enc")
    assert res.exit_code == 0, res.output
    assert objects_under(s3, f"{bucket}/dec") == {n: (model / n).read_bytes()
                                             for n in [*SIZES, "model.sig"]}
    res = cli("decrypt", "-i", keys["id"], "-o", tmp_path / "dec", f"s3://{bucket}/enc/")
    assert res.exit_code == 0, res.output
    _same_tree(tmp_path / "dec", model)


def test_progress_bar_is_sized_by_the_plan_and_counts_every_byte(
        tmp_path: Path, s3: Any, bucket: str, keys: dict[str, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On a terminal an object-tree job draws a progress bar: the job announces the bytes
    it plans (plaintext, bundles included, skipped objects not) before running them, and
    every byte done advances it, so the bar ends exactly full, decrypting too."""
    import contextlib

    from pqml.cli import engine as cli_engine

    bars: list[dict[str, Any]] = []

    class Recorder:
        def __init__(self, label: str) -> None:
            self.state = {"label": label, "planned": 0, "done": 0, "early": 0}
            bars.append(self.state)

        def __call__(self, n: int) -> None:
            self.state["done"] += n
            if self.state["done"] > self.state["planned"]:
                self.state["early"] += 1  # advanced past what was announced

        def planned(self, n: int) -> None:
            self.state["planned"] += n

    @contextlib.contextmanager
    def recording(label: str) -> Any:
        yield Recorder(label) if cli_engine._stderr_is_terminal() else None

    monkeypatch.setattr(cli_engine, "job_progress", recording)
    monkeypatch.setattr(cli_engine, "_stderr_is_terminal", lambda: True)
    model = _model(tmp_path / "model", keys)
    tree_bytes = sum(p.stat().st_size for p in model.rglob("*") if p.is_file())
    assert cli("encrypt", "-r", keys["id.pub"], "-o", f"s3://{bucket}/enc/", model
               ).exit_code == 0
    s3.pipe(f"{bucket}/enc/NOTES.txt", b"not encrypted")  # skipped: never planned
    assert cli("decrypt", "-i", keys["id"], "-o", tmp_path / "dec", f"s3://{bucket}/enc/"
               ).exit_code == 0
    assert bars == [
        {"label": "encrypting", "planned": tree_bytes, "done": tree_bytes, "early": 0},
        {"label": "decrypting", "planned": tree_bytes, "done": tree_bytes, "early": 0},
    ]


def test_job_bar_follows_the_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    from pqml.cli import engine as cli_engine

    monkeypatch.setattr(cli_engine, "_stderr_is_terminal", lambda: False)
    with cli_engine.job_progress("decrypting") as callback:
        assert callback is None  # not a terminal: no bar
    monkeypatch.setattr(cli_engine, "_stderr_is_terminal", lambda: True)
    with cli_engine.job_progress("decrypting") as bar:
        bar.planned(100)
        bar(60)
        bar.planned(50)
        bar(90)
        task = bar._bar.tasks[0]
        assert (task.total, task.completed) == (150, 150)


def test_one_tampered_chunk_leaves_no_object_and_names_it(tmp_path: Path, s3: Any,
                                                          bucket: str,
                                                          keys: dict[str, Path]) -> None:
    model = _model(tmp_path / "model", keys)
    jobs.encrypt(model, f"s3://{bucket}/enc/", [keys["id.pub"]], engine=LocalEngine(1))
    url = f"s3://{bucket}/enc/w/a.bin.pqml"
    blob = bytearray(s3.cat_file(url))
    blob[len(blob) // 2] ^= 0x01  # a chunk in the middle of one file of the tree
    s3.pipe(url, bytes(blob))
    with pytest.raises(PayloadError, match=rf"{url}: .*chunk \d+ failed authentication"):
        jobs.decrypt(f"s3://{bucket}/enc/", f"s3://{bucket}/dec/", [keys["id"]],
                     engine=LocalEngine(2), part_size=5 * MiB)
    assert not s3.exists(f"{bucket}/dec")  # not even the files that authenticated
    assert pending_uploads(s3, bucket) == []  # every upload aborted
    res = cli("decrypt", "-i", keys["id"], "-o", tmp_path / "dec", f"s3://{bucket}/enc/")
    assert res.exit_code == 1 and url in res.output
    assert not (tmp_path / "dec").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_truncated_object_and_wrong_key(tmp_path: Path, s3: Any, bucket: str,
                                        keys: dict[str, Path]) -> None:
    model = _model(tmp_path / "model", keys)
    jobs.encrypt(model, f"s3://{bucket}/enc/", [keys["id.pub"]], engine=LocalEngine(1))
    with pytest.raises(NoIdentityMatchError, match=rf"s3://{bucket}/enc/\S+\.pqml: "):
        jobs.decrypt(f"s3://{bucket}/enc/", f"s3://{bucket}/dec/", [keys["other"]],
                     engine=LocalEngine(1))
    url = f"s3://{bucket}/enc/w/b.bin.pqml"
    s3.pipe(url, s3.cat_file(url)[:-16])  # ends on a chunk boundary: no final chunk
    with pytest.raises(PayloadError, match=rf"{url}: .*truncated"):
        jobs.decrypt(f"s3://{bucket}/enc/", f"s3://{bucket}/dec/", [keys["id"]],
                     engine=LocalEngine(1))
    assert not s3.exists(f"{bucket}/dec") and pending_uploads(s3, bucket) == []


def test_existing_objects_are_refused_before_any_work(tmp_path: Path, s3: Any, bucket: str,
                                                      keys: dict[str, Path]) -> None:
    model = _model(tmp_path / "model", keys)
    s3.pipe(f"{bucket}/enc/config.json.pqml", b"precious")
    res = cli("encrypt", "-r", keys["id.pub"], "-o", f"s3://{bucket}/enc/", model)
    assert res.exit_code == 1
    assert "the output prefix is not empty" in res.output and "--force" in res.output
    assert objects_under(s3, f"{bucket}/enc") == {"config.json.pqml": b"precious"}
    assert pending_uploads(s3, bucket) == []  # refused before a single upload started
    res = cli("encrypt", "-r", keys["id.pub"], "--force", "-o", f"s3://{bucket}/enc/", model)
    assert res.exit_code == 0, res.output
    assert s3.cat_file(f"{bucket}/enc/config.json.pqml") != b"precious"
    jobs.decrypt(f"s3://{bucket}/enc/", tmp_path / "dec", [keys["id"]],
                 engine=LocalEngine(1))
    _same_tree(tmp_path / "dec", model)


def test_an_upload_part_per_task_and_all_complete_together(tmp_path: Path, s3: Any,
                                                           bucket: str,
                                                           keys: dict[str, Path]) -> None:
    model = _model(tmp_path / "model", keys)
    results, report = jobs.encrypt(model, f"s3://{bucket}/enc/", [keys["id.pub"]],
                                   engine=LocalEngine(2), part_size=5 * MiB)
    assert report.tasks == 2 + 3  # a.bin in two parts, three small files in one each
    assert s3.info(f"{bucket}/enc/w/a.bin.pqml")["ETag"].strip('"').endswith("-2")
    assert [r.output for r in results if r.format == "pqml/v1"] == [
        f"s3://{bucket}/enc/{n}.pqml" for n in sorted(SIZES)]


def test_what_names_a_tree_and_what_is_refused(tmp_path: Path, s3: Any, bucket: str,
                                               keys: dict[str, Path]) -> None:
    model = _model(tmp_path / "model", keys)
    upload_tree(s3, model, f"{bucket}/data")
    # without the trailing slash a prefix is not silently taken as a tree
    with pytest.raises(StorageURLError, match=rf"s3://{bucket}/data: is a prefix.*"
                                              rf"write s3://{bucket}/data/"):
        jobs.encrypt(f"s3://{bucket}/data", f"s3://{bucket}/enc/", [keys["id.pub"]],
                     engine=LocalEngine(1))
    res = cli("encrypt", "-r", keys["id.pub"], "-o", f"s3://{bucket}/enc/",
              f"s3://{bucket}/data")
    assert res.exit_code == 1 and "with a trailing slash" in res.output
    for dst in (f"s3://{bucket}/data/enc/", f"s3a://{bucket}/", f"s3://{bucket}/data"):
        with pytest.raises(PqmlError, match="overlaps the input tree"):
            jobs.encrypt(f"s3://{bucket}/data/", dst, [keys["id.pub"]],
                         engine=LocalEngine(1))
    with pytest.raises(PqmlError, match="no objects under this prefix"):
        jobs.encrypt(f"s3://{bucket}/nothing/", f"s3://{bucket}/enc/", [keys["id.pub"]],
                     engine=LocalEngine(1))
    res = cli("encrypt", "-r", keys["id.pub"], "--format", "age", "-o", tmp_path / "x",
              f"s3://{bucket}/data/")
    assert res.exit_code == 1 and "binary pqml/v1 only" in res.output
    res = cli("encrypt", "-r", keys["id.pub"], f"s3://{bucket}/data/")
    assert res.exit_code == 1 and "give -o" in res.output
    assert not s3.exists(f"{bucket}/enc") and not (tmp_path / "x").exists()
    # an age object inside a tree: pointed to the single-object path
    local.encrypt_file(model / "config.json", tmp_path / "c.age", [keys["id.pub"]],
                       format="age")
    s3.pipe(f"{bucket}/agetree/c.age", (tmp_path / "c.age").read_bytes())
    res = cli("decrypt", "-i", keys["id"], "-o", tmp_path / "o", f"s3://{bucket}/agetree/")
    assert res.exit_code == 1 and "binary pqml/v1 only" in res.output
    assert pending_uploads(s3, bucket) == []


def test_memory_trees(tmp_path: Path, keys: dict[str, Path]) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    model = _model(tmp_path / "model", keys)
    base = f"/trees-{os.getpid()}"
    res = cli("encrypt", "-r", keys["id.pub"], "-o", f"memory:/{base}/enc/", model)
    assert res.exit_code == 0, res.output
    res = cli("decrypt", "-i", keys["id"], "-o", f"memory:/{base}/dec/",
              f"memory:/{base}/enc/")
    assert res.exit_code == 0, res.output
    for name in [*SIZES, "model.sig"]:
        assert fs.cat(f"{base}/dec/{name}") == (model / name).read_bytes()
    with pytest.raises(OutputExistsError, match="output prefix is not empty"):
        jobs.decrypt(f"memory:/{base}/enc/", f"memory:/{base}/dec", [keys["id"]],
                     engine=LocalEngine(1))
    fs.rm(base, recursive=True)

"""The distributed jobs on a real Ray cluster of two nodes (the session's, conftest.py):
work lands on both nodes, outputs decrypt locally byte for byte, a distributed signature
is the local one, S3 outputs are multipart uploads completed only on success, a worker
killed mid-job is retried into identical bytes, and one killed too often fails the job
without leaving an output."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path
from typing import Any

import pytest

from pqml.distributed import jobs, parts, sign
from pqml.distributed import scan as distributed_scan
from pqml.distributed.errors import EngineError
from pqml.encryption import encrypt as local
from pqml.formats.age.errors import PayloadError
from pqml.signing import signing

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers get crash_* below

MiB = 1 << 20
SIZES = {"w/a.bin": 13 * MiB, "w/b.bin": 6 * MiB + 1, "config.json": 100, "e.txt": 0}


def _both(report: Any, nodes: list[str]) -> None:
    assert sorted(report.nodes) == sorted(nodes), report.nodes


def test_file_parts_run_on_both_nodes(tmp_path: Path, keys, ray_cluster,
                                      ray_engine_on_both_nodes) -> None:
    """Parts are held until parts started on both nodes (conftest.NodeGate): without
    that, one node can finish a test-sized job before Ray leases the other's worker."""
    _, nodes = ray_cluster
    ray_engine = ray_engine_on_both_nodes
    data = os.urandom(31 * MiB + 9)
    (tmp_path / "big").write_bytes(data)
    _, report = jobs.encrypt(tmp_path / "big", tmp_path / "big.pqml", [keys["xwing.pub"]],
                             engine=ray_engine, part_size=5 * MiB)
    assert report.tasks == 7
    _both(report, nodes)
    local.decrypt_file(tmp_path / "big.pqml", tmp_path / "back", [keys["xwing"]])
    assert (tmp_path / "back").read_bytes() == data
    _, _, report = jobs.decrypt(tmp_path / "big.pqml", tmp_path / "again", [keys["xwing"]],
                                engine=ray_engine, part_size=5 * MiB)
    _both(report, nodes)
    assert (tmp_path / "again").read_bytes() == data


def test_tree_round_trip(tmp_path: Path, keys, make_tree, ray_engine) -> None:
    model = make_tree(tmp_path / "model", SIZES)
    jobs.encrypt(model, tmp_path / "enc", [keys["xwing.pub"]], engine=ray_engine,
                 part_size=5 * MiB)
    local.decrypt_tree(tmp_path / "enc", tmp_path / "dec", [keys["xwing"]])
    jobs.decrypt(tmp_path / "enc", tmp_path / "dec2", [keys["xwing"]], engine=ray_engine)
    for name in SIZES:
        assert (tmp_path / "dec" / name).read_bytes() == (model / name).read_bytes()
        assert (tmp_path / "dec2" / name).read_bytes() == (model / name).read_bytes()


def test_s3_object_is_a_multipart_upload_of_the_parts(tmp_path: Path, keys, s3, bucket,
                                                       ray_engine) -> None:
    data = os.urandom(17 * MiB)
    (tmp_path / "m.bin").write_bytes(data)
    url = f"s3://{bucket}/models/m.bin.pqml"
    _, report = jobs.encrypt(tmp_path / "m.bin", url, [keys["xwing.pub"]], engine=ray_engine,
                             part_size=5 * MiB)
    assert report.tasks == 4
    assert s3.info(url)["ETag"].strip('"').endswith("-4")  # one S3 part per task
    (tmp_path / "m.pqml").write_bytes(s3.cat(url))
    local.decrypt_file(tmp_path / "m.pqml", tmp_path / "m.out", [keys["xwing"]])
    assert (tmp_path / "m.out").read_bytes() == data
    jobs.decrypt(url, tmp_path / "m.back", [keys["xwing"]], engine=ray_engine,
                 part_size=5 * MiB)  # workers read by range requests
    assert (tmp_path / "m.back").read_bytes() == data


def test_tree_into_an_object_store(tmp_path: Path, keys, make_tree, s3, bucket,
                                   ray_engine) -> None:
    model = make_tree(tmp_path / "model", SIZES)
    signing.sign_model(model, [keys["ml"]])
    results, _ = jobs.encrypt(model, f"s3://{bucket}/enc/", [keys["xwing.pub"]],
                              engine=ray_engine, part_size=5 * MiB)
    assert sorted(s3.find(bucket)) == sorted(
        [f"{bucket}/enc/{n}.pqml" for n in SIZES] + [f"{bucket}/enc/model.sig"])
    assert results[-1].format == local.COPIED
    for name in SIZES:
        (tmp_path / "x.pqml").write_bytes(s3.cat(f"{bucket}/enc/{name}.pqml"))
        local.decrypt_file(tmp_path / "x.pqml", tmp_path / "x", [keys["xwing"]], force=True)
        assert (tmp_path / "x").read_bytes() == (model / name).read_bytes()


def test_failed_task_aborts_the_upload(tmp_path: Path, keys, s3, bucket, ray_engine) -> None:
    (tmp_path / "t.bin").write_bytes(os.urandom(16 * MiB))
    local.encrypt_file(tmp_path / "t.bin", tmp_path / "t.pqml", [keys["xwing.pub"]])
    blob = bytearray((tmp_path / "t.pqml").read_bytes())
    blob[-3 * MiB] ^= 0x80
    s3.pipe(f"{bucket}/t.pqml", bytes(blob))
    out = f"s3://{bucket}/t.out"
    with pytest.raises(PayloadError, match=r"t\.pqml: payload chunk \d+ failed"):
        jobs.decrypt(f"s3://{bucket}/t.pqml", out, [keys["xwing"]], engine=ray_engine,
                     part_size=5 * MiB)
    assert not s3.exists(out)
    uploads = s3.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", [])
    assert uploads == []


# ---- worker deaths ---------------------------------------------------------------------------


def crash_first_attempt(job: tuple[str, Any, Any]) -> Any:
    """Kill this worker process the first time a task runs (a marker file remembers)."""
    marker, fn, task = job
    try:
        fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return fn(task)
    os.close(fd)
    os._exit(1)


def crash_always(job: tuple[str, Any, Any]) -> Any:
    os._exit(1)


class DyingEngine:
    """The Ray engine, with part 2 of the job run through ``wrapper`` (a real worker
    death: Ray sees the process exit, as when a node is lost)."""

    def __init__(self, engine: Any, wrapper: Any, markers: Path) -> None:
        self.engine, self.wrapper, self.markers = engine, wrapper, markers
        self.name, self.workers, self.node = engine.name, engine.workers, engine.node
        self.sent: list[Any] = []

    def map_unordered(self, fn: Any, tasks: Any) -> Any:
        self.sent = list(tasks)
        jobs_ = [(str(self.markers / f"{i}"), fn, t) for i, t in enumerate(tasks)]
        plain = self.engine._remote(fn)
        dying = self.engine._remote(self.wrapper)
        refs = [dying.remote(j) if t.item.part == 2 else plain.remote(t)
                for j, t in zip(jobs_, tasks, strict=True)]
        for index, ref in enumerate(refs):
            try:
                yield index, ray.get(ref)
            except Exception as exc:
                from pqml.distributed.ray_engine import _unwrap

                raise _unwrap(exc, ray) from None


def test_a_killed_worker_is_retried_into_identical_bytes(tmp_path: Path, keys,
                                                         ray_engine) -> None:
    data = os.urandom(12 * MiB)
    (tmp_path / "r.bin").write_bytes(data)
    engine = DyingEngine(ray_engine, crash_first_attempt, tmp_path)
    jobs.encrypt(tmp_path / "r.bin", tmp_path / "r.pqml", [keys["xwing.pub"]],
                 engine=engine, part_size=5 * MiB)
    assert (tmp_path / "1").exists()  # part 2's first attempt died
    written = (tmp_path / "r.pqml").read_bytes()
    task = pickle.loads(pickle.dumps(engine.sent[1]))
    again = parts.CipherTask(task.item, task.codec, True, task.chunk_count,
                             task.plaintext_size, task.prefix_size, task.prefix,
                             parts.Sink("return"))
    expected, _ = parts.transform(again)
    assert written[task.item.out_start:task.item.out_end] == bytes(expected)
    local.decrypt_file(tmp_path / "r.pqml", tmp_path / "r.out", [keys["xwing"]])
    assert (tmp_path / "r.out").read_bytes() == data


def test_a_worker_dying_every_time_fails_the_job_and_leaves_nothing(
        tmp_path: Path, keys, s3, bucket, ray_cluster) -> None:
    from pqml.distributed.ray_engine import RayEngine

    (tmp_path / "x.bin").write_bytes(os.urandom(11 * MiB))
    markers = tmp_path / "markers"
    markers.mkdir()
    engine = DyingEngine(RayEngine(workers=2, max_retries=1), crash_always, markers)
    for out in (str(tmp_path / "x.pqml"), f"s3://{bucket}/x.pqml"):
        with pytest.raises(EngineError, match="a Ray task failed"):
            jobs.encrypt(tmp_path / "x.bin", out, [keys["xwing.pub"]], engine=engine,
                         part_size=5 * MiB)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["markers", "x.bin"]
    assert s3.ls(bucket) == []
    assert s3.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", []) == []


# ---- signing, verifying, scanning ------------------------------------------------------------


def test_signature_on_ray_is_the_local_one(tmp_path: Path, keys, make_tree, ray_cluster,
                                           ray_engine) -> None:
    from pqml.formats import oms

    _, nodes = ray_cluster
    model = make_tree(tmp_path / "model", SIZES)
    _, report = sign.sign_model(model, [keys["p256"], keys["ml"]], engine=ray_engine,
                                signature=tmp_path / "ray.sig", method="files")
    assert report.tasks == len(SIZES) and set(report.nodes) <= set(nodes)
    signing.sign_model(model, [keys["p256"], keys["ml"]], signature=tmp_path / "local.sig",
                       method="files")
    payload = [oms.parse_bundle((tmp_path / n).read_bytes()).envelope.payload
               for n in ("ray.sig", "local.sig")]
    assert payload[0] == payload[1]
    ms = pytest.importorskip("model_signing")
    ms.verifying.Config().use_elliptic_key_verifier(public_key=keys["p256.pub"]).verify(
        model, tmp_path / "ray.sig")
    result, report = sign.verify_model(model, [keys["ml.pub"]], engine=ray_engine,
                                       signature=tmp_path / "ray.sig")
    assert result.ok and report.tasks == len(SIZES)


def test_cli_on_ray(tmp_path: Path, keys, make_tree, cli, ray_cluster) -> None:
    import json

    cluster, _ = ray_cluster
    model = make_tree(tmp_path / "model", SIZES)
    res = cli("encrypt", "--engine", "ray", "--address", cluster.address, "--json",
              "-r", keys["xwing.pub"], "-o", tmp_path / "enc", model)
    assert res.exit_code == 0, res.output
    assert len(json.loads(res.stdout)["results"]) == len(SIZES)
    res = cli("decrypt", "--engine", "ray", "-i", keys["xwing"], "-o", tmp_path / "dec",
              tmp_path / "enc")
    assert res.exit_code == 0, res.output
    assert (tmp_path / "dec/w/a.bin").read_bytes() == (model / "w/a.bin").read_bytes()
    res = cli("sign", "--engine", "ray", "-k", keys["ml"], model)
    assert res.exit_code == 0, res.output
    res = cli("verify", "--engine", "ray", "-k", keys["ml.pub"], model)
    assert res.exit_code == 0, res.output
    (model / "w/b.bin").write_bytes(b"changed")
    res = cli("verify", "--engine", "ray", "-k", keys["ml.pub"], model)
    assert res.exit_code == 1 and "modified" in res.output


def test_scan_on_ray_equals_local(tmp_path: Path, ray_cluster, ray_engine) -> None:
    from pqml.scan import runner

    _, nodes = ray_cluster
    root = tmp_path / "repo"
    root.mkdir()
    for i in range(70):
        (root / f"m{i}.py").write_text("import hashlib\nh = hashlib.md5(b'x')\n"
                                       "from Crypto.PublicKey import RSA\nk = RSA.generate(1024)\n")
    mine, report = distributed_scan.scan([str(root)], engine=ray_engine)
    theirs = runner.run([str(root)])
    assert [(f.path, f.line, f.fingerprint) for f in mine.findings] == \
        [(f.path, f.line, f.fingerprint) for f in theirs.findings]
    assert report.tasks == 3 and len(mine.findings) >= 70
    assert set(report.nodes) <= set(nodes)

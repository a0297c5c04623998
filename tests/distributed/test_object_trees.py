"""Trees in object storage on the session's two-node Ray cluster (conftest.py): prefix ->
prefix, prefix -> directory and directory -> prefix, both ways, byte for byte; work on
both nodes; workers see one file's chunk key only; one bad chunk anywhere leaves no
object of the job."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from pqml.distributed import jobs
from pqml.encryption import encrypt as local
from pqml.formats.age.errors import PayloadError
from pqml.signing import signing
from storage.moto_server import objects_under, pending_uploads, upload_tree

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")

MiB = 1 << 20
SIZES = {"w/a.bin": 11 * MiB + 3, "w/b.bin": 5 * MiB + 1, "config.json": 100, "e.txt": 0}


class Recording:
    """The Ray engine, keeping every task as it is pickled for a worker."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.name, self.workers, self.node = engine.name, engine.workers, engine.node
        self.sent: list[bytes] = []

    def map_unordered(self, fn: Any, tasks: Any) -> Any:
        self.sent += [pickle.dumps(t) for t in tasks]
        return self.engine.map_unordered(fn, tasks)








def test_prefix_trees_round_trip_on_both_nodes(tmp_path: Path, keys, make_tree, s3, bucket,
                                               ray_cluster, ray_engine,
                                               ray_engine_on_both_nodes) -> None:
    from pqml.formats import pqml_v1
    from pqml.formats.age._io import Source
    from pqml.keys.key_files import load_private, private_bytes

    _, nodes = ray_cluster
    model = make_tree(tmp_path / "model", SIZES)
    signing.sign_model(model, [keys["ml"]])
    expected = {n: (model / n).read_bytes() for n in [*SIZES, "model.sig"]}
    upload_tree(s3, model, f"{bucket}/data")
    s3.pipe(f"{bucket}/data/NOTES.txt", b"plain")  # encrypted too: it is data

    engine = Recording(ray_engine_on_both_nodes)  # parts start on both nodes: conftest
    results, report = jobs.encrypt(f"s3://{bucket}/data/", f"s3://{bucket}/enc/",
                                   [keys["xwing.pub"]], engine=engine, part_size=5 * MiB)
    assert report.tasks == 3 + 2 + 3  # a.bin 3 parts, b.bin 2, three small files
    assert sorted(report.nodes) == sorted(nodes)
    assert results[-1].format == local.COPIED
    enc = objects_under(s3, f"{bucket}/enc")
    assert enc["model.sig"] == expected["model.sig"]
    assert sorted(enc) == sorted([f"{n}.pqml" for n in [*SIZES, "NOTES.txt"]] +
                                 ["model.sig"])
    s3.pipe(f"{bucket}/enc/README", b"not encrypted")  # skipped on decryption

    _, skipped, report = jobs.decrypt(f"s3://{bucket}/enc/", f"s3://{bucket}/dec/",
                                      [keys["xwing"]], engine=engine, part_size=5 * MiB)
    assert skipped == [f"s3://{bucket}/enc/README"]
    assert sorted(report.nodes) == sorted(nodes)
    dec = objects_under(s3, f"{bucket}/dec")
    assert dec == {**expected, "NOTES.txt": b"plain"}

    _, skipped, _ = jobs.decrypt(f"s3://{bucket}/enc/", tmp_path / "dec", [keys["xwing"]],
                                 engine=ray_engine, part_size=5 * MiB)
    for name, data in expected.items():
        assert (tmp_path / "dec" / name).read_bytes() == data
    assert (tmp_path / "dec" / "w" / "a.bin").stat().st_mode & 0o777 == 0o600
    assert pending_uploads(s3, bucket) == []

    # workers carried one file's chunk key, never a file key, payload key or identity
    (tmp_path / "a.pqml").write_bytes(enc["w/a.bin.pqml"])
    with open(tmp_path / "a.pqml", "rb") as f:
        file_key = pqml_v1.open_header(Source(f), [load_private(keys["xwing"])]).file_key
    assert file_key is not None
    sent = b"".join(engine.sent)
    for secret in (file_key, pqml_v1.payload_key(file_key),
                   private_bytes(load_private(keys["xwing"]), "raw")):
        assert secret not in sent


def test_directory_to_prefix_and_back_with_the_cli(tmp_path: Path, keys, make_tree, s3,
                                                   bucket, cli, ray_cluster) -> None:
    model = make_tree(tmp_path / "model", SIZES)
    res = cli("encrypt", "--engine", "ray", "--address", "auto", "-r", keys["xwing.pub"],
              "-o", f"s3://{bucket}/enc/", model, "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["engine"]["engine"] == "ray"
    res = cli("decrypt", "--engine", "ray", "--address", "auto", "-i", keys["xwing"],
              "-o", tmp_path / "dec", f"s3://{bucket}/enc/")
    assert res.exit_code == 0, res.output
    local.encrypt_tree(model, tmp_path / "enc", [keys["xwing.pub"]])
    res = cli("decrypt", "--engine", "ray", "--address", "auto", "-i", keys["xwing"],
              "-o", f"s3://{bucket}/dec/", tmp_path / "enc")
    assert res.exit_code == 0, res.output
    dec = objects_under(s3, f"{bucket}/dec")
    for name in SIZES:
        assert (tmp_path / "dec" / name).read_bytes() == (model / name).read_bytes()
        assert dec[name] == (model / name).read_bytes()


def test_a_bad_chunk_in_one_file_aborts_every_upload(tmp_path: Path, keys, make_tree, s3,
                                                     bucket, ray_engine) -> None:
    model = make_tree(tmp_path / "model", SIZES)
    jobs.encrypt(model, f"s3://{bucket}/enc/", [keys["xwing.pub"]], engine=ray_engine,
                 part_size=5 * MiB)
    url = f"s3://{bucket}/enc/w/a.bin.pqml"
    blob = bytearray(s3.cat_file(url))
    blob[-2 * MiB] ^= 0x40  # a chunk of the last part of the biggest file
    s3.pipe(url, bytes(blob))
    with pytest.raises(PayloadError, match=rf"{url}: .*chunk \d+ failed"):
        jobs.decrypt(f"s3://{bucket}/enc/", f"s3://{bucket}/dec/", [keys["xwing"]],
                     engine=ray_engine, part_size=5 * MiB)
    assert not s3.exists(f"{bucket}/dec")
    assert pending_uploads(s3, bucket) == []
    with pytest.raises(PayloadError, match=rf"{url}: "):
        jobs.decrypt(f"s3://{bucket}/enc/", tmp_path / "dec", [keys["xwing"]],
                     engine=ray_engine, part_size=5 * MiB)
    assert not (tmp_path / "dec").exists()

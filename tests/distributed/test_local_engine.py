"""The distributed jobs on the local engine (real worker processes): what Ray runs, minus
Ray. Outputs must be what the local path would accept byte for byte, keys must stay in
the driver, failures must leave nothing."""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import pytest

from pqml.distributed import jobs, parts, planner, sign
from pqml.distributed import scan as distributed_scan
from pqml.distributed.errors import EngineError
from pqml.distributed.local import LocalEngine
from pqml.encryption import encrypt as local
from pqml.formats.age.errors import NoIdentityMatchError, PayloadError
from pqml.signing import signing

MiB = 1 << 20
SIZES = {"weights/a.bin": 11 * MiB + 5, "weights/b.bin": 16384, "config.json": 300,
         "empty.txt": 0, "tok/vocab.txt": 70_000}


class RecordingEngine(LocalEngine):
    """The local engine, keeping every task exactly as it would be sent to a worker."""

    def __init__(self, workers: int = 2) -> None:
        super().__init__(workers)
        self.sent: list[bytes] = []

    def map_unordered(self, fn: Any, tasks: Any) -> Any:
        self.sent += [pickle.dumps(t) for t in tasks]
        return super().map_unordered(fn, tasks)


def test_encrypt_file_in_parts_decrypts_with_the_local_path(tmp_path: Path, keys) -> None:
    src = tmp_path / "big.bin"
    data = os.urandom(23 * MiB + 77)  # 5 parts of 5 MiB, the last one short
    src.write_bytes(data)
    results, report = jobs.encrypt(src, tmp_path / "big.pqml", [keys["xwing.pub"]],
                                   engine=LocalEngine(2), part_size=5 * MiB)
    assert report.tasks == 5 and sum(report.nodes.values()) == 5
    assert results[0].encrypted_size == (tmp_path / "big.pqml").stat().st_size
    local.decrypt_file(tmp_path / "big.pqml", tmp_path / "back", [keys["xwing"]])
    assert (tmp_path / "back").read_bytes() == data
    # and the distributed decryption of it, 0600 like every decrypted file
    jobs.decrypt(tmp_path / "big.pqml", tmp_path / "again", [keys["xwing"]],
                 engine=LocalEngine(2), part_size=5 * MiB)
    assert (tmp_path / "again").read_bytes() == data
    assert (tmp_path / "again").stat().st_mode & 0o777 == 0o600


class Planned:
    """A progress callback that also takes the job's plan, as the CLI's bar does."""

    def __init__(self) -> None:
        self.announced = 0
        self.done = 0
        self.ahead = True  # every byte done had been announced first

    def __call__(self, n: int) -> None:
        self.done += n
        self.ahead = self.ahead and self.done <= self.announced

    def planned(self, n: int) -> None:
        self.announced += n


@pytest.mark.parametrize("size", [23 * MiB + 77, 10 * MiB, 5, 0])
def test_progress_is_announced_part_by_part_before_it_is_done(tmp_path: Path, keys,
                                                                size: int) -> None:
    src = tmp_path / "big.bin"
    src.write_bytes(os.urandom(size))
    encrypting, decrypting = Planned(), Planned()
    jobs.encrypt(src, tmp_path / "big.pqml", [keys["xwing.pub"]], engine=LocalEngine(2),
                 part_size=5 * MiB, progress=encrypting)
    jobs.decrypt(tmp_path / "big.pqml", tmp_path / "back", [keys["xwing"]],
                 engine=LocalEngine(2), part_size=5 * MiB, progress=decrypting)
    for bar in (encrypting, decrypting):
        assert (bar.announced, bar.done, bar.ahead) == (size, size, True)


def test_keys_stay_with_the_driver(tmp_path: Path, keys) -> None:
    """Workers see one file's chunk key; never the identity, the file key or the
    payload key it derives from."""
    from pqml.formats import pqml_v1
    from pqml.formats.age._io import Source
    from pqml.keys.key_files import load_private, private_bytes

    src = tmp_path / "m.bin"
    src.write_bytes(os.urandom(12 * MiB))
    engine = RecordingEngine()
    jobs.encrypt(src, tmp_path / "m.pqml", [keys["xwing.pub"]], engine=engine,
                 part_size=5 * MiB)
    jobs.decrypt(tmp_path / "m.pqml", tmp_path / "m.out", [keys["xwing"]], engine=engine,
                 part_size=5 * MiB)
    with open(tmp_path / "m.pqml", "rb") as f:
        file_key = pqml_v1.open_header(Source(f), [load_private(keys["xwing"])]).file_key
    assert file_key is not None
    secrets = [file_key, pqml_v1.payload_key(file_key),
               private_bytes(load_private(keys["xwing"]), "raw")]
    sent = b"".join(engine.sent)
    assert len(engine.sent) == 6
    for secret in secrets:
        assert secret not in sent
    # what they do carry is enough for their chunks and no more: the derived chunk key
    task = pickle.loads(engine.sent[0])
    assert isinstance(task.codec.key, bytes) and len(task.codec.key) == 32


def test_a_part_is_deterministic(tmp_path: Path, keys) -> None:
    """The same task twice gives the same bytes: a retried task changes nothing."""
    src = tmp_path / "d.bin"
    src.write_bytes(os.urandom(11 * MiB))
    engine = RecordingEngine(1)
    jobs.encrypt(src, tmp_path / "d.pqml", [keys["xwing.pub"]], engine=engine,
                 part_size=5 * MiB)
    written = (tmp_path / "d.pqml").read_bytes()
    for blob in engine.sent:
        task = pickle.loads(blob)
        returned = parts.CipherTask(task.item, task.codec, True, task.chunk_count,
                                    task.plaintext_size, task.prefix_size, task.prefix,
                                    parts.Sink("return"))
        first, _ = parts.transform(returned)
        second = parts.run_cipher(returned).data
        assert bytes(first) == second
        item = task.item
        if item.part > 1:  # part 1's bytes begin with the prefix the driver wrote
            assert second == written[item.out_start:item.out_end]
        else:
            assert second == written[:item.out_end]


def test_tampered_chunk_fails_and_leaves_nothing(tmp_path: Path, keys) -> None:
    src = tmp_path / "t.bin"
    src.write_bytes(os.urandom(16 * MiB))
    jobs.encrypt(src, tmp_path / "t.pqml", [keys["xwing.pub"]], engine=LocalEngine(2),
                 part_size=5 * MiB)
    blob = bytearray((tmp_path / "t.pqml").read_bytes())
    blob[-7 * MiB] ^= 1  # a chunk of the third part
    (tmp_path / "t.pqml").write_bytes(blob)
    with pytest.raises(PayloadError, match=r"t\.pqml: .*chunk \d+ failed authentication"):
        jobs.decrypt(tmp_path / "t.pqml", tmp_path / "out", [keys["xwing"]],
                     engine=LocalEngine(2), part_size=5 * MiB)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.bin", "t.pqml"]


def test_truncated_and_wrong_key(tmp_path: Path, keys, cli) -> None:
    src = tmp_path / "w.bin"
    src.write_bytes(os.urandom(MiB))
    jobs.encrypt(src, None, [keys["xwing.pub"]], engine=LocalEngine(1))
    other = tmp_path / "other.pem"
    cli("keygen", "--alg", "X-Wing", "-o", other)
    with pytest.raises(NoIdentityMatchError, match=r"w\.bin\.pqml: "):
        jobs.decrypt(tmp_path / "w.bin.pqml", tmp_path / "o", [other], engine=LocalEngine(1))
    blob = (tmp_path / "w.bin.pqml").read_bytes()
    # 1 MiB is 64 full chunks and an empty final one (16 bytes on the wire)
    for cut, problem in ((20, "chunk 63 failed authentication"),  # chunk 63 seen as final
                         (16, "truncated")):  # ends on a chunk boundary: no final chunk
        (tmp_path / "cut.pqml").write_bytes(blob[:-cut])
        with pytest.raises(PayloadError, match=rf"cut\.pqml: .*{problem}"):
            jobs.decrypt(tmp_path / "cut.pqml", tmp_path / "o", [keys["xwing"]],
                         engine=LocalEngine(1))
    assert not (tmp_path / "o").exists()


def test_tree_round_trip_with_a_signature_bundle(tmp_path: Path, keys, make_tree) -> None:
    model = make_tree(tmp_path / "model", SIZES)
    signing.sign_model(model, [keys["ml"]])  # model/model.sig: copied in clear
    results, report = jobs.encrypt(model, tmp_path / "enc", [keys["xwing.pub"]],
                                   engine=LocalEngine(2), part_size=5 * MiB)
    assert [r.format for r in results][-1] == local.COPIED
    assert (tmp_path / "enc/model.sig").read_bytes() == (model / "model.sig").read_bytes()
    assert report.tasks == 3 + 4  # a.bin in three parts, four small files
    # the local path decrypts the distributed tree, and the reverse
    local.decrypt_tree(tmp_path / "enc", tmp_path / "dec", [keys["xwing"]])
    jobs.decrypt(tmp_path / "enc", tmp_path / "dec2", [keys["xwing"]], engine=LocalEngine(2))
    for name in [*SIZES, "model.sig"]:
        assert (tmp_path / "dec" / name).read_bytes() == (model / name).read_bytes()
        assert (tmp_path / "dec2" / name).read_bytes() == (model / name).read_bytes()


def test_age_and_armored_inputs_are_refused(tmp_path: Path, keys) -> None:
    src = tmp_path / "a.txt"
    src.write_bytes(b"hello")
    local.encrypt_file(src, tmp_path / "a.asc", [keys["xwing.pub"]], armor=True)
    with pytest.raises(EngineError, match=r"armored pqml/v1.*--engine local"):
        jobs.decrypt(tmp_path / "a.asc", tmp_path / "o", [keys["xwing"]],
                     engine=LocalEngine(1))
    assert not (tmp_path / "o").exists()


def test_distributed_signature_equals_the_local_one(tmp_path: Path, keys, make_tree) -> None:
    model = make_tree(tmp_path / "model", SIZES)
    for method in ("files", "shards"):
        mine, report = sign.sign_model(model, [keys["p256"], keys["ml"]],
                                       engine=LocalEngine(2), method=method,
                                       shard_size=4 * MiB if method == "shards" else None,
                                       signature=tmp_path / f"dist-{method}.sig")
        theirs = signing.sign_model(model, [keys["p256"], keys["ml"]], method=method,
                                    shard_size=4 * MiB if method == "shards" else None,
                                    signature=tmp_path / f"local-{method}.sig")
        assert mine.manifest == theirs.manifest
        assert _payload(tmp_path / f"dist-{method}.sig") == \
            _payload(tmp_path / f"local-{method}.sig")
        assert report.tasks == (5 if method == "files" else 6)  # a.bin: 3 shards, empty: 0
    ms = pytest.importorskip("model_signing")
    ms.verifying.Config().use_elliptic_key_verifier(public_key=keys["p256.pub"]).verify(
        model, tmp_path / "dist-files.sig")


def _payload(bundle: Path) -> bytes:
    from pqml.formats import oms

    return oms.parse_bundle(bundle.read_bytes()).envelope.payload


def test_distributed_verify_finds_what_the_local_one_finds(tmp_path: Path, keys,
                                                         make_tree) -> None:
    from pqml.signing.errors import IntegrityError

    model = make_tree(tmp_path / "model", SIZES)
    signing.sign_model(model, [keys["ml"]], shard_size=4 * MiB)
    result, report = sign.verify_model(model, [keys["ml.pub"]], engine=LocalEngine(2))
    assert result.ok and report.tasks == 6
    blob = bytearray((model / "weights/a.bin").read_bytes())
    blob[9 * MiB] ^= 1
    (model / "weights/a.bin").write_bytes(blob)
    (model / "config.json").rename(model / "settings.json")
    with pytest.raises(IntegrityError) as dist:
        sign.verify_model(model, [keys["ml.pub"]], engine=LocalEngine(2))
    with pytest.raises(IntegrityError) as here:
        signing.verify_model(model, [keys["ml.pub"]])
    assert str(dist.value) == str(here.value)
    assert "modified weights/a.bin" in str(dist.value) and "renamed" in str(dist.value)


def test_distributed_scan_equals_the_local_scan(tmp_path: Path) -> None:
    from pqml.scan import runner

    root = tmp_path / "repo"
    root.mkdir()
    for i in range(40):
        (root / f"m{i}.py").write_text(
            "from cryptography.hazmat.primitives.asymmetric import rsa\n"
            f"k{i} = rsa.generate_private_key(public_exponent=65537, key_size=2048)\n")
    (root / "id_rsa.pub").write_text("ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 x@y\n")
    mine, report = distributed_scan.scan([str(root)], engine=LocalEngine(2))
    theirs = runner.run([str(root)])
    assert report.tasks == 2  # 41 files in batches of 32
    key = [(f.path, f.line, f.algorithm, f.fingerprint) for f in mine.findings]
    assert key == [(f.path, f.line, f.algorithm, f.fingerprint) for f in theirs.findings]
    assert len(key) >= 40


def test_cli_engine_flags(tmp_path: Path, keys, cli) -> None:
    src = tmp_path / "c.bin"
    src.write_bytes(b"x" * 100)
    with pytest.raises(Exception, match="--address needs --engine ray"):
        _usage(cli("encrypt", "-r", keys["xwing.pub"], "--address", "auto", "-o",
                       tmp_path / "c.pqml", src))
    res = cli("encrypt", "-r", keys["xwing.pub"], "--engine", "ray", "--armor", "-o",
                  tmp_path / "c.pqml", src)
    assert res.exit_code == 1 and "binary pqml/v1 only" in res.output
    res = cli("decrypt", "-i", keys["xwing"], "--engine", "ray", src)
    assert res.exit_code == 2 and "not standard input or output" in res.output
    res = cli("scan", "--engine", "local", "--address", "x:1", str(tmp_path))
    assert res.exit_code == 2 and "--address needs --engine ray" in res.output
    assert not (tmp_path / "c.pqml").exists()


def _usage(res: Any) -> None:
    if res.exit_code == 2:
        raise RuntimeError(res.output)


def test_memory_urls_are_refused_for_ray(keys) -> None:
    class FakeRay(LocalEngine):  # the check is the driver's, before any task
        name = "ray"

    with pytest.raises(EngineError, match="memory:// objects live in one process"):
        jobs.encrypt("memory://bucket/x", "memory://bucket/y", [keys["xwing.pub"]],
                     engine=FakeRay(1))


def test_plan_through_storage_urls_on_the_local_engine(keys) -> None:
    """memory:// (fsspec, one process): the serial local engine reads and writes it
    through the storage seam, the ordered output path."""
    import fsspec

    fs = fsspec.filesystem("memory")
    data = os.urandom(12 * MiB + 3)
    fs.pipe("/dist-test/in.bin", data)
    jobs.encrypt("memory://dist-test/in.bin", "memory://dist-test/in.pqml",
                 [keys["xwing.pub"]], engine=LocalEngine(1), part_size=5 * MiB)
    jobs.decrypt("memory://dist-test/in.pqml", "memory://dist-test/back",
                 [keys["xwing"]], engine=LocalEngine(1), part_size=5 * MiB)
    assert fs.cat("/dist-test/back") == data
    assert planner.chunk_count(len(data)) == len(data) // 16384 + 1

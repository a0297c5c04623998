"""Encryption through a real S3 server (moto_server on loopback): objects decrypt locally
byte for byte, outputs never appear half-written, random access reads only its chunks."""

# ruff: noqa: F811 - the moto fixtures are imported, then named as parameters
from __future__ import annotations

import os
import textwrap
from pathlib import Path
from typing import Any

import pytest

import pqml
from pqml import storage
from pqml.errors import OutputExistsError
from storage import object_checks
from storage.moto_server import bucket, pending_uploads, s3, s3_endpoint  # noqa: F401 - fixtures

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("keys")
    key = pqml.generate_key("x-wing")
    pqml.save_private_key(key, d / "id.pem")
    pqml.save_public_key(key, d / "id.pub")
    return d / "id.pem", d / "id.pub"




def test_encrypt_to_object_decrypts_locally_byte_for_byte(tmp_path: Path, s3: Any, bucket: str,
                                                           keys: tuple[Path, Path]) -> None:
    plain = tmp_path / "weights.bin"
    data = os.urandom(12 * MiB + 12345)  # more than one 8 MiB part
    plain.write_bytes(data)
    url = f"s3://{bucket}/models/weights.bin.pqml"
    result = pqml.encrypt_file(plain, url, [keys[1]])
    assert result.output == url and result.plaintext_size == len(data)
    assert s3.info(f"{bucket}/models/weights.bin.pqml")["size"] == result.encrypted_size
    local = tmp_path / "copy.pqml"
    local.write_bytes(s3.cat_file(f"{bucket}/models/weights.bin.pqml"))
    pqml.decrypt_file(local, tmp_path / "out.bin", [keys[0]])
    assert (tmp_path / "out.bin").read_bytes() == data
    # and straight from the object, and object to object
    pqml.decrypt_file(url, tmp_path / "out2.bin", [keys[0]])
    assert (tmp_path / "out2.bin").read_bytes() == data
    pqml.decrypt_file(url, f"s3://{bucket}/plain/", [keys[0]])
    assert s3.cat_file(f"{bucket}/plain/weights.bin") == data
    assert pending_uploads(s3, bucket) == []


def test_failure_mid_upload_leaves_no_object(tmp_path: Path, s3: Any, bucket: str,
                                             keys: tuple[Path, Path]) -> None:
    object_checks.interrupted_upload_leaves_no_object(  # two 8 MiB parts are up by then
        s3, "s3", bucket, tmp_path, keys, 20 * MiB, 17 * MiB)
    assert pending_uploads(s3, bucket) == []  # aborted, not left behind


def test_wrong_key_or_tampered_object_leaves_no_output(tmp_path: Path, s3: Any, bucket: str,
                                                        keys: tuple[Path, Path]) -> None:
    object_checks.wrong_key_or_tampered_object_leaves_no_output(s3, "s3", bucket, tmp_path,
                                                                keys)
    assert pending_uploads(s3, bucket) == []


def test_existing_object_refused_unless_force(tmp_path: Path, s3: Any, bucket: str,
                                              keys: tuple[Path, Path]) -> None:
    object_checks.existing_object_refused_unless_force(s3, "s3", bucket, tmp_path, keys)


def test_conditional_completion_refuses_an_object_that_appeared(s3: Any, bucket: str) -> None:
    out = storage.open_output(f"s3://{bucket}/race.bin", part_size=5 * MiB)
    out.write(os.urandom(6 * MiB))  # one part up: a multipart upload is open
    s3.pipe_file(f"{bucket}/race.bin", b"someone else's")
    with pytest.raises(OutputExistsError):
        out.commit()
    assert s3.cat_file(f"{bucket}/race.bin") == b"someone else's"
    assert pending_uploads(s3, bucket) == []


KILLED_WRITER = textwrap.dedent("""
    import os, sys
    from pqml import storage
    out = storage.open_output(sys.argv[1], part_size=5 << 20)
    out.write(os.urandom(11 << 20))  # two parts uploaded
    print("parts", out.parts, flush=True)
    sys.stdin.read()  # killed here
    out.commit()
""")


def test_sigkill_mid_upload_leaves_no_object(s3: Any, bucket: str) -> None:
    object_checks.killed_writer_leaves_no_object(s3, "s3", bucket, KILLED_WRITER,
                                                 lambda line: line == "parts 2")
    assert len(pending_uploads(s3, bucket)) == 1  # invisible; a lifecycle rule reclaims it


def test_one_tensor_reads_only_its_chunks(s3: Any, bucket: str,
                                          keys: tuple[Path, Path]) -> None:
    object_checks.one_tensor_reads_only_its_chunks(s3, "s3", bucket, keys)


def test_inspect_object(tmp_path: Path, bucket: str, keys: tuple[Path, Path]) -> None:
    plain = tmp_path / "p.bin"
    plain.write_bytes(os.urandom(50_000))
    pqml.encrypt_file(plain, f"s3://{bucket}/p.pqml", [keys[1]])
    info = pqml.inspect(f"s3://{bucket}/p.pqml")
    assert info["file"] == f"s3://{bucket}/p.pqml"
    assert info["plaintext_size"] == 50_000 and info["post_quantum"] is True


def test_walk_and_stat(s3: Any, bucket: str) -> None:
    for name in ("b/2.bin", "a.bin", "b/c/3.bin"):
        s3.pipe_file(f"{bucket}/tree/{name}", name.encode())
    found = list(storage.walk(f"s3://{bucket}/tree"))
    assert [i.rel for i in found] == ["a.bin", "b/2.bin", "b/c/3.bin"]
    assert found[1].url == f"s3://{bucket}/tree/b/2.bin" and found[1].size == 7
    assert storage.stat(f"s3://{bucket}/tree/a.bin").size == 5
    assert storage.is_dir(f"s3://{bucket}/tree")
    with pytest.raises(storage.StorageError, match="no such object"):
        storage.open_input(f"s3://{bucket}/tree/missing.bin")


def test_multipart_seam_for_parallel_parts(s3: Any, bucket: str) -> None:
    url = f"s3://{bucket}/parts.bin"
    chunks = [os.urandom(5 * MiB), os.urandom(5 * MiB), b"tail"]
    upload = storage.MultipartUpload.start(url)
    import pickle

    upload = pickle.loads(pickle.dumps(upload))  # what a worker receives
    parts = [upload.upload_part(n, c) for n, c in reversed(list(enumerate(chunks, 1)))]
    assert not s3.exists(f"{bucket}/parts.bin")
    upload.complete(parts)
    assert s3.cat_file(f"{bucket}/parts.bin") == b"".join(chunks)
    assert storage.part_size_for_total(10 * 1024**4 // 2) > 5 * MiB

"""gs:// through a real GCS JSON-API server (fake-gcs-server on loopback): objects decrypt
locally byte for byte, outputs never appear half-written, random access reads only its
chunks, model signatures over objects verify."""

# ruff: noqa: F811 - the emulator fixtures are imported, then named as parameters
from __future__ import annotations

import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import pqml
from pqml import storage
from storage import object_checks
from storage.gcs_emulator import gcs, gcs_bucket, gcs_endpoint  # noqa: F401 - fixtures

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def keys() -> tuple[Any, Any]:
    key = pqml.generate_key("x-wing")
    return key, key.public_key()


def test_encrypt_to_object_decrypts_locally_byte_for_byte(
        tmp_path: Path, gcs: Any, gcs_bucket: str, keys: tuple[Any, Any]) -> None:
    data = os.urandom(12 * MiB + 12345)  # more than two 5 MiB gcsfs chunks: resumable
    (tmp_path / "weights.bin").write_bytes(data)
    url = f"gs://{gcs_bucket}/models/x.pqml"
    result = pqml.encrypt_file(tmp_path / "weights.bin", url, [keys[1]])
    assert result.output == url and result.plaintext_size == len(data)
    assert gcs.info(f"{gcs_bucket}/models/x.pqml")["size"] == result.encrypted_size
    (tmp_path / "copy.pqml").write_bytes(gcs.cat_file(f"{gcs_bucket}/models/x.pqml"))
    pqml.decrypt_file(tmp_path / "copy.pqml", tmp_path / "out.bin", [keys[0]])
    assert (tmp_path / "out.bin").read_bytes() == data
    pqml.decrypt_file(url, tmp_path / "out2.bin", [keys[0]])  # straight from the object
    assert (tmp_path / "out2.bin").read_bytes() == data
    pqml.decrypt_file(url, f"gs://{gcs_bucket}/plain/x.bin", [keys[0]])  # object to object
    assert gcs.cat_file(f"{gcs_bucket}/plain/x.bin") == data


def test_chunks_uploaded_before_commit_stay_invisible(gcs: Any, gcs_bucket: str) -> None:
    data = os.urandom(11 * MiB)
    out = storage.open_output(f"gs://{gcs_bucket}/big.bin")
    out.write(data)
    assert out._file.offset >= 10 * MiB  # gcsfs: bytes the server acknowledged
    assert not gcs.exists(f"{gcs_bucket}/big.bin")
    out.commit()
    assert gcs.cat_file(f"{gcs_bucket}/big.bin") == data


def test_failure_mid_upload_leaves_no_object(tmp_path: Path, gcs: Any, gcs_bucket: str,
                                             keys: tuple[Any, Any]) -> None:
    object_checks.interrupted_upload_leaves_no_object(  # two 5 MiB chunks are up by then
        gcs, "gs", gcs_bucket, tmp_path, keys, 16 * MiB, 12 * MiB)


def test_wrong_key_or_tampered_object_leaves_no_output(
        tmp_path: Path, gcs: Any, gcs_bucket: str, keys: tuple[Any, Any]) -> None:
    object_checks.wrong_key_or_tampered_object_leaves_no_output(gcs, "gs", gcs_bucket,
                                                                tmp_path, keys)


def test_existing_object_refused_unless_force(tmp_path: Path, gcs: Any, gcs_bucket: str,
                                              keys: tuple[Any, Any]) -> None:
    object_checks.existing_object_refused_unless_force(gcs, "gs", gcs_bucket, tmp_path, keys)


KILLED_WRITER = textwrap.dedent("""
    import os, sys
    from pqml import storage
    out = storage.open_output(sys.argv[1])
    out.write(os.urandom(11 << 20))  # two 5 MiB chunks uploaded
    print("uploaded", out._file.offset >= 10 << 20, flush=True)
    sys.stdin.read()  # killed here
    out.commit()
""")


def test_sigkill_mid_upload_leaves_no_object(gcs: Any, gcs_bucket: str) -> None:
    object_checks.killed_writer_leaves_no_object(gcs, "gs", gcs_bucket, KILLED_WRITER,
                                                 lambda line: line == "uploaded True")


def test_one_tensor_reads_only_its_chunks(gcs: Any, gcs_bucket: str,
                                          keys: tuple[Any, Any]) -> None:
    object_checks.one_tensor_reads_only_its_chunks(gcs, "gs", gcs_bucket, keys)


def test_sign_and_verify_a_model_in_a_bucket(tmp_path: Path, gcs: Any, gcs_bucket: str) -> None:
    object_checks.sign_and_verify_a_model(gcs, "gs", gcs_bucket, tmp_path / "model")


def test_missing_gcs_extra_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # as if the extra were not installed
    with pytest.raises(storage.MissingExtraError) as info:
        pqml.decrypt_file("gs://bucket/x.pqml", "out.bin", [])
    text = str(info.value)
    assert "pqml[gcs]" in text and "gcsfs" in text and "\n" not in text

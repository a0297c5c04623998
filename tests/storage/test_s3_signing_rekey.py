# ruff: noqa: F811 - the moto fixtures are imported, then named as parameters
"""Signing, verifying, digesting and rekeying objects on a real S3 server (moto)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import pqml
from pqml.errors import IntegrityError, PqmlError, SignatureVerificationError
from storage.moto_server import bucket, s3, s3_endpoint  # noqa: F401 - fixtures

from conftest import cli_run


def _model(s3: Any, bucket: str) -> dict[str, bytes]:
    files = {"config.json": b'{"a": 1}', "weights/part-0.safetensors": os.urandom(300_000),
             "weights/part-1.safetensors": os.urandom(70_000)}
    for name, data in files.items():
        s3.pipe_file(f"{bucket}/model/{name}", data)
    return files


def test_object_signature_equals_local_one(tmp_path: Path, s3: Any, bucket: str) -> None:
    files = _model(s3, bucket)
    for name, data in files.items():
        (tmp_path / "model" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "model" / name).write_bytes(data)
    key = pqml.generate_key("ml-dsa-65")
    remote = pqml.sign_model(f"s3://{bucket}/model", [key])
    local = pqml.sign_model(tmp_path / "model", [key])
    assert remote.root_digest == local.root_digest
    assert remote.signature == f"s3://{bucket}/model/model.sig"
    assert s3.exists(f"{bucket}/model/model.sig")
    result = pqml.verify_model(f"s3://{bucket}/model", [key.public_key()])
    assert result.ok and result.root_digest == local.root_digest
    # the object bundle verifies the local copy too (same statement)
    (tmp_path / "model" / "model.sig").write_bytes(s3.cat_file(f"{bucket}/model/model.sig"))
    assert pqml.verify_model(tmp_path / "model", [key.public_key()]).ok


def test_object_verification_failures(s3: Any, bucket: str) -> None:
    _model(s3, bucket)
    key = pqml.generate_key("ml-dsa-65")
    pqml.sign_model(f"s3://{bucket}/model", [key])
    with pytest.raises(SignatureVerificationError):
        pqml.verify_model(f"s3://{bucket}/model", [pqml.generate_key("ml-dsa-65").public_key()])
    s3.pipe_file(f"{bucket}/model/weights/part-1.safetensors", b"tampered")
    with pytest.raises(IntegrityError, match=r"part-1\.safetensors"):
        pqml.verify_model(f"s3://{bucket}/model", [key.public_key()])
    s3.pipe_file(f"{bucket}/model/extra.pkl", b"x")
    with pytest.raises(IntegrityError, match=r"extra\.pkl"):
        pqml.verify_model(f"s3://{bucket}/model", [key.public_key()])


def test_cli_sign_verify_digest_urls(tmp_path: Path, s3: Any, bucket: str) -> None:
    _model(s3, bucket)
    res = cli_run("keygen", "--alg", "ML-DSA-65", "-o", tmp_path / "k.pem")
    assert res.exit_code == 0, res.output
    (tmp_path / "k.pub").write_text(res.stdout)
    url = f"s3://{bucket}/model"
    res = cli_run("sign", url, "-k", tmp_path / "k.pem", "--json")
    assert res.exit_code == 0, res.output
    import json

    signed = json.loads(res.stdout)["root_digest"]
    res = cli_run("verify", url, "-k", tmp_path / "k.pub")
    assert res.exit_code == 0, res.output
    res = cli_run("digest", url)
    assert res.exit_code == 0, res.output
    assert res.stdout.split()[0] == signed


def test_rekey_object_rewrites_it(tmp_path: Path, s3: Any, bucket: str) -> None:
    a, b = pqml.generate_key("x-wing"), pqml.generate_key("x-wing")
    data = os.urandom(200_000)
    (tmp_path / "p.bin").write_bytes(data)
    url = f"s3://{bucket}/p.bin.pqml"
    pqml.encrypt_file(tmp_path / "p.bin", url, [a.public_key()])
    result = pqml.rekey(url, [a], add=[b.public_key()], remove=[a.public_key()])
    assert result.stanzas_after == 1 and result.removed == 1
    with pqml.open(url, b) as f:
        assert f.read() == data
    with pytest.raises(PqmlError):
        pqml.open(url, a)
    assert s3.call_s3("list_multipart_uploads", Bucket=bucket).get("Uploads", []) == []

"""Checks every object-store backend must pass, written once: each backend's test module
calls them with its own filesystem (``fs``), scheme and bucket, against its own real server."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

import pqml
from pqml.errors import IntegrityError, SignatureVerificationError


def one_tensor_reads_only_its_chunks(fs: Any, scheme: str, bucket: str, keys: Any) -> None:
    """One tensor of an encrypted safetensors object costs its own chunks, nothing more."""
    np = pytest.importorskip("numpy")
    pst = pytest.importorskip("pqml.safetensors")
    tensors = {f"layer{i}": np.random.default_rng(i).random((256, 256)).astype("float32")
               for i in range(32)}  # 32 x 256 KiB = 8 MiB
    url = f"{scheme}://{bucket}/model.safetensors.pqml"
    pst.save_file(tensors, url, [keys[1]])
    size = fs.info(f"{bucket}/model.safetensors.pqml")["size"]
    with pst.safe_open(url, [keys[0]]) as f:
        source = f._f.raw._f  # the object input under the decrypting reader
        before_bytes, before_requests = source.bytes_read, source.requests
        got = f.get_tensor("layer17")
        read = source.bytes_read - before_bytes
        requests = source.requests - before_requests
    assert (got == tensors["layer17"]).all()
    # 256 KiB of tensor = 16 chunks of 16 KiB (+ up to 2 partial): nothing else is fetched
    assert 256 * 1024 <= read <= 18 * (16 * 1024 + 16)
    assert requests <= 18
    assert source.bytes_read < size / 10  # header + final chunk + one tensor


def sign_and_verify_a_model(fs: Any, scheme: str, bucket: str, local: Path) -> None:
    """A model signed in the store has the local signature's statement, verifies both
    there and on disk, and fails for a wrong key or a tampered object."""
    files = {"config.json": b'{"a": 1}', "weights/part-0.safetensors": os.urandom(300_000),
             "weights/part-1.safetensors": os.urandom(70_000)}
    for name, data in files.items():
        fs.pipe_file(f"{bucket}/model/{name}", data)
        (local / name).parent.mkdir(parents=True, exist_ok=True)
        (local / name).write_bytes(data)
    key = pqml.generate_key("ml-dsa-65")
    url = f"{scheme}://{bucket}/model"
    remote = pqml.sign_model(url, [key])
    assert remote.root_digest == pqml.sign_model(local, [key]).root_digest
    assert remote.signature == f"{url}/model.sig" and fs.exists(f"{bucket}/model/model.sig")
    assert pqml.verify_model(url, [key.public_key()]).ok
    (local / "model.sig").write_bytes(fs.cat_file(f"{bucket}/model/model.sig"))
    assert pqml.verify_model(local, [key.public_key()]).ok  # same statement
    with pytest.raises(SignatureVerificationError):
        pqml.verify_model(url, [pqml.generate_key("ml-dsa-65").public_key()])
    fs.pipe_file(f"{bucket}/model/weights/part-1.safetensors", b"tampered")
    with pytest.raises(IntegrityError, match=r"part-1\.safetensors"):
        pqml.verify_model(url, [key.public_key()])

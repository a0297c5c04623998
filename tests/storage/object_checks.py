"""Checks every object-store backend must pass, written once: each backend's test module
calls them with its own filesystem (``fs``), scheme and bucket, against its own real server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pqml
from pqml.errors import IntegrityError, OutputExistsError, PqmlError, SignatureVerificationError

MiB = 1024 * 1024


def interrupted_upload_leaves_no_object(fs: Any, scheme: str, bucket: str, tmp: Path,
                                        keys: Any, size: int, fail_after: int) -> None:
    """Ctrl-C after ``fail_after`` bytes (enough for parts/chunks/blocks to be on the
    server already) leaves no object."""
    (tmp / "big.bin").write_bytes(os.urandom(size))
    seen = 0

    def fail_late(n: int) -> None:
        nonlocal seen
        seen += n
        if seen > fail_after:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pqml.encrypt_file(tmp / "big.bin", f"{scheme}://{bucket}/big.bin.pqml", [keys[1]],
                          progress=fail_late)
    assert not fs.exists(f"{bucket}/big.bin.pqml")


def wrong_key_or_tampered_object_leaves_no_output(fs: Any, scheme: str, bucket: str,
                                                  tmp: Path, keys: Any) -> None:
    """A wrong identity (the error names the object) or a flipped byte: no output."""
    (tmp / "p.bin").write_bytes(os.urandom(100_000))
    url = f"{scheme}://{bucket}/p.bin.pqml"
    pqml.encrypt_file(tmp / "p.bin", url, [keys[1]])
    with pytest.raises(PqmlError, match=url):
        pqml.decrypt_file(url, f"{scheme}://{bucket}/out.bin", [pqml.generate_key("x-wing")])
    assert not fs.exists(f"{bucket}/out.bin")
    blob = bytearray(fs.cat_file(f"{bucket}/p.bin.pqml"))
    blob[-100] ^= 1
    fs.pipe_file(f"{bucket}/bad.pqml", bytes(blob))
    with pytest.raises(PqmlError):
        pqml.decrypt_file(f"{scheme}://{bucket}/bad.pqml", f"{scheme}://{bucket}/bad.out",
                          [keys[0]])
    assert not fs.exists(f"{bucket}/bad.out")


def existing_object_refused_unless_force(fs: Any, scheme: str, bucket: str, tmp: Path,
                                         keys: Any) -> None:
    (tmp / "p.bin").write_bytes(b"new contents")
    url = f"{scheme}://{bucket}/p.bin.pqml"
    fs.pipe_file(f"{bucket}/p.bin.pqml", b"old")
    with pytest.raises(OutputExistsError, match="already exists"):
        pqml.encrypt_file(tmp / "p.bin", url, [keys[1]])
    assert fs.cat_file(f"{bucket}/p.bin.pqml") == b"old"
    pqml.encrypt_file(tmp / "p.bin", url, [keys[1]], force=True)
    with pqml.open(url, keys[0]) as f:
        assert f.read() == b"new contents"


def killed_writer_leaves_no_object(fs: Any, scheme: str, bucket: str, writer: str,
                                   ready: Callable[[str], bool]) -> None:
    """A writer process (``writer``: Python source taking the URL as argv[1]) SIGKILLed
    once ``ready`` accepts the line it prints after uploading: no object appears."""
    url = f"{scheme}://{bucket}/killed.bin"
    proc = subprocess.Popen([sys.executable, "-c", writer, url], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert ready(line), line
        os.kill(proc.pid, signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
    assert not fs.exists(f"{bucket}/killed.bin")


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

"""URLs without a server: which strings are URLs, bad URLs, missing extras, memory://."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

import pqml
from pqml import storage
from pqml.storage import MissingExtraError, StorageURLError


def test_is_url() -> None:
    assert storage.is_url("s3://b/k") and storage.is_url("memory://x")
    assert not storage.is_url("file:///tmp/x") and not storage.is_url("a:b")
    assert not storage.is_url(Path("s3:/b")) and not storage.is_url("relative/path")
    assert storage.local_path("file:///tmp/x") == "/tmp/x"


@pytest.mark.parametrize(("url", "problem"), [
    ("foo://bucket/key", "unknown storage scheme 'foo://'"),
    ("s3://", "no bucket"),
    ("s3:///key", "no bucket"),
    ("s3://b/../etc/passwd", "'.' and '..'"),
])
def test_bad_urls_are_one_line_errors(url: str, problem: str) -> None:
    with pytest.raises(StorageURLError) as info:
        storage.open_input(url)
    assert problem in str(info.value) and url in str(info.value)
    assert "\n" not in str(info.value)


@pytest.mark.parametrize(("url", "extra", "module"), [
    ("gs://bucket/x", "gcs", "gcsfs"),
    ("az://container/x", "azure", "adlfs"),
    ("hf://datasets/x/y", "hf", "huggingface_hub"),
])
def test_missing_backend_names_the_extra(url: str, extra: str, module: str,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if not installed, whatever is here
    with pytest.raises(MissingExtraError) as info:
        pqml.decrypt_file(url, "out.bin", [])
    text = str(info.value)
    assert f"pqml[{extra}]" in text and module in text and "\n" not in text


def test_memory_round_trip_and_atomic_output(tmp_path: Path) -> None:
    key = pqml.generate_key("x-wing")
    data = os.urandom(300_000)
    (tmp_path / "p.bin").write_bytes(data)
    pqml.encrypt_file(tmp_path / "p.bin", "memory://pqml-test/p.bin.pqml", [key.public_key()])
    with pqml.open("memory://pqml-test/p.bin.pqml", key) as f:
        f.seek(200_000)
        assert f.read(10) == data[200_000:200_010]
    with pytest.raises(RuntimeError), storage.atomic_output("memory://pqml-test/half") as out:
        out.write(b"x" * 1000)
        raise RuntimeError
    assert not storage.exists("memory://pqml-test/half")


def test_local_paths_go_through_the_same_seam(tmp_path: Path) -> None:
    target = tmp_path / "out.bin"
    with pytest.raises(RuntimeError), storage.atomic_output(target) as out:
        out.write(b"partial")
        raise RuntimeError
    assert not target.exists()
    storage.write_bytes(target, b"whole")
    with storage.open_input(target) as f:
        assert f.size == 5 and f.pread(3, 1) == b"hol" and f.read() == b"whole"
    with pytest.raises(pqml.errors.OutputExistsError):
        storage.write_bytes(f"file://{target}", b"again")


def test_views_keep_their_own_positions(tmp_path: Path) -> None:
    """Readers sharing one input each read sequentially from where they are, and the
    input's own position stays where it was (what the scanner's object views rely on)."""
    import io

    from pqml.storage.reader import InputView

    data = bytes(range(256)) * 64
    (tmp_path / "f").write_bytes(data)
    with storage.open_input(tmp_path / "f") as f:
        f.seek(10)
        a, b = io.BufferedReader(InputView(f)), io.BufferedReader(InputView(f))
        assert a.read(100) == data[:100]
        b.seek(-50, io.SEEK_END)
        assert b.read() == data[-50:]
        assert a.read(10) == data[100:110]
        assert f.tell() == 10 and f.read(5) == data[10:15]
        with pytest.raises(ValueError):
            a.seek(-1)

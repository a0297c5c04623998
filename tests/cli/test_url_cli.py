"""``pqml encrypt / decrypt / inspect`` with s3:// URLs against a real moto_server, and the
one-line errors for a bad URL and a missing storage extra."""

# ruff: noqa: F811 - the moto fixture is imported, then named as a parameter
from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from storage import moto_server
from storage.moto_server import s3_endpoint  # noqa: F401 - the session fixture

from conftest import cli_run


@pytest.fixture
def s3_cli(s3_endpoint: str) -> Any:
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=s3_endpoint, use_listings_cache=False,
                             skip_instance_cache=True)


def test_encrypt_decrypt_inspect_through_s3(tmp_path: Path, s3_cli: Any) -> None:
    bucket = moto_server.new_bucket(s3_cli)
    res = cli_run("keygen", "--alg", "x-wing", "-o", tmp_path / "id.pem")
    assert res.exit_code == 0, res.output
    pub = tmp_path / "id.pub"
    pub.write_text(res.stdout)
    data = os.urandom(3 * 1024 * 1024 + 7)
    (tmp_path / "w.bin").write_bytes(data)
    url = f"s3://{bucket}/w.bin.pqml"
    res = cli_run("encrypt", "-R", pub, "-o", url, tmp_path / "w.bin")
    assert res.exit_code == 0, res.output
    res = cli_run("inspect", "--json", url)
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["plaintext_size"] == len(data)
    res = cli_run("decrypt", "-i", tmp_path / "id.pem", "-o", tmp_path / "back.bin", url)
    assert res.exit_code == 0, res.output
    assert (tmp_path / "back.bin").read_bytes() == data
    res = cli_run("encrypt", "-R", pub, "-o", url, tmp_path / "w.bin")
    assert res.exit_code == 1 and "already exists" in res.output


def test_bad_url_is_one_line(tmp_path: Path) -> None:
    res = cli_run("inspect", "foo://bucket/x.pqml")
    assert res.exit_code == 1
    lines = res.output.strip().splitlines()
    assert lines == ["pqml: error: foo://bucket/x.pqml: unknown storage scheme 'foo://' "
                     "(pqml reads s3://, s3a://, gs://, gcs://, az://, abfs://, abfss://, "
                     "hf://, memory:// and local paths)"]


def test_missing_extra_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gcsfs", None)  # as if not installed, whatever is here
    res = cli_run("inspect", "gs://bucket/x.pqml")
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        "pqml: error: gs://bucket/x.pqml: the gs:// backend (gcsfs) is not installed; "
        "install the 'gcs' extra: pip install 'pqml[gcs]'"]

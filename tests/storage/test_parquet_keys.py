"""Post-quantum Parquet keys with real PyArrow: round trip, wrong master key, rotation
without rewriting data, CNSA 2.0 suite, and ``pqml scan`` recognising the files."""

# ruff: noqa: F811 - the moto fixtures are imported, then named as parameters
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import pqml
from storage.moto_server import bucket, s3, s3_endpoint  # noqa: F401 - fixtures

pa = pytest.importorskip("pyarrow")
pqp = pytest.importorskip("pqml.parquet")


@pytest.fixture
def table() -> Any:
    return pa.table({"id": list(range(1000)), "ssn": [f"{i:09d}" for i in range(1000)]})


def _key_files(tmp_path: Path, alg: str, name: str) -> Path:
    key = pqml.generate_key(alg)
    pqml.save_private_key(key, tmp_path / f"{name}.pem")
    return tmp_path / f"{name}.pem"


def test_round_trip_with_key_files(tmp_path: Path, table: Any) -> None:
    keys = pqp.MasterKeys({"footer": _key_files(tmp_path, "x-wing", "f"),
                           "pii": _key_files(tmp_path, "ml-kem-1024", "p")})
    path = tmp_path / "t.parquet"
    pqp.write_table(table, path, keys, footer_key="footer", column_keys={"pii": ["ssn"]})
    assert path.read_bytes()[:4] == b"PARE"  # encrypted footer
    assert pqp.read_table(path, keys).equals(table)
    material = json.loads((tmp_path / "_KEY_MATERIAL_FOR_t.parquet.json").read_text())
    wrapped = " ".join(material.values())
    assert "pqml-parquet-v1:647a:" in wrapped  # X-Wing footer key
    assert "pqml-parquet-v1:0042:" in wrapped  # ML-KEM-1024 (CNSA 2.0) column key
    import pyarrow.parquet as pq

    with pytest.raises(OSError):
        pq.read_table(path)  # no keys, no data


def test_wrong_master_key_fails(tmp_path: Path, table: Any) -> None:
    right = pqml.generate_key("x-wing")
    path = tmp_path / "t.parquet"
    pqp.write_table(table, path, pqp.MasterKeys({"footer": right}), footer_key="footer")
    with pytest.raises(pqp.ParquetKeyError, match="does not open"):
        pqp.read_table(path, pqp.MasterKeys({"footer": pqml.generate_key("x-wing")}))
    with pytest.raises(pqp.ParquetKeyError, match="not configured"):
        pqp.read_table(path, pqp.MasterKeys({"other": right}))


def test_wrapped_key_is_bound_to_its_master_key_id() -> None:
    key = pqml.generate_key("x-wing")
    keys = pqp.MasterKeys({"a": key, "b": key})
    wrapped = pqp.wrap(keys, b"k" * 32, "a")
    assert pqp.unwrap(keys, wrapped, "a") == b"k" * 32
    with pytest.raises(pqp.ParquetKeyError):
        pqp.unwrap(keys, wrapped, "b")
    with pytest.raises(pqp.ParquetKeyError, match="not a post-quantum"):
        classical = pqml.generate_key("x25519", allow_classical=True)
        pqp.wrap(pqp.MasterKeys({"c": classical}), b"k" * 32, "c")


def test_rotation_rewraps_without_rewriting_data(tmp_path: Path, table: Any) -> None:
    old, new = pqml.generate_key("x-wing"), pqml.generate_key("x-wing")
    path = tmp_path / "t.parquet"
    pqp.write_table(table, path, pqp.MasterKeys({"footer": old}), footer_key="footer")
    data = path.read_bytes()
    pqp.rotate_master_keys(path, pqp.MasterKeys({"footer": new}, previous={"footer": [old]}))
    assert path.read_bytes() == data  # the data file is untouched
    assert pqp.read_table(path, pqp.MasterKeys({"footer": new})).equals(table)
    with pytest.raises(pqp.ParquetKeyError):
        pqp.read_table(path, pqp.MasterKeys({"footer": old}))  # old key no longer opens


def test_scan_recognises_pq_protected_parquet(tmp_path: Path, table: Any) -> None:
    pqp.write_table(table, tmp_path / "t.parquet",
                    pqp.MasterKeys({"footer": pqml.generate_key("ml-kem-1024")}),
                    footer_key="footer")
    pa.parquet.write_table(table, tmp_path / "plain.parquet")
    report = pqml.scan([tmp_path])
    by_path = {Path(f.path).name: f for f in report.findings if f.kind == "artifact"}
    enc = by_path["t.parquet"]
    assert enc.details["protection"]["status"] == "encrypted"
    assert enc.algorithm == "ML-KEM-1024" and not enc.quantum_vulnerable
    assert by_path["plain.parquet"].details["protection"]["status"] == "none"


def test_parquet_on_s3(tmp_path: Path, s3: Any, bucket: str, table: Any) -> None:
    keys = pqp.MasterKeys({"footer": pqml.generate_key("x-wing")})
    url = f"s3://{bucket}/data/t.parquet"
    pqp.write_table(table, url, keys, footer_key="footer")
    assert s3.exists(f"{bucket}/data/_KEY_MATERIAL_FOR_t.parquet.json")
    assert pqp.read_table(url, keys).equals(table)

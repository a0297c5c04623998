"""read_pqml / write_pqml on the session's Ray cluster: a dataset written as pqml/v1 files
reads back identical, the files open with the ordinary local path, a tampered file fails
the read, and identities never leave the driver (only chunk keys do)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pqml.encryption import encrypt as local

pytestmark = pytest.mark.slow
ray = pytest.importorskip("ray")
pytest.importorskip("pandas")


def test_write_then_read_round_trip(tmp_path: Path, keys, ray_cluster) -> None:
    from pqml.distributed.ray_data import read_pqml, write_pqml

    rows = [{"path": f"/data/shard-{i}.bin", "bytes": os.urandom(1000 * i + 7)}
            for i in range(6)]
    ds = ray.data.from_items(rows)
    write_pqml(ds, tmp_path / "enc", [keys["xwing.pub"]])
    names = sorted(p.name for p in (tmp_path / "enc").iterdir())
    assert names == [f"shard-{i}.bin.pqml" for i in range(6)]
    local.decrypt_file(tmp_path / "enc/shard-3.bin.pqml", tmp_path / "s3", [keys["xwing"]])
    assert (tmp_path / "s3").read_bytes() == rows[3]["bytes"]

    back = read_pqml(tmp_path / "enc", [keys["xwing"]]).take_all()
    got = {Path(r["path"]).name: r["bytes"] for r in back}
    assert got == {f"shard-{i}.bin.pqml": rows[i]["bytes"] for i in range(6)}

    with pytest.raises(Exception, match="exists"):  # no silent overwrite
        write_pqml(ds, tmp_path / "enc", [keys["xwing.pub"]])


def test_tampered_file_fails_the_read(tmp_path: Path, keys, ray_cluster) -> None:
    from pqml.distributed.ray_data import read_pqml

    (tmp_path / "a.bin").write_bytes(os.urandom(50_000))
    local.encrypt_file(tmp_path / "a.bin", tmp_path / "a.bin.pqml", [keys["xwing.pub"]])
    blob = bytearray((tmp_path / "a.bin.pqml").read_bytes())
    blob[-100] ^= 1
    (tmp_path / "a.bin.pqml").write_bytes(blob)
    with pytest.raises(Exception, match=r"a\.bin\.pqml: payload chunk \d+ failed"):
        read_pqml(tmp_path / "a.bin.pqml", [keys["xwing"]]).take_all()

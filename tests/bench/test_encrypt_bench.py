"""bench/encryption.py runs end to end on a tiny input (no timing is asserted here: the
numbers live in docs/PERFORMANCE.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import REPO


def test_encryption_bench_smoke(tmp_path: Path) -> None:
    res = subprocess.run(
        [sys.executable, str(REPO / "bench" / "encryption.py"), "--size-mib", "4",
         "--repeat", "1", "--dir", str(tmp_path), "--markdown", str(tmp_path / "out.md")],
        capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    text = (tmp_path / "out.md").read_text()
    assert text.startswith("## Encryption (bench/encryption.py)")
    for row in ("| pqml/v1 encrypt |", "| pqml/v1 decrypt -j 2 |", "| pqml age-format decrypt |",
                "In-memory, one core: AESGCM 4 MiB", "Rekey of the", "One 4 MiB tensor",
                "| one-tensor load < 20 ms |"):
        assert row in text
    assert [p.name for p in tmp_path.iterdir()] == ["out.md"]  # its work dir is removed


def test_write_pattern_bench_smoke(tmp_path: Path) -> None:
    """bench/write_pattern.py: every case runs (pqml's own ones included) and is reported;
    nothing is left in its directory."""
    res = subprocess.run(
        [sys.executable, str(REPO / "bench" / "write_pattern.py"), "--size-mib", "8",
         "--rounds", "1", "--dir", str(tmp_path)],
        capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr
    for row in ("| pqml decrypt age file, aligned cuts |",
                "| pqml encrypt pqml/v1, shifted (shipped) |",
                "| copy, writer thread, 256 KiB aligned |", "| 4 MiB aligned |"):
        assert row in res.stdout
    assert list(tmp_path.iterdir()) == []

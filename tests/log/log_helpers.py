"""Small builders shared by the log tests: distinct entries, a filled log, raw file edits
(what an attacker with write access to the log directory can do)."""

from __future__ import annotations

from pathlib import Path

from pqml.log import merkle
from pqml.log.entry import Asset, LogEntry
from pqml.log.store import RECORD_SIZE, LogStore


def entry(i: int, *, operation: str = "decrypt", asset: str | None = None,
          key: str = "k-3f2a9c1e") -> LogEntry:
    return LogEntry(operation, "ok", time=1.7e9 + i, key_ids=(key,),
                    assets=(Asset(asset or f"/models/m{i}.safetensors", "sha256:" + "ab" * 32),),
                    details={"i": i, "format": "pqml/v1"})


def filled(directory: Path, n: int, *, every: int = 8) -> LogStore:
    store = LogStore(directory, checkpoint_every=every)
    for i in range(n):
        store.append(entry(i))
    return store


def lines(directory: Path) -> list[bytes]:
    return (directory / "entries.jsonl").read_bytes().split(b"\n")[:-1]


def write_lines(directory: Path, items: list[bytes]) -> None:
    (directory / "entries.jsonl").write_bytes(b"".join(x + b"\n" for x in items))


def records(directory: Path) -> list[bytes]:
    raw = (directory / "records").read_bytes()
    return [raw[i:i + RECORD_SIZE] for i in range(0, len(raw), RECORD_SIZE)]


def write_records(directory: Path, items: list[bytes]) -> None:
    (directory / "records").write_bytes(b"".join(items))


def leaf_hashes(directory: Path) -> list[bytes]:
    return [merkle.leaf_hash(x) for x in lines(directory)]

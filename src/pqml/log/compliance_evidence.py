"""Gather what a compliance report judges: scan findings, keyring facts, the log's state,
and the history of earlier reports (for the trend).

Each source is optional and says so: a keyring that does not exist gives ``None`` (its
controls are "n/a"), never an empty list that would pass them.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pqml.log.compliance import ArtifactFact, CodeFact, Evidence, KeyFact, LogFact
from pqml.log.errors import ComplianceError

HISTORY_FILE = "compliance-history.jsonl"
_HISTORY_KEEP = 500            # snapshots read back for the trend
_HISTORY_LINE_MAX = 64 * 1024  # a snapshot line longer than this is not one of ours
_RECENT = 90 * 86400           # "recent" log activity, in seconds


def from_scan(paths: Sequence[str], jobs: int | None = None) -> tuple[list[ArtifactFact],
                                                                      list[CodeFact]]:
    """Scan ``paths`` and keep what the controls need: ML artifacts with what protects
    them, and quantum-vulnerable uses with their deadline (baselined ones excluded: the
    team accepted them, the baseline file says so)."""
    from pqml.scan.runner import ScanOptions, run

    result = run(list(paths), ScanOptions(jobs=jobs))
    artifacts: list[ArtifactFact] = []
    code: list[CodeFact] = []
    for f in result.findings:
        shown = result.display_path(f)
        if f.kind == "artifact":
            art = f.details.get("artifact", {})
            protection = f.details.get("protection") or {}
            enc = protection.get("encryption") or {}
            sigs = [s["algorithm"] for bundle in protection.get("signatures") or []
                    for s in bundle.get("signatures", [])]
            artifacts.append(ArtifactFact(shown, str(art.get("category", "file")),
                                          bool(enc), tuple(enc.get("kems", ())),
                                          tuple(sigs)))
        elif f.quantum_vulnerable and not f.baselined:
            year = f.risk.deadline_year if f.risk else None
            code.append(CodeFact(shown, f.line, f.algorithm, year))
    return artifacts, code


def from_keyring(home: Path, config: str | None = None) -> list[KeyFact] | None:
    """Every key with its state, asset count and rotation status (the ``[keys]`` policy of
    ``config``, else where ``pqml keys due`` finds it); None without a keyring."""
    if not (home / "keyring.sqlite3").exists():
        return None
    from pqml.keys.keyring import Keyring

    ring = Keyring(home)
    overdue: dict[str, str] = {}
    try:
        from pqml.keys import rotation_policy
    except ImportError:  # rotation policy not shipped in this build
        rotation_policy = None  # type: ignore[assignment]
    if rotation_policy is not None:
        policy = rotation_policy.load(config) if config else None
        for due in rotation_policy.due(ring, time.time(), policy):
            if due.overdue:
                overdue[due.key.id] = due.reason
    facts = []
    for k in ring.list():
        distrusted = ring.distrusted_since(k.id)
        facts.append(KeyFact(k.id, k.label, k.algorithm, str(k.state), len(ring.assets(k.id)),
                             overdue.get(k.id), distrusted[1] if distrusted else None))
    return facts


def from_log(home: Path, now: float) -> LogFact | None:
    """Verify the log and count recent classical-only encryptions; None without a log."""
    directory = home / "log"
    if not directory.exists():
        return None
    from pqml.log.errors import LogError
    from pqml.log.store import LogStore
    from pqml.log.verify import verify_log

    try:
        size = verify_log(directory).size
    except LogError as exc:
        return LogFact(0, str(exc))
    with LogStore(directory) as store:
        classical = [index for index, entry in store.entries()
                     if entry.operation in ("encrypt", "rekey", "migrate")
                     and entry.outcome == "ok" and entry.details.get("classical_only") is True
                     and now - entry.time <= _RECENT]
    return LogFact(size, None, tuple(classical))


def gather(paths: Sequence[str], home: Path, *, keyring: bool = True, log: bool = True,
           jobs: int | None = None, config: str | None = None) -> Evidence:
    ev = Evidence(scope=tuple(sorted(os.path.abspath(p) for p in paths)))
    if paths:
        ev.artifacts, ev.code = from_scan(paths, jobs)
    if keyring:
        ev.keys = from_keyring(home, config)
    if log:
        ev.log = from_log(home, time.time())
    return ev


def read_history(home: Path) -> list[dict[str, Any]]:
    """Earlier snapshots, oldest first (the last ``_HISTORY_KEEP``). A line that is not a
    snapshot is an error naming it: the trend must not quietly skip a tampered history."""
    path = home / HISTORY_FILE
    try:
        with path.open("rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - _HISTORY_KEEP * 4096))
            data = f.read()
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ComplianceError(f"{path}: cannot read the history: {exc.strerror}") from None
    lines = data.split(b"\n")
    if size > _HISTORY_KEEP * 4096:
        lines = lines[1:]  # the first may be cut in the middle
    out = []
    for number, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            if len(line) > _HISTORY_LINE_MAX:
                raise ValueError("line too long")
            snap = json.loads(line)
            if not isinstance(snap, dict) or not isinstance(snap.get("controls"), dict):
                raise ValueError("not a snapshot")
        except ValueError:
            raise ComplianceError(f"{path}: line {number + 1} is not a compliance snapshot"
                                  ) from None
        out.append(snap)
    return out[-_HISTORY_KEEP:]


def append_history(home: Path, snapshot: dict[str, Any]) -> None:
    """Add one snapshot line; one writer at a time, and a line is written whole or not
    at all (a single ``write`` of an ``O_APPEND`` file)."""
    from pqml._internal.home import ensure_private_dir

    ensure_private_dir(home)
    line = json.dumps(snapshot, sort_keys=True, separators=(",", ":")).encode() + b"\n"
    fd = os.open(home / HISTORY_FILE, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)

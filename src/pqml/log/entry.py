"""What one transparency-log entry says, and its exact bytes.

An entry answers "who did what, with which keys, to which asset, with what result" and
nothing more: never a secret, a passphrase or plaintext (the constructor refuses fields it
does not know, so a caller cannot slip one in). Its bytes are canonical JSON (sorted keys,
no spaces, UTF-8), one line, so the RFC 6962 leaf hash of an entry is reproducible by
anyone who has the entry.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Mapping
from typing import Any

from pqml.log.errors import LogEntryError

# Operations the log knows. Monitors and compliance reports key on these names.
OPERATIONS = frozenset({
    # key lifecycle (keys/)
    "key.new", "key.import", "key.export", "key.state", "key.rotate", "key.destroy",
    # encryption/
    "encrypt", "decrypt", "rekey", "rotate-file-key",
    # keys/migration
    "migrate",
    # signing/
    "sign", "verify",
    # services, when they land
    "gateway.key-rotate", "fl.round",
})
OUTCOMES = frozenset({"ok", "failed", "refused"})
MAX_ENTRY_BYTES = 64 * 1024  # a log line is metadata; anything longer is refused


@dataclasses.dataclass(frozen=True)
class Actor:
    user: str
    host: str
    pid: int

    @classmethod
    def current(cls) -> Actor:
        import getpass  # here, not at import: every command that logs pays the import

        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no passwd entry (containers)
            user = str(os.getuid())
        return cls(user, os.uname().nodename, os.getpid())


@dataclasses.dataclass(frozen=True)
class Asset:
    path: str                 # as the user named it (a path or a URL)
    digest: str | None = None  # "sha256:<hex>" of the protected bytes when known


@dataclasses.dataclass(frozen=True)
class LogEntry:
    operation: str
    outcome: str
    time: float = dataclasses.field(default_factory=time.time)  # Unix seconds, UTC
    actor: Actor = dataclasses.field(default_factory=Actor.current)
    key_ids: tuple[str, ...] = ()
    assets: tuple[Asset, ...] = ()
    # Small, non-secret facts: algorithm names, state names, counts, byte sizes, reasons.
    details: Mapping[str, str | int | float | bool | None] = dataclasses.field(
        default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "time", round(float(self.time), 6))  # microseconds
        if self.operation not in OPERATIONS:
            raise LogEntryError(f"unknown log operation {self.operation!r}")
        if self.outcome not in OUTCOMES:
            raise LogEntryError(f"unknown log outcome {self.outcome!r}")
        for name, value in self.details.items():
            if not isinstance(name, str) or not isinstance(
                    value, (str, int, float, bool, type(None))):
                raise LogEntryError(f"log detail {name!r} must be a string, number or null")

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "time": self.time,
            "actor": dataclasses.asdict(self.actor),
            "operation": self.operation,
            "outcome": self.outcome,
            "key_ids": list(self.key_ids),
            "assets": [{"path": a.path, "digest": a.digest} for a in self.assets],
            "details": dict(self.details),
        }

    def to_bytes(self) -> bytes:
        """The canonical bytes the Merkle leaf hashes (one line, no trailing newline)."""
        data = json.dumps(self.to_json(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=False, allow_nan=False).encode()
        if len(data) > MAX_ENTRY_BYTES:
            raise LogEntryError(f"log entry is {len(data)} bytes, over {MAX_ENTRY_BYTES}")
        return data

    @classmethod
    def from_bytes(cls, data: bytes) -> LogEntry:
        """Parse an entry; anything but the canonical form is refused (so two byte strings
        never mean the same entry)."""
        if len(data) > MAX_ENTRY_BYTES:
            raise LogEntryError(f"log entry is {len(data)} bytes, over {MAX_ENTRY_BYTES}")
        try:
            obj = json.loads(data)
            if not isinstance(obj, dict) or obj.get("v") != 1:
                raise ValueError("not a version 1 entry")
            actor = obj["actor"]
            entry = cls(
                operation=obj["operation"], outcome=obj["outcome"], time=float(obj["time"]),
                actor=Actor(str(actor["user"]), str(actor["host"]), int(actor["pid"])),
                key_ids=tuple(str(k) for k in obj["key_ids"]),
                assets=tuple(Asset(str(a["path"]), a["digest"]) for a in obj["assets"]),
                details=dict(obj["details"]))
        except LogEntryError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise LogEntryError(f"malformed log entry: {exc}") from None
        if entry.to_bytes() != data:
            raise LogEntryError("log entry is not in canonical form")
        return entry

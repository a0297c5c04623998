"""Log entries for each operation, built from what the operation reports about itself.

Commands call these after they act (and :func:`failed` when they refuse or fail), so the
log says what happened in the words its monitors and compliance reports key on (the
conventions are the ``details`` names below). Only facts about keys, files and outcomes
go in: key ids, algorithm names, sizes, digests of public data (a model's root digest) —
never key material, passphrases or plaintext, and no digest of plaintext either (a hash of
a short secret file would let a reader confirm a guess of its content).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from pqml.log.entry import Asset, LogEntry

Detail = str | int | float | bool | None


def _path(path: str | os.PathLike[str]) -> str:
    text = os.fspath(path)
    return text if text == "-" or "://" in text else os.path.abspath(text)


def _recipients(recipients: Iterable[Mapping[str, Any]]) -> tuple[tuple[str, ...], dict]:
    recips = list(recipients)
    ids = tuple(str(r["key_id"]) for r in recips if r.get("key_id"))
    algorithms = sorted({str(r.get("kem") or r.get("type") or "unknown") for r in recips})
    pq = [bool(r.get("post_quantum")) for r in recips]
    return ids, {"recipient_algorithms": ",".join(algorithms),
                 "classical_only": bool(pq) and not any(pq),
                 "quantum_vulnerable": not all(pq) if pq else False}


def encrypted(result: Mapping[str, Any]) -> LogEntry:
    """From ``EncryptResult.to_dict()`` (or the same facts for standard output)."""
    ids, details = _recipients(result.get("recipients", ()))
    return LogEntry("encrypt", "ok", key_ids=ids,
                    assets=(Asset(_path(result["output"])),),
                    details={**details, "bytes": int(result.get("plaintext_size") or 0),
                             "format": str(result.get("format")),
                             "input": _path(result["input"])})


def decrypted(result: Mapping[str, Any], key_ids: Iterable[str] = ()) -> LogEntry:
    """From ``DecryptResult.to_dict()``; ``key_ids`` are the identities that could open
    the file (the one that did, when the caller knows it)."""
    return LogEntry("decrypt", "ok", key_ids=tuple(key_ids),
                    assets=(Asset(_path(result["input"])),),
                    details={"bytes": int(result.get("plaintext_size") or 0),
                             "format": str(result.get("format")),
                             "output": _path(result["output"])})


def rekeyed(result: Mapping[str, Any], *, operation: str = "rekey") -> LogEntry:
    """From ``RekeyResult.to_dict()``: the recipients added (their ids are the entry's
    keys), how many were removed or dropped, and whether the file key changed."""
    ids, details = _recipients(result.get("added", ()))
    return LogEntry(operation, "ok", key_ids=ids, assets=(Asset(_path(result["file"])),),
                    details={**details, "removed": int(result.get("removed") or 0),
                             "dropped": ",".join(result.get("dropped") or ()),
                             "quantum_vulnerable_stanzas":
                                 int(result.get("quantum_vulnerable_stanzas") or 0),
                             "new_file_key": bool(result.get("file_key_rotated")),
                             "format": str(result.get("format"))})


def signed(model: str, root_digest: str, key_ids: Iterable[str], algorithms: Iterable[str],
           bundle: str, bundle_digest: str) -> LogEntry:
    """A signature: its entry binds the bundle's own digest, so an inclusion proof of this
    entry later shows that this very signature existed when the checkpoint was signed."""
    return LogEntry("sign", "ok", key_ids=tuple(key_ids),
                    assets=(Asset(_path(model), root_digest),),
                    details={"algorithms": ",".join(algorithms), "root_digest": root_digest,
                             "bundle": _path(bundle), "bundle_digest": bundle_digest})


def verified(model: str, root_digest: str | None, key_ids: Iterable[str],
             algorithms: Iterable[str], *, ok: bool, reason: str | None = None) -> LogEntry:
    details: dict[str, Detail] = {"algorithms": ",".join(algorithms),
                                  "root_digest": root_digest}
    if reason:
        details["reason"] = reason[:500]
    return LogEntry("verify", "ok" if ok else "failed", key_ids=tuple(key_ids),
                    assets=(Asset(_path(model), root_digest),), details=details)


def key_event(operation: str, key_id: str, **details: Detail) -> LogEntry:
    """Key lifecycle: key.new, key.import, key.export, key.state, key.rotate, key.destroy."""
    return LogEntry(operation, "ok", key_ids=(key_id,), details=dict(details))


def failed(operation: str, paths: Iterable[str], error: BaseException,
           key_ids: Iterable[str] = ()) -> LogEntry:
    """An operation that failed or was refused: the error's class and first line (pqml's
    messages never carry secrets; see pqml.errors)."""
    outcome = "refused" if type(error).__name__ in ("KeyStateError", "PolicyError") else "failed"
    message = " ".join(str(error).split())[:500]
    return LogEntry(operation, outcome, key_ids=tuple(key_ids),
                    assets=tuple(Asset(_path(p)) for p in paths),
                    details={"error": type(error).__name__, "reason": message})

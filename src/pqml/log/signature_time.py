"""Was a signature made before its key was compromised? The log can say.

A signature carries no trustworthy time: whoever holds a compromised key can sign today
and claim any date. The transparency log can: ``pqml sign`` logs an entry binding the
bundle's SHA-256 and the signer's key id, and has the log sign a checkpoint over it at
once. An inclusion proof of that entry under a checkpoint the *log's* key signed before
the compromise time T shows the bundle existed before T — the compromised signing key
cannot forge the log's checkpoint. So a signature by a key compromised at T is accepted
when such a proof exists (from the local log, or a tlog-proof file checked with only the
log's verifier key) and refused otherwise, saying which case applied.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from pathlib import Path
from typing import Literal

from pqml.log.errors import LogError

Verdict = Literal["before", "after", "unproven"]


@dataclasses.dataclass(frozen=True)
class SignatureTime:
    verdict: Verdict
    compromised_at: float
    index: int | None = None            # the sign entry's index in the log
    checkpoint_time: int | None = None  # when the log first signed a tree holding it
    reason: str = ""

    @property
    def accepted(self) -> bool:
        return self.verdict == "before"

    def describe(self, key: str) -> str:
        from pqml.keys.times import format_time

        when = format_time(self.compromised_at)
        if self.verdict == "before":
            return (f"signature by key {key}, compromised at {when}, accepted: log entry "
                    f"{self.index} holds it under a checkpoint signed at "
                    f"{format_time(self.checkpoint_time)}, before the compromise")
        if self.verdict == "after":
            return (f"signature by key {key}, compromised at {when}, refused: log entry "
                    f"{self.index} was first checkpointed at "
                    f"{format_time(self.checkpoint_time)}, after the compromise")
        return (f"signature by key {key}, compromised at {when}, refused: no log entry "
                f"proves it was made before then ({self.reason})")


def bundle_digest(bundle: Path) -> str:
    with open(bundle, "rb") as f:
        return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()


def _matches(entry: object, digest: str, key_id: str) -> bool:
    from pqml.log.entry import LogEntry

    return (isinstance(entry, LogEntry) and entry.operation == "sign"
            and entry.outcome == "ok" and entry.details.get("bundle_digest") == digest
            and key_id in entry.key_ids)


def from_proof(proof: bytes, vkey_text: str, bundle: Path, key_id: str,
               compromised_at: float) -> SignatureTime:
    """Judge with a tlog-proof file and the log's verifier key only (another machine)."""
    from pqml.log.verify import check_proof, load_vkey

    proven = check_proof(proof, load_vkey(vkey_text, "log key"), what="log proof")
    if not _matches(proven.entry, bundle_digest(bundle), key_id):
        return SignatureTime("unproven", compromised_at, reason="the proof is for another "
                             "entry than this bundle's signature by this key")
    verdict: Verdict = "before" if proven.timestamp < compromised_at else "after"
    return SignatureTime(verdict, compromised_at, proven.index, proven.timestamp)


def from_log(bundle: Path, key_id: str, compromised_at: float,
             home: str | os.PathLike[str] | None = None) -> SignatureTime:
    """Judge with the local log: find the bundle's sign entry, prove it under the first
    checkpoint that holds it, and check that proof with the log's own verifier key."""
    from pqml.log.store import LogStore, default_directory
    from pqml.log.verify import check_proof

    where = default_directory(home)
    if not where.exists():
        return SignatureTime("unproven", compromised_at, reason="no transparency log here")
    digest = bundle_digest(bundle)
    store = LogStore(where)
    try:
        found = next((i for i, entry in store.entries() if _matches(entry, digest, key_id)),
                     None)
        if found is None:
            return SignatureTime("unproven", compromised_at,
                                 reason="the log has no entry for this bundle")
        first = next((cp for cp in sorted(store.checkpoints(), key=lambda c: c.size)
                      if cp.size > found), None)
        if first is None:
            return SignatureTime("unproven", compromised_at, index=found,
                                 reason=f"no checkpoint holds log entry {found} yet")
        proven = check_proof(store.prove(found, checkpoint=first.note), store.vkey,
                             what="log proof")
    except LogError as exc:
        return SignatureTime("unproven", compromised_at, reason=" ".join(str(exc).split()))
    finally:
        store.close()
    verdict: Verdict = "before" if proven.timestamp < compromised_at else "after"
    return SignatureTime(verdict, compromised_at, proven.index, proven.timestamp)


def checkpoint_now(home: str | os.PathLike[str] | None = None) -> None:
    """Have the log sign a checkpoint over what it holds now, so a signature just logged
    gets its proof of time at once rather than at the next batched checkpoint."""
    from pqml.log import recorder
    from pqml.log.store import LogStore, default_directory

    if not recorder.enabled():
        return
    where = default_directory(home)
    if where.exists():
        with LogStore(where) as store:
            store.checkpoint()

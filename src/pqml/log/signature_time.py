"""Was a signature made before its key was compromised? The log can say.

A signature carries no trustworthy time: whoever holds a compromised key can sign today
and claim any date. The transparency log can: ``pqml sign`` logs an entry binding the
bundle's SHA-256 and the signer's key id, and has the log sign a checkpoint over it at
once. An inclusion proof of that entry under a checkpoint the *log's* key signed before
the compromise time T shows the bundle existed before T — the compromised signing key
cannot forge the log's checkpoint. So a signature by a key compromised at T is accepted
when such a proof exists (from the local log, or a tlog-proof file checked with only the
log's verifier key) and refused otherwise, saying which case applied. A revoked key is
judged the same way from its revocation time: its former holder can still sign.

Which log counts: on a machine with its own log, only that log's key (a log anyone can
start with a backdated clock proves nothing); on one without, the log key the user names
(as they name trusted signing keys).
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
    compromised_at: float               # when the key stopped being trusted
    index: int | None = None            # the sign entry's index in the log
    checkpoint_time: int | None = None  # when the log first signed a tree holding it
    reason: str = ""
    cause: str = "compromised"          # or "revoked"

    @property
    def accepted(self) -> bool:
        return self.verdict == "before"

    def describe(self, key: str) -> str:
        from pqml.keys.times import format_time

        when = format_time(self.compromised_at)
        event = "the compromise" if self.cause == "compromised" else "the revocation"
        if self.verdict == "before":
            return (f"signature by key {key}, {self.cause} at {when}, accepted: log entry "
                    f"{self.index} holds it under a checkpoint signed at "
                    f"{format_time(self.checkpoint_time)}, before {event}")
        if self.verdict == "after":
            return (f"signature by key {key}, {self.cause} at {when}, refused: log entry "
                    f"{self.index} was first checkpointed at "
                    f"{format_time(self.checkpoint_time)}, after {event}")
        return (f"signature by key {key}, {self.cause} at {when}, refused: no log entry "
                f"proves it was made before then ({self.reason})")


def _verdict(checkpoint_time: int, distrusted_at: float) -> Verdict:
    """Checkpoint times are whole seconds (C2SP cosignatures): the checkpoint was signed
    somewhere in [t, t + 1), so it is certainly before T only when t + 1 <= T. A signature
    checkpointed in the same second as the compromise is not proven to precede it."""
    return "before" if checkpoint_time + 1 <= distrusted_at else "after"


def bundle_digest(bundle: str | os.PathLike[str]) -> str:
    """As ``pqml sign`` logged it: SHA-256 of the bundle's bytes (a path or a URL)."""
    from pqml.storage.reader import open_stream

    with open_stream(bundle) as f:
        return "sha256:" + hashlib.file_digest(f, "sha256").hexdigest()


def _matches(entry: object, digest: str, key_id: str) -> bool:
    from pqml.log.entry import LogEntry

    return (isinstance(entry, LogEntry) and entry.operation == "sign"
            and entry.outcome == "ok" and entry.details.get("bundle_digest") == digest
            and key_id in entry.key_ids)


def from_proof(proof: bytes, vkey_text: str, bundle: Path, key_id: str,
               compromised_at: float, *, cause: str = "compromised",
               home: str | os.PathLike[str] | None = None) -> SignatureTime:
    """Judge with a tlog-proof file and the log's verifier key only (another machine).
    Where this machine keeps a log, only that log's key is accepted."""
    from pqml.log.store import VKEY, default_directory
    from pqml.log.verify import check_proof, load_vkey

    vkey = load_vkey(vkey_text, "log key")
    local = default_directory(home) / VKEY
    if local.is_file() and local.read_text().strip() != vkey_text.strip():
        return SignatureTime("unproven", compromised_at, cause=cause,
                             reason=f"the proof is from log {vkey.name}, not this machine's "
                                    "log; only its own log's checkpoints are trusted here")
    proven = check_proof(proof, vkey, what="log proof")
    if not _matches(proven.entry, bundle_digest(bundle), key_id):
        return SignatureTime("unproven", compromised_at, cause=cause,
                             reason="the proof is for another entry than this bundle's "
                                    "signature by this key")
    verdict = _verdict(proven.timestamp, compromised_at)
    return SignatureTime(verdict, compromised_at, proven.index, proven.timestamp, cause=cause)


def from_log(bundle: Path, key_id: str, compromised_at: float, *,
             cause: str = "compromised",
             home: str | os.PathLike[str] | None = None) -> SignatureTime:
    """Judge with the local log: find the bundle's sign entry, prove it under the first
    checkpoint that holds it, and check that proof with the log's own verifier key."""
    from pqml.log.store import LogStore, default_directory
    from pqml.log.verify import check_proof

    where = default_directory(home)
    if not where.exists():
        return SignatureTime("unproven", compromised_at, cause=cause,
                             reason="no transparency log here")
    digest = bundle_digest(bundle)
    store = LogStore(where)
    try:
        found = next((i for i, entry in store.entries() if _matches(entry, digest, key_id)),
                     None)
        if found is None:
            return SignatureTime("unproven", compromised_at, cause=cause,
                                 reason="the log has no entry for this bundle")
        first = next((cp for cp in sorted(store.checkpoints(), key=lambda c: c.size)
                      if cp.size > found), None)
        if first is None:
            return SignatureTime("unproven", compromised_at, cause=cause, index=found,
                                 reason=f"no checkpoint holds log entry {found} yet")
        proven = check_proof(store.prove(found, checkpoint=first.note), store.vkey,
                             what="log proof")
    except LogError as exc:
        return SignatureTime("unproven", compromised_at, cause=cause,
                             reason=" ".join(str(exc).split()))
    finally:
        store.close()
    verdict = _verdict(proven.timestamp, compromised_at)
    return SignatureTime(verdict, compromised_at, proven.index, proven.timestamp,
                         cause=cause)


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

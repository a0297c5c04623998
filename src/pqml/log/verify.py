"""Verify a log on disk and say *where* it was changed; check offline proofs.

What an attacker with write access to the log directory can do, and what catches it:

* **Edits the entries file only** (an entry's text, a deleted, inserted or swapped line).
  Each record holds its entry's RFC 6962 leaf hash, so the first entry whose bytes no
  longer hash to its record's leaf is the index; the lines from there are matched back to
  the records to say which change it was (edited, deleted, inserted, reordered).
* **Also rewrites the record file** to match. Each record carries a tag, a MAC under the
  log's tag key (:mod:`pqml.log.store`), over its leaf hash *and its index*: a rewritten
  record fails its tag at the index where it was forged; a record moved to another place
  still verifies but names the index it was made for, which tells a deletion (records
  shifted down), an insertion (a forged or copied record) and a reordering apart. The
  tags make the per-entry answer exact; they need the tag key, so a copy of the log
  without it is checked with the leaf hashes and checkpoints only.
* **Also holds the log's keys** (and so can forge tags and re-sign). Then only what was
  published elsewhere helps: a checkpoint saved earlier (``--checkpoint FILE``) must be a
  prefix of today's tree by an RFC 6962 consistency proof, so a truncated or rewritten
  log is reported (rolled back before index N); cosigners' copies work the same way.

Every stored checkpoint is verified too: its ML-DSA-44 signature by the log key, its root
against the tree recomputed from the entries (a checkpoint covering more entries than the
log has means truncation), and each against the one before by a consistency proof. A log
that verifies gets a checkpoint of its full size signed (if this copy has the key), so
the next verification, and every proof, starts from a signed tree.

Verification reads the files once: leaves and tags are computed in bulk, the tree level
by level (about three seconds for a million entries on one core here; bench/log.py).
"""

from __future__ import annotations

import contextlib
import hashlib
import mmap
import os
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pqml.formats.errors import NoteFormatError
from pqml.formats.signed_note import VerifierKey, parse_vkey
from pqml.formats.tlog import parse_tlog_proof
from pqml.log import merkle, tree
from pqml.log.entry import LogEntry
from pqml.log.errors import LogEntryError, LogError, LogTamperedError, MerkleProofError
from pqml.log.store import (
    ENTRIES,
    RECORD_SIZE,
    RECORDS,
    TAG_PERSON,
    TAG_SIZE,
    LogStore,
    StoredCheckpoint,
    check_checkpoint,
)

_FIELDS = struct.Struct(">32sQQI12s")
_BODY_SIZE = RECORD_SIZE - TAG_SIZE


@dataclass(frozen=True)
class Problem:
    """The first place the log does not verify: an entry index and what happened."""

    index: int
    kind: str  # edited | deleted | inserted | reordered | truncated | rolled-back | rewritten
    message: str


@dataclass
class VerifyReport:
    """What a successful verification checked."""

    directory: Path
    origin: str
    size: int
    checkpoints: int
    latest: StoredCheckpoint | None
    tags_checked: bool
    signed: bool = False  # a new checkpoint of the full log was signed afterwards
    saved: tuple[int, int] | None = None  # (size, timestamp) of a --checkpoint that held
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        latest = None if self.latest is None else {
            "size": self.latest.size, "timestamp": self.latest.timestamp,
            "root_hash": self.latest.root_hash.hex()}
        return {
            "ok": True, "directory": str(self.directory), "origin": self.origin,
            "size": self.size, "checkpoints": self.checkpoints, "latest_checkpoint": latest,
            "entry_tags_checked": self.tags_checked, "signed_checkpoint": self.signed,
            "saved_checkpoint": None if self.saved is None else
            {"size": self.saved[0], "timestamp": self.saved[1]},
            "warnings": list(self.warnings),
        }


def _tampered(store: LogStore, problem: Problem) -> LogTamperedError:
    exc = LogTamperedError(f"{store.directory}: {problem.message}")
    exc.problem = problem  # type: ignore[attr-defined]
    exc.index = problem.index  # type: ignore[attr-defined]
    return exc


def _map(store: LogStore, name: str, stack: contextlib.ExitStack) -> bytes | mmap.mmap:
    """A read-only map of a log file (page cache, not process memory), or b"" if it is
    missing or empty."""
    path = store.directory / name
    try:
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                return b""
            return stack.enter_context(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    except FileNotFoundError:
        return b""
    except OSError as exc:
        raise LogError(f"{path}: cannot read it: {exc.strerror or exc}") from None


class _Fields:
    """The records' fields ``(leaf, index, offset, length, tag)`` by index, unpacked on
    demand (a list of a million tuples would cost hundreds of megabytes)."""

    def __init__(self, records: bytes | mmap.mmap, n: int) -> None:
        self.records, self.n = records, n

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[tuple[bytes, int, int, int, bytes]]:
        return _FIELDS.iter_unpack(memoryview(self.records)[:self.n * RECORD_SIZE])

    def __getitem__(self, i: int) -> tuple[bytes, int, int, int, bytes]:
        if not 0 <= i < self.n:
            raise IndexError(i)
        return _FIELDS.unpack_from(self.records, i * RECORD_SIZE)

    def since(self, start: int, stop: int | None = None) -> list[tuple[bytes, int, int, int,
                                                                       bytes]]:
        stop = self.n if stop is None else min(stop, self.n)
        return [self[i] for i in range(start, stop)]

    def leaf(self, i: int) -> bytes:
        return self.records[i * RECORD_SIZE:i * RECORD_SIZE + 32]


def _levels(leaves: list[bytes]) -> list[list[bytes]]:
    """Every complete subtree's hash, level by level (level 0: the leaves)."""
    sha = hashlib.sha256
    levels, current = [leaves], leaves
    while len(current) > 1:
        current = [sha(b"\x01" + a + b).digest() for a, b in zip(current[0::2], current[1::2],
                                                                 strict=False)]
        levels.append(current)
    return levels


class _Scan:
    """The records and entries read into memory, with the per-entry checks done: leaf
    hashes and indices of all, tags from ``tags_from`` on (the entries no signed
    checkpoint covers; the rest only when something fails and needs naming)."""

    def __init__(self, store: LogStore, entries: bytes | mmap.mmap,
                 records: bytes | mmap.mmap, tag_key: bytes | None, tags_from: int = 0) -> None:
        self.store = store
        self.entries = entries
        self.n = n = len(records) // RECORD_SIZE
        self.records = records
        self.fields = _Fields(records, n)
        sha = hashlib.sha256
        self.leaves = [sha(b"\x00" + entries[o:o + ln]).digest()
                       for _, _, o, ln, _ in self.fields]
        self.tag_key = tag_key
        self.bad_tags: set[int] = set()
        self.tags_from = n
        self.check_tags(tags_from)

    def check_tags(self, start: int) -> None:
        """Check the tags of entries ``[start, tags_from)`` too (no-op without the key)."""
        start, stop = max(0, min(start, self.n)), self.tags_from
        if self.tag_key is None or start >= stop:
            return
        key, b2b, records = self.tag_key, hashlib.blake2b, self.records
        tags = [b2b(records[j:j + _BODY_SIZE], key=key, digest_size=TAG_SIZE,
                    person=TAG_PERSON).digest()
                for j in range(start * RECORD_SIZE, stop * RECORD_SIZE, RECORD_SIZE)]
        stored = [records[j + _BODY_SIZE:j + RECORD_SIZE]
                  for j in range(start * RECORD_SIZE, stop * RECORD_SIZE, RECORD_SIZE)]
        if tags != stored:
            self.bad_tags |= {i for i, t, f in zip(range(start, stop), tags, stored,
                                                   strict=True) if t != f}
        self.tags_from = start

    def first_problem(self) -> int | None:
        candidates = []
        if self.bad_tags:
            candidates.append(min(self.bad_tags))
        records = self.records
        stored = [records[j:j + 32] for j in range(0, self.n * RECORD_SIZE, RECORD_SIZE)]
        if self.leaves != stored:
            candidates.append(next(i for i, (a, b) in enumerate(zip(
                self.leaves, stored, strict=True)) if a != b))
        moved = next((i for i, f in enumerate(self.fields) if f[1] != i), None)
        if moved is not None:
            candidates.append(moved)
        return min(candidates) if candidates else None

    def gaps(self) -> tuple[list[str], int | None]:
        """Warnings for bytes of the entries file no record names (appends cut off by a
        crash), and the first entry that overlaps the one before it, if any."""
        warnings, overlap, end = [], None, 0
        for i, (_, _, offset, length, _) in enumerate(self.fields):
            if offset > end:
                warnings.append(f"{ENTRIES}: bytes {end}..{offset - 1} before entry {i} are "
                                "an append cut off by a crash; ignored")
            elif offset < end and overlap is None:
                overlap = i
            end = offset + length + 1
        if len(self.entries) > end:
            warnings.append(f"{ENTRIES}: bytes {end}..{len(self.entries) - 1} after the last "
                            "entry are an append cut off by a crash (or entries whose records "
                            "were removed); ignored")
        return warnings, overlap

    def diagnose(self, p: int) -> Problem:
        """Which change explains the first mismatch at entry ``p``."""
        index = self.fields[p][1]
        if p in self.bad_tags:
            if p + 1 < self.n and p + 1 not in self.bad_tags and self.fields[p + 1][1] == p:
                return Problem(p, "inserted", f"an entry was inserted at index {p} (its "
                               "record does not verify; the entry that was "
                               f"{p} is now at {p + 1})")
            return Problem(p, "edited", f"entry {p} was edited and its record rewritten (the "
                           "record's tag does not verify)")
        if index != p:
            claims = [f[1] for f in self.fields.since(p + 1, p + 3)]
            # (the last two swapped look the same, but then index p claims p + 1)
            if claims[:1] == [p] and (claims[1:] == [p + 1] or (p + 2 == self.n and index < p)):
                return Problem(p, "inserted", f"an entry was inserted at index {p} (a copy of "
                               f"entry {index}; the entry that was {p} follows it)")
            if index > p:
                if any(f[1] == p for i, f in enumerate(self.fields.since(p + 1), p + 1)
                       if i not in self.bad_tags):
                    return Problem(p, "reordered", f"entry {p} was reordered: index {p} now "
                                   f"holds entry {index}")
                what = f"entry {p} was" if index == p + 1 else f"entries {p}..{index - 1} were"
                return Problem(p, "deleted", f"{what} deleted (index {p} now holds entry "
                               f"{index})")
            return Problem(p, "inserted", f"an entry was inserted at index {p} (a copy of "
                           f"entry {index})")
        return self._diagnose_lines(p)

    def _diagnose_lines(self, p: int) -> Problem:
        """The records are intact but entry ``p``'s bytes are not: match the lines from
        where entry ``p`` starts back to the records."""
        start = self.fields[p][2]
        if start >= len(self.entries):
            what = f"entry {p} was" if p == self.n - 1 else f"entries {p}..{self.n - 1} were"
            return Problem(p, "deleted", f"{what} deleted ({ENTRIES} ends before entry {p})")
        lines = self.entries[start:].split(b"\n")
        first: dict[bytes, int] = {}
        for i in range(self.n - 1, -1, -1):
            first[self.fields.leaf(i)] = i
        here = first.get(merkle.leaf_hash(lines[0]))
        follows = [merkle.leaf_hash(line) for line in lines[1:3]]
        if follows[:1] == [self.fields.leaf(p)] and (
                p + 1 == self.n or follows[1:] == [self.fields.leaf(p + 1)]):
            what = "an entry" if here is None else f"a copy of entry {here}"
            return Problem(p, "inserted", f"{what} was inserted at index {p} (the entry "
                           f"that was {p} follows it)")
        if here is not None and here > p:
            later = {merkle.leaf_hash(line) for line in lines[1:]}
            if self.fields.leaf(p) in later:
                return Problem(p, "reordered", f"entry {p} was reordered: index {p} now "
                               f"holds entry {here}")
            what = f"entry {p} was" if here == p + 1 else f"entries {p}..{here - 1} were"
            return Problem(p, "deleted", f"{what} deleted (index {p} now holds entry {here})")
        if here is not None and here < p:
            return Problem(p, "inserted", f"an entry was inserted at index {p} (a copy of "
                           f"entry {here})")
        return Problem(p, "edited", f"entry {p} was edited (its bytes no longer match its "
                       "record's leaf hash)")


def _checkpoint_problem(store: LogStore, exc: LogError) -> LogTamperedError:
    return LogTamperedError(f"{store.directory}: stored checkpoint rejected: {exc}")


def verify_log(directory: str | os.PathLike[str] | LogStore | None = None, *,
               checkpoint: bytes | None = None, checkpoint_name: str = "saved checkpoint",
               key: VerifierKey | None = None, sign: bool = True) -> VerifyReport:
    """Verify the log in ``directory`` (default ``$PQML_HOME/log``): every entry against
    its record (leaf hash, index, tag), every stored checkpoint (signature, root,
    consistency with the one before) and, if given, a ``checkpoint`` saved elsewhere
    (truncation and rollback). ``key`` is the log's verifier key as you know it from
    elsewhere; without it the directory's own ``log.vkey`` is trusted (checked against the
    private key when that is here). Raises :class:`LogTamperedError` naming the first
    index that does not verify (``exc.problem`` says how); with ``sign`` and the log key
    at hand, signs a checkpoint of the whole log once it verified."""
    store = directory if isinstance(directory, LogStore) else LogStore(directory)
    vkey = _trusted_key(store, key)
    with contextlib.ExitStack() as stack:
        report = _verify_files(store, vkey, stack, checkpoint, checkpoint_name)
    n, latest = report.size, report.latest
    if sign and n and (latest is None or latest.size < n) and _can_sign(store):
        store.checkpoint()
        report.latest = store.latest_checkpoint()
        report.checkpoints += 1
        report.signed = True
    return report


def _verify_files(store: LogStore, vkey: VerifierKey, stack: contextlib.ExitStack,
                  checkpoint: bytes | None, checkpoint_name: str) -> VerifyReport:
    stored: list[StoredCheckpoint] = []
    bad_checkpoint: LogError | None = None
    try:
        stored = store.checkpoints()
    except LogError as exc:  # reported after the entries, which can name an index
        bad_checkpoint = exc
    records = _map(store, RECORDS, stack)
    signed = stored[-1].size if stored else 0
    scan = _Scan(store, _map(store, ENTRIES, stack), records, store.tag_key(), signed)
    n = scan.n
    warnings, overlap = scan.gaps()
    if len(records) % RECORD_SIZE:
        warnings.append(f"{RECORDS}: ends in a partial record of {len(records) % RECORD_SIZE} "
                        "bytes (an append cut off by a power loss or full disk); ignored; "
                        "run `pqml log recover` to append again")
    if scan.tag_key is None:
        warnings.append("entry tags not checked: this copy has no tag key; tampering is "
                        "located to the checkpoint that covers it")
    first = scan.first_problem()
    if first is not None or overlap is not None:
        scan.check_tags(0)  # every tag, to name the first index and how it changed
        first = min(i for i in (scan.first_problem(), overlap) if i is not None)
        raise _tampered(store, scan.diagnose(first))
    if isinstance(bad_checkpoint, LogTamperedError):
        raise bad_checkpoint
    if bad_checkpoint is not None:
        raise _checkpoint_problem(store, bad_checkpoint)

    levels = _levels(scan.leaves)

    def node(level: int, index: int) -> bytes:
        return levels[level][index]

    previous: StoredCheckpoint | None = None
    for cp in stored:
        low = previous.size if previous else 0
        if cp.size > n:
            gone = f"entry {n} was" if cp.size == n + 1 else f"entries {n}..{cp.size - 1} were"
            raise _tampered(store, Problem(n, "truncated", f"the log was truncated: checkpoint "
                                           f"{cp.size} covers {cp.size} entries but the log "
                                           f"has {n}; {gone} removed"))
        if tree.root(node, cp.size) != cp.root_hash:
            scan.check_tags(0)  # records rewritten to match: a tag names the index
            if scan.first_problem() is not None:
                raise _tampered(store, scan.diagnose(scan.first_problem() or 0))
            raise _tampered(store, Problem(low, "rewritten", f"entries {low}..{cp.size - 1} "
                                           f"differ from signed checkpoint {cp.size} although "
                                           "each matches its record: rewritten with the log's "
                                           f"keys (first difference at or after index {low})"))
        if previous is not None:
            proof = tree.consistency_proof(node, previous.size, cp.size)
            try:
                merkle.verify_consistency(previous.size, cp.size, previous.root_hash,
                                          cp.root_hash, proof)
            except MerkleProofError as exc:  # pragma: no cover - both roots matched above
                raise _tampered(store, Problem(low, "rewritten", f"checkpoints {low} and "
                                               f"{cp.size} are inconsistent: {exc}")) from None
            if cp.timestamp < previous.timestamp:
                warnings.append(f"checkpoint {cp.size} is dated before checkpoint {low}")
        previous = cp

    report = VerifyReport(store.directory, vkey.name, n, len(stored), previous,
                          scan.tag_key is not None, warnings=warnings)
    if checkpoint is not None:
        report.saved = _check_saved(store, vkey, checkpoint, checkpoint_name, node, n)
    return report


def _trusted_key(store: LogStore, key: VerifierKey | None) -> VerifierKey:
    """The directory's verifier key, if it is the one the caller trusts and the one the
    private key here (if any) belongs to: a log re-signed with a swapped key fails."""
    vkey = store.vkey  # "no transparency log here" before anything else
    if key is not None and key != vkey:
        raise LogTamperedError(f"{store.directory}: log.vkey is {vkey.name}+{vkey.key_id:08x}, "
                               f"not the trusted key {key.name}+{key.key_id:08x}")
    try:
        store.signing_key()  # checks it against log.vkey
    except LogError as exc:
        if "does not match" in str(exc):
            raise LogTamperedError(str(exc)) from None
    return vkey


def _can_sign(store: LogStore) -> bool:
    try:
        store.signing_key()
    except LogError:
        return False
    return store.tag_key() is not None


def _check_saved(store: LogStore, vkey: VerifierKey, note: bytes, name: str,
                 node: tree.NodeReader, n: int) -> tuple[int, int]:
    """A checkpoint saved elsewhere must be a prefix of the log: RFC 6962 consistency."""
    head, stamp = check_checkpoint(note, vkey, what=name)
    if head.size > n:
        gone = f"entry {n} was" if head.size == n + 1 else f"entries {n}..{head.size - 1} were"
        raise _tampered(store, Problem(n, "truncated", f"the log was truncated: {name} covers "
                                       f"{head.size} entries but the log has {n}; {gone} "
                                       "removed"))
    proof = tree.consistency_proof(node, head.size, n)
    try:
        merkle.verify_consistency(head.size, n, head.root_hash, tree.root(node, n), proof)
    except MerkleProofError:
        raise _tampered(store, Problem(0, "rolled-back", f"the log was rolled back or "
                                       f"rewritten: its first {head.size} entries are not "
                                       f"those {name} signed (a change before index "
                                       f"{head.size})")) from None
    return head.size, stamp


# ---- offline proofs -----------------------------------------------------------------------


@dataclass(frozen=True)
class ProvenEntry:
    """What a verified tlog-proof establishes: entry ``index`` of log ``origin`` is
    ``entry``, in the tree of ``tree_size`` entries the log signed at ``timestamp``."""

    index: int
    entry: LogEntry
    entry_bytes: bytes
    origin: str
    tree_size: int
    timestamp: int

    def to_json(self) -> dict[str, Any]:
        return {"ok": True, "index": self.index, "origin": self.origin,
                "tree_size": self.tree_size, "checkpoint_timestamp": self.timestamp,
                "entry": self.entry.to_json()}


def load_vkey(text: str, what: str = "verifier key") -> VerifierKey:
    try:
        return parse_vkey(text.strip())
    except NoteFormatError as exc:
        raise LogError(f"{what}: not a C2SP verifier key: {exc}") from None


def check_proof(proof: bytes, vkey: VerifierKey, *, entry: bytes | None = None,
                what: str = "proof", cosigners: Sequence[VerifierKey] = ()) -> ProvenEntry:
    """Check a tlog-proof offline with only the log's verifier key (and optionally
    cosigners', each of which must have signed too): the checkpoint is the log's, the
    entry (the proof's extra data, or ``entry``) is included at the stated index."""
    try:
        parsed = parse_tlog_proof(proof)
    except NoteFormatError as exc:
        raise LogError(f"{what}: not a tlog-proof: {exc}") from None
    data = entry if entry is not None else parsed.extra
    if data is None:
        raise LogError(f"{what}: carries no entry; give the entry's bytes")
    head, stamp = check_checkpoint(parsed.checkpoint, vkey, what=f"{what}: its checkpoint")
    for cosigner in cosigners:
        from pqml.formats.tlog import verify_checkpoint
        from pqml.primitives.errors import InvalidSignatureError

        try:
            verify_checkpoint(parsed.checkpoint, vkey.name, [cosigner])
        except (InvalidSignatureError, NoteFormatError) as exc:
            raise LogError(f"{what}: its checkpoint is not cosigned by {cosigner.name}: "
                           f"{exc}") from None
    try:
        merkle.verify_inclusion(merkle.leaf_hash(data), parsed.index, head.size,
                                parsed.path, head.root_hash)
    except MerkleProofError as exc:
        raise LogError(f"{what}: the entry is not entry {parsed.index} of the checkpoint's "
                       f"tree: {exc}") from None
    try:
        parsed_entry = LogEntry.from_bytes(data)
    except LogEntryError as exc:
        raise LogError(f"{what}: the proven entry is not a pqml log entry: {exc}") from None
    return ProvenEntry(parsed.index, parsed_entry, data, vkey.name, head.size, stamp)

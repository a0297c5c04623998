"""The transparency log on disk: append-only files, safe with several writers at once.

Layout of a log directory (``$PQML_HOME/log`` by default)::

    lock                  flock(2) target: every append, checkpoint and recovery holds it
    log.key               the log's ML-DSA-44 signing key, PKCS#8 PEM, 0600
    log.vkey              its C2SP verifier key: <origin>+<key ID>+base64(0x06 || key)
    entry-tag.key         32 random bytes, 0600: the key of the per-entry tags
    entries.jsonl         the entries, canonical JSON, one per line
    records               64 bytes per entry, at 64·index (see RECORD below)
    checkpoints/<size>    every signed checkpoint (C2SP signed note), one file each,
                          named by its tree size (20 digits), never replaced
    checkpoints/latest    symlink to the newest one (a pointer, re-made by each signer)
    tree/<level>          interior hashes of complete subtrees, 32 bytes each (derived)
    recovery.log          what an explicit `pqml log recover` removed, and when

**Commit point.** An append writes its line to ``entries.jsonl`` (O_APPEND), then its
64-byte record to ``records``. The entry exists once its record is complete; readers count
``len(records) // 64`` entries and reach each entry through its record's offset. A writer
killed between the two writes leaves bytes in ``entries.jsonl`` that no record names: the
next writer starts a fresh line after them and they stay, ignored (``pqml log verify``
reports them). A record is 64 bytes at a 64-byte boundary, so it never straddles a page
and a killed process cannot tear it; only a power loss or a full disk can leave a partial
record, which readers ignore and writers refuse to build on until ``pqml log recover``
(explicit, logged in ``recovery.log``) cuts it off. pqml never changes a committed byte.

**Records** bind each entry to its place::

    leaf hash (32) | index u64 | offset u64 | length u32 | tag (12)

with ``tag = BLAKE2b-96(key = entry-tag.key, record[:52])`` (keyed BLAKE2b, RFC 7693, a
MAC): without the tag key nobody can write a record that verifies, so an edited, deleted,
inserted or reordered entry is named by index even if the record file was rewritten to
match (see :mod:`pqml.log.verify`).

**Checkpoints** are C2SP tlog-checkpoints signed as ML-DSA-44 cosignatures (type 0x06) by
the log key, whose name is the log's origin. They are batched: an append signs one when
the size reaches a multiple of ``checkpoint_every`` or the newest is older than
``checkpoint_seconds``; :meth:`LogStore.checkpoint` signs on demand, and verification and
proofs sign first. A signer extends the previous signed tree by the entries since, after
checking each one's leaf and tag, so pqml never signs a tree it has not checked. Signed
entries are fsync'ed before their checkpoint is written; single appends are not (one
fsync per entry would cost milliseconds).

**tree/** is a cache of interior hashes that turns proofs into O(log² n) reads. It is
derived from the records (any signer rewrites a node at its fixed position; deleting the
directory loses nothing), and every proof is checked against its signed checkpoint before
it is returned.

Why not C2SP tlog-tiles: tiles suit a sequencer that batches many entries; here each
``pqml`` process appends one entry, and tiles would rewrite a partial data tile (up to 256
entries) and a partial hash tile per level on every append, and replace the checkpoint in
place. The record file above is the same tree with the same hashes in a layout that is
append-only at entry granularity; tiles can be served from it later.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import hmac
import os
import re
import struct
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pqml.log import merkle, tree
from pqml.log.entry import MAX_ENTRY_BYTES, LogEntry
from pqml.log.errors import LogEntryError, LogError, LogTamperedError, MerkleProofError
from pqml.primitives.errors import PqmlError

if TYPE_CHECKING:  # the formats load on first use: an append needs none of them
    from pqml.formats.signed_note import VerifierKey
    from pqml.formats.tlog import Checkpoint

RECORD_SIZE = 64
LOG_KEY_ALGORITHM = "ML-DSA-44"  # the one post-quantum type C2SP defines for checkpoints
_BODY = struct.Struct(">32sQQI")  # leaf hash, index, offset, length: 52 bytes
TAG_SIZE = RECORD_SIZE - _BODY.size  # 12
TAG_PERSON = b"pqml-log-rec/v1"
HASH_SIZE = 32
DEFAULT_EVERY = 1000
DEFAULT_SECONDS = 300.0
MAX_RECORD_READ = 4096  # records per read while iterating
MAX_CHECKPOINT_BYTES = 64 * 1024  # one ML-DSA-44 signature is ~3.3 KiB of base64

ENTRIES = "entries.jsonl"
RECORDS = "records"
CHECKPOINTS = "checkpoints"
LATEST = "latest"
TREE = "tree"
SIGNING_KEY = "log.key"
VKEY = "log.vkey"
TAG_KEY = "entry-tag.key"
LOCK = "lock"
RECOVERY_LOG = "recovery.log"
_CHECKPOINT_NAME = re.compile(r"[0-9]{20}")


def default_directory(home: str | os.PathLike[str] | None = None) -> Path:
    """``<home>/log``; ``home`` defaults to ``$PQML_HOME`` (see pqml._internal.home)."""
    from pqml._internal.home import pqml_home

    return Path(home if home is not None else pqml_home()) / "log"


def entry_tag(key: bytes, body: bytes) -> bytes:
    """The 12-byte tag of a record's first 52 bytes (keyed BLAKE2b)."""
    return hashlib.blake2b(body, key=key, digest_size=TAG_SIZE, person=TAG_PERSON).digest()


class Record:
    """One parsed 64-byte record. (Plain classes here, not dataclasses: this module is
    imported by every command that logs, and a dataclass costs a millisecond to build.)"""

    __slots__ = ("index", "leaf", "length", "offset", "tag")

    def __init__(self, leaf: bytes, index: int, offset: int, length: int, tag: bytes) -> None:
        self.leaf, self.index, self.offset, self.length, self.tag = (leaf, index, offset,
                                                                     length, tag)

    @classmethod
    def parse(cls, raw: bytes) -> Record:
        leaf, index, offset, length = _BODY.unpack_from(raw)
        return cls(leaf, index, offset, length, bytes(raw[_BODY.size:RECORD_SIZE]))

    def tag_ok(self, key: bytes) -> bool:
        body = _BODY.pack(self.leaf, self.index, self.offset, self.length)
        return hmac.compare_digest(entry_tag(key, body), self.tag)


class StoredCheckpoint:
    """A checkpoint file: its tree size, signed note, root hash and the log key's
    cosignature timestamp (verified when loaded)."""

    __slots__ = ("note", "path", "root_hash", "size", "timestamp")

    def __init__(self, size: int, note: bytes, root_hash: bytes, timestamp: int,
                 path: Path) -> None:
        self.size, self.note, self.root_hash, self.timestamp, self.path = (
            size, note, root_hash, timestamp, path)

    def __repr__(self) -> str:
        return f"StoredCheckpoint(size={self.size}, timestamp={self.timestamp}, {self.path})"


def _origin() -> str:
    import socket

    host = re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname())[:64] or "localhost"
    return f"{host}/pqml-log/{os.urandom(8).hex()}"


def _os_error(path: Path, exc: OSError, doing: str) -> LogError:
    return LogError(f"{path}: cannot {doing}: {exc.strerror or exc}")


class LogStore:
    """The log in ``directory`` (default ``$PQML_HOME/log``). Reading never creates
    anything; the first append creates the directory and the log's keys.

    A store keeps its files open; use it as a context manager or call :meth:`close`
    (it is also safe to drop). Several stores, in any number of processes, may append to
    one directory at once."""

    def __init__(self, directory: str | os.PathLike[str] | None = None, *,
                 checkpoint_every: int = DEFAULT_EVERY,
                 checkpoint_seconds: float = DEFAULT_SECONDS) -> None:
        self.directory = Path(directory) if directory is not None else default_directory()
        if checkpoint_every < 1 or checkpoint_seconds < 0:
            raise ValueError("checkpoint_every must be >= 1 and checkpoint_seconds >= 0")
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self._fds: dict[str, int] = {}
        self._tag_key: bytes | None = None
        self._vkey: VerifierKey | None = None
        self._signer: Any = None
        self._range: tree.CompactRange | None = None  # the newest checkpoint's, verified
        self._ready = False  # directory and keys known to exist
        self._thread_lock = threading.RLock()
        self._depth = 0
        self._latest_link = os.path.join(self.directory, CHECKPOINTS, LATEST)
        self._tail: tuple[int, int] | None = None  # (records size, entries end) we left
        self._made = self._made_checked = 0.0  # newest checkpoint's time, when we looked

    # ---- files ------------------------------------------------------------------------

    def _path(self, name: str) -> Path:
        return self.directory / name

    def _fd(self, name: str, *, write: bool = False) -> int:
        key = name + ("+w" if write else "")
        fd = self._fds.get(key)
        if fd is None:
            path = self.directory / name
            flags = os.O_CLOEXEC | (os.O_RDWR | os.O_CREAT | os.O_APPEND if write
                                    else os.O_RDONLY)
            try:
                fd = os.open(path, flags, 0o600)
            except FileNotFoundError:
                raise
            except OSError as exc:
                raise _os_error(path, exc, "open it") from None
            self._fds[key] = fd
        return fd

    def _size_of(self, name: str) -> int:
        try:
            return os.fstat(self._fd(name)).st_size
        except FileNotFoundError:
            return 0

    def close(self) -> None:
        fds, self._fds = self._fds, {}
        for fd in fds.values():
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> LogStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        # No module globals here: at interpreter exit contextlib and os may be gone.
        try:  # noqa: SIM105
            self.close()
        except Exception:
            pass

    def exists(self) -> bool:
        return self._path(VKEY).is_file()

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the log's exclusive lock (creating the log on first use). flock(2) excludes
        other processes and other stores; the thread lock, other threads using this store
        (they share its descriptor, which flock cannot tell apart)."""
        with self._thread_lock:
            if self._depth:  # already held by this thread: flock again would be a no-op
                self._depth += 1  # and its unlock would release the outer hold
                try:
                    yield
                finally:
                    self._depth -= 1
                return
            self._depth = 1
            try:
                with self._flocked():
                    yield
            finally:
                self._depth = 0

    @contextlib.contextmanager
    def _flocked(self) -> Iterator[None]:
        import fcntl

        from pqml._internal.home import ensure_private_dir

        try:
            if not self._ready:
                ensure_private_dir(self.directory)
            fd = self._fd(LOCK, write=True)
            fcntl.flock(fd, fcntl.LOCK_EX)
        except OSError as exc:
            raise _os_error(self.directory, exc, "lock the log") from None
        try:
            if not self._ready and not self.exists():
                self._create_keys()
            self._ready = True
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _create_keys(self) -> None:
        """First use: the ML-DSA-44 log key, its vkey (naming a fresh origin) and the tag
        key. Called under the lock; the vkey is written last, so its presence means all
        three exist."""
        from pqml._internal.output_file import write_atomic
        from pqml.formats.keyfile import private_key_to_pem
        from pqml.formats.tlog import mldsa44_vkey
        from pqml.primitives import registry

        key = registry.scheme(LOG_KEY_ALGORITHM).generate()
        vkey = mldsa44_vkey(_origin(), key.public_key().public_bytes())
        for name, data, mode in ((SIGNING_KEY, private_key_to_pem(key), 0o600),
                                 (TAG_KEY, os.urandom(32), 0o600),
                                 (VKEY, f"{vkey}\n".encode(), 0o644)):
            write_atomic(self._path(name), data, mode=mode, overwrite=True)
        (self.directory / CHECKPOINTS).mkdir(mode=0o700, exist_ok=True)
        (self.directory / TREE).mkdir(mode=0o700, exist_ok=True)

    # ---- keys -------------------------------------------------------------------------

    @property
    def vkey(self) -> VerifierKey:
        """The log's C2SP verifier key (its name is the origin)."""
        if self._vkey is None:
            from pqml.formats.errors import NoteFormatError
            from pqml.formats.signed_note import parse_vkey

            path = self._path(VKEY)
            try:
                text = path.read_text("ascii").strip()
            except FileNotFoundError:
                raise LogError(f"{self.directory}: no transparency log here (no {VKEY})"
                               ) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise LogError(f"{path}: cannot read the log's verifier key: {exc}") from None
            try:
                self._vkey = parse_vkey(text)
            except NoteFormatError as exc:
                raise LogError(f"{path}: {exc}") from None
        return self._vkey

    @property
    def origin(self) -> str:
        return self.vkey.name

    def tag_key(self) -> bytes | None:
        """The per-entry tag key, or None where it cannot be read (a copy of the log
        holding only public files)."""
        if self._tag_key is None:
            try:
                data = self._path(TAG_KEY).read_bytes()
            except FileNotFoundError:
                return None
            except OSError as exc:
                raise _os_error(self._path(TAG_KEY), exc, "read the entry tag key") from None
            if len(data) != 32:
                raise LogError(f"{self._path(TAG_KEY)}: the entry tag key is not 32 bytes")
            self._tag_key = data
        return self._tag_key

    def _require_tag_key(self) -> bytes:
        key = self.tag_key()
        if key is None:
            raise LogError(f"{self._path(TAG_KEY)}: missing; this copy of the log cannot "
                           "be appended to or signed")
        return key

    def signing_key(self) -> Any:
        if self._signer is None:
            from pqml.formats.keyfile import load_private_key

            path = self._path(SIGNING_KEY)
            try:
                key = load_private_key(path.read_bytes())
            except FileNotFoundError:
                raise LogError(f"{path}: missing; this copy of the log cannot sign "
                               "checkpoints") from None
            except OSError as exc:
                raise _os_error(path, exc, "read the log key") from None
            except PqmlError as exc:
                raise LogError(f"{path}: {exc}") from None
            if key.algorithm != LOG_KEY_ALGORITHM or \
                    key.public_key().public_bytes() != self.vkey.public_key:
                raise LogError(f"{path}: the log key does not match {self._path(VKEY)}")
            self._signer = key
        return self._signer

    # ---- records ------------------------------------------------------------------------

    @property
    def size(self) -> int:
        """The number of committed entries (a partial trailing record does not count)."""
        return self._size_of(RECORDS) // RECORD_SIZE

    def _read(self, name: str, offset: int, length: int) -> bytes:
        try:
            data = os.pread(self._fd(name), length, offset)
        except FileNotFoundError:
            data = b""
        except OSError as exc:
            raise _os_error(self._path(name), exc, "read it") from None
        if len(data) != length:
            raise LogTamperedError(f"{self._path(name)}: ends early (wanted bytes "
                                   f"{offset}..{offset + length})")
        return data

    def record(self, index: int) -> Record:
        return Record.parse(self._read(RECORDS, index * RECORD_SIZE, RECORD_SIZE))

    def records(self, start: int, stop: int) -> list[Record]:
        raw = self._read(RECORDS, start * RECORD_SIZE, (stop - start) * RECORD_SIZE)
        return [Record.parse(raw[i:i + RECORD_SIZE]) for i in range(0, len(raw), RECORD_SIZE)]

    def _entry_bytes(self, rec: Record, index: int) -> bytes:
        if rec.length > MAX_ENTRY_BYTES:
            raise LogTamperedError(f"{self.directory}: the record of entry {index} claims "
                                   f"{rec.length} bytes (entries are at most {MAX_ENTRY_BYTES})")
        data = self._read(ENTRIES, rec.offset, rec.length)
        if rec.index != index or merkle.leaf_hash(data) != rec.leaf:
            raise LogTamperedError(f"{self.directory}: entry {index} does not match its "
                                   "record (run pqml log verify)")
        return data

    def entry_bytes(self, index: int) -> bytes:
        """The canonical bytes of entry ``index`` (checked against its record)."""
        self._check_index(index)
        return self._entry_bytes(self.record(index), index)

    def entry(self, index: int) -> LogEntry:
        return self._parse(index, self.entry_bytes(index))

    def _parse(self, index: int, data: bytes) -> LogEntry:
        try:
            return LogEntry.from_bytes(data)
        except LogEntryError as exc:
            raise LogTamperedError(f"{self.directory}: entry {index}: {exc}") from None

    def _check_index(self, index: int) -> None:
        if not 0 <= index < self.size:
            raise LogError(f"{self.directory}: no entry {index} (the log has {self.size})")

    def entries(self, start: int = 0) -> Iterator[tuple[int, LogEntry]]:
        """``(index, entry)`` for every committed entry from ``start``, each checked
        against its record's leaf hash (``pqml log verify`` checks the rest)."""
        index = max(start, 0)
        while True:
            stop = min(self.size, index + MAX_RECORD_READ)
            if stop <= index:
                return
            recs = self.records(index, stop)
            first, last = recs[0], recs[-1]
            lo, hi = first.offset, last.offset + last.length
            if hi > self._size_of(ENTRIES) or any(
                    not lo <= r.offset <= r.offset + r.length <= hi for r in recs):
                raise LogTamperedError(f"{self.directory}: records {index}..{stop - 1} point "
                                       "outside the entries (run pqml log verify)")
            blob = self._read(ENTRIES, lo, hi - lo)
            for i, rec in enumerate(recs, index):
                data = blob[rec.offset - lo:rec.offset - lo + rec.length]
                if rec.index != i or merkle.leaf_hash(data) != rec.leaf:
                    raise LogTamperedError(f"{self.directory}: entry {i} does not match its "
                                           "record (run pqml log verify)")
                yield i, self._parse(i, data)
            index = stop

    def follow(self, start: int = 0, *, poll: float = 0.2) -> Iterator[tuple[int, LogEntry]]:
        """:meth:`entries`, then every entry appended later, as it is committed (polls
        the record file's size every ``poll`` seconds; stop by closing the iterator)."""
        index = max(start, 0)
        while True:
            for found, entry in self.entries(index):
                yield found, entry
                index = found + 1
            while self.size <= index:
                time.sleep(poll)  # tailing a file: nothing to wait on but its growth

    # ---- appending ----------------------------------------------------------------------

    def append(self, entry: LogEntry) -> int:
        """Append one entry; return its index. Signs a checkpoint when one is due."""
        return self.append_many((entry,))[0]

    def append_many(self, entries: Iterable[LogEntry]) -> range:
        """Append entries in order under one lock; return their indices."""
        lines = [e.to_bytes() for e in entries]
        if not lines:
            return range(self.size, self.size)
        with self.locked():
            first = self._append_locked(lines)
            if self._checkpoint_due(first, first + len(lines)):
                self._checkpoint_locked()
        return range(first, first + len(lines))

    def _append_locked(self, lines: list[bytes]) -> int:
        key = self._require_tag_key()
        rec_fd, ent_fd = self._fd(RECORDS, write=True), self._fd(ENTRIES, write=True)
        rsize = os.fstat(rec_fd).st_size
        if rsize % RECORD_SIZE:
            raise LogError(f"{self._path(RECORDS)}: ends in a partial record ({rsize % 64} "
                           "bytes: an append was cut off by a crash or full disk); run "
                           "`pqml log recover` before appending")
        n = rsize // RECORD_SIZE
        end = 0
        if self._tail is not None and self._tail[0] == rsize:
            end = self._tail[1]  # nobody appended since our own last append
        elif n:
            last = Record.parse(os.pread(rec_fd, RECORD_SIZE, rsize - RECORD_SIZE))
            end = last.offset + last.length + 1
        esize = os.fstat(ent_fd).st_size
        prefix = b""
        if esize < end:
            raise LogTamperedError(f"{self._path(ENTRIES)}: is {esize} bytes but entry "
                                   f"{n - 1} ends at byte {end}: it was truncated")
        if esize > end and os.pread(ent_fd, 1, esize - 1) != b"\n":
            prefix = b"\n"  # a writer died mid-line: start ours on a fresh one
        offset = esize + len(prefix)
        blob, recs = [prefix], []
        for i, data in enumerate(lines, n):
            body = _BODY.pack(merkle.leaf_hash(data), i, offset, len(data))
            recs.append(body + entry_tag(key, body))
            blob += (data, b"\n")
            offset += len(data) + 1
        self._write_all(ent_fd, b"".join(blob), ENTRIES)
        raw = b"".join(recs)
        try:
            written = os.pwrite(rec_fd, raw, rsize)
        except OSError as exc:
            written, error = 0, exc
        else:
            error = None
        if written != len(raw):  # take back our own partial record: it was never committed
            with contextlib.suppress(OSError):
                os.ftruncate(rec_fd, rsize)
            raise _os_error(self._path(RECORDS), error or OSError(errno.ENOSPC, "short write"),
                            "append to it")
        self._tail = (rsize + len(raw), offset)
        return n

    def _write_all(self, fd: int, data: bytes, name: str) -> None:
        view = memoryview(data)
        try:
            while view:
                view = view[os.write(fd, view):]
        except OSError as exc:
            raise _os_error(self._path(name), exc, "append to it") from None

    # ---- checkpoints --------------------------------------------------------------------

    def _checkpoint_due(self, old: int, new: int) -> bool:
        if new // self.checkpoint_every > old // self.checkpoint_every:
            return True
        now = time.time()
        if now - self._made_checked > 1.0:  # look at most once a second: it is coarse
            try:
                self._made = os.lstat(self._latest_link).st_mtime
            except FileNotFoundError:
                return True
            self._made_checked = now
        return now - self._made >= self.checkpoint_seconds

    def checkpoints(self) -> list[StoredCheckpoint]:
        """Every stored checkpoint, by tree size, each verified with the log's key."""
        folder = self._path(CHECKPOINTS)
        try:
            names = sorted(n for n in os.listdir(folder) if _CHECKPOINT_NAME.fullmatch(n))
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise _os_error(folder, exc, "list the checkpoints") from None
        return [self._load_checkpoint(folder / name) for name in names]

    def _load_checkpoint(self, path: Path) -> StoredCheckpoint:
        try:
            with open(path, "rb") as f:
                note = f.read(MAX_CHECKPOINT_BYTES + 1)
        except OSError as exc:
            raise _os_error(path, exc, "read the checkpoint") from None
        if len(note) > MAX_CHECKPOINT_BYTES:
            raise LogTamperedError(f"{path}: is larger than any checkpoint")
        head, timestamp = self.check_checkpoint(note, what=str(path))
        if int(path.name) != head.size:
            raise LogTamperedError(f"{path}: names tree size {int(path.name)} but signs "
                                   f"{head.size}")
        return StoredCheckpoint(head.size, note, head.root_hash, timestamp, path)

    def check_checkpoint(self, note: bytes, *, what: str = "checkpoint"
                         ) -> tuple[Checkpoint, int]:
        """Verify a checkpoint with this log's key; return it and its signing time."""
        return check_checkpoint(note, self.vkey, what=what)

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        folder = self._path(CHECKPOINTS)
        try:
            name = os.readlink(folder / LATEST)
        except FileNotFoundError:
            name = None
        except OSError as exc:
            raise _os_error(folder / LATEST, exc, "read it") from None
        # A pointer left stale by a signer killed before re-pointing costs only a
        # checkpoint signed again from an older tree (consistent all the same).
        if name is not None and _CHECKPOINT_NAME.fullmatch(name) and (folder / name).exists():
            return self._load_checkpoint(folder / name)
        found = self.checkpoints()
        return found[-1] if found else None

    def checkpoint(self) -> bytes:
        """Sign a checkpoint of the whole log now (unless the newest already covers every
        entry); return the newest signed checkpoint note."""
        with self.locked():
            return self._checkpoint_locked().note

    def _checkpoint_locked(self) -> StoredCheckpoint:
        key = self._require_tag_key()
        n = self.size
        latest = self.latest_checkpoint()
        old = latest.size if latest else 0
        if latest and old > n:
            raise LogTamperedError(f"{self.directory}: the log has {n} entries but checkpoint "
                                   f"{old} covers {old}: entries {n}..{old - 1} are gone")
        if latest and old == n:
            return latest
        crange = self._verified_range(latest)
        if n > old:
            self._extend(crange, old, n, key)
        for name in (ENTRIES, RECORDS):
            with contextlib.suppress(FileNotFoundError):
                os.fdatasync(self._fd(name, write=True))
        from pqml.formats.signed_note import Note, serialize_note
        from pqml.formats.tlog import Checkpoint, cosign_mldsa44

        head = Checkpoint(self.origin, n, crange.root())
        stamp = max(int(time.time()), latest.timestamp if latest else 0)
        try:
            signature = cosign_mldsa44(head, self.origin, self.signing_key(), stamp)
        except PqmlError as exc:
            raise LogError(f"{self.directory}: cannot sign a checkpoint: {exc}") from None
        note = serialize_note(Note(head.text(), (signature,)))
        path = self._path(CHECKPOINTS) / f"{n:020d}"
        from pqml._internal.errors import OutputExistsError
        from pqml._internal.output_file import write_atomic

        with contextlib.suppress(OutputExistsError):  # re-signing a size: keep the first
            write_atomic(path, note, mode=0o644, overwrite=False)
        self._point_latest(path.name)
        self._made = self._made_checked = time.time()
        self._range = crange
        return self._load_checkpoint(path)

    def _point_latest(self, name: str) -> None:
        folder = self._path(CHECKPOINTS)
        temp = folder / f".latest.{os.urandom(4).hex()}"
        try:
            os.symlink(name, temp)
            os.replace(temp, folder / LATEST)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise _os_error(folder / LATEST, exc, "update it") from None

    def _verified_range(self, latest: StoredCheckpoint | None) -> tree.CompactRange:
        """The compact range of the newest checkpoint's tree, checked against its signed
        root (rebuilt from the records if the cached nodes disagree)."""
        if latest is None:
            return tree.CompactRange()
        cached = self._range
        if cached is not None and cached.size == latest.size and \
                cached.root() == latest.root_hash:
            return tree.CompactRange(cached.size, cached.hashes)
        with contextlib.suppress(LogError, OSError):
            crange = tree.CompactRange.read(self.node, latest.size)
            if crange.root() == latest.root_hash:
                return crange
        crange = self.rebuild_tree(latest.size)
        if crange.root() != latest.root_hash:
            raise LogTamperedError(f"{self.directory}: the first {latest.size} entries do not "
                                   f"match checkpoint {latest.size} (run pqml log verify)")
        return crange

    def _extend(self, crange: tree.CompactRange, start: int, stop: int, key: bytes) -> None:
        """Check entries ``[start, stop)`` (leaf, index, tag) and add them to ``crange``,
        caching the interior nodes they complete."""
        nodes: dict[int, list[tuple[int, bytes]]] = {}
        for lo in range(start, stop, MAX_RECORD_READ):
            hi = min(stop, lo + MAX_RECORD_READ)
            recs = self.records(lo, hi)
            for i, rec in enumerate(recs, lo):
                if not rec.tag_ok(key):
                    raise LogTamperedError(f"{self.directory}: the record of entry {i} does "
                                           "not verify (run pqml log verify)")
                self._entry_bytes(rec, i)
                for level, index, h in crange.append(rec.leaf):
                    nodes.setdefault(level, []).append((index, h))
        self._write_nodes(nodes)

    # ---- tree cache ---------------------------------------------------------------------

    def node(self, level: int, index: int) -> bytes:
        """The hash of complete subtree ``(level, index)`` from the records (level 0) or
        the tree cache; LogError if the cache lacks it."""
        if level == 0:
            return self._read(RECORDS, index * RECORD_SIZE, HASH_SIZE)
        name = f"{TREE}/{level}"
        try:
            return self._read(name, index * HASH_SIZE, HASH_SIZE)
        except (FileNotFoundError, LogTamperedError):
            raise LogError(f"{self._path(name)}: tree cache lacks node {index}") from None

    def _write_nodes(self, nodes: dict[int, list[tuple[int, bytes]]]) -> None:
        for level, items in nodes.items():
            if not items:
                continue
            name = f"{TREE}/{level}"
            path = self._path(name)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except FileNotFoundError:
                self._path(TREE).mkdir(mode=0o700, exist_ok=True)
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
            try:  # consecutive indices: one write; a node's place is fixed, so rewriting is
                first = items[0][0]  # idempotent and heals a torn or stale cache
                if all(idx == first + k for k, (idx, _) in enumerate(items)):
                    os.pwrite(fd, b"".join(h for _, h in items), first * HASH_SIZE)
                else:
                    for idx, h in items:
                        os.pwrite(fd, h, idx * HASH_SIZE)
            except OSError as exc:
                raise _os_error(path, exc, "write the tree cache") from None
            finally:
                os.close(fd)
            stale = self._fds.pop(name, None)  # readers reopen: the file may be new
            if stale is not None:
                os.close(stale)

    def rebuild_tree(self, size: int | None = None) -> tree.CompactRange:
        """Recompute the tree cache for the first ``size`` entries from the records' leaf
        hashes (derived data: nothing of the log changes); return the compact range."""
        size = self.size if size is None else size
        crange = tree.CompactRange()
        nodes: dict[int, list[tuple[int, bytes]]] = {}
        for lo in range(0, size, MAX_RECORD_READ * 16):
            hi = min(size, lo + MAX_RECORD_READ * 16)
            raw = self._read(RECORDS, lo * RECORD_SIZE, (hi - lo) * RECORD_SIZE)
            for off in range(0, len(raw), RECORD_SIZE):
                for level, index, h in crange.append(raw[off:off + HASH_SIZE]):
                    nodes.setdefault(level, []).append((index, h))
        self._write_nodes(nodes)
        return crange

    # ---- proofs -------------------------------------------------------------------------

    def prove(self, index: int, *, checkpoint: bytes | None = None) -> bytes:
        """A c2sp.org/tlog-proof@v1 for entry ``index`` carrying the entry's bytes as its
        extra data, under ``checkpoint`` (default: a checkpoint of the whole log, signed
        now if needed). The proof is checked before it is returned."""
        if checkpoint is None:
            try:
                checkpoint = self.checkpoint()
            except LogTamperedError:
                raise
            except LogError:  # a read-only copy, or one without the keys: its newest will do
                latest = self.latest_checkpoint()
                if latest is None:
                    raise
                checkpoint = latest.note
        head, _ = self.check_checkpoint(checkpoint)
        self._check_index(index)
        if index >= head.size:
            raise LogError(f"entry {index} is not covered by checkpoint {head.size} "
                           f"(it covers entries 0..{head.size - 1})")
        entry = self.entry_bytes(index)
        for attempt in range(2):
            try:
                path = tree.inclusion_proof(self.node, index, head.size)
                merkle.verify_inclusion(merkle.leaf_hash(entry), index, head.size, path,
                                        head.root_hash)
                break
            except (LogError, MerkleProofError):
                if attempt:
                    raise LogTamperedError(f"{self.directory}: entry {index} is not in the "
                                           f"tree checkpoint {head.size} signs (run pqml log "
                                           "verify)") from None
                with self.locked():
                    self.rebuild_tree(head.size)
        from pqml.formats.tlog import TlogProof

        return TlogProof(index, tuple(path), checkpoint, entry).to_bytes()

    def consistency(self, old_size: int, size: int) -> list[bytes]:
        """The RFC 6962 consistency proof between two tree sizes of this log (from the
        tree cache, which the checkpoints that cover ``size`` keep complete)."""
        if not 0 <= old_size <= size <= self.size:
            raise LogError(f"tree sizes {old_size}..{size} are outside 0..{self.size}")
        return tree.consistency_proof(self.node, old_size, size)

    # ---- recovery -----------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Cut a partial trailing record (left by a power loss or a full disk) so appends
        can continue; every cut is written to ``recovery.log`` first. Returns what was
        done (nothing if there was nothing to do). Committed entries are never touched."""
        done: list[str] = []
        with self.locked():
            fd = self._fd(RECORDS, write=True)
            rsize = os.fstat(fd).st_size
            cut = rsize % RECORD_SIZE
            if cut:
                tail = os.pread(fd, cut, rsize - cut)
                note = (f"{time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())} removed a "
                        f"partial record of {cut} bytes at {RECORDS} offset {rsize - cut} "
                        f"(after entry {rsize // RECORD_SIZE - 1}): {tail.hex()}")
                with open(self._path(RECOVERY_LOG), "a", encoding="utf-8") as f:
                    f.write(note + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                os.ftruncate(fd, rsize - cut)
                done.append(note)
        return done


def check_checkpoint(note: bytes, vkey: VerifierKey, *, what: str = "checkpoint"
                     ) -> tuple[Checkpoint, int]:
    """Verify a signed checkpoint against one log's verifier key; return it and the
    timestamp of that key's cosignature. Errors are one line naming ``what``."""
    from pqml.formats.errors import NoteFormatError
    from pqml.formats.signed_note import parse_note
    from pqml.formats.tlog import verify_checkpoint
    from pqml.primitives.errors import InvalidSignatureError

    try:
        head = verify_checkpoint(note, vkey.name, [vkey])
    except NoteFormatError as exc:
        raise LogError(f"{what}: not a checkpoint: {exc}") from None
    except InvalidSignatureError as exc:
        origin = _origin_of(note)
        if origin is not None and origin != vkey.name:
            raise LogError(f"{what}: is a checkpoint of another log ({origin!r}, not "
                           f"{vkey.name!r})") from None
        raise LogError(f"{what}: not signed by the log key {vkey.name}+{vkey.key_id:08x}: "
                       f"{exc}") from None
    for sig in parse_note(note).signatures:
        if (sig.name, sig.key_id) == (vkey.name, vkey.key_id):
            return head, struct.unpack(">Q", sig.signature[:8])[0]
    raise LogError(f"{what}: has no signature by {vkey.name}")  # pragma: no cover


def _origin_of(note: bytes) -> str | None:
    from pqml.formats.errors import NoteFormatError
    from pqml.formats.signed_note import parse_note
    from pqml.formats.tlog import parse_checkpoint

    try:
        return parse_checkpoint(parse_note(note).text).origin
    except NoteFormatError:
        return None

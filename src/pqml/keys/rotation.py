"""Rotate a keyring key: make its successor, move every asset it protects, retire it.

``rotate(keyring, KEY)`` runs these steps, each recorded in a journal
(``$PQML_HOME/journals/rotate-<key id>.jsonl``, one JSON record per line, each fsynced
before the next step starts):

1. ``begin``: the key and the mode (``rewrap``: header only, the payload untouched;
   ``new-file-key``: payload re-encrypted under a fresh file key, see
   :mod:`pqml.encryption.rekey`).
2. ``successor``: a new key of the same algorithm and purpose, PENDING, made under a
   label derived from the old key's id (``rotating.<id>``), so a crash between making it
   and journalling it finds it again instead of making a second one.
3. one ``asset`` record per asset the keyring links to the key, by batches of
   :data:`BATCH`: each file is rekeyed (successor's stanza added, old one removed,
   through :func:`rekey_many`, whose writes are atomic and synced before they replace
   anything), then the batch's keyring links are moved (:meth:`Keyring.move_asset`),
   then its records are written and synced once. Asset records need no sync of their
   own because a resumed run can tell each step from the file and the keyring: a file
   that no longer has the old key's stanza but opens with the successor was rekeyed
   before a crash, so only its link is moved (``already``) and no file is ever rewrapped
   twice; an asset linked to the still-pending successor was moved just before one.
   A missing file is reported and skipped (``missing``); a file that cannot be rekeyed
   (locked by another rekey, damaged, a recipient whose public key is unknown for
   ``new-file-key``) is reported (``failed``) and keeps its link to the old key, which
   still decrypts it once retired. Assets recorded for the key while the
   rotation runs are picked up before promotion, and once more after it.
4. ``promoted``: the successor becomes active, the two keys are linked (predecessor /
   successor), the old key's label moves to the successor, and the old key is retired.
   Each of these is idempotent (skipped when already done).
5. ``complete``; the journal is renamed ``rotate-<id>.<time>.done.jsonl`` and kept.

The journal is locked (``flock``) for the whole run, so a second rotation of the same
key at the same time fails at once. A process killed at any point (SIGKILL included)
leaves a journal the next ``rotate`` of that key (or ``resume``) reads and completes:
every step is either recorded, or redone and found already done. A torn last line (a
kill during a write) is ignored. Rotating a key that was already rotated moves any
assets still linked to it (e.g. those that failed before) to its successor.

Signature keys rotate the same way, but their assets stay where they are: a signature
by the retired key still verifies, and moving it would mean re-signing the model.

For tests, ``PQML_ROTATION_DIE_AT=<point>`` makes the process SIGKILL itself at a named
point (see :func:`_checkpoint`).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pqml.keys.errors import RotationError
from pqml.keys.states import KeyState
from pqml.primitives.errors import PqmlError

if TYPE_CHECKING:
    from pqml.keys.keyring import AssetRecord, KeyRecord, Keyring

Mode = Literal["rewrap", "new-file-key"]
MODES: tuple[Mode, ...] = ("rewrap", "new-file-key")
JOURNALS = "journals"
DIE_AT_ENV = "PQML_ROTATION_DIE_AT"
BATCH = 32
"""Assets rekeyed between two journal syncs and keyring link moves."""
WORKERS = 8
"""Threads rekeying one batch: mostly waiting for their files' syncs (the GIL is held
only for the few microseconds of each file's cryptography)."""
MAX_JOURNAL = 64 * 1024 * 1024
"""A journal larger than this is not read (one record per asset: millions of assets)."""


def _emit(event: str, **details: Any) -> None:
    """Put ``key.rotate`` on the transparency log once a rotation completes (details:
    old, successor, mode, moved, missing, failed); its key ids are old and successor."""
    from pqml.log import recorder
    from pqml.log.entry import LogEntry

    keys = (str(details["old"]), str(details["successor"]))
    recorder.record_or_warn(lambda: LogEntry(event, "ok", key_ids=keys, details={
        k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
        for k, v in details.items()}))


def _checkpoint(point: str) -> None:
    """Die here, by SIGKILL, if ``$PQML_ROTATION_DIE_AT`` names this point. Points:
    ``after-begin``, ``successor-made`` (made, not yet journalled), ``after-successor``,
    ``after-rekey:N`` (the run's N-th asset's file, from 0, rekeyed), ``after-links:B``
    (batch B's links moved, not journalled), ``after-batch:B``, ``before-promote``,
    ``after-activate``, ``after-link-successor``, ``after-label``, ``after-retire``,
    ``after-complete``."""
    if os.environ.get(DIE_AT_ENV) == point:
        os.kill(os.getpid(), signal.SIGKILL)


# ---- results --------------------------------------------------------------------------------

Status = Literal["rewrapped", "re-encrypted", "already", "missing", "skipped", "failed",
                 "kept"]


@dataclass
class AssetOutcome:
    """What the rotation did to one asset: ``rewrapped`` / ``re-encrypted`` (now),
    ``already`` (done before a crash; link moved), ``missing`` (file gone), ``skipped``
    (the file no longer has the key's stanza), ``failed`` (``reason`` says why),
    ``kept`` (a signature key's asset, left as it is)."""

    path: str
    status: Status
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class RotationResult:
    old: str
    successor: str
    mode: Mode
    resumed: bool
    journal: str
    assets: list[AssetOutcome] = field(default_factory=list)
    already_rotated: bool = False  # the key had been rotated before; leftovers moved

    def count(self, *statuses: str) -> int:
        return sum(1 for a in self.assets if a.status in statuses)

    @property
    def moved(self) -> int:
        return self.count("rewrapped", "re-encrypted", "already")

    def to_dict(self) -> dict[str, Any]:
        return {"old": self.old, "successor": self.successor, "mode": self.mode,
                "resumed": self.resumed, "already_rotated": self.already_rotated,
                "journal": self.journal, "moved": self.moved,
                "missing": self.count("missing"), "skipped": self.count("skipped"),
                "failed": self.count("failed"), "kept": self.count("kept"),
                "assets": [a.to_dict() for a in self.assets]}


# ---- the journal ----------------------------------------------------------------------------


def journal_dir(home: Path) -> Path:
    return home / JOURNALS


def journal_path(home: Path, key_id: str) -> Path:
    return journal_dir(home) / f"rotate-{key_id}.jsonl"


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Journal:
    """An append-only, fsynced, locked JSON-lines file of one rotation's steps."""

    def __init__(self, path: Path, key_name: str) -> None:
        self.path = path
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        created = not path.exists()
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise RotationError(f"key {key_name}: another rotation of this key is running "
                                f"(it holds {path}); let it finish") from None
        if created:
            _fsync_dir(path.parent)
        self.records = self._read()

    def _read(self) -> list[dict[str, Any]]:
        size = os.fstat(self._fd).st_size
        if size > MAX_JOURNAL:
            raise RotationError(f"{self.path}: journal larger than {MAX_JOURNAL} bytes; "
                                "refusing to read it")
        data = os.pread(self._fd, size, 0)
        if data and not data.endswith(b"\n"):
            # a write cut short by a kill: drop the partial record, so the next one
            # starts on a line of its own
            keep = data.rfind(b"\n") + 1
            os.ftruncate(self._fd, keep)
            os.fsync(self._fd)
            data = data[:keep]
        records = []
        for number, line in enumerate(data.splitlines(), 1):
            try:
                record = json.loads(line)
            except ValueError:
                record = None
            if not isinstance(record, dict) or not isinstance(record.get("step"), str):
                raise RotationError(f"{self.path}: line {number} is not a journal record; "
                                    "the journal is damaged (nothing was changed)")
            records.append(record)
        return records

    def append(self, record: dict[str, Any], *, sync: bool = True) -> None:
        """Append one record; durable on return unless ``sync`` is False (then at the
        next :meth:`sync`: asset records of a batch, each of which a resumed run can
        also tell from the file and the keyring)."""
        line = json.dumps(record, separators=(",", ":"), sort_keys=True).encode() + b"\n"
        try:
            os.write(self._fd, line)
        except OSError as exc:
            raise RotationError(f"{self.path}: cannot write the journal: "
                                f"{exc.strerror or exc}") from None
        self.records.append(record)
        if sync:
            self.sync()

    def sync(self) -> None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            raise RotationError(f"{self.path}: cannot write the journal: "
                                f"{exc.strerror or exc}") from None

    def first(self, step: str) -> dict[str, Any] | None:
        return next((r for r in self.records if r["step"] == step), None)

    def archive(self) -> Path:
        """Rename the finished journal out of the way (kept as history)."""
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        done = self.path.with_name(f"{self.path.stem}.{stamp}.done.jsonl")
        n = 1
        while done.exists():
            done = self.path.with_name(f"{self.path.stem}.{stamp}-{n}.done.jsonl")
            n += 1
        os.rename(self.path, done)
        _fsync_dir(self.path.parent)
        return done

    def close(self) -> None:
        with contextlib.suppress(OSError):
            os.close(self._fd)


@contextlib.contextmanager
def _journal(home: Path, key: KeyRecord) -> Iterator[Journal]:
    journal = Journal(journal_path(home, key.id), key.name)
    try:
        yield journal
    finally:
        if not journal.records:  # refused before its first step: leave nothing behind
            with contextlib.suppress(OSError):
                journal.path.unlink()
        journal.close()


def pending(home: Path) -> list[str]:
    """Ids of the keys whose rotation was interrupted (a journal is left)."""
    directory = journal_dir(home)
    if not directory.is_dir():
        return []
    return sorted(p.name[len("rotate-"):-len(".jsonl")] for p in directory.iterdir()
                  if p.name.startswith("rotate-") and p.name.endswith(".jsonl")
                  and not p.name.endswith(".done.jsonl"))


# ---- the rotation ---------------------------------------------------------------------------


def _temporary_label(key_id: str) -> str:
    return f"rotating.{key_id[:40]}"


@dataclass
class _Keys:
    """What moving assets needs: both keys' public halves, the old key's private half
    and the successor's (to tell a file already moved)."""

    old: KeyRecord
    new: KeyRecord
    old_public: Any
    new_public: Any
    old_private: Any
    new_private: Any
    others: list[Any] | None = None  # other keyring identities, for age files (lazy)

    def age_identities(self, keyring: Keyring) -> list[Any]:
        """The private keys of the keyring's other active or retired encryption keys
        that need no passphrase: with a new file key, an age file's other stanzas (which
        name no recipient) are kept only if one of them opens it (a revoked key's stanza
        is not carried over: such a file fails until ``rekey --drop-revoked``)."""
        if self.others is None:
            self.others = []
            for record in keyring.list(state=(KeyState.ACTIVE, KeyState.RETIRED),
                                       purpose="encrypt"):
                if record.id in (self.old.id, self.new.id) or not record.has_private \
                        or record.encrypted or record.algorithm not in ("X-Wing", "X25519"):
                    continue
                with contextlib.suppress(PqmlError):
                    self.others.append(keyring.private_key(record.id, use="decrypt"))
        return self.others


def _successor(keyring: Keyring, old: KeyRecord, passphrase: bytes | None) -> KeyRecord:
    """The successor: found by its temporary label if a crash came after making it,
    else made now (same algorithm and purpose, PENDING, same passphrase protection)."""
    from pqml.keys.errors import UnknownKeyError

    label = _temporary_label(old.id)
    with contextlib.suppress(UnknownKeyError):
        found = keyring.get(label)
        if found.label == label:
            return found
    return keyring.new(old.algorithm, label=label, purpose=old.purpose,
                       passphrase=passphrase if old.encrypted else None,
                       state=KeyState.PENDING)


def _load_keys(keyring: Keyring, old: KeyRecord, new: KeyRecord,
               passphrase: bytes | None) -> _Keys:
    from pqml.keys import key_files

    old_private = keyring.private_key(old.id, use="decrypt", passphrase=passphrase)
    # the successor may still be pending (it may not decrypt yet); rotation reads its own
    # key file only to recognize the files it already moved
    _, data = keyring.key_file(new.id, private=True)
    new_private = key_files.load_private(data, passphrase=passphrase)
    return _Keys(old, new, keyring.public_key(old.id), keyring.public_key(new.id),
                 old_private, new_private)


def _opens_with(path: str, private_key: Any) -> bool:
    """Whether the encrypted file ``path`` has a stanza ``private_key`` opens."""
    from pqml.encryption import encrypted_formats as fmts
    from pqml.formats.age._io import Source

    try:
        with open(path, "rb") as f:
            probe = Source(f)
            detected = fmts.detect(probe.peek(64))
            source = fmts.unarmored(detected, probe)
            ids = fmts.prepare_identities(detected.format, [private_key])
            fmts.open_header(detected.format, source, ids)
        return True
    except (PqmlError, OSError):
        return False


def _is_age(path: str) -> bool:
    from pqml.encryption import encrypted_formats as fmts

    try:
        with open(path, "rb") as f:
            return fmts.detect(f.read(64)).format == "age"
    except (PqmlError, OSError):
        return False


def _rekey_asset(asset: AssetRecord, keys: _Keys, mode: Mode, index: int,
                 identities: list[Any], find_public: Any) -> AssetOutcome:
    """Rekey one asset's file to the successor (any thread: no keyring use here, the
    finder has its own); its link is moved by the caller."""
    from pqml.encryption.errors import RekeyManyError
    from pqml.encryption.rekey import rekey_many

    path = asset.path
    if "://" in path:
        return AssetOutcome(path, "failed", "a remote asset: rekey it where it is stored")
    if not os.path.lexists(path):
        return AssetOutcome(path, "missing", "no such file (left linked to the old key)")
    try:
        outcome = rekey_many([path], identities, add=[keys.new_public],
                             remove=[keys.old_public], skip_missing=True,
                             new_file_key=mode == "new-file-key", find_public=find_public)[0]
    except RekeyManyError as exc:
        return AssetOutcome(path, "failed", exc.outcomes[0].reason if exc.outcomes
                            else str(exc))
    except (PqmlError, OSError) as exc:
        return AssetOutcome(path, "failed", str(exc))
    _checkpoint(f"after-rekey:{index}")
    if outcome.status != "skipped":
        return AssetOutcome(path, "re-encrypted" if mode == "new-file-key" else "rewrapped")
    if _opens_with(path, keys.new_private):
        return AssetOutcome(path, "already", "rekeyed before an interruption; link moved")
    return AssetOutcome(path, "skipped", "the file has no stanza of the old key (left "
                        "linked to it)")


def _public_key_finder(home: Path) -> Any:
    """``find_public`` over the keyring at ``home``, one connection per thread (an
    SQLite connection stays in the thread that made it)."""
    from pqml.keys.keyring import Keyring

    local = threading.local()

    def find(key_id: str) -> Any:
        ring = getattr(local, "ring", None)
        if ring is None:
            ring = local.ring = Keyring(home)
        try:
            return ring.public_key(key_id)
        except PqmlError:
            return None

    return find


class _LinkMover:
    """Moves asset links on a thread of its own (with its own keyring connection), so a
    batch's keyring transactions, each synced, overlap the rekeying of the next batch."""

    def __init__(self, home: Path) -> None:
        self._home = home
        self._ring: Keyring | None = None
        self._pool = ThreadPoolExecutor(1)

    def _move(self, paths: list[str], old: str, new: str) -> None:
        if self._ring is None:
            from pqml.keys.keyring import Keyring

            self._ring = Keyring(self._home)
        self._ring.move_assets(paths, old, new)  # one transaction per batch

    def submit(self, paths: list[str], old: str, new: str) -> Future[None]:
        return self._pool.submit(self._move, paths, old, new)

    def _close(self) -> None:
        if self._ring is not None:
            ring, self._ring = self._ring, None
            ring.close()

    def close(self) -> None:
        """Wait for the moves, and close the connection on the thread that opened it."""
        try:
            self._pool.submit(self._close).result()
        finally:
            self._pool.shutdown(wait=True)


def _promote(keyring: Keyring, old: KeyRecord, new_id: str, label: str | None) -> KeyRecord:
    """Successor active, keys linked, label moved, old key retired: each step skipped
    when it is already done, so a resumed rotation repeats none of them."""
    new = keyring.get(new_id)
    if new.state is KeyState.PENDING:
        new = keyring.set_state(new.id, KeyState.ACTIVE, reason=f"rotation of {old.id}")
    _checkpoint("after-activate")
    keyring.link_successor(old.id, new.id)
    _checkpoint("after-link-successor")
    temporary = _temporary_label(old.id)
    if new.label == temporary or (label is not None and new.label != label):
        current = keyring.get(old.id)
        if label is not None and current.label == label:
            keyring.set_label(old.id, None)
        new = keyring.set_label(new.id, label)
    _checkpoint("after-label")
    current = keyring.get(old.id)
    if current.state is KeyState.ACTIVE:
        keyring.set_state(old.id, KeyState.RETIRED, reason=f"rotated to {new.id}")
    _checkpoint("after-retire")
    return new


def _latest_successor(keyring: Keyring, key: KeyRecord) -> KeyRecord:
    seen = {key.id}
    current = key
    while current.successor is not None and current.successor not in seen:
        seen.add(current.successor)
        current = keyring.get(current.successor)
    return current


def rotate(keyring: Keyring, ref: str, *, mode: Mode | None = None,
           passphrase: bytes | None = None, resume_only: bool = False) -> RotationResult:
    """Rotate the key ``ref`` (see the module docstring), or finish an interrupted
    rotation of it. ``mode``: ``rewrap`` (default) or ``new-file-key``; a resumed
    rotation keeps the mode it started with (RotationError if another is asked for).
    ``passphrase`` opens the old key's private key and protects the successor's.
    ``resume_only``: only finish an interrupted rotation (RotationError if none)."""
    if mode is not None and mode not in MODES:
        raise RotationError(f"unknown rotation mode {mode!r} (rewrap or new-file-key)")
    old = keyring.get(ref)
    if old.encrypted and not passphrase:
        raise RotationError(f"key {old.name}: its private key is passphrase-protected; give "
                            "the passphrase (--passphrase-file or PQML_KEY_PASSPHRASE)")
    with _journal(keyring.home, old) as journal:
        begin = journal.first("begin")
        resumed = begin is not None
        already = False
        if begin is None:
            if resume_only:
                raise RotationError(f"key {old.name}: no interrupted rotation to resume")
            begin = {"step": "begin", "key": old.id, "mode": mode or "rewrap",
                     "label": old.label, "time": time.time()}
            if old.state is not KeyState.ACTIVE:
                if old.successor is None:
                    raise RotationError(f"key {old.name} is {old.state}: only an active key "
                                        "can be rotated")
                already = True  # move what is still linked to it to its successor
                begin["successor"] = _latest_successor(keyring, old).id
                begin["label"] = None  # labels were settled by the first rotation
            journal.append(begin)
        elif begin.get("key") != old.id:
            raise RotationError(f"{journal.path}: journal of another key "
                                f"({begin.get('key')}); not touched")
        elif mode is not None and mode != begin.get("mode"):
            raise RotationError(f"key {old.name}: an interrupted rotation in mode "
                                f"{begin.get('mode')} is to be finished first (run it "
                                f"again without --{mode})")
        run_mode: Mode = begin.get("mode", "rewrap")
        already = already or "successor" in begin
        _checkpoint("after-begin")
        new_id = begin.get("successor")
        recorded = journal.first("successor")
        if new_id is None and recorded is not None:
            new_id = recorded["id"]
        if new_id is None:
            new_id = _successor(keyring, old, passphrase).id
            _checkpoint("successor-made")
            journal.append({"step": "successor", "id": new_id})
        _checkpoint("after-successor")
        result = RotationResult(old.id, new_id, run_mode, resumed, str(journal.path),
                                already_rotated=already)
        result.assets += [AssetOutcome(r["path"], r["status"], r.get("reason"))
                          for r in journal.records if r["step"] == "asset"]
        _move_all(keyring, journal, old, new_id, run_mode, passphrase, result)
        _checkpoint("before-promote")
        if journal.first("promoted") is None:
            _promote(keyring, keyring.get(old.id), new_id, begin.get("label"))
            journal.append({"step": "promoted", "successor": new_id})
        # An encryption that chose the old key while it was still active may have linked
        # its file after the last sweep: once retired, nothing new is linked to it, so one
        # more sweep leaves none behind (only an encryption still running past this point
        # can; `keys status` shows it, and rotating the retired key again moves it).
        _move_all(keyring, journal, old, new_id, run_mode, passphrase, result)
        journal.append({"step": "complete"})
        _checkpoint("after-complete")
        result.journal = str(journal.archive())
    _emit("key.rotate", old=old.id, successor=new_id, mode=run_mode, moved=result.moved,
          missing=result.count("missing"), failed=result.count("failed"))
    return result


def _move_all(keyring: Keyring, journal: Journal, old: KeyRecord, new_id: str, mode: Mode,
              passphrase: bytes | None, result: RotationResult) -> None:
    """Every asset linked to ``old`` and not yet journalled, until none is left (assets
    recorded meanwhile are picked up too), in batches: the files of a batch are rekeyed
    by :data:`WORKERS` threads (their syncs overlap: a file is durable before it replaces
    the old one, and concurrent syncs share the filesystem's journal commits), then
    their links move (on another thread, while the next batch is rekeyed), then their
    records are written and synced once."""
    done = {r["path"] for r in journal.records if r["step"] == "asset"}
    if keyring.get(new_id).state is KeyState.PENDING:
        # linked to the pending successor but not journalled: moved just before a kill
        # (nothing else links assets to a pending key)
        for asset in keyring.assets(new_id):
            if asset.path not in done:
                outcome = AssetOutcome(asset.path, "already",
                                       "rekeyed and linked before an interruption")
                journal.append({"step": "asset", **outcome.to_dict()})
                result.assets.append(outcome)
                done.add(asset.path)
    keys: _Keys | None = None
    index = batch_number = 0
    find_public = _public_key_finder(keyring.home)
    links = _LinkMover(keyring.home)
    pending: tuple[int, list[AssetOutcome], Future[None]] | None = None

    def finish(item: tuple[int, list[AssetOutcome], Future[None]]) -> None:
        number, outcomes, moved = item
        moved.result()
        _checkpoint(f"after-links:{number}")
        for outcome in outcomes:
            journal.append({"step": "asset", **outcome.to_dict()}, sync=False)
            result.assets.append(outcome)
        journal.sync()
        _checkpoint(f"after-batch:{number}")

    try:
        with ThreadPoolExecutor(WORKERS) as pool:
            while True:
                todo = [a for a in keyring.assets(old.id) if a.path not in done]
                if not todo:
                    break
                if keys is None and old.purpose == "encrypt":
                    keys = _load_keys(keyring, keyring.get(old.id), keyring.get(new_id),
                                      passphrase)
                for start in range(0, len(todo), BATCH):
                    batch = todo[start:start + BATCH]
                    outcomes = _rekey_batch(keyring, pool, batch, keys, mode, index,
                                            find_public)
                    if pending is not None:  # the previous batch, its links moved meanwhile
                        finish(pending)
                    moved = [o.path for o in outcomes
                             if o.status in ("rewrapped", "re-encrypted", "already")]
                    pending = (batch_number, outcomes, links.submit(moved, old.id, new_id))
                    done.update(a.path for a in batch)
                    index += len(batch)
                    batch_number += 1
                if pending is not None:
                    finish(pending)
                    pending = None
    finally:
        links.close()


def _rekey_batch(keyring: Keyring, pool: ThreadPoolExecutor, batch: list[AssetRecord],
                 keys: _Keys | None, mode: Mode, index: int, find_public: Any
                 ) -> list[AssetOutcome]:
    if keys is None:  # a signature key: its assets stay signed by it
        return [AssetOutcome(a.path, "kept", "signed by the old key, whose signatures "
                             "still verify once retired; re-sign it to move it to the "
                             "successor") for a in batch]
    base = [keys.old_private, keys.new_private]
    with_others = base + keys.age_identities(keyring) if mode == "new-file-key" and any(
        _is_age(a.path) for a in batch) else base
    jobs = [pool.submit(_rekey_asset, asset, keys, mode, index + k,
                        with_others if mode == "new-file-key" else base, find_public)
            for k, asset in enumerate(batch)]
    return [job.result() for job in jobs]

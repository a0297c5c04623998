"""The keyring: every managed key's facts in one SQLite index, its key material in files.

Layout under ``$PQML_HOME`` (default ``~/.local/share/pqml``, directory 0700)::

    keyring.sqlite3          the index (WAL mode): keys, state history, assets per key
    keys/<id>.pub            public key, PEM SubjectPublicKeyInfo (0600)
    keys/<id>.pem            private key, PEM PKCS#8, passphrase-protected if asked (0600)

Why SQLite and not a JSON file: several pqml processes use one keyring at once (a batch of
encryptions counting uses, a rotation moving assets) and a lost counter update or a torn
file would silently break rotation policy. Each change is one ``BEGIN IMMEDIATE``
transaction, so writers queue behind one lock (waiting up to ``timeout`` seconds, then
:class:`KeyringLockedError` naming the keyring) while readers go on reading the last
committed state (WAL). A process killed mid-write leaves the last committed state.

The index records the SHA-256 of every key file it wrote; a file that was deleted or
replaced behind its back is an error naming it (:class:`KeyringCorruptError`), never a
silently different key. The schema has a version table and forward migrations
(:data:`MIGRATIONS`); an index of a newer or unknown schema is refused and left untouched.

States follow :mod:`pqml.keys.states`. The transition check runs inside the write
transaction, so two processes cannot both move a key from the same old state. The index
remembers the state a key had before it was disabled, so ``enable`` gives back exactly
that (and nothing more: a revoked key cannot come back as retired); a destroy-scheduled
key carries its ``destroy_after`` time, and destroying it after that deletes the private
key file (an unlink: overwriting is pointless on SSDs and copy-on-write filesystems) but
keeps the public key, so old signatures still verify and history stays readable.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pqml.keys.errors import (
    KeyringCorruptError,
    KeyringError,
    KeyringLockedError,
    KeyStateError,
    UnknownKeyError,
)
from pqml.keys.states import TRANSITIONS, KeyState, check_transition, check_use

if TYPE_CHECKING:
    from pqml.primitives.base import PrivateKey, PublicKey

INDEX_NAME = "keyring.sqlite3"
KEYS_DIR = "keys"
DEFAULT_TIMEOUT = 10.0
"""Seconds a writer waits for another process's write lock (env PQML_KEYRING_TIMEOUT)."""
DEFAULT_DESTROY_WINDOW = 7 * 86400.0
MIN_PREFIX = 4
MAX_CANDIDATES = 5
PURPOSES = ("encrypt", "sign")
OPERATIONS = ("encrypt", "rekey", "sign", "migrate", "rotate-file-key", "decrypt", "verify")
PROTECTING_OPERATIONS = frozenset({"encrypt", "rekey", "sign", "migrate", "rotate-file-key"})
"""Operations whose asset is recorded as protected by the key (decrypt/verify only count)."""

_HEX = re.compile(r"[0-9a-f]+")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+:-]{0,63}")
_MODEL_SUFFIXES = frozenset({
    ".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".onnx", ".gguf", ".ggml", ".h5",
    ".keras", ".pkl", ".pickle", ".joblib", ".pb", ".tflite", ".mlmodel", ".msgpack",
    ".npz", ".model", ".mar", ".engine", ".plan", ".llamafile",
})
_DATA_SUFFIXES = frozenset({
    ".csv", ".tsv", ".parquet", ".jsonl", ".ndjson", ".tfrecord", ".arrow", ".feather",
    ".avro", ".npy", ".orc", ".hdf5", ".lance", ".zarr", ".json", ".txt", ".tar", ".zip",
})
_ENCRYPTED_SUFFIXES = (".pqml", ".age", ".enc")


def default_home() -> Path:
    """``$PQML_HOME``, else ``$XDG_DATA_HOME/pqml`` (default ``~/.local/share/pqml``)."""
    from pqml._internal.home import pqml_home

    return pqml_home()


def _emit(event: str, record: KeyRecord, **details: Any) -> None:
    """Put a committed key.new, key.import, key.state or key.destroy on the transparency
    log (after the commit: the change stands even if the log cannot take it, which is a
    warning on the ``pqml`` logger)."""
    from pqml.log import events, recorder

    recorder.record_or_warn(lambda: events.key_event(
        event, record.id, **{k: v if isinstance(v, (str, int, float, bool)) or v is None
                             else str(v) for k, v in details.items()}))


# ---- records --------------------------------------------------------------------------------


@dataclass(frozen=True)
class KeyRecord:
    """One key as the index knows it (no key material)."""

    id: str
    label: str | None
    algorithm: str
    purpose: str
    created: float
    not_after: float | None
    state: KeyState
    state_since: float
    compromised_at: float | None
    operations: int
    bytes: int
    predecessor: str | None
    successor: str | None
    has_private: bool
    # additions beyond the contract
    destroy_after: float | None = None
    state_before_disabled: KeyState | None = None
    last_used: float | None = None
    encrypted: bool = False

    def expired(self, now: float | None = None) -> bool:
        return self.not_after is not None and (time.time() if now is None else now) \
            >= self.not_after

    @property
    def name(self) -> str:
        """How messages name the key: ``id (label)``."""
        return f"{self.id} ({self.label})" if self.label else self.id

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (states as their names). Not ``asdict``, which deep-copies:
        ``keys list --json`` builds ten thousand of these."""
        data = {name: getattr(self, name) for name in _RECORD_FIELDS}
        data["state"] = str(self.state)
        if self.state_before_disabled is not None:
            data["state_before_disabled"] = str(self.state_before_disabled)
        return data


_RECORD_FIELDS = tuple(f.name for f in fields(KeyRecord))


@dataclass(frozen=True)
class AssetRecord:
    """An asset a key protects (recorded when pqml encrypts, rekeys or signs with it)."""

    path: str
    key_id: str
    operation: str
    asset_class: str | None
    first_seen: float
    last_seen: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class HistoryRecord:
    """One state change of a key."""

    key_id: str
    time: float
    from_state: KeyState | None
    to_state: KeyState
    reason: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "time": self.time,
                "from": str(self.from_state) if self.from_state else None,
                "to": str(self.to_state), "reason": self.reason}


def asset_class(path: str) -> str | None:
    """"model", "dataset" or None, guessed from the name's suffix (an encryption suffix
    such as ``.pqml`` is looked through)."""
    name = path.rstrip("/").rsplit("/", 1)[-1].lower()
    for suffix in _ENCRYPTED_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    dot = name.rfind(".")
    if dot <= 0:
        return None
    suffix = name[dot:]
    if suffix in _MODEL_SUFFIXES:
        return "model"
    if suffix in _DATA_SUFFIXES:
        return "dataset"
    return None


# ---- schema ---------------------------------------------------------------------------------

_STATES_SQL = ", ".join(f"'{s}'" for s in KeyState)

MIGRATIONS: list[tuple[str, ...]] = [
    # 0 -> 1: the first schema
    (
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied REAL NOT NULL)",
        f"""CREATE TABLE keys (
            id TEXT PRIMARY KEY,
            label TEXT UNIQUE,
            algorithm TEXT NOT NULL,
            purpose TEXT NOT NULL CHECK (purpose IN ('encrypt', 'sign')),
            created REAL NOT NULL,
            not_after REAL,
            state TEXT NOT NULL CHECK (state IN ({_STATES_SQL})),
            state_since REAL NOT NULL,
            state_before_disabled TEXT CHECK (state_before_disabled IN ({_STATES_SQL})),
            destroy_after REAL,
            compromised_at REAL,
            operations INTEGER NOT NULL DEFAULT 0 CHECK (operations >= 0),
            bytes INTEGER NOT NULL DEFAULT 0 CHECK (bytes >= 0),
            last_used REAL,
            predecessor TEXT,
            successor TEXT,
            public_file TEXT NOT NULL,
            public_sha256 TEXT NOT NULL,
            private_file TEXT,
            private_sha256 TEXT,
            encrypted INTEGER NOT NULL DEFAULT 0,
            CHECK ((state = 'destroy-scheduled') = (destroy_after IS NOT NULL)),
            CHECK ((state IN ('disabled', 'destroy-scheduled'))
                   = (state_before_disabled IS NOT NULL)),
            CHECK (state <> 'compromised' OR compromised_at IS NOT NULL),
            CHECK (state <> 'destroyed' OR private_file IS NULL),
            CHECK ((private_file IS NULL) = (private_sha256 IS NULL))
        )""",
        "CREATE INDEX keys_state ON keys (state)",
        """CREATE TABLE history (
            seq INTEGER PRIMARY KEY AUTOINCREMENT,
            key_id TEXT NOT NULL REFERENCES keys (id),
            time REAL NOT NULL,
            from_state TEXT,
            to_state TEXT NOT NULL,
            reason TEXT
        )""",
        "CREATE INDEX history_key ON history (key_id, seq)",
        """CREATE TABLE assets (
            path TEXT NOT NULL,
            key_id TEXT NOT NULL REFERENCES keys (id),
            operation TEXT NOT NULL,
            asset_class TEXT,
            first_seen REAL NOT NULL,
            last_seen REAL NOT NULL,
            PRIMARY KEY (key_id, path)
        )""",
        "CREATE INDEX assets_path ON assets (path)",
    ),
]
"""Step i brings the schema from version i to i + 1; a new keyring runs every step."""


def schema_version() -> int:
    return len(MIGRATIONS)


_COLUMNS = ("id, label, algorithm, purpose, created, not_after, state, state_since, "
            "compromised_at, operations, bytes, predecessor, successor, private_file, "
            "destroy_after, state_before_disabled, last_used, encrypted")


def _record(row: tuple[Any, ...]) -> KeyRecord:
    return KeyRecord(
        row[0], row[1], row[2], row[3], row[4], row[5], KeyState(row[6]), row[7], row[8],
        row[9], row[10], row[11], row[12], row[13] is not None, row[14],
        KeyState(row[15]) if row[15] else None, row[16], bool(row[17]),
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- key ids --------------------------------------------------------------------------------


def key_id_of(key: PublicKey | PrivateKey) -> str:
    """The id a key has in the keyring: its pqml/v1 stanza key id for KEMs that have a
    pqml/v1 stanza type, its OMS key hint for signature keys, else the hex SHA-256 of
    its SubjectPublicKeyInfo. The same id ``pqml inspect`` and ``pqml verify`` show."""
    from pqml.formats import keyfile, oms
    from pqml.formats.pqml_v1 import hpke_stanza
    from pqml.primitives import registry
    from pqml.primitives.base import PrivateKey

    public = key.public_key() if isinstance(key, PrivateKey) else key
    kem = hpke_stanza.BY_ALGORITHM.get(public.algorithm)
    if kem is not None:
        return hpke_stanza.key_id(kem, public)  # type: ignore[arg-type]
    der = keyfile.public_key_to_der(public)
    if registry.get(public.algorithm).family == "signature":
        return oms.key_hint(der)
    return _sha256(der)


def purpose_of(algorithm: str) -> str:
    from pqml.primitives import registry

    family = registry.get(algorithm).family
    if family == "kem":
        return "encrypt"
    if family == "signature":
        return "sign"
    raise KeyringError(f"{algorithm} is not a key-pair algorithm (keys are for encryption "
                       "or signing)")


def check_label(label: str) -> str:
    """A label: 1-64 of letters, digits and ``. _ @ + : -``, starting with a letter or
    digit, and not something that reads as a key id prefix (4+ hex digits)."""
    if not _LABEL.fullmatch(label):
        raise KeyringError(f"invalid key label {label!r}: use 1-64 letters, digits and "
                           "'._@+:-', starting with a letter or digit")
    if len(label) >= MIN_PREFIX and _HEX.fullmatch(label.lower()):
        raise KeyringError(f"invalid key label {label!r}: it reads as a key id prefix "
                           "(hex digits only); add a letter outside a-f")
    return label


def check_key_use(record: KeyRecord, use: str, *, now: float | None = None) -> None:
    """:func:`check_use`, plus: an expired key protects nothing new."""
    check_use(record.name, record.state, use)
    if use in ("encrypt", "sign") and record.expired(now):
        from pqml.keys.times import format_time

        raise KeyStateError(f"key {record.name} expired on {format_time(record.not_after)}: "
                            f"it cannot {use} new assets")


def check_state_change(key: str, old: KeyState, new: KeyState,
                       restore_to: KeyState | None) -> None:
    """The keyring's transition rule: the edges of :data:`TRANSITIONS`, plus re-enabling
    a disabled (or destroy-cancelled) key back to ``restore_to``, the state it had
    before; and out of DISABLED only to what that earlier state could have become, so
    disabling never launders a revoked or compromised key into a retired one."""
    if old is KeyState.DISABLED and restore_to is not None and new is restore_to:
        return
    check_transition(key, old, new)
    if old is KeyState.DISABLED and restore_to is not None \
            and new not in (KeyState.DESTROY_SCHEDULED, KeyState.COMPROMISED) \
            and new not in TRANSITIONS[restore_to]:
        raise KeyStateError(f"key {key}: was {restore_to} before it was disabled, so it "
                            f"can be re-enabled as {restore_to}, not {new}")


# ---- the keyring ----------------------------------------------------------------------------


class Keyring:
    """The keyring in ``home`` (None: ``$PQML_HOME`` or ``~/.local/share/pqml``).

    Nothing is created on disk until the first change; reading an absent keyring finds
    no keys. One instance holds one SQLite connection (not shared across threads)."""

    def __init__(self, home: Path | None = None, *, timeout: float | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.home = Path(home) if home is not None else default_home()
        self.index = self.home / INDEX_NAME
        self.keys_dir = self.home / KEYS_DIR
        if timeout is None:
            try:
                timeout = float(os.environ.get("PQML_KEYRING_TIMEOUT", DEFAULT_TIMEOUT))
            except ValueError:
                timeout = DEFAULT_TIMEOUT
        self.timeout = timeout
        self._clock = clock
        self._con: sqlite3.Connection | None = None

    # -- connection ----------------------------------------------------------------------

    def __enter__(self) -> Keyring:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._con is not None:
            self._con.close()
            self._con = None

    def exists(self) -> bool:
        return self.index.exists()

    def _corrupt(self, exc: BaseException) -> KeyringCorruptError:
        return KeyringCorruptError(f"{self.index}: the keyring index is unreadable "
                                   f"({exc}); nothing was changed")

    def _locked(self) -> KeyringLockedError:
        return KeyringLockedError(f"{self.index}: the keyring is locked by another process "
                                  f"(waited {self.timeout:g} s); try again, or raise "
                                  "PQML_KEYRING_TIMEOUT")

    def _db_error(self, exc: sqlite3.Error) -> KeyringError:
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            return self._locked()
        return self._corrupt(exc)

    def _connect(self, *, create: bool) -> sqlite3.Connection | None:
        """The open connection, checked and migrated; None if there is no keyring yet
        and ``create`` is false."""
        if self._con is not None:
            return self._con
        if not self.index.exists():
            if not create:
                return None
            self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
            with contextlib.suppress(FileExistsError):
                os.close(os.open(self.index, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        elif self.index.is_dir():
            raise KeyringCorruptError(f"{self.index}: is a directory, not a keyring index")
        try:
            con = sqlite3.connect(self.index, timeout=self.timeout, isolation_level=None,
                                  check_same_thread=False)
        except sqlite3.Error as exc:
            raise self._db_error(exc) from None
        try:
            self._prepare(con)
        except BaseException:
            con.close()
            raise
        self._con = con
        return con

    def _version(self, con: sqlite3.Connection) -> int:
        try:
            tables = {r[0] for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            if not tables:
                return 0
            if "schema_version" not in tables:
                raise KeyringCorruptError(f"{self.index}: not a pqml keyring index (no "
                                          "schema_version table); nothing was changed")
            row = con.execute("SELECT max(version) FROM schema_version").fetchone()
        except sqlite3.Error as exc:
            raise self._db_error(exc) from None
        if row is None or not isinstance(row[0], int):
            raise KeyringCorruptError(f"{self.index}: the keyring's schema version is "
                                      "missing; nothing was changed")
        return int(row[0])

    def _prepare(self, con: sqlite3.Connection) -> None:
        """Check the schema before anything writes (a newer one is never touched), then
        switch to WAL and run the forward migrations the index lacks."""
        version = self._version(con)
        latest = schema_version()
        if version > latest:
            raise KeyringCorruptError(
                f"{self.index}: keyring schema version {version} is newer than this pqml "
                f"understands ({latest}); upgrade pqml (nothing was changed)")
        try:
            mode = con.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal":
                con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error as exc:
            raise self._db_error(exc) from None
        if version < latest:
            self._migrate(con)

    def _migrate(self, con: sqlite3.Connection) -> None:
        with self._transaction(con):
            version = self._version(con)  # another process may have migrated meanwhile
            if version > schema_version():
                raise KeyringCorruptError(f"{self.index}: keyring schema version {version} "
                                          "is newer than this pqml understands")
            now = self._clock()
            try:
                for step in range(version, schema_version()):
                    for statement in MIGRATIONS[step]:
                        con.execute(statement)
                    con.execute("INSERT INTO schema_version VALUES (?, ?)", (step + 1, now))
            except sqlite3.Error as exc:  # rolled back: the index stays at ``version``
                raise KeyringCorruptError(
                    f"{self.index}: migrating the keyring from schema version {version} "
                    f"failed ({exc}); nothing was changed") from None

    @contextlib.contextmanager
    def _transaction(self, con: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
        """One writer at a time: BEGIN IMMEDIATE takes the write lock up front (waiting
        up to ``timeout``), so a read-check-write sequence inside cannot interleave with
        another process's."""
        try:
            con.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise self._db_error(exc) from None
        try:
            yield con
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise
        try:
            con.execute("COMMIT")
        except sqlite3.Error as exc:
            with contextlib.suppress(sqlite3.Error):
                con.execute("ROLLBACK")
            raise self._db_error(exc) from None

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        con = self._connect(create=True)
        assert con is not None
        try:
            with self._transaction(con) as c:
                yield c
        except sqlite3.IntegrityError as exc:  # a CHECK the code should have made first
            raise KeyringError(f"{self.index}: change refused by the index: {exc}") from None
        except sqlite3.Error as exc:
            raise self._db_error(exc) from None

    def _read(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        con = self._connect(create=False)
        if con is None:
            return []
        try:
            return con.execute(sql, args).fetchall()
        except sqlite3.Error as exc:
            raise self._db_error(exc) from None

    # -- references ----------------------------------------------------------------------

    def _find(self, con: sqlite3.Connection | None, ref: str) -> KeyRecord:
        """The one key ``ref`` names: exact id, exact label, or a unique id prefix of at
        least :data:`MIN_PREFIX` hex digits."""
        text = ref.strip()
        if con is None:
            raise UnknownKeyError(f"no key {text!r} in the keyring {self.home} (the keyring "
                                  "is empty)")
        lower = text.lower()
        select = f"SELECT {_COLUMNS} FROM keys"
        try:
            rows = con.execute(f"{select} WHERE id = ? OR label = ?", (lower, text)).fetchall()
            if not rows and len(lower) >= MIN_PREFIX and _HEX.fullmatch(lower):
                rows = con.execute(f"{select} WHERE id >= ? AND id < ? ORDER BY id LIMIT ?",
                                   (lower, lower + "g", MAX_CANDIDATES + 1)).fetchall()
        except sqlite3.Error as exc:
            raise self._db_error(exc) from None
        if len(rows) == 1:
            return _record(rows[0])
        if len(rows) > 1:
            shown = [_record(r).name for r in rows[:MAX_CANDIDATES]]
            more = ", …" if len(rows) > MAX_CANDIDATES else ""
            raise UnknownKeyError(f"key reference {text!r} is ambiguous: it matches "
                                  f"{', '.join(shown)}{more} (give more digits of the id)")
        raise UnknownKeyError(self._unknown_message(con, text))

    def _unknown_message(self, con: sqlite3.Connection, text: str) -> str:
        import difflib

        message = f"no key {text!r} in the keyring {self.home}"
        with contextlib.suppress(sqlite3.Error):
            labels = [r[0] for r in con.execute(
                "SELECT label FROM keys WHERE label IS NOT NULL LIMIT 10000")]
            close = difflib.get_close_matches(text, labels, n=3, cutoff=0.6)
            if close:
                return f"{message} (did you mean {', '.join(close)}?)"
        if len(text) < MIN_PREFIX and _HEX.fullmatch(text.lower()):
            return f"{message} (an id prefix needs at least {MIN_PREFIX} hex digits)"
        return f"{message} (give an id, an id prefix or a label; pqml keys list shows them)"

    def get(self, ref: str) -> KeyRecord:
        """The key ``ref`` names (id, unique id prefix of 4+ hex digits, or label)."""
        return self._find(self._connect(create=False), ref)

    def list(self, *, state: KeyState | str | Iterable[KeyState | str] | None = None,
             purpose: str | None = None) -> list[KeyRecord]:
        """Every key, oldest first; ``state`` (one or several) and ``purpose`` filter."""
        where, args = [], []
        if state is not None:
            states = [state] if isinstance(state, str) else list(state)
            wanted = [str(KeyState(s)) for s in states]
            where.append(f"state IN ({', '.join('?' * len(wanted))})")
            args += wanted
        if purpose is not None:
            if purpose not in PURPOSES:
                raise KeyringError(f"unknown key purpose {purpose!r} (encrypt or sign)")
            where.append("purpose = ?")
            args.append(purpose)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        rows = self._read(f"SELECT {_COLUMNS} FROM keys{clause} ORDER BY created, id",
                          tuple(args))
        return [_record(r) for r in rows]

    # -- adding keys ---------------------------------------------------------------------

    def new(self, alg: str | None = None, *, label: str | None = None,
            purpose: str | None = None, not_after: float | None = None,
            passphrase: bytes | None = None, state: KeyState = KeyState.ACTIVE,
            profile: str = "default", allow_classical: bool = False) -> KeyRecord:
        """Generate a key of ``alg`` (a name or role; None: the profile's KEM, or its
        signature algorithm for ``purpose="sign"``) and store it, active or pending."""
        from pqml.keys import key_files

        if alg is None and purpose == "sign":
            alg = "signature"
        key = key_files.generate(alg, profile, allow_classical=allow_classical)
        return self._add(key, label=label, purpose=purpose, not_after=not_after,
                         passphrase=passphrase, state=state, event="key.new")

    def import_key(self, path: Path, *, label: str | None = None,
                   passphrase: bytes | None = None, state: KeyState = KeyState.ACTIVE,
                   not_after: float | None = None) -> KeyRecord:
        """Store the key in ``path`` (PEM or age; private or public). A passphrase-
        protected private key is decrypted with ``passphrase`` and stored protected by
        the same passphrase (importing never strips protection)."""
        from pqml.formats import keyfile
        from pqml.keys import key_files
        from pqml.primitives.base import PrivateKey

        key = key_files.load(Path(path), passphrase=passphrase)
        data = Path(path).read_bytes()
        keep = passphrase if isinstance(key, PrivateKey) and keyfile.is_encrypted(data) \
            else None
        try:
            return self._add(key, label=label, purpose=None, not_after=not_after,
                             passphrase=keep, state=state, event="key.import")
        except KeyringError as exc:
            raise type(exc)(f"{path}: {exc}") from None

    def _add(self, key: PrivateKey | PublicKey, *, label: str | None, purpose: str | None,
             not_after: float | None, passphrase: bytes | None, state: KeyState,
             event: str) -> KeyRecord:
        from pqml._internal.output_file import write_atomic
        from pqml.keys import key_files
        from pqml.primitives.base import PrivateKey

        state = KeyState(state)
        if state not in (KeyState.ACTIVE, KeyState.PENDING):
            raise KeyStateError(f"a new key starts active or pending, not {state}")
        natural = purpose_of(key.algorithm)
        if purpose is not None and purpose != natural:
            raise KeyringError(f"{key.algorithm} keys are for {natural}ing, not "
                               f"{purpose}ing")
        if label is not None:
            check_label(label)
        kid = key_id_of(key)
        public_pem = key_files.public_text(key).encode()
        private_pem = (key_files.private_bytes(key, "pem", passphrase=passphrase)
                       if isinstance(key, PrivateKey) else None)
        now = self._clock()
        pub_name, priv_name = f"{kid}.pub", f"{kid}.pem"
        with self._write() as con:
            taken = con.execute("SELECT id, label FROM keys WHERE id = ? OR label = ?",
                                (kid, label)).fetchall()
            for other_id, other_label in taken:
                if other_id == kid:
                    raise KeyringError(f"key {kid} is already in the keyring"
                                       + (f" (label {other_label})" if other_label else ""))
                raise KeyringError(f"label {label!r} is already used by key {other_id}")
            self.keys_dir.mkdir(mode=0o700, exist_ok=True)
            # Files first, inside the lock: a crash before COMMIT leaves files no row
            # names (replaced by the next add of the same key), never a row without files.
            write_atomic(self.keys_dir / pub_name, public_pem, mode=0o600)
            if private_pem is not None:
                write_atomic(self.keys_dir / priv_name, private_pem, mode=0o600)
            con.execute(
                "INSERT INTO keys (id, label, algorithm, purpose, created, not_after, state, "
                "state_since, public_file, public_sha256, private_file, private_sha256, "
                "encrypted) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (kid, label, key.algorithm, natural, now, not_after, str(state), now,
                 pub_name, _sha256(public_pem), priv_name if private_pem else None,
                 _sha256(private_pem) if private_pem else None, int(bool(passphrase))))
            con.execute("INSERT INTO history (key_id, time, from_state, to_state, reason) "
                        "VALUES (?, ?, NULL, ?, ?)", (kid, now, str(state), event))
            record = self._find(con, kid)
        _emit(event, record, algorithm=record.algorithm, purpose=record.purpose,
              label=record.label)
        return record

    def set_label(self, ref: str, label: str | None) -> KeyRecord:
        if label is not None:
            check_label(label)
        with self._write() as con:
            record = self._find(con, ref)
            try:
                con.execute("UPDATE keys SET label = ? WHERE id = ?", (label, record.id))
            except sqlite3.IntegrityError:
                raise KeyringError(f"label {label!r} is already used by another key") from None
            return self._find(con, record.id)

    # -- states --------------------------------------------------------------------------

    def set_state(self, ref: str, new: KeyState, *, at: float | None = None,
                  reason: str | None = None) -> KeyRecord:
        """Move the key to ``new`` if the transition is allowed, atomically.

        ``at`` is the compromise time for COMPROMISED (default now; never in the
        future) and the end of the window for DESTROY_SCHEDULED (default now + 7 days).
        DESTROYED needs the window to have passed; it deletes the private key file."""
        new = KeyState(new)
        now = self._clock()
        destroyed_file: Path | None = None
        with self._write() as con:
            record = self._find(con, ref)
            old = record.state
            check_state_change(record.name, old, new, record.state_before_disabled)
            before = record.state_before_disabled
            if new is KeyState.DISABLED and old is not KeyState.DESTROY_SCHEDULED:
                before = old
            elif new not in (KeyState.DISABLED, KeyState.DESTROY_SCHEDULED):
                before = None
            destroy_after = None
            compromised_at = record.compromised_at
            private_file: str | None = record.id + ".pem" if record.has_private else None
            if new is KeyState.DESTROY_SCHEDULED:
                destroy_after = now + DEFAULT_DESTROY_WINDOW if at is None else at
            elif new is KeyState.COMPROMISED:
                when = now if at is None else at
                if when > now + 60:
                    from pqml.keys.times import format_time

                    raise KeyringError(f"key {record.name}: compromise time "
                                       f"{format_time(when)} is in the future")
                # A compromise is known from its earliest time: marking it again can
                # only move that time earlier, never later (which would make signatures
                # of the window in between look safe).
                compromised_at = when if compromised_at is None else min(compromised_at, when)
            elif new is KeyState.DESTROYED:
                assert record.destroy_after is not None
                if now < record.destroy_after:
                    from pqml.keys.times import format_time

                    raise KeyStateError(
                        f"key {record.name} is scheduled for destruction at "
                        f"{format_time(record.destroy_after)}, not before (cancel with "
                        "pqml keys destroy --cancel)")
                if private_file is not None:
                    destroyed_file = self.keys_dir / private_file
                private_file = None
            con.execute(
                "UPDATE keys SET state = ?, state_since = ?, state_before_disabled = ?, "
                "destroy_after = ?, compromised_at = ?, private_file = ?, "
                "private_sha256 = CASE WHEN ? IS NULL THEN NULL ELSE private_sha256 END "
                "WHERE id = ?",
                (str(new), now, str(before) if before else None, destroy_after,
                 compromised_at, private_file, private_file, record.id))
            con.execute("INSERT INTO history (key_id, time, from_state, to_state, reason) "
                        "VALUES (?, ?, ?, ?, ?)", (record.id, now, str(old), str(new), reason))
            if destroyed_file is not None:
                # Before COMMIT: a crash after the unlink leaves "destroy-scheduled, file
                # gone", which destroying again completes; the reverse order could leave
                # "destroyed" with the key material still on disk.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(destroyed_file)
            updated = self._find(con, record.id)
        event = "key.destroy" if new is KeyState.DESTROYED else "key.state"
        _emit(event, updated, **{"from": str(old), "to": str(new), "reason": reason,
                                 "compromised_at": updated.compromised_at})
        return updated

    def disable(self, ref: str, *, reason: str | None = None) -> KeyRecord:
        return self.set_state(ref, KeyState.DISABLED, reason=reason)

    def enable(self, ref: str, *, reason: str | None = None) -> KeyRecord:
        """Back to the state the key had before it was disabled."""
        record = self.get(ref)
        if record.state is not KeyState.DISABLED or record.state_before_disabled is None:
            raise KeyStateError(f"key {record.name} is {record.state}, not disabled: "
                                "nothing to enable")
        return self.set_state(record.id, record.state_before_disabled, reason=reason)

    def schedule_destroy(self, ref: str, *, after: float = DEFAULT_DESTROY_WINDOW,
                         reason: str | None = None) -> KeyRecord:
        if after < 0:
            raise KeyringError("the destruction window cannot be negative")
        return self.set_state(ref, KeyState.DESTROY_SCHEDULED, at=self._clock() + after,
                              reason=reason)

    def cancel_destroy(self, ref: str, *, reason: str | None = None) -> KeyRecord:
        record = self.get(ref)
        if record.state is not KeyState.DESTROY_SCHEDULED:
            raise KeyStateError(f"key {record.name} is {record.state}: no destruction is "
                                "scheduled")
        return self.set_state(record.id, KeyState.DISABLED, reason=reason or "cancelled")

    def destroy(self, ref: str, *, reason: str | None = None) -> KeyRecord:
        return self.set_state(ref, KeyState.DESTROYED, reason=reason)

    def history(self, ref: str) -> list[HistoryRecord]:
        record = self.get(ref)
        rows = self._read("SELECT key_id, time, from_state, to_state, reason FROM history "
                          "WHERE key_id = ? ORDER BY seq", (record.id,))
        return [HistoryRecord(r[0], r[1], KeyState(r[2]) if r[2] else None, KeyState(r[3]),
                              r[4]) for r in rows]

    def distrusted_since(self, ref: str) -> tuple[float, str] | None:
        """``(time, "compromised" | "revoked")`` from which the key's signatures are no
        longer trusted by default, whatever state it is in now (a revoked key later
        disabled or destroyed stays revoked); None for a key never revoked or compromised."""
        record = self.get(ref)
        if record.compromised_at is not None:
            return record.compromised_at, "compromised"
        revoked = [h.time for h in self.history(record.id) if h.to_state is KeyState.REVOKED]
        return (min(revoked), "revoked") if revoked else None

    # -- key material --------------------------------------------------------------------

    def _file(self, record: KeyRecord, *, private: bool) -> bytes:
        """A key file's bytes, checked against the digest the index recorded."""
        column = "private" if private else "public"
        rows = self._read(f"SELECT {column}_file, {column}_sha256 FROM keys WHERE id = ?",
                          (record.id,))
        if not rows or rows[0][0] is None:
            raise KeyringError(f"key {record.name} has no private key in the keyring"
                               + (" (it was destroyed)" if record.state is KeyState.DESTROYED
                                  else " (imported as a public key)"))
        path = self.keys_dir / rows[0][0]
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise KeyringCorruptError(f"{path}: key file of key {record.name} is missing "
                                      "(deleted outside pqml)") from None
        except OSError as exc:
            raise KeyringCorruptError(f"{path}: key file of key {record.name} cannot be "
                                      f"read: {exc.strerror or exc}") from None
        if _sha256(data) != rows[0][1]:
            raise KeyringCorruptError(f"{path}: key file of key {record.name} was changed "
                                      "or replaced outside pqml (its SHA-256 differs from "
                                      "the index); refusing to use it")
        return data

    def public_key(self, ref: str) -> PublicKey:
        from pqml.keys import key_files

        record = self.get(ref)
        return key_files.load_public(self._file(record, private=False))

    def private_key(self, ref: str, *, use: str, passphrase: bytes | None = None
                    ) -> PrivateKey:
        """The private key, if its state allows ``use`` (KeyStateError otherwise) and
        ``passphrase`` opens it when it is protected."""
        from pqml.formats import keyfile
        from pqml.formats.errors import PassphraseRequiredError, WrongKeyPassphraseError
        from pqml.keys import key_files

        record = self.get(ref)
        check_key_use(record, use, now=self._clock())
        data = self._file(record, private=True)
        if keyfile.is_encrypted(data) and not passphrase:
            raise PassphraseRequiredError(
                f"key {record.name}: the private key is passphrase-protected: give "
                "--passphrase-file FILE or set PQML_KEY_PASSPHRASE")
        try:
            key = key_files.load_private(data, passphrase=passphrase)
        except WrongKeyPassphraseError:
            raise WrongKeyPassphraseError(f"key {record.name}: wrong passphrase for its "
                                          "private key") from None
        if key_id_of(key) != record.id:
            raise KeyringCorruptError(f"key {record.name}: its private key file holds "
                                      "another key")
        return key

    def key_file(self, ref: str, *, private: bool) -> tuple[KeyRecord, bytes]:
        """A key file's checked bytes, for export."""
        record = self.get(ref)
        return record, self._file(record, private=private)

    def verify_files(self, ref: str) -> list[str]:
        """Problems with the key's files (missing, changed), empty if none."""
        record = self.get(ref)
        problems = []
        for private in (False, True):
            if private and not record.has_private:
                continue
            try:
                self._file(record, private=private)
            except KeyringError as exc:
                problems.append(str(exc))
        return problems

    # -- use and assets ------------------------------------------------------------------

    def record_use(self, ref: str, *, operation: str, asset: str | None = None,
                   nbytes: int = 0) -> None:
        """Count one use (``nbytes`` processed) and, for a protecting operation, link
        ``asset`` to the key. One transaction: counters and links never disagree."""
        self.record_uses(ref, operation=operation, uses=[(asset, nbytes)])

    def record_uses(self, ref: str, *, operation: str,
                    uses: Iterable[tuple[str | None, int]]) -> None:
        """:meth:`record_use` for many ``(asset, nbytes)`` at once (a directory tree),
        in one transaction."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown key operation {operation!r}")
        items = [(_asset_path(a) if a is not None else None, int(n)) for a, n in uses]
        if any(n < 0 for _, n in items):
            raise ValueError("nbytes cannot be negative")
        if not items:
            return
        now = self._clock()
        with self._write() as con:
            record = self._find(con, ref)
            con.execute("UPDATE keys SET operations = operations + ?, bytes = bytes + ?, "
                        "last_used = ? WHERE id = ?",
                        (len(items), sum(n for _, n in items), now, record.id))
            if operation in PROTECTING_OPERATIONS:
                con.executemany(
                    "INSERT INTO assets VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key_id, path) "
                    "DO UPDATE SET operation = excluded.operation, last_seen = excluded.last_seen",
                    [(path, record.id, operation, asset_class(path), now, now)
                     for path, _ in items if path is not None])

    def assets(self, ref: str) -> list[AssetRecord]:
        record = self.get(ref)
        rows = self._read("SELECT path, key_id, operation, asset_class, first_seen, last_seen "
                          "FROM assets WHERE key_id = ? ORDER BY path", (record.id,))
        return [AssetRecord(*r) for r in rows]

    def unlink_assets(self, ref: str, paths: Iterable[str]) -> None:
        """Forget that key ``ref`` protects ``paths`` (its stanza was removed from them:
        rekey --remove, --drop-revoked). Paths it never protected are ignored."""
        items = [(_asset_path(p),) for p in paths]
        with self._write() as con:
            record = self._find(con, ref)
            con.executemany("DELETE FROM assets WHERE key_id = ? AND path = ?",
                            [(record.id, p) for (p,) in items])

    def move_asset(self, path: str, old: str, new: str) -> None:
        """Move the link of asset ``path`` from key ``old`` to key ``new`` (rotation).
        Idempotent: a link already moved (or never there) is left as it is."""
        self.move_assets([path], old, new)

    def move_assets(self, paths: list[str], old: str, new: str) -> None:
        """:meth:`move_asset` for many paths in one transaction (one sync, not one per
        file: a rotation of 1,000 files spends its time in syncs otherwise)."""
        now = self._clock()
        with self._write() as con:
            a, b = self._find(con, old), self._find(con, new)
            for asset in map(_asset_path, paths):
                row = con.execute("SELECT operation, asset_class, first_seen FROM assets "
                                  "WHERE key_id = ? AND path = ?", (a.id, asset)).fetchone()
                if row is None:
                    continue
                con.execute(
                    "INSERT INTO assets VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (key_id, path) "
                    "DO UPDATE SET last_seen = excluded.last_seen",
                    (asset, b.id, row[0], row[1], row[2], now))
                con.execute("DELETE FROM assets WHERE key_id = ? AND path = ?",
                            (a.id, asset))

    def link_successor(self, old: str, new: str) -> None:
        """Record ``new`` as the successor of ``old`` (and ``old`` as its predecessor).
        Idempotent; a different existing link is an error."""
        with self._write() as con:
            a, b = self._find(con, old), self._find(con, new)
            if a.id == b.id:
                raise KeyringError(f"key {a.name} cannot succeed itself")
            if a.successor not in (None, b.id):
                raise KeyringError(f"key {a.name} already has successor {a.successor}")
            if b.predecessor not in (None, a.id):
                raise KeyringError(f"key {b.name} already has predecessor {b.predecessor}")
            con.execute("UPDATE keys SET successor = ? WHERE id = ?", (b.id, a.id))
            con.execute("UPDATE keys SET predecessor = ? WHERE id = ?", (a.id, b.id))

    def counts(self) -> dict[str, int]:
        """Number of keys in each state (every state listed, zeros included)."""
        counts = dict.fromkeys((str(s) for s in KeyState), 0)
        for state, n in self._read("SELECT state, count(*) FROM keys GROUP BY state"):
            counts[state] = n
        return counts

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check`` answer ("ok" when sound)."""
        rows = self._read("PRAGMA integrity_check")
        return "; ".join(str(r[0]) for r in rows) if rows else "ok"


def _asset_path(asset: str) -> str:
    """An asset as recorded: a URL as given, a local path made absolute."""
    if "://" in asset:
        return asset
    return os.path.abspath(asset)

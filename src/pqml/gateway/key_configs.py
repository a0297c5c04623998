"""The gateway's keys: a directory of pqml key files, rotation with a grace period, and the
signed ``application/ohttp-keys`` document clients fetch.

Layout of a key directory (``pqml gateway keygen DIR`` makes one)::

    DIR/gateway-keys.json    which key ids exist, their KEM, suites, and retirement time
    DIR/key-01.pem           one 0600 pqml private key file per key id (PKCS#8, seed form)

Rotation (``pqml gateway rotate DIR --grace 1h``) adds a key under a fresh key id and gives
every older key a retirement time ``grace`` seconds away. Until then the gateway serves both
configurations (newest first, so new clients take the new key) and decrypts with both, so a
client holding the old configuration keeps working; after it, the old key id is unknown
(422 ``ohttp-key``: the client refetches) and :meth:`GatewayKeys.prune` deletes its file.
A running gateway notices a rotation by the manifest's change (checked at most every
``reload_interval`` seconds): no restart, no dropped request.

The document clients fetch is RFC 9458 §3.2 ``application/ohttp-keys`` at RFC 9540's
well-known path ``/.well-known/ohttp-gateway``; beside it the gateway can publish an ML-DSA
signature over those exact bytes (:mod:`pqml.gateway.client` verifies it against a pinned
key), so a client trusts the configuration beyond TLS.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pqml.formats.ohttp import KeyConfig, SymmetricSuite, encode_key_configs
from pqml.gateway.errors import GatewayKeyError
from pqml.gateway.ohttp import ServerKey
from pqml.primitives import hpke, registry
from pqml.primitives.base import KEMPrivateKey, SigningKey
from pqml.primitives.errors import PqmlError

MANIFEST = "gateway-keys.json"
MANIFEST_FORMAT = "pqml-ohttp-gateway-keys/v1"
WELL_KNOWN_PATH = "/.well-known/ohttp-gateway"
DEFAULT_ALGORITHM = "X-Wing"
DEFAULT_SUITES = (SymmetricSuite(hpke.KDFId.HKDF_SHA256, hpke.AEADId.AES_256_GCM),)
# ML-KEM-1024 keys are the CNSA 2.0 profile: HKDF-SHA384 and AES-256-GCM with them.
CNSA_SUITES = (SymmetricSuite(hpke.KDFId.HKDF_SHA384, hpke.AEADId.AES_256_GCM),)
DEFAULT_GRACE = 24 * 3600.0
# The suites of the issue; MLKEM1024-P384 has no key-file encoding yet (no standard OID).
GATEWAY_KEMS = ("X-Wing", "ML-KEM-768", "ML-KEM-1024", "X25519")
LEGACY_ALGORITHMS = ("X25519",)  # quantum-vulnerable: only with --allow-classical
_MAX_MANIFEST = 1 << 20


@dataclass(frozen=True)
class GatewayKeyEntry:
    """One key id of a gateway key directory (the manifest's view; no secret in it)."""

    key_id: int
    algorithm: str
    suites: tuple[SymmetricSuite, ...]
    file: str
    created: float
    retire_at: float | None = None

    @property
    def kem_id(self) -> int:
        kem_id = registry.get(self.algorithm).hpke_kem_id
        assert kem_id is not None
        return kem_id

    def live(self, now: float) -> bool:
        return self.retire_at is None or now < self.retire_at

    def to_json(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "algorithm": self.algorithm,
            "suites": [[s.kdf_id, s.aead_id] for s in self.suites],
            "file": self.file,
            "created": self.created,
            "retire_at": self.retire_at,
        }

    @classmethod
    def from_json(cls, item: Any, where: str) -> GatewayKeyEntry:
        try:
            key_id = item["key_id"]
            algorithm = registry.get(item["algorithm"]).name
            suites = tuple(SymmetricSuite(int(k), int(a)) for k, a in item["suites"])
            file = item["file"]
            created = float(item["created"])
            retire_at = None if item.get("retire_at") is None else float(item["retire_at"])
        except (KeyError, TypeError, ValueError) as exc:
            raise GatewayKeyError(f"{where}: malformed key entry ({exc})") from None
        if not (isinstance(key_id, int) and 0 <= key_id <= 255):
            raise GatewayKeyError(f"{where}: key id must be 0..255")
        if algorithm not in GATEWAY_KEMS:
            raise GatewayKeyError(f"{where}: {algorithm} is not an Oblivious HTTP gateway KEM")
        if not (isinstance(file, str) and file and "/" not in file and not file.startswith(".")):
            raise GatewayKeyError(f"{where}: key file name must be a plain file name")
        if not suites:
            raise GatewayKeyError(f"{where}: key {key_id} lists no (KDF, AEAD) suite")
        return cls(key_id, algorithm, suites, file, created, retire_at)


@dataclass(frozen=True)
class LiveKey:
    """A key id the gateway decrypts with now: its manifest entry and its private key."""

    entry: GatewayKeyEntry
    server_key: ServerKey = field(repr=False)

    @property
    def config(self) -> KeyConfig:
        return self.server_key.config


@dataclass(frozen=True)
class KeySet:
    """An immutable snapshot of the keys a gateway uses: swapped whole on rotation, so a
    request in flight sees one consistent set."""

    keys: dict[int, LiveKey]
    body: bytes  # application/ohttp-keys, newest configuration first
    signature: bytes | None = None  # not-after ‖ ML-DSA (see :func:`sign_key_configs`)
    signature_algorithm: str | None = None
    not_after: float | None = None  # the earliest retirement among these keys
    signed_at: float | None = None  # when ``signature`` was made
    signature_expires: float | None = None  # the not-after inside ``signature``

    def resign_due(self, now: float) -> bool:
        """Past half the signature's validity: time to sign again (clients refuse it once
        it expires, and may cache it until then)."""
        if self.signature_expires is None or self.signed_at is None:
            return False
        return now >= self.signed_at + (self.signature_expires - self.signed_at) / 2

    def get(self, key_id: int) -> LiveKey | None:
        return self.keys.get(key_id)

    def server_keys(self, now: float) -> list[ServerKey]:
        """The keys that decrypt at ``now`` (a retirement may pass before the next reload)."""
        return [k.server_key for k in self.keys.values() if k.entry.live(now)]

    @property
    def configs(self) -> list[KeyConfig]:
        return [k.config for k in self.keys.values()]


def suites_for(algorithm: str) -> tuple[SymmetricSuite, ...]:
    """The (KDF, AEAD) pairs a new key of ``algorithm`` accepts by default."""
    return CNSA_SUITES if algorithm == "ML-KEM-1024" else DEFAULT_SUITES


def check_algorithm(algorithm: str, *, allow_classical: bool = False) -> str:
    entry = registry.get(algorithm)
    if entry.name not in GATEWAY_KEMS:
        raise GatewayKeyError(
            f"{entry.name} is not an Oblivious HTTP gateway KEM (use one of "
            f"{', '.join(GATEWAY_KEMS)})")
    if entry.quantum_vulnerable and not allow_classical:
        from pqml.primitives.errors import PolicyError

        raise PolicyError(f"{entry.name} is quantum-vulnerable; pass --allow-classical to "
                          "use it as a legacy gateway key anyway")
    return entry.name


def build_key_set(keys: list[tuple[GatewayKeyEntry, KEMPrivateKey]], *,
                  signer: SigningKey | None = None, now: float | None = None,
                  signature_validity: float | None = None) -> KeySet:
    """The snapshot for ``keys`` (newest first in the published document), signed with
    ``signer`` for ``signature_validity`` seconds from ``now`` if given."""
    if not keys:
        raise GatewayKeyError("no live gateway key: rotate to make one")
    # newest first; of keys made in the same second, the later in the manifest is newer
    ordered = [pair for _, pair in sorted(enumerate(keys), reverse=True,
                                          key=lambda item: (item[1][0].created, item[0]))]
    live: dict[int, LiveKey] = {}
    for entry, private in ordered:
        if private.algorithm != entry.algorithm:
            raise GatewayKeyError(f"key {entry.key_id}: the file holds {private.algorithm} "
                                  f"key, the manifest says {entry.algorithm}")
        try:
            server_key = ServerKey(entry.key_id, private, entry.suites,
                                   allow_legacy=entry.algorithm in LEGACY_ALGORITHMS)
        except PqmlError as exc:
            raise GatewayKeyError(f"key {entry.key_id}: {exc}") from None
        live[entry.key_id] = LiveKey(entry, server_key)
    body = encode_key_configs([k.config for k in live.values()])
    retirements = [e.retire_at for e, _ in keys if e.retire_at is not None]
    keyset = KeySet(live, body, not_after=min(retirements) if retirements else None)
    if signer is None:
        return keyset
    return sign_key_set(keyset, signer, now=now, validity=signature_validity)


def sign_key_set(keyset: KeySet, signer: SigningKey, *, now: float | None = None,
                 validity: float | None = None) -> KeySet:
    """``keyset`` with a fresh signature, valid ``validity`` seconds from ``now``."""
    from dataclasses import replace

    from pqml.gateway.key_trust import DEFAULT_SIGNATURE_VALIDITY

    now = time.time() if now is None else now
    expires = float(int(now + (DEFAULT_SIGNATURE_VALIDITY if validity is None else validity)))
    return replace(keyset, signature=sign_key_configs(keyset.body, signer, not_after=expires),
                   signature_algorithm=signer.algorithm, signed_at=now,
                   signature_expires=expires)


def sign_key_configs(body: bytes, signer: SigningKey, *,
                     not_after: float | None = None) -> bytes:
    """The signature blob clients check before trusting ``body`` (see key_trust)."""
    from pqml.gateway.key_trust import sign_key_config

    return sign_key_config(body, signer, not_after=not_after)


# ---- the key directory -----------------------------------------------------------------------


class GatewayKeys:
    """A gateway key directory: create, rotate, prune, and load the live keys."""

    def __init__(self, directory: str | os.PathLike[str], *,
                 passphrase: bytes | None = None) -> None:
        self.directory = Path(directory)
        self._passphrase = passphrase

    @property
    def manifest_path(self) -> Path:
        return self.directory / MANIFEST

    # -- reading

    def entries(self) -> list[GatewayKeyEntry]:
        path = self.manifest_path
        try:
            with path.open("rb") as handle:
                raw = handle.read(_MAX_MANIFEST + 1)
        except FileNotFoundError:
            raise GatewayKeyError(f"{self.directory}: not a gateway key directory (no "
                                  f"{MANIFEST}; make one with 'pqml gateway keygen')") from None
        except OSError as exc:
            raise GatewayKeyError(f"{path}: cannot read: {exc.strerror or exc}") from None
        if len(raw) > _MAX_MANIFEST:
            raise GatewayKeyError(f"{path}: over {_MAX_MANIFEST} bytes")
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise GatewayKeyError(f"{path}: not JSON") from None
        if not isinstance(doc, dict) or doc.get("format") != MANIFEST_FORMAT:
            raise GatewayKeyError(f"{path}: not a {MANIFEST_FORMAT} manifest")
        items = doc.get("keys")
        if not isinstance(items, list):
            raise GatewayKeyError(f"{path}: 'keys' must be a list")
        entries = [GatewayKeyEntry.from_json(item, f"{path}: keys[{i}]")
                   for i, item in enumerate(items)]
        if len({e.key_id for e in entries}) != len(entries):
            raise GatewayKeyError(f"{path}: the same key id appears twice")
        return entries

    def live_entries(self, now: float | None = None) -> list[GatewayKeyEntry]:
        now = time.time() if now is None else now
        return [e for e in self.entries() if e.live(now)]

    def load(self, *, signer: SigningKey | None = None, now: float | None = None,
             signature_validity: float | None = None) -> KeySet:
        """The live keys (private keys read from their files) as one snapshot."""
        from pqml.keys import key_files

        pairs: list[tuple[GatewayKeyEntry, KEMPrivateKey]] = []
        for entry in self.live_entries(now):
            path = self.directory / entry.file
            try:
                private = key_files.load_private(path, passphrase=self._passphrase)
            except FileNotFoundError:
                raise GatewayKeyError(f"{path}: key {entry.key_id}'s file is missing") from None
            except OSError as exc:
                raise GatewayKeyError(f"{path}: cannot read: {exc.strerror or exc}") from None
            if not isinstance(private, KEMPrivateKey):
                raise GatewayKeyError(f"{path}: not a KEM private key")
            pairs.append((entry, private))
        return build_key_set(pairs, signer=signer, now=now,
                             signature_validity=signature_validity)

    def state(self) -> tuple[int, int, int] | None:
        """What identifies the manifest's current version (inode, size, mtime)."""
        try:
            st = self.manifest_path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    # -- writing

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        import fcntl

        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _write_manifest(self, entries: list[GatewayKeyEntry]) -> None:
        from pqml._internal.output_file import write_atomic

        doc = {"format": MANIFEST_FORMAT,
               "keys": [e.to_json() for e in sorted(entries, key=lambda e: e.created)]}
        write_atomic(self.manifest_path, (json.dumps(doc, indent=2) + "\n").encode(),
                     mode=0o644, overwrite=True)

    def _new_key(self, entries: list[GatewayKeyEntry], algorithm: str,
                 suites: tuple[SymmetricSuite, ...], now: float) -> GatewayKeyEntry:
        from pqml.keys import key_files

        taken = {e.key_id for e in entries}
        last = max(entries, key=lambda e: e.created).key_id if entries else 0
        key_id = next((k % 256 for k in range(last + 1, last + 257) if k % 256 not in taken),
                      None)
        if key_id is None:
            raise GatewayKeyError(f"{self.directory}: all 256 key ids are in use; prune first")
        name = f"key-{key_id:02x}.pem"
        stale = self.directory / name  # a pruned key's file left by a crash: never reused
        if stale.exists():
            raise GatewayKeyError(f"{stale}: exists but the manifest does not list it; "
                                  "move it away first")
        private = key_files.generate(algorithm, allow_classical=True)
        key_files.save_private(private, stale, passphrase=self._passphrase)
        return GatewayKeyEntry(key_id, algorithm, suites, name, now)

    def create(self, algorithm: str = DEFAULT_ALGORITHM, *,
               suites: tuple[SymmetricSuite, ...] | None = None,
               allow_classical: bool = False, now: float | None = None) -> GatewayKeyEntry:
        """Make a new key directory with one key; refuses a directory that has a manifest.
        ``suites`` defaults to :func:`suites_for` the algorithm."""
        algorithm = check_algorithm(algorithm, allow_classical=allow_classical)
        suites = suites or suites_for(algorithm)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        with self._locked():
            if self.manifest_path.exists():
                raise GatewayKeyError(f"{self.directory}: already a gateway key directory; "
                                      "use 'pqml gateway rotate' to add a key")
            entry = self._new_key([], algorithm, suites, time.time() if now is None else now)
            self._write_manifest([entry])
        return entry

    def rotate(self, *, grace: float = DEFAULT_GRACE, algorithm: str | None = None,
               suites: tuple[SymmetricSuite, ...] | None = None,
               allow_classical: bool = False, now: float | None = None) -> GatewayKeyEntry:
        """Add a key under a new key id; every live older key retires ``grace`` seconds
        from now (an earlier retirement already set is kept)."""
        if grace < 0:
            raise GatewayKeyError("the grace period cannot be negative")
        now = time.time() if now is None else now
        with self._locked():
            entries = self.entries()
            live = [e for e in entries if e.live(now)]
            newest = max(live or entries, key=lambda e: e.created)
            alg = check_algorithm(algorithm or newest.algorithm,
                                  allow_classical=allow_classical)
            inherited = newest.suites if alg == newest.algorithm else suites_for(alg)
            entry = self._new_key(entries, alg, suites or inherited, now)
            retire = now + grace
            updated = [e if not e.live(now) or (e.retire_at is not None and e.retire_at <= retire)
                       else _replace(e, retire_at=retire) for e in entries]
            self._write_manifest([*updated, entry])
        _log_rotation(self.directory, entry, grace)
        return entry

    def prune(self, *, now: float | None = None) -> list[int]:
        """Delete retired keys (manifest first, then files); returns their key ids."""
        now = time.time() if now is None else now
        with self._locked():
            entries = self.entries()
            gone = [e for e in entries if not e.live(now)]
            if not gone:
                return []
            self._write_manifest([e for e in entries if e.live(now)])
            for entry in gone:
                with contextlib.suppress(FileNotFoundError):
                    (self.directory / entry.file).unlink()
        return [e.key_id for e in gone]


def _log_rotation(directory: Path, entry: GatewayKeyEntry, grace: float) -> None:
    """Put the rotation on the transparency log (a warning if it cannot take it)."""
    from pqml.log import recorder
    from pqml.log.entry import Asset, LogEntry

    recorder.record_or_warn(lambda: LogEntry(
        "gateway.key-rotate", "ok", assets=(Asset(str(directory.resolve())),),
        details={"key_id": entry.key_id, "algorithm": entry.algorithm,
                 "grace_seconds": grace}))


def _replace(entry: GatewayKeyEntry, **changes: Any) -> GatewayKeyEntry:
    from dataclasses import replace

    return replace(entry, **changes)


# ---- what the middleware holds ----------------------------------------------------------------


class KeyStore:
    """The key set a running gateway uses, reloaded when its directory changes.

    ``current()`` is called per request and never touches the disk: at most every
    ``reload_interval`` seconds it starts a reload on a background thread (one at a
    time), which ``stat``s the manifest and, when it changed, a key's retirement passed or
    the signature is past half its validity, loads (or re-signs) the set and swaps it in
    whole. Requests go on with the set they have meanwhile. A reload that fails (a
    half-edited manifest, an unreadable key file) keeps the last good set, reports through
    ``on_error``, and the next attempt waits twice as long as the last, up to
    ``max_backoff`` seconds: a broken directory is not re-read in a tight loop.
    """

    def __init__(self, source: GatewayKeys | KeySet, *, signer: SigningKey | None = None,
                 reload_interval: float = 0.5, max_backoff: float = 60.0,
                 signature_validity: float | None = None,
                 clock: Callable[[], float] = time.time,
                 on_error: Callable[[Exception], None] | None = None) -> None:
        import threading

        self._clock = clock
        self._signer = signer
        self._interval = reload_interval
        self._max_backoff = max(max_backoff, reload_interval)
        self._validity = signature_validity
        self._on_error = on_error
        self._keys: GatewayKeys | None = None
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._failures = 0
        self.attempts = 0  # reload attempts that read the directory (for tests and metrics)
        now = clock()
        if isinstance(source, KeySet):
            self._set = source
            if signer is not None and source.signature_expires is None:
                self._set = sign_key_set(source, signer, now=now, validity=self._validity)
        else:
            self._keys = source
            self._state = source.state()
            self._set = source.load(signer=signer, now=now, signature_validity=self._validity)
        self._next_check = now + reload_interval

    @property
    def directory(self) -> GatewayKeys | None:
        return self._keys

    def now(self) -> float:
        """The store's clock (Unix seconds): what key retirements are measured against."""
        return self._clock()

    def current(self) -> KeySet:
        """The set to use now; may start a background reload, never waits for one."""
        if self._keys is not None or self._signer is not None:
            now = self._clock()
            if now >= self._next_check:
                self._start_reload(now)
        return self._set

    def _start_reload(self, now: float) -> None:
        import threading

        with self._lock:
            if self._thread is not None or now < self._next_check:
                return  # one reload at a time
            self._next_check = float("inf")  # until this one finishes
            self._thread = threading.Thread(target=self._reload_in_background, args=(now,),
                                            name="pqml-gateway-key-reload", daemon=True)
            self._thread.start()

    def _reload_in_background(self, now: float) -> None:
        ok = False
        try:
            ok = self._try_reload(now, force=False)
        finally:
            with self._lock:
                delay = self._interval if ok else min(
                    self._max_backoff, max(self._interval, 0.5) * 2 ** self._failures)
                self._next_check = self._clock() + delay
                self._thread = None

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a reload in flight, if any (tests, orderly shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _try_reload(self, now: float, *, force: bool) -> bool:
        """Reload or re-sign if needed; False only if that failed (the set is kept)."""
        current = self._set
        resign = self._signer is not None and current.resign_due(now)
        try:
            if self._keys is None:
                if resign:
                    assert self._signer is not None
                    self._set = sign_key_set(current, self._signer, now=now,
                                             validity=self._validity)
                return True
            state = self._keys.state()
            expired = current.not_after is not None and now >= current.not_after
            if not (force or resign or expired or state != self._state):
                return True
            self.attempts += 1
            new = self._keys.load(signer=self._signer, now=now,
                                  signature_validity=self._validity)
        except Exception as exc:  # keep serving the last good set
            self._failures += 1
            if self._on_error is not None:
                self._on_error(exc)
            return False
        self._failures = 0
        self._set, self._state = new, state
        return True

    def reload(self, now: float | None = None, *, force: bool = False) -> bool:
        """Reload now, on this thread, if the directory changed (or ``force``); True if
        the set was replaced. For callers off the event loop (the CLI, tests)."""
        before = self._set
        self._try_reload(self._clock() if now is None else now, force=force)
        return self._set is not before

"""``pqml migrate``: move classical-only artifacts to post-quantum protection.

Four kinds of artifact, each in its own module:

=====================  ==================================================  ==================
kind                   protected now by                                    becomes
=====================  ==================================================  ==================
age v1 file            X25519 (or ssh-ed25519 / ssh-rsa) recipient stanzas X-Wing stanzas
pqml/v1 file           an x25519 stanza (legacy opt-in)                    the ``--to`` KEMs
OMS signature bundle   ECDSA (Ed25519, RSA) DSSE signatures only           + ML-DSA co-signature
RSA-wrapped blob       RSA-OAEP-SHA-256 + AES-256-GCM (five layouts)       pqml/v1
=====================  ==================================================  ==================

(:mod:`.migration_files` rewrites headers through rekey, payload untouched;
:mod:`.migration_oms` verifies then co-signs in the same envelope; :mod:`.migration_blobs`
re-encrypts the layouts :mod:`.migration_rsa` documents.)

**Dry run first.** :func:`migrate` without ``apply`` changes nothing (no artifact, no
journal): it reports each artifact's kind, what protects it now (quantum-vulnerable
parts named), what it would become, the exact action, and a status -- ``ready``,
``needs`` (a key or target is missing: the reason says which option), ``nothing to do``
(already post-quantum, or a passphrase) or ``refused`` (unsupported layout, wrong key,
tampered input, an invalid target; the reason names the problem).

**Apply.** With ``apply`` every artifact is checked first, and nothing is changed if one
is refused or needs something (as ``rekey`` of several files). Then each is migrated,
one after the other, each atomically: the new version is complete and checked before it
takes the old one's name (rekey's own write for encrypted files; a synced unnamed file
renamed over a bundle or blob). Migration writes in place, like rekey and unlike
encrypt: the artifact keeps its path (the name loaders, bundles and configurations use)
and its mode, and no classical copy is left beside the new one, which would keep the
harvest-now-decrypt-later exposure the migration exists to end.

**Crash safety.** A journal in ``$PQML_HOME/journals`` (:mod:`.migration_journal`) holds
each artifact's progress; rerunning the same command after a crash resumes: artifacts
already replaced have their record finished, the others are migrated. Rerunning after
success changes nothing: every artifact is then post-quantum ("nothing to do").

Keys: ``--to`` recipients, ``-i`` identities, ``--sign-key`` and ``--trust-key`` are key
files or keyring references (:mod:`pqml.keys.key_refs`); keyring keys have their state
checked and their use recorded (operation ``migrate``) once per migrated artifact.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from pqml.keys.errors import MigrationError, MigrationFailed
from pqml.primitives.errors import PolicyError, PqmlError

Status = Literal["ready", "needs", "nothing to do", "refused", "migrated", "completed",
                 "failed", "not attempted"]
FAULT_ENV = "PQML_FAULT_KILL_AT"
"""Fault injection for the crash tests (issue 11, item 6: "injected kills"): ``POINT`` or
``POINT:N`` kills this process with SIGKILL the N-th time (default 1st) it reaches
``POINT`` -- ``migrate.planned`` (journal written, artifact untouched),
``migrate.replaced`` (new version in place, not yet recorded) or
``migrate.recorded`` (recorded, journal not yet ``done``). Unset: no effect."""
_fault_hits: dict[str, int] = {}


def _emit(event: str, **details: Any) -> None:
    """Put one migrated artifact on the transparency log (``migrate``, with path, kind,
    key_ids, recipient or signature algorithms, classical_only=False, bytes, format)."""
    from pqml.log import recorder
    from pqml.log.entry import Asset, LogEntry

    path = str(details.pop("path"))
    keys = tuple(str(k) for k in details.pop("key_ids", ()) or ())
    asset = details.pop("asset", None)
    assets = (Asset(path),) if asset in (None, path) else (Asset(path), Asset(str(asset)))
    recorder.record_or_warn(lambda: LogEntry(event, "ok", key_ids=keys, assets=assets,
                                             details={
        k: v if isinstance(v, (str, int, float, bool)) or v is None else str(v)
        for k, v in details.items()}))


def _fault(point: str) -> None:
    spec = os.environ.get(FAULT_ENV)
    if not spec:
        return
    name, _, nth = spec.partition(":")
    if name != point:
        return
    _fault_hits[point] = _fault_hits.get(point, 0) + 1
    if _fault_hits[point] == (int(nth) if nth else 1):
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Artifact:
    """One artifact in the report."""

    path: str
    kind: str
    status: Status
    now: str = ""
    becomes: str | None = None
    action: str = "none"
    quantum_vulnerable: bool | None = None
    reason: str | None = None
    warning: str | None = None
    layout: str | None = None
    result: dict[str, Any] | None = None
    # what the survey read (encryption facts, the parsed bundle), reused to apply
    handle: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "handle"}


@dataclass
class MigrationReport:
    artifacts: list[Artifact]
    applied: bool
    journal: str | None = None  # a journal left to resume (dry run: one that exists)

    @property
    def ok(self) -> bool:
        bad = ("refused", "failed") + (("needs",) if self.applied else ())
        return not any(a.status in bad for a in self.artifacts)

    def to_dict(self) -> dict[str, Any]:
        return {"applied": self.applied, "ok": self.ok, "journal": self.journal,
                "artifacts": [a.to_dict() for a in self.artifacts]}


# ---- what the user gave --------------------------------------------------------------------


@dataclass
class MigrationRequest:
    """The targets and keys of one migration. Inputs are what ``pqml encrypt -r``,
    ``-i``, ``sign -k`` and ``verify -k`` take (key objects, key files, age strings,
    keyring references); they are resolved once, on first use."""

    to: list[Any] = field(default_factory=list)
    identity_inputs: list[Any] = field(default_factory=list)
    sign_key_input: Any = None
    trusted_inputs: list[Any] = field(default_factory=list)
    layout: str | None = None
    key_passphrase: bytes | None = field(default=None, repr=False)
    certificate_chain: list[Any] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def build(cls, to: Iterable[Any] = (), identities: Iterable[Any] = (),
              sign_key: Any = None, trusted_keys: Iterable[Any] = (),
              layout: str | None = None, key_passphrase: bytes | None = None,
              certificate_chain: Iterable[Any] = ()) -> MigrationRequest:
        from pqml.encryption.encryption_keys import resolve_recipients
        from pqml.keys import migration_rsa

        if layout is not None and layout not in migration_rsa.BINARY_LAYOUTS:
            raise MigrationError(f"unknown --layout {layout!r} (binary layouts: "
                                 f"{', '.join(migration_rsa.BINARY_LAYOUTS)})")
        uses = _keyring_uses(key_passphrase)
        targets = resolve_recipients(uses["to"].recipients(list(to)) if uses else list(to))
        _check_post_quantum(targets)
        ids = list(identities)
        if uses:
            ids = [uses["identities"].identity(i) or i for i in ids]
        trusted = list(trusted_keys)
        if uses:
            trusted = uses["trust"].trusted_keys(trusted)
        sign = sign_key
        if uses and sign is not None:
            sign = uses["sign"].signing_keys([sign])[0]
        request = cls(targets, ids, sign, trusted, layout, key_passphrase,
                      certificate_chain=list(certificate_chain))
        request._cache["uses"] = uses
        return request

    def resolved_identities(self) -> list[Any]:
        if "identities" not in self._cache:
            from pqml.encryption.encryption_keys import resolve_identities

            self._cache["identities"] = resolve_identities(self.identity_inputs)
        return list(self._cache["identities"])

    def rsa_keys(self) -> list[Any]:
        """The RSA private keys among the identities, as RSA-OAEP keys (a PEM RSA key
        loads as RSA-PSS by default; the key is the same)."""
        if "rsa" not in self._cache:
            from pqml.primitives import registry

            oaep = registry.scheme("RSA-OAEP")
            keys = []
            if self.identity_inputs:
                for key in self.resolved_identities():
                    if getattr(key, "algorithm", None) in ("RSA-PSS", "RSA-OAEP"):
                        keys.append(oaep.private_from_bytes(key.private_bytes()))
            self._cache["rsa"] = keys
        return list(self._cache["rsa"])

    def signing_key(self) -> Any:
        """The post-quantum signing key (``--sign-key``), loaded once."""
        if "sign" not in self._cache:
            self._cache["sign"] = _load_signing_key(self.sign_key_input, self.key_passphrase)
        return self._cache["sign"]

    def sign_algorithm(self) -> str | None:
        return None if self.sign_key_input is None else self.signing_key().algorithm

    @property
    def trusted_keys(self) -> list[Any]:
        return list(self.trusted_inputs)

    @property
    def has_trust(self) -> bool:
        return bool(self.trusted_inputs or self.certificate_chain)

    @property
    def identities(self) -> list[Any]:
        return list(self.identity_inputs)

    def to_described(self, fmt: str) -> list[dict[str, Any]]:
        from pqml.encryption import encrypted_formats as fmts

        return fmts.prepare_recipients(fmt, self.to, allow_classical=False)[1]

    def run_id(self, paths: Sequence[Path]) -> str:
        """The journal's name: a digest of what is migrated to what (not of the keys that
        open the inputs: a rerun with another identity resumes the same run)."""
        from pqml.formats import keyfile

        parts = {"paths": sorted(os.path.realpath(p) for p in paths),
                 "to": sorted(hashlib.sha256(keyfile.public_key_to_der(k)).hexdigest()
                              if hasattr(k, "public_bytes") else repr(k) for k in self.to),
                 "sign": None if self.sign_key_input is None else
                 hashlib.sha256(keyfile.public_key_to_der(
                     self.signing_key().public_key())).hexdigest(),
                 "layout": self.layout}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]

    def record(self, artifact: Artifact, asset: str, nbytes: int) -> None:
        """Count keyring keys' use for one migrated artifact and link ``asset`` (the file,
        or a bundle's model) to the keys that now protect it; no-op for key files."""
        uses = self._cache.get("uses")
        if not uses:
            return
        if artifact.kind == "oms-bundle":
            uses["sign"].record("migrate", asset, nbytes)
            uses["trust"].record("verify", asset)
        else:
            uses["to"].record("migrate", asset, nbytes)
            uses["identities"].record("decrypt", asset, nbytes)

    def key_ids(self, artifact: Artifact) -> tuple[str, ...]:
        """The ids (keyring ids: pqml/v1 key ids, OMS hints) of the keys that protect the
        migrated artifact: the co-signing key, or the target recipients."""
        from pqml.keys.keyring import key_id_of

        if artifact.kind == "oms-bundle":
            return (key_id_of(self.signing_key()),)
        return tuple(key_id_of(k) for k in self.to if hasattr(k, "public_bytes"))


def _keyring_uses(passphrase: bytes | None) -> dict[str, Any] | None:
    """One :class:`~pqml.keys.key_refs.KeyringUse` per role, so each artifact records
    only the keys that protect it; None when there is no keyring at all."""
    from pqml.keys.key_refs import KeyringUse
    from pqml.keys.keyring import Keyring

    keyring = Keyring()
    if not keyring.exists():
        return None
    return {role: KeyringUse(keyring, passphrase)
            for role in ("to", "identities", "sign", "trust")}


def _check_post_quantum(targets: list[Any]) -> None:
    from pqml.primitives import registry
    from pqml.primitives.errors import UnknownAlgorithmError

    for target in targets:
        alg = getattr(target, "algorithm", None)
        if alg is None:
            raise PolicyError("--to must be a post-quantum public key or age1pq1… recipient "
                              "(a passphrase cannot be a migration target)")
        try:
            entry = registry.get(alg)
        except UnknownAlgorithmError:
            continue  # a format-specific recipient (e.g. ssh-rsa): the format decides
        if entry.quantum_vulnerable:
            raise PolicyError(f"--to {alg} key is quantum-vulnerable: migrate moves "
                              "artifacts to post-quantum recipients (e.g. X-Wing, age1pq1…)")


def _load_signing_key(source: Any, passphrase: bytes | None) -> Any:
    from pqml.keys import key_files
    from pqml.primitives import registry
    from pqml.primitives.base import PrivateKey, SigningKey
    from pqml.primitives.errors import WrongKeyTypeError

    if source is None:
        raise MigrationError("no signing key: give a post-quantum key with --sign-key")
    key = source if isinstance(source, PrivateKey) else key_files.load_private(
        Path(source), passphrase=passphrase)
    where = source if not isinstance(source, PrivateKey) else f"{key.algorithm} key"
    entry = registry.get(key.algorithm)
    if entry.family != "signature" or not isinstance(key, SigningKey):
        raise WrongKeyTypeError(f"{where}: {key.algorithm} is not a signature key")
    if entry.quantum_vulnerable:
        raise PolicyError(f"{where}: {key.algorithm} is quantum-vulnerable: --sign-key must "
                          "be post-quantum (e.g. ML-DSA-65)")
    return key


# ---- survey --------------------------------------------------------------------------------


def _bundle_of(path: Path) -> Path | None:
    from pqml.signing.signing import find_signature

    candidate = find_signature(path)
    return candidate if candidate.is_file() else None


def survey_one(path: Path, request: MigrationRequest) -> Artifact:
    """The report row of one path (nothing is written)."""
    from pqml.keys import migration_blobs, migration_files, migration_oms

    shown = str(path)
    if path.is_dir():
        bundle_path = _bundle_of(path)
        if bundle_path is None:
            return Artifact(shown, "directory", "refused", reason=(
                "a directory without a signature bundle (model.sig); migrate takes files: "
                "pqml scan --plan lists the artifacts to migrate"))
        path, shown = bundle_path, str(bundle_path)
    if not path.is_file():  # a FIFO or device would block or never end
        return Artifact(shown, "unknown", "refused", reason="not a regular file")
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
        info = migration_files.inspect_file(path)
        if info is not None:
            found = migration_files.survey(path, info, request)
            handle = {"info": info}
        elif migration_oms.looks_like_bundle(head) and (
                bundle := migration_oms.read(path)) is not None:
            found = migration_oms.survey(path, bundle, request)
            handle = {"bundle": bundle}
        else:
            data = migration_blobs.read_blob(path)
            found = migration_blobs.survey(path, data, request)
            handle = {}
    except (PqmlError, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return Artifact(shown, "unknown", "refused", reason=reason.removeprefix(f"{path}: "))
    from pqml.keys.migration_journal import fingerprint

    handle["fingerprint"] = fingerprint(path)  # what apply checks it still is
    return Artifact(shown, handle=handle, **found)


def survey(paths: Iterable[str | os.PathLike[str]], request: MigrationRequest
           ) -> list[Artifact]:
    return [survey_one(Path(p), request) for p in paths]


# ---- apply ---------------------------------------------------------------------------------


def _apply_one(artifact: Artifact, request: MigrationRequest, before: str) -> dict[str, Any]:
    from pqml.keys import migration_blobs, migration_files, migration_oms

    path = Path(artifact.path)
    if artifact.kind in migration_files.KINDS:
        return migration_files.apply(path, artifact.handle["info"], request)
    if artifact.kind == migration_oms.KIND:
        return migration_oms.apply(path, artifact.handle["bundle"], request, before)
    return migration_blobs.apply(path, before, request)


def _asset(artifact: Artifact) -> str:
    """What the migration protects: the file, or the model a bundle signs."""
    from pqml.keys import migration_oms

    if artifact.kind == migration_oms.KIND and "bundle" in artifact.handle:
        path = migration_oms.model_for(Path(artifact.path), artifact.handle["bundle"])
        return os.path.abspath(path)
    return os.path.abspath(artifact.path)


def _finish(artifact: Artifact, request: MigrationRequest, journal: Any) -> None:
    """Record one migrated artifact (keyring use, log seam), then mark it done."""
    size = os.path.getsize(artifact.path)
    asset = _asset(artifact)
    request.record(artifact, asset, size)
    details = {k: v for k, v in (artifact.result or {}).items()
               if isinstance(v, (str, int, float, bool)) and k not in ("path", "kind")}
    if artifact.kind != "oms-bundle":
        details["recipient_algorithms"] = ",".join(
            sorted({getattr(k, "algorithm", "?") for k in request.to}))
        details["format"] = "age" if artifact.kind == "age" else "pqml/v1"
    _emit("migrate", path=os.path.abspath(artifact.path), kind=artifact.kind, asset=asset,
          key_ids=request.key_ids(artifact), classical_only=False, bytes=size, **details)
    _fault("migrate.recorded")
    journal.mark(artifact.path, artifact.kind, "done")


def _resume(artifacts: list[Artifact], request: MigrationRequest, journal: Any) -> None:
    """Finish the artifacts an interrupted run replaced but did not record."""
    from pqml.keys.migration_journal import fingerprint

    for artifact in artifacts:
        entry = journal.pending(artifact.path)
        if entry is None:
            continue
        try:
            now = fingerprint(artifact.path)
        except OSError:
            continue
        if artifact.status == "nothing to do" and now != entry.before:
            artifact.status = "completed"
            artifact.reason = "migrated by an interrupted run; its record was finished now"
            artifact.result = {"resumed": True}
            _finish(artifact, request, journal)


def migrate(paths: Iterable[str | os.PathLike[str]], *, to: Iterable[Any] = (),
            identities: Iterable[Any] = (), sign_key: Any = None,
            trusted_keys: Iterable[Any] = (), certificate_chain: Iterable[Any] = (),
            layout: str | None = None,
            key_passphrase: bytes | None = None, apply: bool = False,
            request: MigrationRequest | None = None) -> MigrationReport:
    """Report (and with ``apply``, perform) the migration of ``paths`` to post-quantum
    protection. ``to``: recipients for encrypted files and blobs; ``identities``: keys
    that open them now (RSA keys for blobs); ``sign_key``: the post-quantum key that
    co-signs classical bundles after they verify against ``trusted_keys`` (or, for
    certificate bundles, ``certificate_chain``: trusted PEM certificates); ``layout``: a
    binary blob layout (``lp16`` or ``concat``). With ``apply``, raises
    :class:`MigrationFailed` (its ``report`` says what happened to each artifact) when an
    artifact cannot be migrated (then none is changed) or one failed (the run stops there;
    rerunning resumes)."""
    from pqml.keys.migration_journal import Journal, fingerprint, journals_dir

    files = [Path(p) for p in paths]
    if not files:
        raise MigrationError("no artifacts to migrate")
    req = request or MigrationRequest.build(to, identities, sign_key, trusted_keys, layout,
                                            key_passphrase, certificate_chain)
    artifacts = survey(files, req)
    _refuse_duplicates(artifacts)
    run_id = req.run_id([Path(a.path) for a in artifacts])
    journal_path = journals_dir() / f"migrate-{run_id}.json"
    if not apply:
        return MigrationReport(artifacts, False,
                               str(journal_path) if journal_path.exists() else None)
    ready = [a for a in artifacts if a.status == "ready"]
    if not ready and not journal_path.exists():
        report = MigrationReport(artifacts, True)
        _raise_if_blocked(report)
        return report
    with Journal.open(run_id) as journal:
        _resume(artifacts, req, journal)
        report = MigrationReport(artifacts, True, str(journal.path))
        _raise_if_blocked(report)
        for i, artifact in enumerate(ready):
            try:
                before = artifact.handle.get("fingerprint") or fingerprint(artifact.path)
                journal.mark(artifact.path, artifact.kind, "planned", before=before)
                _fault("migrate.planned")
                artifact.result = _apply_one(artifact, req, before)
                _fault("migrate.replaced")
                artifact.status = "migrated"
                _finish(artifact, req, journal)
            except (PqmlError, OSError) as exc:
                artifact.status = "failed"
                artifact.reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror
                                   else str(exc)).removeprefix(f"{artifact.path}: ")
                for rest in ready[i + 1:]:
                    rest.status = "not attempted"
                    rest.reason = "the run stopped at an earlier failure"
                raise MigrationFailed(f"{artifact.path}: {artifact.reason} (the artifacts "
                                      "before it were migrated; rerun to resume)",
                                      report) from None
        if journal.finish():
            report.journal = None
    return report


def _refuse_duplicates(artifacts: list[Artifact]) -> None:
    seen: dict[str, str] = {}
    for a in artifacts:
        key = os.path.realpath(a.path)
        if key in seen:
            raise MigrationError(f"{a.path}: given twice (also as {seen[key]}); nothing was "
                                 "changed")
        seen[key] = a.path


def _raise_if_blocked(report: MigrationReport) -> None:
    blocked = [a for a in report.artifacts if a.status in ("refused", "needs")]
    if not blocked:
        return
    first = blocked[0]
    total = len(report.artifacts)
    prefix = "" if total == 1 else \
        f"{len(blocked)} of {total} artifacts cannot be migrated, so none was changed: "
    raise MigrationFailed(f"{prefix}{first.path}: {first.reason}", report)

"""Sign and verify models as OpenSSF Model Signing (OMS) bundles, post-quantum or hybrid.

Three layers, each usable alone, as in model_signing: hashing (:mod:`.manifest`), signing
(one DSSE envelope, one signature per key) and verifying (signatures against a trust
policy first, then the files). What pqml adds to the format, without breaking it:

* **Several signatures in one envelope**, in the order the keys were given. model_signing
  verifies only ``signatures[0]`` (ECDSA), so a hybrid bundle lists the ECDSA key first and
  stays verifiable by it while pqml also checks the ML-DSA / SLH-DSA / Falcon / composite
  signatures after it. Every signature's ``keyid`` is its key's OMS hint (SHA-256 of the SPKI
  PEM), so a verifier maps signatures to trusted keys without trying each;
  ``verificationMaterial.publicKey.hint`` names the first key, as model_signing expects.
  PQ keys sign the DSSE PAE bytes themselves with an empty context string, the plain use
  any other DSSE verifier would make of the algorithm.
* **The root digest and file sizes** in the predicate's ``pqml`` field (model_signing
  ignores it): names, sizes and digests in one value, and empty files covered even by
  the ``shards`` method, which has no resource for them.
* **Verification that fails closed**: the signature and trust policy are checked before any
  file is read; then every signed file must match, every unsigned file is reported (and
  fails unless allowed), symlinks are refused unless allowed, and no name from the bundle
  is ever opened outside the model root.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from pqml._internal.text import printable
from pqml.formats import oms
from pqml.primitives.base import PrivateKey, SigningKey
from pqml.primitives.errors import PolicyError, PqmlError, WrongKeyTypeError
from pqml.signing import integrity, manifest, model_tree
from pqml.signing import policy as trust_policy
from pqml.signing.errors import (
    IntegrityError,
    SignatureVerificationError,
    TrustPolicyError,
    UnsignedFileError,
)
from pqml.signing.policy import KeySource, TrustedKey, TrustPolicy

SIGNATURE_NAME = "model.sig"
MAX_BUNDLE_SIZE = 256 << 20  # a 1 TB model in 64 MiB shards needs about 2 MB
MethodChoice = Literal["auto", "files", "shards"]


def default_signature_path(model: str | os.PathLike[str]) -> Path:
    """``MODEL/model.sig`` for a directory (what model_signing writes when run inside it,
    and where the vectors keep it), ``MODEL.sig`` beside a single file."""
    path = Path(model)
    return path / SIGNATURE_NAME if path.is_dir() else path.with_name(path.name + ".sig")


def find_signature(model: str | os.PathLike[str]) -> Path:
    """The default bundle to verify; for a single file, also ``model.sig`` beside it
    (model_signing's default name when it signs a file from that file's directory)."""
    path = Path(model)
    default = default_signature_path(path)
    if path.is_dir() or default.exists():
        return default
    sibling = path.with_name(SIGNATURE_NAME)
    return sibling if sibling.exists() else default


# ---- signing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignResult:
    model: Path
    signature: Path
    manifest: manifest.Manifest
    algorithms: tuple[str, ...]
    key_ids: tuple[str, ...]
    ignore_paths: tuple[str, ...]
    warnings: tuple[str, ...] = ()

    @property
    def root_digest(self) -> str:
        return self.manifest.root_digest()

    def as_dict(self) -> dict[str, Any]:
        from pqml.primitives import registry

        return {
            "model": str(self.model),
            "signature": str(self.signature),
            "root_digest": self.root_digest,
            "subject_digest": oms.subject_digest(self.manifest.resources()),
            "hash_type": self.manifest.hash_type,
            "method": self.manifest.method,
            "shard_size": self.manifest.shard_size,
            "files": len(self.manifest.files),
            "ignore_paths": list(self.ignore_paths),
            "signatures": [
                {
                    "algorithm": alg,
                    "key_id": kid,
                    "quantum_vulnerable": registry.get(alg).quantum_vulnerable,
                }
                for alg, kid in zip(self.algorithms, self.key_ids, strict=True)
            ],
            "warnings": list(self.warnings),
        }


def _signing_key(source: SigningKey | PrivateKey | str | os.PathLike[str],
                 passphrase: bytes | None) -> tuple[SigningKey, str]:
    from pqml.keys import key_files as keys
    from pqml.primitives import registry

    if isinstance(source, PrivateKey):
        key: PrivateKey = source
        where = f"{source.algorithm} key"
    else:
        where = os.fspath(source)
        key = keys.load_private(Path(source), passphrase=passphrase)
    if registry.get(key.algorithm).family != "signature" or not isinstance(key, SigningKey):
        raise WrongKeyTypeError(f"{where}: {key.algorithm} is not a signature key")
    return key, where


def _choose_method(method: MethodChoice, htype: str, first: str, shard_size: int | None,
                   names: Iterable[str]) -> manifest.Method:
    if method != "auto":
        return method
    if shard_size is not None:
        return "shards"
    if htype == "blake3" or first.startswith("ECDSA-"):
        return "files"  # BLAKE3 is parallel by itself; model_signing can verify only files
    if any(":" in name for name in names):
        return "files"  # shard resources are 'path:start:end': such a name is ambiguous
    return "shards"


def _urls(*targets: Any) -> bool:
    from pqml.storage.urls import is_url

    return any(is_url(t) for t in targets)


def _text(target: str | os.PathLike[str] | None) -> str | None:
    return None if target is None else os.fspath(target)


@dataclass(frozen=True)
class Signers:
    """The checked signing keys of one signing run, the hash they sign over and, for a
    certificate-method bundle, its certificates: everything but the model's bytes, shared
    by local and object-storage signing so both write the same bundle."""

    keys: tuple[SigningKey, ...]
    hash_type: str
    material: Any = None  # certificate_bundles.CertificateMaterial, or None

    @property
    def first(self) -> SigningKey:
        return self.keys[0]

    @property
    def algorithms(self) -> list[str]:
        return [k.algorithm for k in self.keys]

    @property
    def hints(self) -> tuple[str, ...]:
        return tuple(trust_policy.key_hint(k.public_key()) for k in self.keys)

    def bundle(self, statement: oms.Statement) -> oms.Bundle:
        """``statement`` signed by every key, in order, as one OMS bundle."""
        if self.material is not None:
            statement = self.material.add_time(statement)
        payload = statement.to_payload()
        pae = oms.pae(oms.IN_TOTO_PAYLOAD_TYPE, payload)
        hints = self.hints
        sigs = tuple(oms.Signature(k.sign(pae), keyid=h)
                     for k, h in zip(self.keys, hints, strict=True))
        content: oms.KeyMaterial = oms.PublicKeyIdentifier(hint=hints[0]) \
            if self.material is None else oms.CertificateChain(self.material.certificates)
        return oms.Bundle(oms.VerificationMaterial(content), oms.Envelope(payload, sigs))


def prepare_signers(
    keys: Sequence[SigningKey | PrivateKey | str | os.PathLike[str]], *,
    profile: str = "default", hash: str | None = None, passphrase: bytes | None = None,
    certificate: str | os.PathLike[str] | None = None,
    certificate_chain: Sequence[str | os.PathLike[str]] = (),
) -> Signers:
    """Load and check the keys against ``profile``, the certificate against the first key
    and the hash against the profile: every check that needs no model byte, done first."""
    from pqml.primitives import registry

    if not keys:
        raise PolicyError("at least one signing key is required (-k KEY)")
    prof = registry.profile(profile)
    signers = [_signing_key(k, passphrase) for k in keys]
    for key, where in signers:
        try:
            prof.check(registry.get(key.algorithm))
        except PolicyError as exc:
            raise PolicyError(f"{where}: {exc}") from None
    material = None
    if certificate is not None:
        from pqml.signing import certificate_bundles

        material = certificate_bundles.prepare(signers[0][0], certificate, certificate_chain)
    htype = manifest.hash_type(hash or prof.default("hash").name)
    prof.check(registry.get(manifest.registry_name(htype)))
    registry.get(manifest.registry_name(htype)).require_available()
    return Signers(tuple(k for k, _ in signers), htype, material)


def subject_name(model: Path) -> str:
    """model_signing's subject name: the model path's last component."""
    name = model.name
    if not name or name == "..":
        name = os.path.basename(os.path.realpath(model))
    return name


def sign_model(
    model: str | os.PathLike[str],
    keys: Sequence[SigningKey | PrivateKey | str | os.PathLike[str]],
    *,
    signature: str | os.PathLike[str] | None = None,
    profile: str = "default",
    hash: str | None = None,
    method: MethodChoice = "auto",
    shard_size: int | None = None,
    ignore_paths: Iterable[str | os.PathLike[str]] = (),
    ignore_git_paths: bool = True,
    allow_symlinks: bool = False,
    passphrase: bytes | None = None,
    workers: int | None = None,
    force: bool = False,
    certificate: str | os.PathLike[str] | None = None,
    certificate_chain: Sequence[str | os.PathLike[str]] = (),
) -> SignResult:
    """Hash ``model`` (a directory or one file) and write an OMS bundle signed by ``keys``.

    ``keys`` are signing keys or private key files, one DSSE signature each, in order.
    ``profile`` 'cnsa2' defaults the hash to SHA-384 and refuses keys CNSA 2.0 does not
    allow. ``method`` 'auto' signs ``files`` when the first key is ECDSA or the hash is
    BLAKE3, else ``shards`` of ``shard_size`` (64 MiB). The bundle is written atomically to
    ``signature`` (default: :func:`default_signature_path`); inputs are never modified.
    An existing bundle is refused (:class:`OutputExistsError`, before any hashing) unless
    ``force``: re-signing replaces a signature someone may rely on, so it is asked for.
    With ``certificate`` (the first key's X.509 certificate) and ``certificate_chain``
    (its intermediates) the bundle is a certificate-method one; see
    :mod:`pqml.signing.certificate_bundles`.
    """
    if _urls(model, signature):  # object storage: same manifest and bundle, other ends
        from pqml.storage.signed_objects import sign_object

        # allow_symlinks: an object store has no links, so there is nothing it could allow
        return sign_object(os.fspath(model), keys, signature=_text(signature),
                           profile=profile, hash=hash, method=method, shard_size=shard_size,
                           ignore_paths=ignore_paths, ignore_git_paths=ignore_git_paths,
                           passphrase=passphrase, force=force, certificate=certificate,
                           certificate_chain=certificate_chain)
    root = Path(model)
    signers = prepare_signers(keys, profile=profile, hash=hash, passphrase=passphrase,
                              certificate=certificate, certificate_chain=certificate_chain)
    htype = signers.hash_type
    sig_path = Path(signature) if signature is not None else default_signature_path(root)
    ignore = manifest.default_ignore_paths(root, ignore_paths, ignore_git_paths, sig_path)
    listing = model_tree.list_model(root, ignore_paths=ignore, allow_symlinks=allow_symlinks)
    chosen = _choose_method(method, htype, signers.first.algorithm, shard_size, listing.files)
    if chosen == "shards":
        shard_size = shard_size or manifest.DEFAULT_SHARD_SIZE
        if shard_size <= 0:
            raise PqmlError(f"shard size must be positive, got {shard_size}")
    if not force and os.path.lexists(sig_path):  # before the hashing, which can take long
        from pqml._internal.errors import OutputExistsError

        raise OutputExistsError(f"{sig_path}: a signature bundle already exists; refusing "
                                "to overwrite it (use --force, or force=True, to re-sign)")
    found = manifest.hash_listing(listing, htype=htype, method=chosen, shard_size=shard_size,
                                  allow_symlinks=allow_symlinks, workers=workers)
    if not found.files:
        raise PqmlError(f"{root}: no files to sign")
    given = [model_tree.normalize_relative(p, root) for p in ignore_paths]
    warnings = _sign_warnings(root, signers.algorithms, htype, chosen, given, listing)
    statement = found.to_statement(
        subject_name(root), allow_symlinks=allow_symlinks, ignore_paths=ignore
    )
    bundle = signers.bundle(statement)
    from pqml._internal.output_file import write_atomic

    write_atomic(sig_path, bundle.to_json(), overwrite=force)  # link: never clobbers
    return SignResult(root, sig_path, found, tuple(signers.algorithms), signers.hints,
                      tuple(ignore), tuple(warnings))


def _sign_warnings(root: Path, algorithms: list[str], htype: str, method: str,
                   given_ignores: Sequence[str], listing: model_tree.Listing) -> list[str]:
    from pqml.primitives import registry

    out = []
    if all(registry.get(a).quantum_vulnerable for a in algorithms):
        out.append(
            f"every signature is quantum-vulnerable ({', '.join(algorithms)}): a quantum "
            "computer could forge them; add a post-quantum key too (e.g. -k mldsa65.pem)"
        )
    ecdsa = [i for i, a in enumerate(algorithms) if a.startswith("ECDSA-")]
    if ecdsa and ecdsa[0] != 0:
        out.append(
            "model_signing checks only the first signature: give the ECDSA key first to keep "
            "the bundle verifiable by it"
        )
    if algorithms[0].startswith("ECDSA-") and (htype != "sha256" or method == "shards"):
        out.append(
            f"model_signing 1.1.1's verify command cannot check this bundle ({htype}, "
            f"{method}); it re-hashes with sha256 files: use those for it"
        )
    for path in given_ignores:
        if not any(n == path or n.startswith(path + "/") for n in listing.ignored):
            out.append(f"ignore path {path!r} matches nothing in {root}")
    return out


# ---- checking signatures -------------------------------------------------------------------


SignatureStatus = Literal["verified", "failed", "untrusted"]


@dataclass(frozen=True)
class SignatureCheck:
    """One DSSE signature against the trusted keys."""

    index: int
    status: SignatureStatus
    algorithm: str | None = None
    key_id: str | None = None
    key_source: str | None = None
    quantum_vulnerable: bool | None = None
    detail: str = ""

    def describe(self) -> str:
        alg = self.algorithm or "-"
        key = f"key {self.key_id[:16]}" if self.key_id else "no key id"
        source = f" ({self.key_source})" if self.key_source else ""
        flag = "  quantum-vulnerable" if self.quantum_vulnerable else ""
        detail = f"  ({self.detail})" if self.detail else ""
        head = f"signature {self.index + 1}: {self.status:<10} {alg:<24}"
        return printable(f"{head} {key}{source}{flag}{detail}")  # key id: from the bundle

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "status": self.status,
            "algorithm": self.algorithm,
            "key_id": self.key_id,
            "key_source": self.key_source,
            "quantum_vulnerable": self.quantum_vulnerable,
            "detail": self.detail or None,
        }


def check_signatures(bundle: oms.Bundle, trust: TrustPolicy) -> tuple[list[SignatureCheck],
                                                                         list[str]]:
    """Check every signature of ``bundle`` over its PAE; returns the checks and notes
    (e.g. why a certificate was not trusted). Nothing here looks at the model's files."""
    keys: list[TrustedKey] = list(trust.keys)
    notes: list[str] = []
    material = bundle.verification_material.content
    chain_report = None
    if isinstance(material, oms.CertificateChain | oms.Certificate) and trust.certificate_chain:
        from pqml.signing import certificate_bundles

        try:
            leaf, subject, chain_report = certificate_bundles.trusted_leaf(bundle, trust)
        except SignatureVerificationError as exc:
            notes.append(str(exc))
        else:
            keys.append(TrustedKey(leaf, f"certificate {subject}", trust_policy.key_hint(leaf)))
    hint = material.hint if isinstance(material, oms.PublicKeyIdentifier) else None
    pae = bundle.envelope.pae()
    checks = []
    for index, sig in enumerate(bundle.envelope.signatures):
        key_id = sig.keyid or (hint if index == 0 else None) or None
        candidates = [k for k in keys if k.hint == key_id] if key_id else keys
        checks.append(_check_one(index, sig.sig, pae, key_id, candidates))
    if chain_report is not None:  # say how the certificate was validated
        checks = [replace(c, detail=chain_report.describe())
                  if c.status == "verified" and (c.key_source or "").startswith("certificate ")
                  else c for c in checks]
    return checks, notes


def _check_one(index: int, sig: bytes, pae: bytes, key_id: str | None,
               candidates: Sequence[TrustedKey]) -> SignatureCheck:
    for key in candidates:
        try:
            key.key.verify(sig, pae)
        except (PqmlError, ValueError, TypeError):
            continue
        return SignatureCheck(index, "verified", key.algorithm, key.hint, key.source,
                              key.quantum_vulnerable)
    if key_id and candidates:
        key = candidates[0]
        return SignatureCheck(index, "failed", key.algorithm, key.hint, key.source,
                              key.quantum_vulnerable, "signature does not verify")
    detail = "no trusted key has this key id" if key_id else "no trusted key verifies it"
    return SignatureCheck(index, "untrusted", key_id=key_id, detail=detail)


# ---- verifying -----------------------------------------------------------------------------


@dataclass(frozen=True)
class VerificationResult:
    """Everything verification found; also attached to the error when it fails."""

    ok: bool
    model: Path
    signature: Path
    signatures: tuple[SignatureCheck, ...]
    files: tuple[integrity.FileStatus, ...] = ()
    serialization: oms.Serialization | None = None
    root_digest: str | None = None
    subject_digest: str | None = None
    partial: bool = False
    warnings: tuple[str, ...] = ()
    error: str | None = None

    @property
    def verified_files(self) -> list[str]:
        return [f.name for f in self.files if f.status == "ok"]

    def as_dict(self) -> dict[str, Any]:
        ser = self.serialization
        return {
            "verified": self.ok,
            "model": str(self.model),
            "signature": str(self.signature),
            "partial": self.partial,
            "signatures": [c.as_dict() for c in self.signatures],
            "serialization": ser.to_json_obj() if ser else None,
            "root_digest": self.root_digest,
            "subject_digest": self.subject_digest,
            "files": [f.as_dict() for f in self.files],
            "warnings": list(self.warnings),
            "error": self.error,
        }


@dataclass(frozen=True)
class Authenticated:
    """A bundle whose signatures satisfied the trust policy; its manifest can be trusted."""

    root: Path
    signature: Path
    bundle: oms.Bundle
    statement: oms.Statement
    manifest: manifest.Manifest
    checks: tuple[SignatureCheck, ...]
    warnings: tuple[str, ...] = field(default=())

    def result(self, **kwargs: Any) -> VerificationResult:
        base: dict[str, Any] = {
            "ok": True, "model": self.root, "signature": self.signature,
            "signatures": self.checks, "serialization": self.statement.serialization,
            "subject_digest": self.statement.subject_digest, "warnings": self.warnings,
        }
        base.update(kwargs)
        return VerificationResult(**base)


def build_trust(
    trusted_keys: Iterable[KeySource | TrustedKey] = (),
    certificate_chain: Iterable[str | os.PathLike[str]] = (),
    policy_: TrustPolicy | str | os.PathLike[str] | None = None,
    require_pq: bool = False,
    *,
    expect_name: str | None = None,
    expect_digest: str | None = None,
    crls: Iterable[str | os.PathLike[str]] = (),
) -> TrustPolicy:
    base = policy_ if isinstance(policy_, TrustPolicy) else (
        trust_policy.load_policy(policy_) if policy_ is not None else TrustPolicy()
    )
    trust = base.merged(keys=trusted_keys, certificate_chain=certificate_chain,
                        require_pq=require_pq, crls=crls).pinned(subject_name=expect_name,
                                                      root_digest=expect_digest)
    if not trust.has_trust:
        raise PolicyError(
            "no trusted key: give a public key (-p), a certificate chain or a policy file"
        )
    return trust


def read_bundle(path: Path, *, given: bool = True) -> oms.Bundle:
    """The bundle at ``path``, parsed and size-bounded but not verified. ``given``: the
    user named ``path`` (a missing file is then their mistake, not a hint to give one).
    Only a regular file is read, and never more than the limit (a link to ``/dev/zero``
    or a FIFO is refused, not read until memory runs out or forever)."""
    try:
        data = model_tree.read_regular(path, MAX_BUNDLE_SIZE, "signature bundle")
    except FileNotFoundError:
        if given:
            raise PqmlError(f"{path}: signature file does not exist") from None
        raise PqmlError(f"{path}: no signature bundle there (pass --signature PATH)") from None
    if len(data) > MAX_BUNDLE_SIZE:
        raise oms.BundleFormatError(f"{path}: more than {MAX_BUNDLE_SIZE} bytes is too large "
                                    "for a signature bundle")
    try:
        return oms.parse_bundle(data)
    except oms.BundleFormatError as exc:
        raise oms.BundleFormatError(f"{path}: {exc}") from None


def authenticate(
    model: str | os.PathLike[str],
    trust: TrustPolicy,
    *,
    signature: str | os.PathLike[str] | None = None,
) -> Authenticated:
    """Check the bundle's signatures against ``trust`` before any model file is read.

    Raises SignatureVerificationError (no trusted signature, or a trusted key's signature
    is bad) or TrustPolicyError (e.g. ``require_pq`` without a verified PQ signature); both
    carry a :class:`VerificationResult` as ``report``.
    """
    root = Path(model)
    if not root.exists():
        raise PqmlError(f"{root}: no such file or directory")
    sig_path = Path(signature) if signature is not None else find_signature(root)
    bundle = read_bundle(sig_path, given=signature is not None)
    return authenticate_bundle(root, sig_path, bundle, trust)


def authenticate_bundle(root: Any, sig_path: Any, bundle: oms.Bundle, trust: TrustPolicy
                        ) -> Authenticated:
    """:func:`authenticate` once the bundle is read: no I/O but the trust material's own
    files (certificate chains, CRLs), so a model in object storage is checked by the same
    code. ``root`` and ``sig_path`` only name the model and the bundle in reports."""
    checks, notes = check_signatures(bundle, trust)
    outcome = trust_policy.evaluate(trust, checks)
    warnings = tuple(outcome.warnings + notes)
    if not outcome.ok:
        failures = outcome.signature_failures or outcome.policy_failures
        message = f"{sig_path}: {'; '.join(failures)}"
        if notes and not any(c.status == "verified" for c in checks):
            message += f" ({notes[0]})"
        report = VerificationResult(False, root, sig_path, tuple(checks), warnings=warnings,
                                    error=message)
        kind = SignatureVerificationError if outcome.signature_failures else TrustPolicyError
        raise kind(message, report=report)
    statement = bundle.statement()
    try:
        found = manifest.from_statement(statement)
    except oms.BundleFormatError as exc:
        raise oms.BundleFormatError(f"{sig_path}: {exc}") from None
    manifest.registry_name(found.hash_type)
    pins = _pin_failures(trust, statement, found)
    if pins:
        message = f"{sig_path}: {'; '.join(pins)}"
        raise TrustPolicyError(message, report=VerificationResult(
            False, root, sig_path, tuple(checks), warnings=warnings, error=message))
    return Authenticated(root, sig_path, bundle, statement, found, tuple(checks), warnings)


def _pin_failures(trust: TrustPolicy, statement: oms.Statement, found: manifest.Manifest
                  ) -> list[str]:
    """What the pinned model name and root digest say about an authenticated bundle (a
    bundle is content-addressed: only a pin stops mix-and-match and rollback). The root
    digest of a bundle without file sizes (model_signing's) is its OMS subject digest."""
    out = []
    if trust.subject_name is not None and statement.subject_name != trust.subject_name:
        out.append(f"the bundle signs model {statement.subject_name!r}, expected "
                   f"{trust.subject_name!r}")
    if trust.root_digest is not None:
        signed = found.root_digest() if found.complete else \
            f"sha256:{statement.subject_digest}"
        if signed.lower() != trust.root_digest.strip().lower():
            out.append(f"signed root digest {signed}, expected {trust.root_digest}")
    return out


# ---- digest as recorded --------------------------------------------------------------------


@dataclass(frozen=True)
class DigestResult:
    """A model's manifest and where its hashing parameters came from."""

    model: Path
    manifest: manifest.Manifest
    bundle: Path | None  # the bundle whose parameters were followed; None: the defaults
    looked_at: Path  # where a bundle was looked for
    overridden: tuple[str, ...] = ()  # parameters given explicitly over the bundle's

    @property
    def root_digest(self) -> str:
        return self.manifest.root_digest()

    def parameters(self) -> str:
        """How the model was hashed and why: one line for people."""
        m = self.manifest
        how = f"{m.hash_type}, {m.method}"
        if m.method == "shards":
            how += f" of {m.shard_size} bytes"
        if self.bundle is None:
            return f"{how} (defaults: no signature bundle at {self.looked_at})"
        given = f"; {', '.join(self.overridden)} given" if self.overridden else ""
        return f"{how} (as recorded in {self.bundle}, signatures not checked{given})"

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": str(self.model),
            "parameters_from": str(self.bundle) if self.bundle is not None else "defaults",
            **self.manifest.as_dict(),
        }


def digest_as_recorded(
    model: str | os.PathLike[str],
    *,
    signature: str | os.PathLike[str] | None = None,
    hash: str | None = None,
    method: manifest.Method | None = None,
    shard_size: int | None = None,
    ignore_paths: Iterable[str | os.PathLike[str]] | None = None,
    ignore_git_paths: bool = True,
    allow_symlinks: bool = False,
    workers: int | None = None,
    default_hash: str = "sha256",
    default_method: manifest.Method = "files",
) -> DigestResult:
    """The model's manifest hashed as its bundle records, so the root digest printed for
    an unchanged model is the one ``sign`` recorded (``pqml digest``).

    The bundle is ``signature`` (which must exist) or the one :func:`verify_model` would
    find; its hash, method, shard size and ignore paths are used unless given here. The
    bundle is parsed (size-bounded) but its signatures are not checked: the parameters only
    choose how to hash, and a digest is no verification. Without a bundle the defaults are
    used, ``default_hash`` over ``default_method``.
    """
    ignore = list(ignore_paths) if ignore_paths is not None else []
    given = [name for name, value in (("hash", hash), ("method", method),
                                      ("shard size", shard_size), ("ignore paths", ignore))
             if value]
    if _urls(model, signature):  # allow_symlinks: no links in an object store
        from pqml.storage import signed_objects

        url = os.fspath(model)
        sig = _text(signature) or signed_objects.default_signature(url)
        found, followed = signed_objects.digest_object(
            url, hash=hash, method=method, shard_size=shard_size, signature=sig,
            ignore_paths=ignore_paths, ignore_git_paths=ignore_git_paths,
            default_hash=default_hash, default_method=default_method)
        return DigestResult(url, found, sig if followed else None, sig,  # type: ignore[arg-type]
                            tuple(given) if followed else ())
    root = Path(model)
    if not root.exists():
        raise PqmlError(f"{root}: no such file or directory")
    sig_path = Path(signature) if signature is not None else find_signature(root)
    serialization = None
    if signature is not None or sig_path.exists():
        serialization = read_bundle(sig_path, given=signature is not None).statement() \
            .serialization
        if serialization.hash_type not in manifest.HASH_TYPES:
            raise PqmlError(f"{sig_path}: hash type {serialization.hash_type!r} is not "
                            f"supported (supported: {', '.join(manifest.HASH_TYPES)})")
    exclude = []
    if root.is_dir():
        base, sig = os.path.realpath(root), os.path.realpath(sig_path)
        if sig.startswith(base.rstrip(os.sep) + os.sep):
            exclude.append(os.path.relpath(sig, base).replace(os.sep, "/"))
    if method is None and shard_size is not None:
        method = "shards"  # a shard size asks for shards, whatever the bundle records
    if serialization is None:
        hash, method = hash or default_hash, method or default_method
    found = manifest.digest_model(
        root, hash=hash, method=method, shard_size=shard_size,
        ignore_paths=ignore or None,
        ignore_git_paths=ignore_git_paths, allow_symlinks=allow_symlinks, workers=workers,
        serialization=serialization, exclude=exclude,
    )
    return DigestResult(root, found, sig_path if serialization is not None else None,
                        sig_path, tuple(given) if serialization is not None else ())


def requested_names(root: Path, files: Iterable[str | os.PathLike[str]],
                    signed: manifest.Manifest) -> list[str]:
    """Model-relative names for ``files``; every one must be covered by the signature."""
    names = []
    single = model_tree.SINGLE_FILE in signed.files
    for item in files:
        name = model_tree.SINGLE_FILE if single else model_tree.normalize_relative(item, root)
        if name not in signed.files:
            raise UnsignedFileError(
                f"{root}: {model_tree.display(name, root)} is not covered by the signature"
            )
        names.append(name)
    return names


def verify_model(
    model: str | os.PathLike[str],
    trusted_keys: Iterable[KeySource | TrustedKey] = (),
    *,
    certificate_chain: Iterable[str | os.PathLike[str]] = (),
    signature: str | os.PathLike[str] | None = None,
    policy: TrustPolicy | str | os.PathLike[str] | None = None,
    require_pq: bool = False,
    allow_unsigned_files: bool = False,
    allow_symlinks: bool = False,
    files: Iterable[str | os.PathLike[str]] | None = None,
    workers: int | None = None,
    expect_name: str | None = None,
    expect_digest: str | None = None,
    crls: Iterable[str | os.PathLike[str]] = (),
) -> VerificationResult:
    """Verify ``model`` against its OMS bundle; raise a VerificationError on any failure.

    ``expect_name`` / ``expect_digest`` pin the bundle's subject name and the model's root
    digest (TrustPolicyError before any file is read if the bundle signs something else).

    With ``files`` only those (model-relative) files are hashed after the signature check
    (partial verification; extra files are then not looked for). The result lists every
    signature and file; classical-only signatures always add a quantum-vulnerable warning.
    """
    if _urls(model, signature):  # object storage: range reads, same checks
        from pqml.storage.signed_objects import verify_object

        # allow_symlinks: an object store has no links, so there is nothing it could allow
        return verify_object(os.fspath(model), trusted_keys, signature=_text(signature),
                             certificate_chain=certificate_chain, policy=policy,
                             require_pq=require_pq, allow_unsigned_files=allow_unsigned_files,
                             files=files, expect_name=expect_name,
                             expect_digest=expect_digest, crls=crls)
    trust = build_trust(trusted_keys, certificate_chain, policy, require_pq,
                        expect_name=expect_name, expect_digest=expect_digest, crls=crls)
    auth = authenticate(model, trust, signature=signature)
    root, signed = auth.root, auth.manifest
    if files is not None:
        names = requested_names(root, files, signed)
        report = integrity.check_named(signed, root, names, allow_symlinks=allow_symlinks,
                                       workers=workers)
        problems = report.failures()
        warnings = auth.warnings
    else:
        listing = _listing(auth, allow_symlinks)
        report = integrity.compare(signed, listing, allow_symlinks=allow_symlinks,
                                   workers=workers)
        problems = report.failures(allow_unsigned_files=allow_unsigned_files)
        warnings = auth.warnings + tuple(
            f"unsigned file allowed: {model_tree.display(f.name)}"
            + (" (may hold a pickle: never load it)" if f.pickle else "")
            for f in report.unsigned()
        )
    root_digest = None
    if files is None and not problems:
        root_digest = signed.with_sizes(report.sizes).root_digest()
    if problems:
        message = f"{root}: integrity check failed: {integrity.summarize(problems, root=root)}"
        raise IntegrityError(message, report=auth.result(
            ok=False, files=report.files, partial=files is not None, warnings=warnings,
            error=message,
        ))
    return auth.result(files=report.files, root_digest=root_digest, partial=files is not None,
                       warnings=warnings)


def _listing(auth: Authenticated, allow_symlinks: bool) -> model_tree.Listing:
    root = auth.root
    exclude = []
    if root.is_dir():
        base = os.path.realpath(root)
        sig = os.path.realpath(auth.signature)
        if sig.startswith(base.rstrip(os.sep) + os.sep):
            exclude.append(os.path.relpath(sig, base).replace(os.sep, "/"))
    listing = model_tree.list_model(
        root, ignore_paths=auth.statement.serialization.ignore_paths,
        allow_symlinks=allow_symlinks, exclude=exclude,
    )
    check_shape(root, auth, listing.single_file)
    return listing


def check_shape(where: object, auth: Authenticated, single_file: bool, *,
                kinds: tuple[str, str] = ("a single file", "a directory")) -> None:
    """Refuse a model whose shape (one file, or a tree) is not the one ``auth``'s manifest
    signed: a file's signature must not vouch for a directory of that name, nor the
    reverse. ``kinds`` names the two shapes in the message."""
    single = model_tree.SINGLE_FILE in auth.manifest.files
    if single != single_file:
        signed_as, found = (kinds[0] if x else kinds[1] for x in (single, single_file))
        message = f"{where}: the signature covers {signed_as}, but this is {found}"
        raise IntegrityError(message, report=auth.result(ok=False, error=message))

"""Trust policy: which keys a verifier trusts and which verified signatures a model needs.

A policy is given on the command line (``-p``, ``--certificate-chain``, ``--require-pq``),
in a file (``--policy``, JSON or TOML, same keys) or both; the two are merged. The rules:

* every signature whose key id names a trusted key must verify (a bad signature from a
  trusted key means the bundle was tampered with, even if another signature is fine);
* at least ``min_signatures`` distinct trusted keys (default 1) must have verified;
* with ``require_pq`` at least one of them must be post-quantum (ML-DSA, SLH-DSA, Falcon,
  composite); ``required_algorithms`` must each be among the verified algorithms;
* ``subject_name`` and ``root_digest``, when set, pin which model and which version the
  bundle must sign: a bundle is content-addressed, so without them model A's bundle and
  files copied into model B, or an older signed version, verify too.

Policy file keys (unknown keys are an error, so a typo never weakens a policy)::

    version = 1                          # optional
    trusted_keys = ["release-mldsa.pub", "release-ecdsa.pub"]   # relative to the file
    certificate_chain = ["ca.pem"]       # trust anchors for certificate bundles
    require_pq = true
    required_algorithms = ["ML-DSA-65"]
    min_signatures = 2
    subject_name = "llama-7b"            # the bundle's subject (the signed directory's name)
    root_digest = "sha256:9f2c…"         # as pqml sign / verify / digest print it
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pqml._internal.text import plural
from pqml.primitives.base import PrivateKey, PublicKey, VerifyingKey
from pqml.primitives.errors import WrongKeyTypeError
from pqml.signing import model_tree
from pqml.signing.errors import PolicyFileError

if TYPE_CHECKING:
    from pqml.signing.signing import SignatureCheck

KeySource = PublicKey | PrivateKey | str | os.PathLike[str] | bytes
MAX_POLICY_SIZE = 1 << 20  # a policy is a few lines; the cap bounds a hostile path's read


@dataclass(frozen=True)
class TrustedKey:
    """A verification key and where it came from; ``hint`` is its OMS key id."""

    key: VerifyingKey
    source: str
    hint: str

    @property
    def algorithm(self) -> str:
        return self.key.algorithm

    @property
    def quantum_vulnerable(self) -> bool:
        from pqml.primitives import registry

        return registry.get(self.key.algorithm).quantum_vulnerable


def key_hint(key: PublicKey) -> str:
    """The OMS key id of a public key: SHA-256 of its SPKI PEM (model_signing's hint)."""
    from pqml.formats import keyfile, oms

    return oms.key_hint(keyfile.public_key_to_der(key))


def trusted_key(source: KeySource, label: str | None = None) -> TrustedKey:
    """A trusted key from a key object, a key file path or PEM bytes."""
    from pqml.keys import key_files as keys

    if isinstance(source, PrivateKey):
        pub: PublicKey = source.public_key()
    elif isinstance(source, PublicKey):
        pub = source
    else:
        pub = keys.load_public(source if isinstance(source, bytes) else Path(source))
    if not isinstance(pub, VerifyingKey):
        where = f"{label or _describe(source)}: "
        raise WrongKeyTypeError(f"{where}{pub.algorithm} is not a signature key")
    return TrustedKey(pub, label or _describe(source), key_hint(pub))


def _describe(source: KeySource) -> str:
    if isinstance(source, (str, os.PathLike)):
        return os.fspath(source)
    if isinstance(source, (PublicKey, PrivateKey)):
        return f"{source.algorithm} key"
    return "key bytes"


@dataclass(frozen=True)
class TrustPolicy:
    keys: tuple[TrustedKey, ...] = ()
    certificate_chain: tuple[Path, ...] = ()
    require_pq: bool = False
    required_algorithms: tuple[str, ...] = ()
    min_signatures: int = 1
    source: str | None = None
    subject_name: str | None = None  # pins the model (the bundle's subject)
    root_digest: str | None = None  # pins the version (``<hash>:<hex>``, lower case)
    crls: tuple[Path, ...] = ()  # CRLs checked against certificate chains (--crl)

    @property
    def has_trust(self) -> bool:
        return bool(self.keys or self.certificate_chain)

    def merged(
        self,
        *,
        keys: Iterable[KeySource | TrustedKey] = (),
        certificate_chain: Iterable[str | os.PathLike[str]] = (),
        require_pq: bool = False,
        crls: Iterable[str | os.PathLike[str]] = (),
    ) -> TrustPolicy:
        """This policy plus command-line trust (keys and anchors add up; flags OR)."""
        extra = tuple(k if isinstance(k, TrustedKey) else trusted_key(k) for k in keys)
        return replace(
            self,
            keys=self.keys + extra,
            certificate_chain=self.certificate_chain + tuple(Path(c) for c in certificate_chain),
            crls=self.crls + tuple(Path(c) for c in crls),
            require_pq=self.require_pq or require_pq,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "trusted_keys": [
                {"source": k.source, "algorithm": k.algorithm, "key_id": k.hint}
                for k in self.keys
            ],
            "certificate_chain": [str(p) for p in self.certificate_chain],
            "require_pq": self.require_pq,
            "required_algorithms": list(self.required_algorithms),
            "min_signatures": self.min_signatures,
            "subject_name": self.subject_name,
            "root_digest": self.root_digest,
        }

    def pinned(self, *, subject_name: str | None = None, root_digest: str | None = None
               ) -> TrustPolicy:
        """This policy with a pinned model name / root digest (e.g. from the command line);
        PolicyError if it already pins a different one."""
        from pqml.primitives.errors import PolicyError

        values = {}
        for field_name, value in (("subject_name", subject_name), ("root_digest", root_digest)):
            if value is None:
                continue
            if field_name == "root_digest":
                value = parse_root_digest(value, "expected root digest")
            current = getattr(self, field_name)
            if current is not None and current != value:
                raise PolicyError(f"{field_name} {value!r} conflicts with the policy's "
                                  f"{current!r}")
            values[field_name] = value
        return replace(self, **values) if values else self


_POLICY_KEYS = {
    "version", "trusted_keys", "certificate_chain", "require_pq", "required_algorithms",
    "min_signatures", "subject_name", "root_digest",
}
_ROOT_DIGEST = re.compile(r"[a-z0-9_-]+:[0-9a-f]{32,128}")


def parse_root_digest(text: str, where: str) -> str:
    """``<hash>:<hex>`` as the root digest is printed (case-insensitive); PolicyFileError
    otherwise, so a mistyped pin never silently pins nothing."""
    value = text.strip().lower()
    if not _ROOT_DIGEST.fullmatch(value):
        raise PolicyFileError(f"{where}: {text!r} is not a root digest (<hash>:<hex>, as "
                              "pqml digest prints it)")
    return value


def load_policy(path: str | os.PathLike[str]) -> TrustPolicy:
    """Read a JSON or TOML policy file; key and certificate paths are relative to it.
    Only a regular file is read, and never more than MAX_POLICY_SIZE (a FIFO would block
    forever, ``/dev/zero`` would fill memory)."""
    p = Path(path)
    data = model_tree.read_regular(p, MAX_POLICY_SIZE, "policy file")
    if len(data) > MAX_POLICY_SIZE:
        raise PolicyFileError(f"{p}: more than {MAX_POLICY_SIZE} bytes is too large for a "
                              "policy file")
    obj = _parse(p, data)
    if not isinstance(obj, dict):
        raise PolicyFileError(f"{p}: a policy must be a JSON object or TOML table")
    unknown = sorted(set(obj) - _POLICY_KEYS)
    if unknown:
        raise PolicyFileError(f"{p}: unknown policy key {unknown[0]!r}")
    if obj.get("version", 1) != 1 or type(obj.get("version", 1)) is not int:
        raise PolicyFileError(f"{p}: unsupported policy version {obj.get('version')!r}")
    base = p.parent
    key_paths = _strings(p, obj, "trusted_keys")
    keys = tuple(trusted_key(base / k, label=str(base / k)) for k in key_paths)
    chain = tuple(base / c for c in _strings(p, obj, "certificate_chain"))
    require_pq = obj.get("require_pq", False)
    if type(require_pq) is not bool:
        raise PolicyFileError(f"{p}: require_pq must be true or false")
    minimum = obj.get("min_signatures", 1)
    if type(minimum) is not int or minimum < 1:
        raise PolicyFileError(f"{p}: min_signatures must be a positive integer")
    algorithms = tuple(_algorithm(p, a) for a in _strings(p, obj, "required_algorithms"))
    pins: dict[str, str | None] = {}
    for name in ("subject_name", "root_digest"):
        value = obj.get(name)
        if value is not None and (not isinstance(value, str) or not value):
            raise PolicyFileError(f"{p}: {name} must be a non-empty string")
        pins[name] = value
    digest = pins["root_digest"]
    return TrustPolicy(keys, chain, require_pq, algorithms, minimum, str(p),
                       subject_name=pins["subject_name"],
                       root_digest=parse_root_digest(digest, f"{p}: root_digest")
                       if digest is not None else None)


def _parse(path: Path, data: bytes) -> Any:
    text = data.decode("utf-8", "replace")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            problem = f"{exc.msg} at line {exc.lineno}"
            raise PolicyFileError(f"{path}: invalid JSON ({problem})") from None
    import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError(f"{path}: invalid TOML ({exc})") from None


def _strings(path: Path, obj: dict[str, Any], key: str) -> list[str]:
    value = obj.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PolicyFileError(f"{path}: {key} must be a list of strings")
    return value


def _algorithm(path: Path, name: str) -> str:
    from pqml.primitives import registry
    from pqml.primitives.errors import UnknownAlgorithmError

    try:
        entry = registry.get(name)
    except UnknownAlgorithmError:
        raise PolicyFileError(f"{path}: required_algorithms: unknown algorithm {name!r}") from None
    if entry.family != "signature":
        raise PolicyFileError(f"{path}: required_algorithms: {entry.name} is not a signature")
    return entry.name


@dataclass(frozen=True)
class Outcome:
    """What the policy says about a set of signature checks."""

    signature_failures: list[str] = field(default_factory=list)
    policy_failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.signature_failures and not self.policy_failures


def evaluate(policy: TrustPolicy, checks: Sequence[SignatureCheck]) -> Outcome:
    out = Outcome()
    verified = [c for c in checks if c.status == "verified"]
    for c in checks:
        if c.status == "failed":
            out.signature_failures.append(
                f"signature {c.index + 1} ({c.algorithm}, key {c.key_source}) does not verify"
            )
    if not verified:
        out.signature_failures.append("no signature verified with a trusted key")
        return out
    keys = {c.key_id for c in verified}
    if len(keys) < policy.min_signatures:
        out.policy_failures.append(
            f"{plural(len(keys), 'trusted key')} verified, the policy requires "
            f"{policy.min_signatures}"
        )
    algorithms = {c.algorithm for c in verified}
    for alg in policy.required_algorithms:
        if alg not in algorithms:
            out.policy_failures.append(f"no verified {alg} signature, the policy requires one")
    classical = all(c.quantum_vulnerable for c in verified)
    if classical:
        names = ", ".join(sorted(a for a in algorithms if a))
        message = (
            f"only quantum-vulnerable signatures verified ({names}); "
            "a quantum computer could forge them"
        )
        if policy.require_pq:
            out.policy_failures.append(
                f"no post-quantum signature from a trusted key verified ({names} only)"
            )
        out.warnings.append(message)
    return out

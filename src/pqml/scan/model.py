"""What a scan reports: one :class:`Finding` per place where cryptography is used or stored.

A finding is deliberately flat (path, line, algorithm, primitive, parameter, usage, ...) so
it serialises to JSON, SARIF and CycloneDX without translation tables, and so two scans can
be compared line by line. Detector-specific facts (a certificate's expiry, a pickle's
imports, an artifact's protection) go into ``details``; the risk assessment is attached
later by :mod:`pqml.scan.risk`, after every file has been seen, because some facts
(an OMS bundle signing a model next to it) only exist across files.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field, fields
from operator import attrgetter
from typing import Any, Literal, TypeVar

Confidence = Literal["high", "medium", "low"]
_T = TypeVar("_T")

#: Finding kinds: which detector saw it. SARIF rules are named ``<kind>/<category>``.
KINDS = (
    "code",               # Python source, by AST
    "pem",                # a PEM key block (any text file, source strings included)
    "certificate",        # X.509 certificate or CSR (PEM or DER)
    "ssh-key",            # authorized_keys / known_hosts / *.pub / OpenSSH private keys
    "jwk",                # JSON Web Key / Key Set
    "config",             # TLS and SSH configuration, JWT settings in config files
    "dependency",         # a dependency file naming a cryptographic library
    "artifact",           # an ML artifact (weights, checkpoint, dataset shard) or encrypted file
    "signature-bundle",   # an OMS / Sigstore signature bundle
)

#: ``usage`` vocabulary. Code reports the operation; stored material reports what it is.
USAGES = (
    "keygen", "key-load", "sign", "verify", "encrypt", "decrypt", "key-exchange",
    "encapsulate", "decapsulate", "digest", "mac", "kdf", "protocol", "private-key",
    "public-key", "certificate", "dependency", "storage", "config",
)

# CycloneDX 1.6 cryptoPropertiesType asset types, plus the two non-crypto component types
# pqml also puts into a CBOM.
AssetType = Literal[
    "algorithm", "certificate", "related-crypto-material", "protocol", "ml-artifact", "library"
]


@dataclass(slots=True)
class Deadline:
    """One compliance milestone that applies to a finding."""

    framework: str          # "NIST IR 8547", "CNSA 2.0", "NIST SP 800-131A"
    milestone: str          # "deprecated", "disallowed", "exclusive-use", "prefer", ...
    year: int               # the last year the use is acceptable ("after 2030" -> 2030)
    note: str = ""

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _reduce(self)

    def as_dict(self) -> dict[str, Any]:
        return {"framework": self.framework, "milestone": self.milestone, "year": self.year,
                "note": self.note}


@dataclass(slots=True)
class Risk:
    """The risk assessment of one finding (see risk.py for how each field is computed)."""

    level: str                       # critical | high | medium | low | info
    score: int                       # 0-100, for sorting
    category: str                    # SARIF rule category, e.g. "quantum-vulnerable"
    reasons: list[str] = field(default_factory=list)
    value: str = "medium"            # asset value hint: high | medium | low
    shelf_life_years: float = 0.0    # Mosca x
    migration_years: float = 0.0     # Mosca y
    crqc_years: float = 0.0          # Mosca z
    mosca_at_risk: bool = False      # x + y > z (only for quantum-vulnerable findings)
    deadlines: list[Deadline] = field(default_factory=list)
    deadline_year: int | None = None  # earliest year in ``deadlines``
    cnsa_category: str | None = None
    replacement: str | None = None
    command: str | None = None

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _reduce(self)

    def as_dict(self) -> dict[str, Any]:
        return {
            "level": self.level,
            "score": self.score,
            "category": self.category,
            "reasons": list(self.reasons),
            "value": self.value,
            "mosca": {
                "shelf_life_years": self.shelf_life_years,
                "migration_years": self.migration_years,
                "years_to_crqc": self.crqc_years,
                "at_risk": self.mosca_at_risk,
            },
            "deadline_year": self.deadline_year,
            "deadlines": [d.as_dict() for d in self.deadlines],
            "cnsa_category": self.cnsa_category,
            "replacement": self.replacement,
            "command": self.command,
        }


@dataclass(slots=True)
class Finding:
    """One cryptographic use or stored asset.

    ``path`` is POSIX and relative to the scanned root (``root``), so reports and baselines
    do not depend on where the repository is checked out.
    """

    path: str
    line: int
    kind: str
    algorithm: str
    primitive: str
    usage: str
    evidence: str
    confidence: Confidence = "high"
    parameter: str | None = None
    quantum_vulnerable: bool = False
    asset_type: AssetType = "algorithm"
    library: str | None = None
    status: str | None = None          # registry status: recommended|supported|legacy|broken
    details: dict[str, Any] = field(default_factory=dict)
    root: str = ""
    risk: Risk | None = None
    fingerprint: str = ""
    baselined: bool = False

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return _reduce(self)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}"

    @property
    def pq_safe(self) -> str:
        """Is this protected against a quantum attacker: ``"no"`` (quantum-vulnerable
        cryptography), ``"unprotected"`` (an ML artifact neither signed nor encrypted:
        no cryptography at all, so nothing to break -- and nothing protecting it either),
        else ``"yes"``. ``quantum_vulnerable`` alone says "no" for neither of the last two."""
        if self.quantum_vulnerable:
            return "no"
        if self.kind == "artifact" and (
                self.details.get("protection") or {}).get("status", "none") == "none":
            return "unprotected"
        return "yes"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "line": self.line,
            "kind": self.kind,
            "algorithm": self.algorithm,
            "primitive": self.primitive,
            "parameter": self.parameter,
            "quantum_vulnerable": self.quantum_vulnerable,
            "pq_safe": self.pq_safe,
            "usage": self.usage,
            "confidence": self.confidence,
            "evidence": self.evidence,
            "asset_type": self.asset_type,
            "library": self.library,
            "status": self.status,
            "root": self.root,
            "fingerprint": self.fingerprint,
            "details": self.details,
        }
        if self.risk is not None:
            out["risk"] = self.risk.as_dict()
        return out


# Pickled as their constructor's arguments, in field order (every field is an __init__
# argument): worker processes send thousands of findings back per scan, and the slots
# dataclasses' default state dicts make that about twice as slow to load, and bigger.
_FIELD_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _reduce(obj: Any) -> tuple[Any, tuple[Any, ...]]:
    cls = type(obj)
    getter = _FIELD_GETTERS.get(cls)
    if getter is None:  # every dataclass here has more than one field: a tuple comes back
        getter = _FIELD_GETTERS[cls] = attrgetter(*(f.name for f in fields(cls)))
    return cls, getter(obj)


def normalized_evidence(evidence: str) -> str:
    """Evidence with whitespace collapsed, so re-indenting a line keeps its fingerprint
    (str.split's whitespace is exactly what ``\\s`` matches in a str pattern)."""
    return " ".join(evidence.split())


def unique_by(items: Iterable[_T], key: Callable[[_T], Hashable]) -> list[_T]:
    """The first item of each ``key``, in their order (detectors report a repeat once)."""
    seen: set[Hashable] = set()
    out = []
    for item in items:
        k = key(item)
        if k not in seen:
            seen.add(k)
            out.append(item)
    return out


def assign_fingerprints(findings: list[Finding]) -> None:
    """Give every finding a stable fingerprint for baselines and SARIF.

    The fingerprint hashes root-relative path, algorithm, usage and normalized evidence --
    not the line number, so inserting code above a finding does not resurrect it. Identical
    tuples in one file (the same call written twice) are told apart by their order.
    """
    seen: dict[str, int] = {}
    for f in sorted(findings, key=lambda f: (f.path, f.line, f.algorithm, f.usage, f.evidence)):
        base = "\x1f".join((f.path, f.algorithm, f.usage, normalized_evidence(f.evidence)))
        n = seen.get(base, 0)
        seen[base] = n + 1
        digest = hashlib.sha256(f"{base}\x1f{n}".encode()).hexdigest()
        f.fingerprint = digest[:32]


@dataclass(slots=True)
class ScanWarning:
    """Something the scan could not look at, said once per file (never fatal)."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}

"""How far an organisation is from its post-quantum deadlines, with the evidence.

A compliance lead asks a handful of yes/no questions (is every model signed with a
post-quantum key? is every dataset encrypted to post-quantum recipients only? are keys
rotated on schedule? is the audit trail intact?) and wants each answer backed by the
files, keys and log entries that decide it. This module answers them as *controls*.

How data flows::

    pqml scan (artifacts, code) ─┐
    keyring (keys, their assets) ─┼─► Evidence ─► evaluate(policy, as_of) ─► ComplianceReport
    transparency log (verified)  ─┘                                           │
                                  history.jsonl (earlier reports) ──► trend ──┘

:func:`evaluate` is pure: the same evidence, policy and date give the same report, so a
report can be reproduced and tested. Gathering the evidence (running a scan, opening the
keyring, verifying the log) is :mod:`pqml.log.compliance_evidence`; rendering is
:mod:`pqml.log.compliance_report`.

Profiles: ``nist`` judges algorithms by NIST IR 8547 (initial public draft, Nov. 2024):
quantum-vulnerable public-key algorithms at 112-bit security deprecated after 2030, all of
them disallowed after 2035; any registered post-quantum algorithm counts as post-quantum.
``cnsa2`` judges by CNSA 2.0 (NSA, Sept. 2022, updated 2024): only ML-KEM-1024 (alone or in
the MLKEM1024-P384 hybrid) for key establishment and ML-DSA-87 for signatures count;
software and firmware signing must use it exclusively by 2030, custom applications (data
at rest) and web/cloud services by 2033, national security systems by 2035.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

from pqml._internal.text import plural
from pqml.log.errors import ComplianceError

Status = Literal["pass", "warn", "fail", "n/a"]
STATUSES: tuple[Status, ...] = ("fail", "warn", "pass", "n/a")


@dataclasses.dataclass(frozen=True)
class Milestone:
    framework: str
    year: int          # the last year the old way is acceptable ("after 2030" -> 2030)
    what: str
    controls: tuple[str, ...]  # the controls whose failures this milestone makes urgent


@dataclasses.dataclass(frozen=True)
class Profile:
    name: str
    label: str
    kems: frozenset[str] | None        # accepted post-quantum KEMs; None: any PQ one
    signatures: frozenset[str] | None  # accepted post-quantum signatures; None: any PQ one
    classical_keys_fail: bool          # an active classical key fails (warns otherwise)
    milestones: tuple[Milestone, ...]


_NIST_MILESTONES = (
    Milestone("NIST IR 8547", 2030, "112-bit quantum-vulnerable public-key algorithms "
              "(RSA-2048, P-256, ...) deprecated",
              ("models-signed-pq", "encryption-pq", "datasets-encrypted-pq",
               "code-crypto-deadlines", "keys-post-quantum")),
    Milestone("NIST IR 8547", 2035, "every quantum-vulnerable public-key algorithm "
              "disallowed", ("models-signed-pq", "encryption-pq", "datasets-encrypted-pq",
                             "code-crypto-deadlines", "keys-post-quantum")),
)
_CNSA_MILESTONES = (
    Milestone("CNSA 2.0", 2030, "software and firmware signing (models) exclusively "
              "CNSA 2.0", ("models-signed-pq", "keys-post-quantum")),
    Milestone("CNSA 2.0", 2033, "custom applications and cloud services (data at rest, "
              "inference) exclusively CNSA 2.0",
              ("encryption-pq", "datasets-encrypted-pq", "code-crypto-deadlines")),
    Milestone("CNSA 2.0", 2035, "national security systems quantum-resistant",
              ("models-signed-pq", "encryption-pq", "datasets-encrypted-pq",
               "code-crypto-deadlines", "keys-post-quantum")),
)

PROFILES: dict[str, Profile] = {
    "nist": Profile("nist", "NIST IR 8547", None, None, False, _NIST_MILESTONES),
    "cnsa2": Profile("cnsa2", "CNSA 2.0", frozenset({"ML-KEM-1024", "MLKEM1024-P384"}),
                     frozenset({"ML-DSA-87"}), True, _NIST_MILESTONES + _CNSA_MILESTONES),
}

CONTROLS: dict[str, str] = {
    "models-signed-pq": "Every model is signed with a post-quantum key",
    "datasets-encrypted-pq": "Every dataset is encrypted, to post-quantum recipients only",
    "encryption-pq": "No encrypted file has a quantum-vulnerable recipient",
    "code-crypto-deadlines": "No quantum-vulnerable cryptography in code is past its deadline",
    "keys-post-quantum": "Active keys are post-quantum",
    "keys-rotated": "Keys are rotated on schedule",
    "keys-compromised-in-use": "No revoked or compromised key still protects an asset",
    "log-intact": "The transparency log verifies",
    "log-classical-recipients": "No classical-only encryption in the recent log",
}


@dataclasses.dataclass(frozen=True)
class ArtifactFact:
    path: str
    category: str                      # "model" | "dataset" | "file"
    encrypted: bool
    kems: tuple[str, ...] = ()         # recipient algorithms of an encrypted file
    signatures: tuple[str, ...] = ()   # algorithms of the signatures covering it


@dataclasses.dataclass(frozen=True)
class CodeFact:
    path: str
    line: int
    algorithm: str
    deadline_year: int | None


@dataclasses.dataclass(frozen=True)
class KeyFact:
    id: str
    label: str | None
    algorithm: str
    state: str
    assets: int = 0
    overdue: str | None = None         # why rotation is overdue, if it is
    distrusted: str | None = None      # "revoked" / "compromised", even if disabled since


@dataclasses.dataclass(frozen=True)
class LogFact:
    entries: int
    problem: str | None = None         # None: the log verified
    classical_encryptions: tuple[int, ...] = ()  # indices of recent classical-only encrypts


@dataclasses.dataclass
class Evidence:
    """What the report is about. ``None`` means "not looked at" (the control is n/a),
    which is different from an empty list (looked, found nothing)."""

    scope: tuple[str, ...] = ()
    artifacts: list[ArtifactFact] | None = None
    code: list[CodeFact] | None = None
    keys: list[KeyFact] | None = None
    log: LogFact | None = None


@dataclasses.dataclass(frozen=True)
class Policy:
    profile: Profile = PROFILES["nist"]
    require: frozenset[str] = frozenset(CONTROLS)  # controls that decide the exit code
    fail_on: Literal["fail", "warn"] = "fail"

    @classmethod
    def from_settings(cls, table: dict[str, Any], source: str) -> Policy:
        """The ``[compliance]`` table of pqml.toml; unknown keys and values are errors
        naming ``source`` (a misspelt control must not silently pass)."""
        known = {"profile", "require", "fail_on"}
        unknown = sorted(set(table) - known)
        if unknown:
            raise ComplianceError(f"{source}: [compliance] has unknown setting {unknown[0]!r} "
                                  f"(known: {', '.join(sorted(known))})")
        profile_name = table.get("profile", "nist")
        if profile_name not in PROFILES:
            raise ComplianceError(f"{source}: [compliance] profile must be one of "
                                  f"{', '.join(PROFILES)}, not {profile_name!r}")
        require = table.get("require", list(CONTROLS))
        if not isinstance(require, list) or not all(isinstance(r, str) for r in require):
            raise ComplianceError(f"{source}: [compliance] require must be a list of "
                                  "control names")
        bad = [r for r in require if r not in CONTROLS]
        if bad:
            raise ComplianceError(f"{source}: [compliance] require names unknown control "
                                  f"{bad[0]!r} (known: {', '.join(CONTROLS)})")
        fail_on = table.get("fail_on", "fail")
        if fail_on not in ("fail", "warn"):
            raise ComplianceError(f"{source}: [compliance] fail_on must be \"fail\" or "
                                  f"\"warn\", not {fail_on!r}")
        return cls(PROFILES[profile_name], frozenset(require), fail_on)


@dataclasses.dataclass
class ControlResult:
    id: str
    title: str
    status: Status
    summary: str
    required: bool
    items: list[str] = dataclasses.field(default_factory=list)  # what fails it, worst first
    passed: int = 0     # items that meet the control
    total: int = 0      # items it looked at
    deadline: int | None = None  # the profile's nearest milestone year for this control

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class ComplianceReport:
    as_of: dt.date
    profile: Profile
    scope: tuple[str, ...]
    controls: list[ControlResult]
    trend: list[dict[str, Any]] = dataclasses.field(default_factory=list)

    @property
    def status(self) -> Status:
        statuses = {c.status for c in self.controls if c.required}
        for status in ("fail", "warn", "pass"):
            if status in statuses:
                return status  # type: ignore[return-value]
        return "n/a"

    def failed(self, fail_on: str) -> bool:
        bad = {"fail"} if fail_on == "fail" else {"fail", "warn"}
        return any(c.status in bad for c in self.controls if c.required)

    def milestones(self) -> list[tuple[Milestone, int]]:
        """The profile's milestones with the days left until the end of their year."""
        out = []
        for m in self.profile.milestones:
            left = (dt.date(m.year, 12, 31) - self.as_of).days
            out.append((m, left))
        return out

    def snapshot(self) -> dict[str, Any]:
        """One line of the trend history: enough to draw progress, nothing more."""
        return {"as_of": self.as_of.isoformat(), "profile": self.profile.name,
                "scope": list(self.scope), "status": self.status,
                "controls": {c.id: {"status": c.status, "passed": c.passed, "total": c.total}
                             for c in self.controls}}

    def to_json(self) -> dict[str, Any]:
        return {"as_of": self.as_of.isoformat(), "profile": self.profile.name,
                "profile_label": self.profile.label, "scope": list(self.scope),
                "status": self.status,
                "controls": [c.to_json() for c in self.controls],
                "milestones": [{"framework": m.framework, "year": m.year, "what": m.what,
                                "days_left": left, "controls": list(m.controls)}
                               for m, left in self.milestones()],
                "trend": self.trend}


def quantum_vulnerable(algorithm: str) -> bool:
    """Registry facts first, then the scanner's name table (which knows protocol and
    library names the registry does not)."""
    from pqml.primitives import registry
    from pqml.primitives.errors import UnknownAlgorithmError

    try:
        return bool(registry.get(algorithm).quantum_vulnerable)
    except UnknownAlgorithmError:
        from pqml.scan.facts import lookup

        return bool(lookup(algorithm, None, "sign").quantum_vulnerable)


def _accepted(algorithm: str, allowed: frozenset[str] | None) -> bool:
    if quantum_vulnerable(algorithm):
        return False
    return allowed is None or algorithm in allowed


def _nearest_deadline(profile: Profile, control: str, as_of: dt.date) -> int | None:
    years = sorted(m.year for m in profile.milestones if control in m.controls)
    future = [y for y in years if y >= as_of.year]
    return future[0] if future else (years[-1] if years else None)


def _result(control: str, policy: Policy, as_of: dt.date, status: Status, summary: str,
            items: Sequence[str] = (), passed: int = 0, total: int = 0) -> ControlResult:
    return ControlResult(control, CONTROLS[control], status, summary,
                         control in policy.require, list(items), passed, total,
                         _nearest_deadline(policy.profile, control, as_of))


def _not_looked(control: str, policy: Policy, as_of: dt.date, what: str) -> ControlResult:
    return _result(control, policy, as_of, "n/a", f"not evaluated: {what}")


def _past(deadline: int | None, as_of: dt.date) -> bool:
    return deadline is not None and as_of.year > deadline


def _models_signed(ev: Evidence, policy: Policy, as_of: dt.date) -> ControlResult:
    cid = "models-signed-pq"
    if ev.artifacts is None:
        return _not_looked(cid, policy, as_of, "no paths scanned")
    models = [a for a in ev.artifacts if a.category == "model"]
    bad = []
    for a in models:
        if not a.signatures:
            bad.append(f"{a.path}: not signed")
        elif not any(_accepted(s, policy.profile.signatures) for s in a.signatures):
            bad.append(f"{a.path}: signed with {', '.join(sorted(set(a.signatures)))} only")
    ok = len(models) - len(bad)
    if not models:
        return _result(cid, policy, as_of, "pass", "no model files found", [], 0, 0)
    status: Status = "pass" if not bad else "fail"
    return _result(cid, policy, as_of, status,
                   f"{ok} of {plural(len(models), 'model file')} signed with an accepted "
                   f"post-quantum key ({policy.profile.label})", bad, ok, len(models))


def _weak_recipients(a: ArtifactFact, profile: Profile) -> list[str]:
    """The recipient algorithms of ``a`` the profile does not accept, sorted."""
    return sorted({k for k in a.kems if not _accepted(k, profile.kems)})


def _pq_recipients(a: ArtifactFact, profile: Profile) -> bool:
    return bool(a.kems) and not _weak_recipients(a, profile)


def _datasets_encrypted(ev: Evidence, policy: Policy, as_of: dt.date) -> ControlResult:
    cid = "datasets-encrypted-pq"
    if ev.artifacts is None:
        return _not_looked(cid, policy, as_of, "no paths scanned")
    datasets = [a for a in ev.artifacts if a.category == "dataset"]
    bad = []
    for a in datasets:
        if not a.encrypted:
            bad.append(f"{a.path}: not encrypted")
        elif not _pq_recipients(a, policy.profile):
            weak = _weak_recipients(a, policy.profile)
            bad.append(f"{a.path}: encrypted to {', '.join(weak) or 'no known recipient'}")
    ok = len(datasets) - len(bad)
    if not datasets:
        return _result(cid, policy, as_of, "pass", "no dataset files found", [], 0, 0)
    return _result(cid, policy, as_of, "pass" if not bad else "fail",
                   f"{ok} of {plural(len(datasets), 'dataset file')} encrypted to accepted "
                   f"post-quantum recipients only", bad, ok, len(datasets))


def _encryption(ev: Evidence, policy: Policy, as_of: dt.date) -> ControlResult:
    cid = "encryption-pq"
    if ev.artifacts is None:
        return _not_looked(cid, policy, as_of, "no paths scanned")
    encrypted = [a for a in ev.artifacts if a.encrypted]
    bad = []
    for a in encrypted:
        if not _pq_recipients(a, policy.profile):
            weak = _weak_recipients(a, policy.profile)
            # any quantum-vulnerable stanza exposes the file key to a later attacker
            bad.append(f"{a.path}: recipient {', '.join(weak) or 'unknown'} "
                       "(harvest now, decrypt later)")
    ok = len(encrypted) - len(bad)
    return _result(cid, policy, as_of, "pass" if not bad else "fail",
                   f"{ok} of {plural(len(encrypted), 'encrypted file')} with only accepted "
                   "post-quantum recipients", bad, ok, len(encrypted))


def _code(ev: Evidence, policy: Policy, as_of: dt.date) -> ControlResult:
    cid = "code-crypto-deadlines"
    if ev.code is None:
        return _not_looked(cid, policy, as_of, "no paths scanned")
    if not ev.code:
        return _result(cid, policy, as_of, "pass",
                       "no quantum-vulnerable cryptography found", [], 0, 0)
    due = sorted((c for c in ev.code if _past(c.deadline_year, as_of)),
                 key=lambda c: (c.deadline_year or 0, c.path, c.line))
    later = [c for c in ev.code if not _past(c.deadline_year, as_of)]
    items = [f"{c.path}:{c.line}: {c.algorithm} (deadline {c.deadline_year})" for c in due]
    years = sorted({c.deadline_year for c in later if c.deadline_year is not None})
    if due:
        summary = (f"{len(due)} of {plural(len(ev.code), 'quantum-vulnerable use')} past their "
                   "deadline")
        status: Status = "fail"
    else:
        summary = (f"{plural(len(ev.code), 'quantum-vulnerable use')} to migrate"
                   + (f", earliest deadline {years[0]}" if years else ""))
        status = "warn"
        items = [f"{c.path}:{c.line}: {c.algorithm} (deadline {c.deadline_year or 'none'})"
                 for c in sorted(later, key=lambda c: (c.deadline_year or 9999, c.path,
                                                       c.line))]
    return _result(cid, policy, as_of, status, summary, items, 0, len(ev.code))


def _keys_pq(ev: Evidence, policy: Policy, as_of: dt.date) -> ControlResult:
    cid = "keys-post-quantum"
    if ev.keys is None:
        return _not_looked(cid, policy, as_of, "no keyring")
    active = [k for k in ev.keys if k.state == "active"]
    bad = []
    for k in active:
        sig_ok = _accepted(k.algorithm, policy.profile.signatures)
        kem_ok = _accepted(k.algorithm, policy.profile.kems)
        if not (sig_ok or kem_ok):
            bad.append(f"{k.id} ({k.label or 'no label'}): {k.algorithm}")
    ok = len(active) - len(bad)
    # after the first milestone (NIST IR 8547: 2030 deprecation) a classical key fails
    first = min((m.year for m in policy.profile.milestones if cid in m.controls), default=None)
    past = _past(first, as_of)
    status: Status = "pass" if not bad else (
        "fail" if policy.profile.classical_keys_fail or past else "warn")
    return _result(cid, policy, as_of, status,
                   f"{ok} of {plural(len(active), 'active key')} with an accepted post-quantum "
                   "algorithm", bad, ok, len(active))


def _keys_rotated(ev: Evidence, policy: Policy, as_of: dt.date) -> ControlResult:
    cid = "keys-rotated"
    if ev.keys is None:
        return _not_looked(cid, policy, as_of, "no keyring")
    live = [k for k in ev.keys if k.state in ("active", "pending")]
    bad = [f"{k.id} ({k.label or 'no label'}): {k.overdue}" for k in live if k.overdue]
    ok = len(live) - len(bad)
    return _result(cid, policy, as_of, "pass" if not bad else "fail",
                   f"{ok} of {plural(len(live), 'key')} in use within their rotation policy",
                   bad, ok, len(live))


def _keys_compromised(ev: Evidence, policy: Policy, as_of: dt.date) -> ControlResult:
    cid = "keys-compromised-in-use"
    if ev.keys is None:
        return _not_looked(cid, policy, as_of, "no keyring")
    risky = [k for k in ev.keys
             if k.distrusted is not None or k.state in ("revoked", "compromised")]
    bad = [f"{k.id} ({k.label or 'no label'}): {k.distrusted or k.state}, still protects "
           f"{k.assets} asset{'s' if k.assets != 1 else ''}" for k in risky if k.assets]
    return _result(cid, policy, as_of, "pass" if not bad else "fail",
                   f"{plural(len(bad), 'revoked or compromised key')} still protecting assets "
                   "(rekey --drop-revoked, or rotate the file key)", bad,
                   len(risky) - len(bad), len(risky))


def _log_intact(ev: Evidence, policy: Policy, as_of: dt.date) -> ControlResult:
    cid = "log-intact"
    if ev.log is None:
        return _not_looked(cid, policy, as_of, "no transparency log")
    if ev.log.problem:
        return _result(cid, policy, as_of, "fail", ev.log.problem, [ev.log.problem], 0,
                       ev.log.entries)
    return _result(cid, policy, as_of, "pass",
                   f"{plural(ev.log.entries, 'entry', 'entries')} verified against the "
                   "signed checkpoints", [], ev.log.entries, ev.log.entries)


def _log_classical(ev: Evidence, policy: Policy, as_of: dt.date) -> ControlResult:
    cid = "log-classical-recipients"
    if ev.log is None:
        return _not_looked(cid, policy, as_of, "no transparency log")
    found = ev.log.classical_encryptions
    items = [f"log entry {i}" for i in found]
    return _result(cid, policy, as_of, "pass" if not found else "warn",
                   f"{plural(len(found), 'encryption')} to classical-only recipients in the last "
                   "90 days", items, 0, len(found))


_EVALUATORS = (_models_signed, _datasets_encrypted, _encryption, _code, _keys_pq,
               _keys_rotated, _keys_compromised, _log_intact, _log_classical)


def evaluate(evidence: Evidence, policy: Policy, as_of: dt.date,
             history: Sequence[dict[str, Any]] = ()) -> ComplianceReport:
    """Judge ``evidence`` against ``policy`` as of a date; ``history`` (earlier snapshots,
    oldest first) becomes the trend, this report's own snapshot last."""
    results = [evaluator(evidence, policy, as_of) for evaluator in _EVALUATORS]
    report = ComplianceReport(as_of, policy.profile, evidence.scope, results)
    same_scope = [h for h in history if h.get("scope") == list(evidence.scope)
                  and h.get("profile") == policy.profile.name]
    report.trend = [*same_scope, report.snapshot()]
    return report

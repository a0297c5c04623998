"""Recommend an algorithm per role from measured numbers and the user's constraints.

Input: a :class:`~pqml.bench.compare.Comparison` (measured here, or loaded from
``pqml bench compare --json``) and :class:`Constraints`. For each role (key encapsulation,
signatures) the post-quantum candidates that were measured go through the constraints in
a fixed order — CNSA 2.0, NIST category, maximum ciphertext or signature bytes, maximum
verify time, verification lifetime — and the survivors are ranked by what the device
class needs:

* ``server`` / ``desktop``: pqml's profile default first (X-Wing and ML-DSA-65; ML-KEM-1024
  and ML-DSA-87 under CNSA 2.0), then the registry's recommended algorithms, then speed;
* ``edge`` / ``embedded``: bytes on the wire first (the signature or ciphertext every
  update carries), then the time of the operation the device runs (verify, decaps);
* a verification lifetime of :data:`LONG_LIFETIME_YEARS` or more puts SLH-DSA first: a
  hash-based signature rests on SHA-2 alone, the conservative choice for signatures that
  must stay trustworthy for decades; Falcon (round 3, FIPS 206 not final) is left out for
  lifetimes over :data:`DRAFT_LIFETIME_YEARS`.

Classical algorithms are never recommended; they are the baseline the overhead is
measured against. When the constraints leave nothing, :func:`advise` raises a PolicyError
whose one line names the constraint that excludes everything and the closest candidate.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from pqml.bench.compare import AlgorithmResult, Comparison
from pqml.primitives import registry
from pqml.primitives.errors import PolicyError

DEVICE_CLASSES = ("server", "desktop", "edge", "embedded")
SMALL_DEVICES = ("edge", "embedded")
LONG_LIFETIME_YEARS = 20.0
DRAFT_LIFETIME_YEARS = 5.0
ROLE_NAMES = {"kem": "key encapsulation", "signature": "signature"}


@dataclass(frozen=True)
class Constraints:
    device: str = "server"
    max_signature_bytes: int | None = None
    max_ciphertext_bytes: int | None = None
    max_verify_ms: float | None = None
    min_category: int | None = None
    cnsa2: bool = False
    lifetime_years: float | None = None

    def __post_init__(self) -> None:
        if self.device not in DEVICE_CLASSES:
            raise PolicyError(f"unknown device class {self.device!r} "
                              f"(classes: {', '.join(DEVICE_CLASSES)})")
        if self.min_category is not None and not 1 <= self.min_category <= 5:
            raise PolicyError(f"NIST category must be 1 to 5, got {self.min_category}")
        for name in ("max_signature_bytes", "max_ciphertext_bytes", "max_verify_ms",
                     "lifetime_years"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise PolicyError(f"{name.replace('_', ' ')} must be positive, got {value}")

    @property
    def profile(self) -> str:
        return "cnsa2" if self.cnsa2 else "default"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Recommendation:
    role: str
    algorithm: str
    reason: str
    numbers: dict[str, Any]  # the measurements behind the choice
    excluded: tuple[tuple[str, str], ...]  # (algorithm, the constraint that excluded it)
    runners_up: tuple[str, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"role": self.role, "algorithm": self.algorithm, "reason": self.reason,
                "numbers": self.numbers,
                "excluded": [{"algorithm": a, "why": w} for a, w in self.excluded],
                "runners_up": list(self.runners_up)}


@dataclass(frozen=True)
class Advice:
    profile: str
    constraints: Constraints
    recommendations: tuple[Recommendation, ...]
    machine: dict[str, Any]
    model: str | None

    def get(self, role: str) -> Recommendation:
        return next(r for r in self.recommendations if r.role == role)

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "constraints": self.constraints.as_dict(),
                "recommendations": [r.as_dict() for r in self.recommendations],
                "machine": self.machine, "model": self.model}


# ---- constraints as filters ------------------------------------------------------------------


@dataclass(frozen=True)
class _Filter:
    name: str  # how the one-line error names the constraint
    passes: Callable[[AlgorithmResult], bool]
    closest: Callable[[list[AlgorithmResult]], str]  # what came nearest, for the error


def _verify_us(r: AlgorithmResult) -> float | None:
    return r.median_us.get("verify")


def worst_bytes(r: AlgorithmResult) -> int:
    """The largest ciphertext or signature the algorithm can produce: the measured one, or
    the registry's maximum where sizes vary (a Falcon-512 signature is at most 752 bytes,
    usually about 655), so a byte limit holds for every signature, not the one measured."""
    alg = registry.get(r.algorithm)
    listed = alg.signature_size if r.role == "signature" else alg.ciphertext_size
    return max(r.output_bytes, listed or 0)


def _filters(role: str, c: Constraints) -> list[_Filter]:
    out: list[_Filter] = []
    if c.cnsa2:
        allowed = registry.profile("cnsa2").allowed
        out.append(_Filter("CNSA 2.0", lambda r: r.algorithm in allowed,
                           lambda rs: "CNSA 2.0 allows none of "
                                      + ", ".join(r.algorithm for r in rs)))
    if c.min_category is not None:
        cat = c.min_category
        out.append(_Filter(f"NIST category {cat}", lambda r: (r.nist_category or 0) >= cat,
                           lambda rs: "the highest is "
                           + _best(rs, lambda r: -(r.nist_category or 0),
                                   lambda r: f"category {r.nist_category}")))
    limit = c.max_signature_bytes if role == "signature" else c.max_ciphertext_bytes
    if limit is not None:
        what = "signature" if role == "signature" else "ciphertext"
        out.append(_Filter(f"max {what} bytes {limit}", lambda r: worst_bytes(r) <= limit,
                           lambda rs: f"the smallest {what} is "
                           + _best(rs, worst_bytes,
                                   lambda r: f"{worst_bytes(r)} bytes (its largest)")))
    if role == "signature" and c.max_verify_ms is not None:
        ms = c.max_verify_ms
        out.append(_Filter(f"max verify time {ms:g} ms",
                           lambda r: (_verify_us(r) or float("inf")) <= ms * 1000,
                           lambda rs: "the fastest verify is "
                           + _best(rs, lambda r: _verify_us(r) or float("inf"),
                                   lambda r: _ms(_verify_us(r)))))
    if role == "signature" and (c.lifetime_years or 0) > DRAFT_LIFETIME_YEARS:
        years = c.lifetime_years
        out.append(_Filter(f"verification lifetime {years:g} years",
                           lambda r: not r.algorithm.startswith("Falcon"),
                           lambda rs: "only Falcon (round 3, not a final standard) is left"))
    return out


def _ms(us: float | None) -> str:
    return "unmeasured" if us is None else f"{us / 1000:.3g} ms"


def _best(rs: list[AlgorithmResult], key: Callable[[AlgorithmResult], float],
          show: Callable[[AlgorithmResult], str]) -> str:
    r = min(rs, key=key)
    return f"{r.algorithm}'s {show(r)}"


def _impossible(role: str, candidates: list[AlgorithmResult], filters: list[_Filter]) -> str:
    """One line: which constraint excludes everything (and what came closest)."""
    noun = ROLE_NAMES[role]
    for f in filters:  # one constraint that no measured algorithm meets at all
        if not any(f.passes(r) for r in candidates):
            return f"no {noun} algorithm meets {f.name}: {f.closest(candidates)}"
    for f in filters:  # one that excludes every algorithm the others leave
        others = [r for r in candidates if all(g.passes(r) for g in filters if g is not f)]
        if others and not any(f.passes(r) for r in others):
            rest = " and ".join(g.name for g in filters if g is not f)
            left = ", ".join(r.algorithm for r in others)
            return (f"no {noun} algorithm meets {f.name} and {rest} together: {rest} "
                    f"leaves {left}; {f.closest(others)}")
    names = " and ".join(f.name for f in filters if not all(f.passes(r) for r in candidates))
    return f"no {noun} algorithm meets {names} together"


# ---- ranking -----------------------------------------------------------------------------------


def _rank(role: str, c: Constraints, default: str
          ) -> tuple[Callable[[AlgorithmResult], tuple[Any, ...]], str]:
    """A sort key and the rule it follows (said in the reason)."""
    op = "verify" if role == "signature" else "decaps"
    long_lived = role == "signature" and (c.lifetime_years or 0) >= LONG_LIFETIME_YEARS

    def slh_first(r: AlgorithmResult) -> int:
        return 0 if long_lived and r.algorithm.startswith("SLH-DSA") else 1

    if c.device in SMALL_DEVICES:
        def small(r: AlgorithmResult) -> tuple[Any, ...]:
            extra = r.public_key_bytes if role == "kem" else 0  # a device publishes its key
            return (slh_first(r), worst_bytes(r) + extra, r.median_us.get(op, float("inf")))
        rule = ("fewest bytes on the wire, then the fastest "
                f"{op} (what an {c.device} device runs)")
        return small, rule

    def server(r: AlgorithmResult) -> tuple[Any, ...]:
        status = registry.get(r.algorithm).status
        speed = sum(r.median_us.get(o, 0.0) for o in
                    (("sign", "verify") if role == "signature" else ("encaps", "decaps")))
        return (slh_first(r), r.algorithm != default, status != "recommended", speed)
    return server, "the fastest recommended algorithm the constraints leave"


def _numbers(r: AlgorithmResult, comparison: Comparison) -> dict[str, Any]:
    role = r.role
    ops = ("keygen", "sign", "verify", "model-sign", "model-verify") if role == "signature" \
        else ("keygen", "encaps", "decaps", "model-encrypt", "model-decrypt")
    out: dict[str, Any] = {
        "public_key_bytes": r.public_key_bytes,
        ("signature_bytes" if role == "signature" else "ciphertext_bytes"): r.output_bytes,
        "nist_category": r.nist_category,
        "baseline": comparison.baselines.get(role),
    }
    if r.model_output_bytes is not None:
        out["model_bytes_added"] = r.model_output_bytes
    for op in ops:
        if op in r.median_us:
            out[f"{op}_us"] = round(r.median_us[op], 1)
            pct = r.overhead_pct.get(op)
            out[f"{op}_overhead_pct"] = None if pct is None else round(pct, 1)
    return out


def _reason(r: AlgorithmResult, role: str, c: Constraints, rule: str, default: str) -> str:
    op = "verify" if role == "signature" else "decaps"
    what = "signature" if role == "signature" else "ciphertext"
    most = worst_bytes(r)
    facts = [f"{r.output_bytes}-byte {what}" + (f" (at most {most})" if most > r.output_bytes
                                                 else "")]
    us = r.median_us.get(op)
    if us is not None:
        pct = r.overhead_pct.get(op)
        vs = "" if pct is None else f", {pct:+.0f} % vs the classical baseline"
        facts.append(f"{op} {us:.1f} µs{vs}")
    why = rule
    if role == "signature" and r.algorithm.startswith("SLH-DSA") and \
            (c.lifetime_years or 0) >= LONG_LIFETIME_YEARS:
        why = (f"hash-based, the conservative choice for a {c.lifetime_years:g}-year "
               "verification lifetime")
    elif c.device not in SMALL_DEVICES and r.algorithm == default:
        why = f"pqml's {c.profile} profile {ROLE_NAMES[role]} default"
    elif c.device not in SMALL_DEVICES and registry.get(r.algorithm).status != "recommended":
        why = f"the fastest algorithm the constraints leave ({default} is excluded)"
    elif c.device not in SMALL_DEVICES:
        why = f"{rule} ({default} is excluded)"
    return f"{why}: {'; '.join(facts)}"


def advise(comparison: Comparison, constraints: Constraints) -> Advice:
    """One recommendation per role measured in ``comparison``; PolicyError (one line) when
    the constraints exclude every post-quantum algorithm of a role."""
    prof = registry.profile(constraints.profile)
    recs = []
    for role in ("kem", "signature"):
        measured = comparison.role(role)
        if not measured:
            continue
        candidates = [r for r in measured if not r.quantum_vulnerable]
        if not candidates:
            raise PolicyError(f"no post-quantum {ROLE_NAMES[role]} algorithm was measured")
        filters = _filters(role, constraints)
        excluded = []
        survivors = []
        for r in candidates:
            failed = next((f.name for f in filters if not f.passes(r)), None)
            if failed is None:
                survivors.append(r)
            else:
                excluded.append((r.algorithm, failed))
        excluded += [(r.algorithm, "quantum-vulnerable") for r in measured
                     if r.quantum_vulnerable]
        if not survivors:
            raise PolicyError(_impossible(role, candidates, filters))
        default = prof.defaults[role]
        key, rule = _rank(role, constraints, default)
        ranked = sorted(survivors, key=key)
        best = ranked[0]
        recs.append(Recommendation(role, best.algorithm,
                                   _reason(best, role, constraints, rule, default),
                                   _numbers(best, comparison), tuple(excluded),
                                   tuple(r.algorithm for r in ranked[1:])))
    if not recs:
        raise PolicyError("the measurements hold no key encapsulation or signature algorithm")
    return Advice(constraints.profile, constraints, tuple(recs), comparison.machine,
                  comparison.model)


def text(advice: Advice) -> str:
    """For people: per role the algorithm, why, and the numbers; then the profile."""
    lines = []
    for rec in advice.recommendations:
        lines.append(f"{ROLE_NAMES[rec.role]}: {rec.algorithm}")
        lines.append(f"  why: {rec.reason}")
        nums = ", ".join(f"{k}={v}" for k, v in rec.numbers.items() if v is not None)
        lines.append(f"  measured: {nums}")
        if rec.runners_up:
            lines.append(f"  also possible: {', '.join(rec.runners_up)}")
        for alg, why in rec.excluded:
            lines.append(f"  excluded {alg}: {why}")
    lines.append(f"profile: {advice.profile} (pqml ... --profile {advice.profile})")
    m = advice.machine
    lines.append(f"measured on: {m.get('processor', '?')}, {m.get('date', '?')}")
    return "\n".join(lines) + "\n"

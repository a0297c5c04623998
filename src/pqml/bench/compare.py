"""Post-quantum against classical, per role, on this machine and on the user's own model.

Before migrating, a team wants the cost in its own terms: how many bytes a key, a
ciphertext or a signature takes, how long each operation takes here, and how much slower
(in percent) the post-quantum choice is than what it uses today. :func:`run` measures

* key encapsulation: X-Wing, ML-KEM-768 and ML-KEM-1024 against X25519 and RSA-OAEP
  (keygen, encaps, decaps);
* signatures: ML-DSA-44/65/87, Falcon-512/1024, SLH-DSA-SHA2-128s/128f and the
  ML-DSA-65 + Ed25519 composite against ECDSA P-256, Ed25519 and RSA-PSS (keygen, sign,
  verify);
* given a model (a file or a directory): encrypting and decrypting it to a recipient of
  each KEM (pqml/v1, as ``pqml encrypt`` does) and signing and verifying it with each
  signature key (an OMS bundle, as ``pqml sign`` / ``verify`` do), with the bytes each
  adds (ciphertext overhead, bundle size).

Every operation of one role runs **interleaved** across its algorithms (one short batch
of each in turn, the order rotated every round), so a noisy shared machine slows all of
them alike; the median batch is reported. Overhead is each algorithm's median over the
role's classical reference (X25519 for KEMs; ECDSA P-256, what model_signing signs with,
for signatures), minus one.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pqml.primitives import registry
from pqml.primitives.errors import PqmlError

KEMS_PQ = ("X-Wing", "ML-KEM-768", "ML-KEM-1024")
KEMS_CLASSICAL = ("X25519", "RSA-OAEP")
SIGNATURES_PQ = ("ML-DSA-44", "ML-DSA-65", "ML-DSA-87", "Falcon-512", "Falcon-1024",
                 "SLH-DSA-SHA2-128s", "SLH-DSA-SHA2-128f", "MLDSA65-Ed25519-SHA512")
SIGNATURES_CLASSICAL = ("ECDSA-P256", "Ed25519", "RSA-PSS")
BASELINES = {"kem": "X25519", "signature": "ECDSA-P256"}
OPERATIONS = {"kem": ("keygen", "encaps", "decaps", "model-encrypt", "model-decrypt"),
              "signature": ("keygen", "sign", "verify", "model-sign", "model-verify")}
_MESSAGE = b"pqml bench compare: a DSSE PAE is about this long " * 4
_MIN_ROUNDS = 3
_MAX_ROUNDS = 15


@dataclass(frozen=True)
class AlgorithmResult:
    """One algorithm's sizes (bytes) and median times (microseconds) per operation."""

    role: str
    algorithm: str
    quantum_vulnerable: bool
    nist_category: int | None
    public_key_bytes: int
    private_key_bytes: int
    output_bytes: int  # ciphertext (KEM) or signature
    model_output_bytes: int | None = None  # bytes encryption adds to the model / bundle size
    median_us: dict[str, float] = field(default_factory=dict)
    rounds: dict[str, int] = field(default_factory=dict)
    overhead_pct: dict[str, float | None] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["notes"] = list(self.notes)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AlgorithmResult:
        return cls(**{**data, "notes": tuple(data.get("notes", ()))})


@dataclass(frozen=True)
class Comparison:
    machine: dict[str, Any]
    budget_s: float
    model: str | None
    model_bytes: int | None
    baselines: dict[str, str]
    results: tuple[AlgorithmResult, ...]
    skipped: tuple[str, ...] = ()

    def role(self, role: str) -> list[AlgorithmResult]:
        return [r for r in self.results if r.role == role]

    def get(self, algorithm: str) -> AlgorithmResult | None:
        return next((r for r in self.results if r.algorithm == algorithm), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": "pqml bench compare",
            "version": 1,
            "machine": self.machine,
            "budget_s": self.budget_s,
            "model": self.model,
            "model_bytes": self.model_bytes,
            "baselines": self.baselines,
            "results": [r.as_dict() for r in self.results],
            "skipped": list(self.skipped),
        }

    @classmethod
    def from_dict(cls, data: Any, where: str = "measurements") -> Comparison:
        """A comparison saved by ``pqml bench compare --json``; PqmlError naming ``where``
        if it is anything else."""
        if not isinstance(data, dict) or data.get("kind") != "pqml bench compare":
            raise PqmlError(f"{where}: not the JSON of 'pqml bench compare --json'")
        try:
            return cls(data["machine"], float(data["budget_s"]), data.get("model"),
                       data.get("model_bytes"), dict(data["baselines"]),
                       tuple(AlgorithmResult.from_dict(r) for r in data["results"]),
                       tuple(data.get("skipped", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise PqmlError(f"{where}: malformed measurements ({exc})") from None


# ---- timing ----------------------------------------------------------------------------------


def _batch(fn: Callable[[], Any], n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n


def interleaved(fns: dict[str, Callable[[], Any]], budget: float
                ) -> dict[str, tuple[float, int]]:
    """Median seconds per call and rounds, for each of ``fns``, measured in turns.

    Each round runs one batch of every function (order rotated each round); a batch is
    sized to take about ``budget / rounds`` seconds, so slow operations (SLH-DSA signing,
    a model's encryption) run once per batch and fast ones thousands of times."""
    names = list(fns)
    if not names:
        return {}
    first = {n: _batch(fns[n], 1) for n in names}  # also a warm-up
    target = budget / _MAX_ROUNDS
    sizes = {n: max(1, min(100_000, int(target / max(first[n], 1e-7)))) for n in names}
    times: dict[str, list[float]] = {n: [] for n in names}
    deadline = time.perf_counter() + budget * len(names)
    for r in range(_MAX_ROUNDS):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            times[n].append(_batch(fns[n], sizes[n]))
        if r + 1 >= _MIN_ROUNDS and time.perf_counter() > deadline:
            break
    return {n: (statistics.median(t), len(t)) for n, t in times.items()}


# ---- what is measured --------------------------------------------------------------------------


@dataclass
class _Subject:
    role: str
    algorithm: str
    ops: dict[str, Callable[[], Any]]
    public_key_bytes: int
    private_key_bytes: int
    output_bytes: int
    model_output_bytes: int | None = None
    notes: list[str] = field(default_factory=list)


def _kem_subject(name: str) -> _Subject:
    scheme = registry.get(name).scheme()
    sk = scheme.generate()
    pk = sk.public_key()
    _, ct = pk.encapsulate()
    return _Subject("kem", name, {"keygen": scheme.generate, "encaps": pk.encapsulate,
                                  "decaps": lambda: sk.decapsulate(ct)},
                    len(pk.public_bytes()), len(sk.private_bytes()), len(ct))


def _sig_subject(name: str) -> _Subject:
    scheme = registry.get(name).scheme()
    sk = scheme.generate()
    pk = sk.public_key()
    sig = sk.sign(_MESSAGE)
    return _Subject("signature", name, {"keygen": scheme.generate,
                                        "sign": lambda: sk.sign(_MESSAGE),
                                        "verify": lambda: pk.verify(sig, _MESSAGE)},
                    len(pk.public_bytes()), len(sk.private_bytes()), len(sig))


def model_size(model: Path) -> int:
    if model.is_file():
        return model.stat().st_size
    return sum(p.stat().st_size for p in model.rglob("*") if p.is_file() and not p.is_symlink())


def _add_model_kem_ops(subject: _Subject, model: Path, work: Path) -> None:
    """``model-encrypt`` / ``model-decrypt``: the whole model to / from one recipient."""
    from pqml.encryption import encrypt as enc

    sk = registry.get(subject.algorithm).scheme().generate()
    out = work / f"{subject.algorithm}.enc"
    back = work / f"{subject.algorithm}.dec"
    if model.is_dir():
        def encrypt() -> Any:
            return enc.encrypt_tree(model, out, [sk.public_key()], allow_classical=True,
                                    force=True)

        def decrypt() -> Any:
            return enc.decrypt_tree(out, back, [sk], force=True)
    else:
        def encrypt() -> Any:
            return enc.encrypt_file(model, out, [sk.public_key()], allow_classical=True,
                                    force=True)

        def decrypt() -> Any:
            return enc.decrypt_file(out, back, [sk], force=True)
    try:
        encrypt()
    except PqmlError as exc:  # e.g. RSA-OAEP: no pqml/v1 recipient type (legacy only)
        subject.notes.append(f"model encryption not measured: {exc}")
        return
    subject.model_output_bytes = model_size(out) - model_size(model)
    subject.ops["model-encrypt"] = encrypt
    subject.ops["model-decrypt"] = decrypt


def _add_model_sig_ops(subject: _Subject, model: Path, work: Path) -> None:
    """``model-sign`` / ``model-verify``: an OMS bundle over the whole model, every key
    with the ``files`` method (what ECDSA gets for model_signing's sake), so the numbers
    differ by the signature algorithm only, not by how the model was hashed."""
    from pqml.signing import signing

    sk = registry.get(subject.algorithm).scheme().generate()
    bundle = work / f"{subject.algorithm}.sig"

    def sign() -> Any:
        return signing.sign_model(model, [sk], signature=bundle, method="files", force=True)

    def verify() -> Any:
        return signing.verify_model(model, [sk.public_key()], signature=bundle)

    sign()
    subject.model_output_bytes = bundle.stat().st_size
    subject.ops["model-sign"] = sign
    subject.ops["model-verify"] = verify


def default_algorithms() -> list[str]:
    return [*KEMS_PQ, *KEMS_CLASSICAL, *SIGNATURES_PQ, *SIGNATURES_CLASSICAL]


def run(
    model: str | os.PathLike[str] | None = None,
    *,
    algorithms: Iterable[str] | None = None,
    budget: float = 0.3,
    progress: Callable[[str], None] | None = None,
) -> Comparison:
    """Measure ``algorithms`` (default: every PQ and classical one of both roles that is
    installed) and, with ``model``, the model-level operations; ``budget`` is seconds per
    algorithm and operation (more gives steadier medians)."""
    if budget <= 0:
        raise PqmlError(f"budget must be positive, got {budget}")
    root = Path(model) if model is not None else None
    if root is not None and not root.exists():
        raise PqmlError(f"{root}: no such file or directory")
    names = list(algorithms) if algorithms is not None else default_algorithms()
    skipped: list[str] = []
    subjects: list[_Subject] = []
    work = Path(tempfile.mkdtemp(prefix="pqml-bench-compare-"))
    try:
        for name in names:
            alg = registry.get(name)
            if alg.family not in ("kem", "signature"):
                raise PqmlError(f"{alg.name} is not a KEM or a signature algorithm")
            if not alg.available:
                skipped.append(f"{alg.name}: {alg.backend} not installed")
                continue
            if progress:
                progress(f"keys: {alg.name}")
            subject = (_kem_subject if alg.family == "kem" else _sig_subject)(alg.name)
            if root is not None:
                add = _add_model_kem_ops if alg.family == "kem" else _add_model_sig_ops
                add(subject, root, work)
            subjects.append(subject)
        medians: dict[tuple[str, str], tuple[float, int]] = {}
        for role, ops in OPERATIONS.items():
            for op in ops:
                fns = {s.algorithm: s.ops[op] for s in subjects
                       if s.role == role and op in s.ops}
                if not fns:
                    continue
                if progress:
                    progress(f"{role}: {op}")
                per_alg = budget if not op.startswith("model-") else max(budget, 0.05)
                for alg_name, value in interleaved(fns, per_alg).items():
                    medians[(alg_name, op)] = value
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Comparison(
        machine=machine(), budget_s=budget,
        model=str(root) if root is not None else None,
        model_bytes=model_size(root) if root is not None else None,
        baselines=dict(BASELINES), results=tuple(_results(subjects, medians)),
        skipped=tuple(skipped),
    )


def _results(subjects: Sequence[_Subject], medians: dict[tuple[str, str], tuple[float, int]]
             ) -> list[AlgorithmResult]:
    out = []
    for s in subjects:
        alg = registry.get(s.algorithm)
        base = BASELINES[s.role]
        times = {op: medians[(s.algorithm, op)][0] * 1e6 for op in OPERATIONS[s.role]
                 if (s.algorithm, op) in medians}
        overhead: dict[str, float | None] = {}
        for op, us in times.items():
            ref = medians.get((base, op))
            overhead[op] = (us / (ref[0] * 1e6) - 1.0) * 100.0 if ref and ref[0] > 0 else None
        out.append(AlgorithmResult(
            s.role, s.algorithm, alg.quantum_vulnerable, alg.nist_category,
            s.public_key_bytes, s.private_key_bytes, s.output_bytes, s.model_output_bytes,
            times, {op: medians[(s.algorithm, op)][1] for op in times}, overhead,
            tuple(s.notes)))
    return out


def machine() -> dict[str, Any]:
    """The machine the numbers belong to (CPU model, cores, Python, backend versions)."""
    from pqml.bench import primitives

    info = primitives.machine()
    info["affinity_cpus"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
        else info.get("cpus")
    return info

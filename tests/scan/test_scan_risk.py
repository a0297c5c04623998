"""Risk: Mosca's inequality, NIST IR 8547 / CNSA 2.0 deadlines, value hints, and the plan."""

from __future__ import annotations

import pytest

from pqml.scan import fail_on, risk
from pqml.scan.config import RiskConfig
from pqml.scan.facts import lookup
from pqml.scan.model import Finding
from pqml.scan.plan import build_plan

CFG = RiskConfig(crqc_year=2035, current_year=2026)
LEVEL_ORDER = ("critical", "high", "medium", "low", "info")


def finding(algorithm: str, parameter: str | None = None, usage: str = "sign",
            kind: str = "code", **details) -> Finding:
    facts = lookup(algorithm, parameter, usage)
    f = Finding(path="a.py", line=1, kind=kind, algorithm=algorithm, primitive=facts.primitive,
                usage=usage, evidence="x", parameter=parameter,
                quantum_vulnerable=facts.quantum_vulnerable, status=facts.status,
                details=dict(details))
    f.risk = risk.assess(f, CFG)
    return f


def years(f: Finding, framework: str) -> dict[str, int]:
    assert f.risk is not None
    return {d.milestone: d.year for d in f.risk.deadlines if d.framework == framework}


@pytest.mark.parametrize("algorithm,parameter,nist", [
    ("RSA", "2048", {"deprecated": 2030, "disallowed": 2035}),    # 112-bit
    ("RSA", "3072", {"disallowed": 2035}),                        # 128-bit
    ("ECDSA", "P-256", {"disallowed": 2035}),                     # P-256 is 128-bit
    ("ECDSA", "P-224", {"deprecated": 2030, "disallowed": 2035}),
    ("Ed25519", None, {"disallowed": 2035}),
    ("RSA", None, {"deprecated": 2030, "disallowed": 2035}),      # size unknown: assume 2048
])
def test_nist_ir_8547_deadlines_follow_security_strength(algorithm, parameter, nist) -> None:
    assert years(finding(algorithm, parameter), "NIST IR 8547") == nist


def test_already_disallowed_and_symmetric_deadlines() -> None:
    rsa1024 = finding("RSA", "1024")
    assert rsa1024.risk.deadline_year == 2026  # already past: this year
    assert finding("3DES", usage="encrypt").risk.deadline_year == 2023
    assert finding("SHA-1", usage="digest").risk.deadline_year == 2030
    assert finding("MD5", usage="digest").risk.deadline_year == 2026
    aes = finding("AES-256-GCM", usage="encrypt")
    assert aes.risk.deadline_year is None and aes.risk.level == "info"
    old_tls = finding("TLS", "TLSv1.0,TLSv1.2", usage="protocol", kind="config")
    assert old_tls.risk.deadline_year == 2026 and old_tls.risk.level in ("high", "critical")


def test_cnsa_categories() -> None:
    bundle = finding("ECDSA", "P-384", kind="signature-bundle")
    assert bundle.risk.cnsa_category == "software-signing"
    assert years(bundle, "CNSA 2.0") == {"exclusive-use": 2030, "prefer": 2025}
    tls = finding("ECDH", "P-256", usage="key-exchange", kind="config", directive="ssl_ciphers")
    assert years(tls, "CNSA 2.0")["exclusive-use"] == 2033
    ssh = finding("RSA", "3072", kind="config", directive="HostKeyAlgorithms")
    assert ssh.risk.cnsa_category == "operating-systems"
    code = finding("X25519", usage="key-exchange")
    assert code.risk.cnsa_category == "custom-legacy"
    assert years(code, "CNSA 2.0") == {"exclusive-use": 2033}


def test_mosca_inequality_and_overrides() -> None:
    dataset_key = finding("X25519", usage="encrypt", kind="artifact",
                          artifact={"category": "dataset"},
                          protection={"status": "encrypted", "encryption": {"kems": ["X25519"]}})
    r = dataset_key.risk
    assert (r.shelf_life_years, r.migration_years, r.crqc_years) == (15, 2, 9)
    assert r.mosca_at_risk and "harvest now, decrypt later" in " ".join(r.reasons)
    cfg = RiskConfig(crqc_year=2050, current_year=2026, shelf_life_years={"default": 2},
                     frameworks=("nist-ir-8547",))
    f = finding("X25519", usage="key-exchange")
    f.risk = risk.assess(f, cfg)
    assert not f.risk.mosca_at_risk and f.risk.crqc_years == 24
    assert all(d.framework != "CNSA 2.0" for d in f.risk.deadlines)
    pq = finding("ML-KEM-768", usage="encapsulate")
    assert not pq.risk.mosca_at_risk and pq.risk.level == "info"
    assert pq.risk.category == "post-quantum"


def test_value_hints_rank_models_above_code() -> None:
    model = finding("ECDSA", "P-256", kind="artifact", artifact={"category": "model"},
                    protection={"status": "signed", "signatures": []})
    code = finding("ECDSA", "P-256")
    assert model.risk.value == "high" and code.risk.value == "medium"
    assert model.risk.score > code.risk.score


def _artifact(name: str, **art) -> Finding:
    from pqml.scan.files.artifacts import finding as artifact_finding

    info = {"format": "pickle", "category": "model", "pickle_based": True,
            "code_execution_risk": True, "dangerous_imports": [], **art}
    f = artifact_finding(name, info)
    f.risk = risk.assess(f, CFG)
    return f


def test_plan_order_and_replacements() -> None:
    findings = [
        finding("SHA-1", usage="digest"),
        finding("RSA", "2048", usage="sign"),
        finding("ECDH", "P-256", usage="key-exchange"),
        _artifact("models/clean.pkl"),
        _artifact("models/evil.pkl", dangerous_imports=["os.system"]),
        _artifact("models/weights.safetensors", format="safetensors", pickle_based=False,
                  code_execution_risk=False),
    ]
    plan = build_plan(findings)
    assert plan[0].title.startswith("Pickles importing")
    by_title = {p.title: p for p in plan}
    sign = by_title["RSA signatures and signing keys"]
    assert sign.replacement.startswith("ML-DSA-65") and "composite" in sign.replacement
    assert sign.command == "pqml keygen --alg ML-DSA-65 -o signer.pem"
    assert by_title["ECDH key exchange"].replacement.startswith("X-Wing")
    pickle_item = by_title["Unprotected pickle-based model files"]
    assert "safetensors" in pickle_item.replacement
    assert pickle_item.command.endswith("pqml sign models/clean.pkl -k signer.pem")
    weights = by_title["Unprotected model files"]
    assert "pqml encrypt -r" in weights.command
    ranks = [(LEVEL_ORDER.index(p.level), p.deadline_year or 9999) for p in plan]
    assert ranks == sorted(ranks)


def test_plan_has_one_step_per_replacement_worst_level_then_earliest_deadline() -> None:
    """Risk level first (critical -> low), then the earliest deadline: a medium step due in
    2023 comes before a medium step due in 2030 even when the latter scores higher."""
    plan = build_plan([
        finding("ECDSA", "P-256", usage="sign"),              # medium 45, 2033
        finding("RSA", "2048", usage="sign"),                 # medium 50, 2030
        finding("SHA-1", usage="digest"),                     # medium 45, 2030
        finding("MD5", usage="digest"),                       # medium 45, 2026
        finding("RSA", "2048", usage="sign", jose_alg="RS256"),  # medium 50, 2030
        finding("AES-128-GCM", usage="encrypt"),              # info, no deadline
        finding("3DES", usage="encrypt"),                     # medium 55, 2023
        finding("ECDH", "P-256", usage="key-exchange"),       # high 65, 2033
        finding("RSA", "2048", usage="encrypt"),              # high 70, 2030
    ])
    assert [(p.title, p.level, p.deadline_year) for p in plan] == [
        ("RSA encryption; ECDH key exchange", "high", 2030),
        ("3DES encryption", "medium", 2023),
        ("MD5, SHA-1 hashing", "medium", 2026),
        ("RSA, ECDSA signatures and signing keys", "medium", 2030),
        ("RSA JWT signatures", "medium", 2030),
        ("AES-128-GCM encryption", "info", None),
    ]
    assert len({p.replacement for p in plan}) == len(plan)
    assert [len(p.findings) for p in plan] == [2, 1, 2, 2, 1, 1]
    kem = plan[0]
    assert [f.usage for f in kem.findings] == ["encrypt", "key-exchange"]  # worst first
    assert "pqml encrypt -r recipient.pem" in (kem.command or "")  # the worst one's command


def test_fail_on_policies() -> None:
    rsa2048 = finding("RSA", "2048")
    p384 = finding("ECDSA", "P-384")
    aes = finding("AES-256-GCM", usage="encrypt")
    unprotected = _artifact("m.pkl")
    assert fail_on.failing([rsa2048, p384, aes], ["deadline-2030"]) == [rsa2048]
    assert fail_on.failing([rsa2048, p384, aes], ["deadline-2035"]) == [rsa2048, p384]
    assert fail_on.failing([aes, unprotected], ["unprotected-model"]) == [unprotected]
    assert fail_on.failing([aes, unprotected], ["code-execution"]) == [unprotected]
    assert fail_on.failing([aes], ["any"]) == [aes]
    assert fail_on.failing([rsa2048], ["any", "none"]) == []
    rsa2048.baselined = True
    assert fail_on.failing([rsa2048], ["any"]) == []

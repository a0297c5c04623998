"""Risk of each finding: Mosca's inequality, compliance deadlines, asset value.

**Mosca's inequality.** Data protected today with quantum-vulnerable cryptography is at risk
when ``x + y > z``: ``x`` the years it must stay secret (or a signature must stay
trustworthy), ``y`` the years the migration takes, ``z`` the years until a cryptographically
relevant quantum computer (CRQC). Defaults (override in ``pqml.toml`` ``[scan.risk]``):

| asset class     | x (shelf life) | y (migration) | why |
|-----------------|---------------:|--------------:|-----|
| model           | 10 | 2 | trained weights stay valuable (and reusable) for years |
| dataset         | 15 | 2 | training data often holds personal or licensed data |
| key-material    | 10 | 3 | CA and signing keys outlive the systems that made them |
| confidentiality | 7  | 3 | recorded traffic / ciphertext: harvest now, decrypt later |
| authenticity    | 5  | 3 | a forged signature only matters once a CRQC exists |
| protocol        | 7  | 3 | TLS / SSH sessions recorded today |
| default         | 5  | 3 | |

``z = crqc_year - current_year`` with ``crqc_year = 2035``: the year US policy (NSM-10,
NIST IR 8547) sets for retiring quantum-vulnerable public-key cryptography -- a planning
assumption, not a forecast.

**Deadlines.**

* NIST IR 8547 (initial public draft, Nov. 2024), "Transition to Post-Quantum Cryptography
  Standards": quantum-vulnerable signatures and key establishment (RSA, ECDSA, EdDSA, DSA,
  (EC)DH, MQV) at 112-bit security strength (RSA-2048, DH-2048, P-224) are *deprecated
  after 2030*; all of them, at any strength, are *disallowed after 2035*. Strength follows
  NIST SP 800-57 Part 1: P-256 and X25519 give 128 bits, so they fall under 2035 only.
  Below 112 bits (RSA-1024) they are already disallowed (SP 800-131A Rev. 2).
* SHA-1: NIST's retirement by 31 Dec 2030 (announced Dec. 2022; already disallowed for
  signature generation by SP 800-131A Rev. 2); MD5/MD4 were never approved. 3DES:
  disallowed for encryption after 2023 (SP 800-131A Rev. 2). SP 800-131A Rev. 3 (draft,
  Oct. 2024) proposes retiring 224-bit hashes and ECB encryption after 2030.
  TLS 1.0/1.1 and SSL are not allowed (SP 800-52 Rev. 2).
* CNSA 2.0 (NSA Cybersecurity Advisory "Announcing the Commercial National Security
  Algorithm Suite 2.0", U/OO/194427-22, Sept. 2022; FAQ updated Dec. 2024): support and
  prefer CNSA 2.0 by, and use it exclusively by -- software and firmware signing 2025 /
  2030; web browsers, servers and cloud services 2025 / 2033; traditional networking
  equipment (VPNs, routers) 2026 / 2030; operating systems 2027 / 2033; niche equipment
  (constrained devices, large PKI) 2030 / 2033; custom applications and legacy equipment
  updated or replaced by 2033. The category is inferred per finding (model and code
  signing -> software signing, TLS -> web/cloud, SSH -> operating systems, CA
  certificates -> niche/large PKI, other code -> custom applications) unless
  ``cnsa_category`` fixes it.

``deadline_year`` is the earliest year among those milestones; ``--fail-on deadline-2030``
matches findings whose deadline is 2030 or earlier.
"""

from __future__ import annotations

from pqml.scan.config import RiskConfig
from pqml.scan.facts import classical_bits, lookup
from pqml.scan.model import Deadline, Finding, Risk

ASSET_CLASSES = ("model", "dataset", "key-material", "confidentiality", "authenticity",
                 "protocol")
_SHELF_LIFE = {"model": 10.0, "dataset": 15.0, "key-material": 10.0, "confidentiality": 7.0,
               "authenticity": 5.0, "protocol": 7.0, "default": 5.0}
_MIGRATION = {"model": 2.0, "dataset": 2.0, "key-material": 3.0, "confidentiality": 3.0,
              "authenticity": 3.0, "protocol": 3.0, "default": 3.0}

_CNSA = {  # category: (prefer by, exclusively by, label)
    "software-signing": (2025, 2030, "software and firmware signing"),
    "web-cloud": (2025, 2033, "web browsers/servers and cloud services"),
    "networking": (2026, 2030, "traditional networking equipment"),
    "operating-systems": (2027, 2033, "operating systems"),
    "niche": (2030, 2033, "niche equipment / large PKI"),
    "custom-legacy": (2033, 2033, "custom applications and legacy equipment"),
}

_PUBLIC_KEY = {"RSA", "RSA-PSS", "RSA-OAEP", "ECDSA", "ECDH", "DH", "DSA", "Ed25519", "Ed448",
               "X25519", "X448", "ElGamal", "TLS", "SSH"}
_CONFIDENTIALITY_USES = {"encrypt", "decrypt", "key-exchange", "encapsulate", "decapsulate",
                         "protocol"}
_NOT_APPROVED = {"MD5", "MD4", "MD2", "DES", "RC4", "RC2", "Blowfish", "CAST5", "IDEA",
                 "HMAC-MD5", "ElGamal"}
_RETIRE_2030 = {"SHA-1", "HMAC-SHA-1", "SHA-224", "SHA3-224", "SHA-512/224"}
_OLD_TLS = {"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"}

NIST = "NIST IR 8547"
NIST_OLD = "NIST SP 800-131A Rev. 2"
NIST_DRAFT = "NIST SP 800-131A Rev. 3 (draft)"
CNSA = "CNSA 2.0"


def asset_class(f: Finding) -> str:
    if f.kind == "artifact":
        cat = f.details.get("artifact", {}).get("category")
        return {"model": "model", "dataset": "dataset"}.get(cat, "confidentiality")
    if f.kind == "signature-bundle":
        return "model"
    if f.kind in ("certificate", "pem", "ssh-key", "jwk"):
        return "key-material"
    if f.usage == "protocol":
        return "protocol"
    if f.usage in _CONFIDENTIALITY_USES:
        return "confidentiality"
    if f.usage in ("sign", "verify", "keygen", "key-load"):
        return "authenticity"
    return "default"


def _value(f: Finding, cls: str) -> str:
    if cls in ("model", "dataset"):
        return "high"
    if f.kind == "certificate" and f.details.get("is_ca"):
        return "high"
    if f.usage == "private-key":
        return "high"
    if f.kind == "dependency" or f.usage in ("digest", "mac", "kdf"):
        return "low"
    return "medium"


def cnsa_category(f: Finding, configured: str) -> str:
    if configured != "auto":
        return configured
    if f.kind in ("artifact", "signature-bundle") and f.usage == "sign":
        return "software-signing"
    if f.kind == "certificate":
        return "niche" if f.details.get("is_ca") else "web-cloud"
    if f.kind == "config":
        directive = str(f.details.get("directive", "")).lower()
        if f.algorithm == "SSH" or directive in (
                "kexalgorithms", "hostkeyalgorithms", "pubkeyacceptedalgorithms", "ciphers",
                "macs", "hostkey", "pubkeyacceptedkeytypes", "casignaturealgorithms"):
            return "operating-systems"
        return "web-cloud"
    if f.kind == "ssh-key" or f.algorithm == "SSH":
        return "operating-systems"
    if f.usage == "protocol" or f.library in ("ssl", "grpc", "pyOpenSSL") or (
            f.details.get("jose_alg")):
        return "web-cloud"
    if f.kind == "code" and f.details.get("x509"):
        return "niche"
    return "custom-legacy"


def deadlines(f: Finding, cfg: RiskConfig) -> list[Deadline]:
    out: list[Deadline] = []
    now = cfg.current_year
    alg = f.algorithm
    use_nist = "nist-ir-8547" in cfg.frameworks
    if alg in _PUBLIC_KEY and f.quantum_vulnerable:
        if use_nist:
            bits = classical_bits(alg if alg not in ("RSA-PSS", "RSA-OAEP") else "RSA",
                                  f.parameter)
            note = ""
            if bits is None and alg in ("RSA", "RSA-PSS", "RSA-OAEP", "DH", "DSA"):
                bits, note = 112, "key size unknown: assumed 2048 bits (112-bit strength)"
            elif bits is None and alg in ("ECDSA", "ECDH"):
                bits = 128  # curve unknown: P-256 / X25519, the common choices
            if alg == "DSA" and f.usage in ("sign", "keygen"):
                out.append(Deadline("FIPS 186-5", "disallowed", 2023,
                                    "DSA signature generation no longer approved"))
            if bits is not None and bits < 112:
                out.append(Deadline(NIST_OLD, "disallowed", now,
                                    f"{bits}-bit security is already disallowed"))
            elif bits == 112:
                out.append(Deadline(NIST, "deprecated", 2030, note or "112-bit security"))
            out.append(Deadline(NIST, "disallowed", 2035, "all quantum-vulnerable public-key"))
        if "cnsa-2.0" in cfg.frameworks:
            cat = cnsa_category(f, cfg.cnsa_category)
            prefer, exclusive, label = _CNSA[cat]
            out.append(Deadline(CNSA, "exclusive-use", exclusive, label))
            if prefer < exclusive:
                out.append(Deadline(CNSA, "prefer", prefer, label))
    if use_nist:
        if alg in _NOT_APPROVED:
            out.append(Deadline(NIST_OLD, "disallowed", now, "not an approved algorithm"))
        elif alg == "3DES":
            out.append(Deadline(NIST_OLD, "disallowed", 2023, "TDEA encryption after 2023"))
        elif alg in _RETIRE_2030:
            out.append(Deadline(NIST if alg.endswith("SHA-1") else NIST_DRAFT, "disallowed",
                                2030, "SHA-1 retirement by 31 Dec 2030" if "SHA-1" in alg
                                else "224-bit hashes retired after 2030"))
        elif alg.endswith("-ECB") or alg == "AES-ECB":
            out.append(Deadline(NIST_DRAFT, "disallowed", 2030, "ECB encryption retired"))
        if alg == "TLS" and f.parameter:
            old = [v for v in f.parameter.split(",") if v in _OLD_TLS]
            if old:
                out.append(Deadline("NIST SP 800-52 Rev. 2", "disallowed", now,
                                    f"{', '.join(old)} not allowed"))
    return out


def _years(table: dict[str, float], defaults: dict[str, float], cls: str) -> float:
    if cls in table:
        return table[cls]
    if "default" in table:
        return table["default"]
    return defaults[cls]


def assess(f: Finding, cfg: RiskConfig) -> Risk:
    cls = asset_class(f)
    x = _years(cfg.shelf_life_years, _SHELF_LIFE, cls)
    y = _years(cfg.migration_years, _MIGRATION, cls)
    z = cfg.years_to_crqc
    at_risk = f.quantum_vulnerable and x + y > z
    value = _value(f, cls)
    reasons: list[str] = []
    score = 0
    category = "inventory"
    status = f.status or lookup(f.algorithm, f.parameter, f.usage).status
    art = f.details.get("artifact") if f.kind == "artifact" else None
    protection = f.details.get("protection", {}).get("status") if art else None
    if f.quantum_vulnerable:
        score += 40
        category = "quantum-vulnerable"
        reasons.append(f"{f.algorithm} is broken by a quantum computer (Shor)")
        if at_risk:
            reasons.append(f"Mosca: shelf life {x:g} + migration {y:g} > {z:g} years to CRQC")
            if f.usage in _CONFIDENTIALITY_USES or cls in ("confidentiality", "protocol"):
                score += 20
                reasons.append("confidentiality: harvest now, decrypt later")
            else:  # a signature can be re-made before a CRQC exists; a recording cannot
                score += 10
    if status == "broken" and f.kind != "artifact":
        weight = 10 if f.details.get("usedforsecurity") is False else 45
        score += weight
        if category == "inventory":
            category = "broken-algorithm"
        reasons.append(f"{f.algorithm} is classically broken or no longer approved")
    elif status == "weak":
        score += 30
        category = "weak-algorithm" if category == "inventory" else category
        reasons.append(f"{f.algorithm} is weak")
    if f.algorithm == "TLS" and f.parameter and any(
            v in _OLD_TLS for v in f.parameter.split(",")):
        score += 40
        reasons.append("protocol versions older than TLS 1.2 enabled")
        if category == "inventory":
            category = "broken-algorithm"
    unverified = False
    if art is not None:
        if protection and "signed" in protection and (
                art.get("code_execution_risk") or art.get("dangerous_imports")):
            # the scan never verifies a bundle, and anyone can sign a pickle with a key of
            # their own: an unverified signature must not lower a code-execution risk
            protection = "+".join(p for p in protection.split("+") if p != "signed") or "none"
            reasons.append("signature not verified by the scan: it does not lower the risk")
            unverified = True
        if art.get("dangerous_imports"):
            score = max(score, 95)
            category = "malicious-pickle"
            reasons.append("pickle imports " + ", ".join(art["dangerous_imports"][:5]))
        elif art.get("code_execution_risk"):
            score += 50 if protection in ("none", "encrypted") else 30
            if category in ("inventory",):
                category = "pickle-code-execution"
            reasons.append("loading runs code (pickle)" if art.get("pickle_based")
                           else "Keras Lambda layers run code when loaded")
        if protection == "none":
            score += 25
            if category == "inventory":
                category = "unprotected-model"
            reasons.append("not encrypted, signature unverified" if unverified
                           else "neither signed nor encrypted")
    if f.kind == "certificate" and f.details.get("expired"):
        reasons.append("certificate has expired")
        score += 5
    if f.kind == "dependency":
        category = "crypto-dependency"
        score = min(score, 25)
    dl = deadlines(f, cfg)
    hard = [d.year for d in dl if d.milestone != "prefer"]
    deadline_year = min(hard) if hard else None
    if deadline_year is not None:
        score += 10 if deadline_year <= 2030 else 5
    if f.kind == "certificate" and deadline_year is not None:
        not_after = f.details.get("not_after_year")
        if isinstance(not_after, int) and not_after > deadline_year:
            reasons.append(f"valid until {not_after}, past its {deadline_year} deadline")
            score += 5
    if category == "inventory" and not f.quantum_vulnerable and lookup(
            f.algorithm, f.parameter, f.usage).nist_quantum_level not in (None, 0):
        category = "post-quantum" if f.primitive in ("kem", "signature") else "inventory"
    score += {"high": 15, "medium": 0, "low": -10}[value] if score else 0
    if f.confidence == "low":
        score -= 10
    score = max(0, min(100, score))
    if f.details.get("usedforsecurity") is False:
        # still an inventory item (it must move off MD5/SHA-1 one day), but a checksum or
        # cache key protects nothing: low risk, whatever the algorithm
        score = min(max(score, 15), 34)
        reasons.append("flagged not for security (usedforsecurity=False)")
    level = ("critical" if score >= 80 else "high" if score >= 60 else "medium" if score >= 35
             else "low" if score >= 15 else "info")
    from pqml.scan.plan import replacement_for

    replacement, command = replacement_for(f)
    return Risk(level=level, score=score, category=category, reasons=reasons, value=value,
                shelf_life_years=x, migration_years=y, crqc_years=z, mosca_at_risk=at_risk,
                deadlines=dl, deadline_year=deadline_year,
                cnsa_category=cnsa_category(f, cfg.cnsa_category) if f.quantum_vulnerable
                else None, replacement=replacement, command=command)

"""The migration plan: what replaces each vulnerable use, and the pqml command that does it.

Findings are grouped into actions, one per replacement (all that ML-DSA-65 replaces is one
step: "RSA, ECDSA signatures and signing keys; RSA certificates"), and the actions are
ordered by their worst risk level (critical, high, medium, low), then by their earliest
deadline, then by score, so the plan starts with what is both most exposed and most
urgent: malicious or unprotected pickles, data under harvest-now-decrypt-later exposure,
then signatures by deadline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pqml.scan.model import Finding

_SIGNATURES = {"RSA", "RSA-PSS", "ECDSA", "DSA", "Ed25519", "Ed448"}
_KEY_AGREEMENT = {"ECDH", "X25519", "X448", "DH", "RSA-OAEP", "ElGamal"}
_ENCRYPT_USES = {"encrypt", "decrypt", "key-exchange", "encapsulate", "decapsulate"}
_BROKEN_HASH = {"MD5", "MD4", "MD2", "SHA-1"}
_WEAK_CIPHERS = {"3DES", "DES", "RC4", "RC2", "Blowfish", "CAST5", "IDEA"}
_OLD_TLS = {"SSLv2", "SSLv3", "TLSv1.0", "TLSv1.1"}

SIGN_REPLACEMENT = ("ML-DSA-65 (ML-DSA-87 under CNSA 2.0), or composite "
                    "MLDSA65-ECDSA-P256-SHA512 / MLDSA65-Ed25519-SHA512 while verifiers are "
                    "classical")
KEM_REPLACEMENT = "X-Wing (ML-KEM-768 + X25519; ML-KEM-1024 under CNSA 2.0)"


def replacement_for(f: Finding) -> tuple[str | None, str | None]:
    """(replacement, pqml command) for one finding; (None, None) when nothing to do."""
    art = f.details.get("artifact") if f.kind == "artifact" else None
    if art is not None:
        return _artifact_replacement(f, art)
    alg = f.algorithm
    if f.kind == "signature-bundle" and f.quantum_vulnerable:
        if _bundle_has_pq_signature(f.details.get("bundle") or {}):
            return (VERIFY_PQ_REPLACEMENT, _verify_pq_command(f.path))
        return (f"co-sign with ML-DSA: {SIGN_REPLACEMENT}", _cosign_command(f.path))
    if f.kind == "dependency":
        if f.quantum_vulnerable:
            return ("a library with ML-KEM / ML-DSA: cryptography>=50 or pqml", None)
        return None, None
    if alg == "TLS":
        if any(v in _OLD_TLS for v in (f.parameter or "").split(",")):
            return ("disable SSL 3.0, TLS 1.0 and 1.1: TLS 1.2 minimum, TLS 1.3 with the "
                    "hybrid X25519MLKEM768 group preferred", None)
        return ("TLS 1.3 with the hybrid X25519MLKEM768 group (OpenSSL >= 3.5: "
                "ssl_ecdh_curve X25519MLKEM768:X25519)", None)
    if alg == "SSH":
        return ("KexAlgorithms mlkem768x25519-sha256,sntrup761x25519-sha512@openssh.com "
                "(OpenSSH >= 9.9)", None)
    if f.kind == "config" and alg in _KEY_AGREEMENT and f.usage == "key-exchange":
        if f.details.get("directive", "").lower() == "kexalgorithms":
            return ("KexAlgorithms mlkem768x25519-sha256,sntrup761x25519-sha512@openssh.com",
                    None)
        return ("hybrid key exchange X25519MLKEM768 (TLS) in the group list", None)
    if f.details.get("jose_alg") and alg in _SIGNATURES:
        return ("ML-DSA-65 JWS (draft-ietf-cose-dilithium) when verifiers support it; "
                "short token lifetimes meanwhile",
                "pqml keygen --alg ML-DSA-65 -o jwt-signer.pem")
    if alg in ("RSA", "RSA-OAEP", "ElGamal") and f.usage in _ENCRYPT_USES:
        return (KEM_REPLACEMENT, "pqml keygen -o recipient.pem && "
                                 "pqml encrypt -r recipient.pem -o FILE.pqml FILE")
    if alg in _KEY_AGREEMENT:
        return (KEM_REPLACEMENT, "pqml keygen -o recipient.pem")
    if alg in _SIGNATURES:
        return (SIGN_REPLACEMENT, "pqml keygen --alg ML-DSA-65 -o signer.pem")
    if alg in _BROKEN_HASH or alg.startswith(("HMAC-MD5", "HMAC-SHA-1", "PBKDF2-SHA-1",
                                               "PBKDF2-MD5")):
        return ("SHA-256 (SHA-384 under CNSA 2.0); HMAC-SHA-256 for MACs", None)
    if alg in _WEAK_CIPHERS or alg.endswith("-ECB") or alg == "AES-ECB":
        return ("AES-256-GCM (authenticated encryption)", None)
    if alg.startswith("AES-128") or alg.startswith("AES-192"):
        return ("AES-256 (Grover margin; required by CNSA 2.0)", None)
    return None, None


def _artifact_replacement(f: Finding, art: dict[str, Any]) -> tuple[str | None, str | None]:
    status = f.details.get("protection", {}).get("status", "none")
    path = f.path
    enc = (f.details.get("protection") or {}).get("encryption") or {}
    if art.get("dangerous_imports"):
        return ("quarantine: never load it; re-export the weights as safetensors from a "
                "trusted source and sign them", None)
    if "encrypted" in status and f.quantum_vulnerable and enc:
        return ("re-key to a post-quantum recipient (X-Wing)", _migrate_file_command(path, enc))
    if "signed" in status and f.quantum_vulnerable:
        bundles = (f.details.get("protection") or {}).get("signatures") or []
        classical = [b for b in bundles if not _bundle_has_pq_signature(b)]
        if classical:
            return (f"co-sign with ML-DSA: {SIGN_REPLACEMENT}",
                    _cosign_command(classical[0].get("bundle") or path))
        if bundles:
            return (VERIFY_PQ_REPLACEMENT, _verify_pq_command(bundles[0].get("bundle") or path))
    if status == "none":
        if art.get("pickle_based"):
            return ("convert to safetensors and sign with ML-DSA-65; load only after "
                    "verification",
                    f"pqml keygen --alg ML-DSA-65 -o signer.pem && pqml sign {path} -k signer.pem")
        if art.get("category") in ("model", "dataset"):
            return ("sign (ML-DSA-65) and encrypt at rest to X-Wing recipients",
                    f"pqml sign {path} -k signer.pem && "
                    f"pqml encrypt -r <age1pq1… recipient> -o {path}.pqml {path}")
    return None, None


VERIFY_PQ_REPLACEMENT = ("verify with --require-pq: the bundle has a post-quantum signature, "
                         "but a verifier accepting its classical one alone accepts a forgery")


def _bundle_has_pq_signature(bundle: dict[str, Any]) -> bool:
    """Whether a bundle's signatures (as scanned) include a post-quantum one."""
    from pqml.scan.facts import lookup

    return any(not lookup(s.get("algorithm", "unknown"), s.get("parameter"),
                          "sign").quantum_vulnerable
               and s.get("algorithm") not in (None, "unknown")
               for s in bundle.get("signatures") or [])


def _cosign_command(bundle_path: str) -> str:
    """``pqml migrate`` co-signs a classical-only bundle after verifying it."""
    return ("pqml keygen --alg ML-DSA-65 -o mldsa.pem && "
            f"pqml migrate {bundle_path} --trust-key classical.pub --sign-key mldsa.pem "
            "--apply")


def _verify_pq_command(bundle_path: str) -> str:
    model = bundle_path.rsplit("/", 1)[0] if "/" in bundle_path else "."
    return (f"pqml verify {model} --signature {bundle_path} -k classical.pub -k mldsa.pub "
            "--require-pq")


def _migrate_file_command(path: str, enc: dict[str, Any]) -> str:
    """``pqml migrate`` rewrites the header of an age or pqml/v1 file for post-quantum
    recipients (age files: X-Wing ``age1pq1…`` only)."""
    target = "<age1pq1… recipient>" if enc.get("format") == "age" else "recipient.pub.pem"
    return f"pqml migrate {path} -i identity.txt --to {target} --apply"


@dataclass
class PlanItem:
    priority: int
    title: str
    replacement: str
    command: str | None
    level: str
    deadline_year: int | None
    findings: list[Finding] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)  # "path:line" per finding, as shown

    def as_dict(self) -> dict[str, Any]:
        return {
            "priority": self.priority,
            "title": self.title,
            "replacement": self.replacement,
            "command": self.command,
            "level": self.level,
            "deadline_year": self.deadline_year,
            "count": len(self.findings),
            "locations": self.locations[:20],
            "fingerprints": [f.fingerprint for f in self.findings],
        }


def _title(f: Finding) -> tuple[str, str]:
    """(algorithm, what) of one finding, e.g. ("RSA", "signatures and signing keys");
    algorithm "" when the title names none."""
    art = f.details.get("artifact") if f.kind == "artifact" else None
    if art is not None:
        status = f.details.get("protection", {}).get("status", "none")
        if art.get("dangerous_imports"):
            return "", "Pickles importing os/subprocess/eval: possible malware"
        if status == "none":
            kind = "pickle-based " if art.get("pickle_based") else ""
            return "", f"Unprotected {kind}{art.get('category', 'model')} files"
        if "encrypted" in status:
            return "", "Files encrypted to quantum-vulnerable recipients"
        return "", "Artifacts signed with classical signatures only"
    if f.kind == "signature-bundle":
        return "", "Model signatures with classical algorithms only"
    if f.kind == "dependency":
        return "", "Libraries with classical public-key cryptography only"
    if f.algorithm == "TLS" and any(v in _OLD_TLS for v in (f.parameter or "").split(",")):
        return "", "TLS versions older than 1.2 enabled"
    if f.details.get("jose_alg") and f.algorithm in _SIGNATURES:
        return f.algorithm, "JWT signatures"
    if f.kind == "config" and f.algorithm in _KEY_AGREEMENT and f.usage == "key-exchange":
        return f.algorithm, "key exchange in TLS / SSH configuration"
    uses = {"sign": "signing", "verify": "verification", "keygen": "key generation",
            "key-load": "keys", "private-key": "stored private keys",
            "public-key": "stored public keys", "certificate": "certificates",
            "encrypt": "encryption", "decrypt": "decryption",
            "key-exchange": "key exchange", "protocol": "protocol configuration",
            "digest": "hashing", "mac": "MACs", "kdf": "key derivation",
            "encapsulate": "key encapsulation"}
    what = uses.get(f.usage, f.usage)
    role_uses = ("sign", "verify", "keygen", "key-load", "key-exchange", "private-key",
                 "public-key")
    if f.algorithm in _SIGNATURES and f.usage in role_uses:
        what = "signatures and signing keys"
    elif f.algorithm in _KEY_AGREEMENT and f.usage in role_uses:
        what = "key exchange"
    elif f.usage in ("keygen", "key-load"):
        what = "keys"
    return f.algorithm, what


_MAX_CLAUSES = 3
LEVEL_ORDER = ("critical", "high", "medium", "low", "info")


def _group_title(findings: list[Finding]) -> str:
    """One title for a replacement's findings (worst first): the algorithms of each kind of
    use, "RSA, ECDSA signatures and signing keys; RSA certificates"."""
    clauses: dict[str, list[str]] = {}
    for f in findings:
        alg, what = _title(f)
        algs = clauses.setdefault(what, [])
        if alg and alg not in algs:
            algs.append(alg)
    parts = [f"{', '.join(algs)} {what}" if algs else what for what, algs in clauses.items()]
    more = len(parts) - _MAX_CLAUSES
    title = "; ".join(parts[:_MAX_CLAUSES])
    return f"{title} (+{more} more)" if more > 0 else title


def _urgency(f: Finding) -> tuple[int, int, int]:
    """Sort key, most urgent first: risk level, then deadline, then score."""
    assert f.risk is not None
    return (LEVEL_ORDER.index(f.risk.level), f.risk.deadline_year or 9999, -f.risk.score)


def build_plan(findings: list[Finding],
               display: Callable[[Finding], str] | None = None) -> list[PlanItem]:
    """The plan: one item per replacement, worst risk level first, then earliest deadline.
    ``display`` gives the path a person should see (``ScanResult.display_path``: with
    several roots, the root-joined path); default the root-relative path."""
    shown = display or (lambda f: f.path)
    groups: dict[str, list[Finding]] = {}
    for f in findings:
        if f.risk is None or f.baselined or f.risk.replacement is None:
            continue
        groups.setdefault(f.risk.replacement, []).append(f)
    items = []
    for replacement, members in groups.items():
        members.sort(key=lambda f: (*_urgency(f), shown(f), f.line))
        worst = members[0]
        assert worst.risk is not None
        cmd = worst.risk.command
        if cmd and worst.path in cmd:
            cmd = cmd.replace(worst.path, shown(worst) if len(members) == 1 else "<path>")
        deadlines = [f.risk.deadline_year for f in members
                     if f.risk and f.risk.deadline_year is not None]
        items.append(PlanItem(max(f.risk.score for f in members if f.risk),
                              _group_title(members), replacement, cmd, worst.risk.level,
                              min(deadlines) if deadlines else None,
                              members, [f"{shown(f)}:{f.line}" for f in members]))
    items.sort(key=lambda i: (LEVEL_ORDER.index(i.level), i.deadline_year or 9999,
                              -i.priority, -len(i.findings), i.title))
    seen: set[str] = set()
    for item in items:  # titles name what is replaced; two replacements never share one
        if item.title in seen:
            item.title = f"{item.title} -> {item.replacement.split(' (')[0]}"
        seen.add(item.title)
    return items

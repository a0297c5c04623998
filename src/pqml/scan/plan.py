"""The migration plan: what replaces each vulnerable use, and the pqml command that does it.

Findings are grouped into actions (one per replacement and asset kind, e.g. "RSA signing
keys -> ML-DSA-65") and the actions are ordered by the worst risk score among their
findings, then by the earliest deadline, so the plan starts with what is both most
exposed and most urgent: malicious or unprotected pickles, data under harvest-now-decrypt-
later exposure, then signatures by deadline.
"""

from __future__ import annotations

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
        model_dir = f.path.rsplit("/", 1)[0] if "/" in f.path else "."
        return (f"add a post-quantum signature: {SIGN_REPLACEMENT}",
                "pqml keygen --alg ML-DSA-65 -o mldsa.pem && "
                f"pqml sign {model_dir} -k classical.pem -k mldsa.pem")
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
        return ("re-key to a post-quantum recipient (X-Wing)",
                f"pqml rekey {path} -i identity.txt --add <age1pq1… recipient> "
                "--remove <X25519 recipient>")
    if "signed" in status and f.quantum_vulnerable:
        return (f"add a post-quantum signature: {SIGN_REPLACEMENT}",
                f"pqml sign {path.rsplit('/', 1)[0] if '/' in path else '.'} "
                "-k classical.pem -k mldsa.pem")
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


@dataclass
class PlanItem:
    priority: int
    title: str
    replacement: str
    command: str | None
    level: str
    deadline_year: int | None
    findings: list[Finding] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "priority": self.priority,
            "title": self.title,
            "replacement": self.replacement,
            "command": self.command,
            "level": self.level,
            "deadline_year": self.deadline_year,
            "count": len(self.findings),
            "locations": [f"{f.path}:{f.line}" for f in self.findings[:20]],
            "fingerprints": [f.fingerprint for f in self.findings],
        }


def _title(f: Finding) -> str:
    art = f.details.get("artifact") if f.kind == "artifact" else None
    if art is not None:
        status = f.details.get("protection", {}).get("status", "none")
        if art.get("dangerous_imports"):
            return "Pickles importing os/subprocess/eval: possible malware"
        if status == "none":
            kind = "pickle-based " if art.get("pickle_based") else ""
            return f"Unprotected {kind}{art.get('category', 'model')} files"
        if "encrypted" in status:
            return "Files encrypted to quantum-vulnerable recipients"
        return "Artifacts signed with classical signatures only"
    if f.kind == "signature-bundle":
        return "Model signatures with classical algorithms only"
    if f.kind == "dependency":
        return "Libraries with classical public-key cryptography only"
    if f.algorithm == "TLS" and any(v in _OLD_TLS for v in (f.parameter or "").split(",")):
        return "TLS versions older than 1.2 enabled"
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
    return f"{f.algorithm} {what}"


def build_plan(findings: list[Finding]) -> list[PlanItem]:
    groups: dict[tuple[str, str], PlanItem] = {}
    for f in findings:
        if f.risk is None or f.baselined:
            continue
        replacement, command = f.risk.replacement, f.risk.command
        if replacement is None:
            continue
        title = _title(f)
        key = (title, replacement)
        item = groups.get(key)
        if item is None:
            cmd = command
            if cmd and f.path in cmd:
                cmd = cmd.replace(f.path, "<path>")
            item = groups[key] = PlanItem(f.risk.score, title, replacement, cmd, f.risk.level,
                                          f.risk.deadline_year)
        item.findings.append(f)
        if f.risk.score > item.priority:
            item.priority, item.level = f.risk.score, f.risk.level
        if f.risk.deadline_year is not None and (
                item.deadline_year is None or f.risk.deadline_year < item.deadline_year):
            item.deadline_year = f.risk.deadline_year
    items = list(groups.values())
    items.sort(key=lambda i: (-i.priority, i.deadline_year or 9999, -len(i.findings), i.title))
    for item in items:
        item.findings.sort(key=lambda f: (-(f.risk.score if f.risk else 0), f.path, f.line))
        if item.command and "<path>" in item.command and len(item.findings) == 1:
            item.command = item.command.replace("<path>", item.findings[0].path)
    return items

"""OMS (OpenSSF model signing) bundles next to models: which files they sign, with what.

A Sigstore bundle lists its resources relative to the model directory; a file is reported
as *signed* when a bundle found in the tree lists it (the signature itself is not verified
here: ``pqml verify`` does that). The signature algorithms are read from what the bundle
says about its key -- the leaf certificate, ``publicKey.keyDetails`` -- and, for every
further DSSE signature (pqml adds post-quantum ones after the classical one), from the
signature's length, matched against the registry's signature sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_KEY_DETAILS = {
    "PKIX_ECDSA_P256_SHA_256": ("ECDSA", "P-256"), "PKIX_ECDSA_P384_SHA_384": ("ECDSA", "P-384"),
    "PKIX_ECDSA_P521_SHA_512": ("ECDSA", "P-521"), "PKIX_ED25519": ("Ed25519", None),
    "PKIX_ED25519_PH": ("Ed25519", None),
    "PKIX_RSA_PKCS1V15_2048_SHA256": ("RSA", "2048"),
    "PKIX_RSA_PKCS1V15_3072_SHA256": ("RSA", "3072"),
    "PKIX_RSA_PKCS1V15_4096_SHA256": ("RSA", "4096"),
    "PKIX_RSA_PSS_2048_SHA256": ("RSA-PSS", "2048"),
    "PKIX_RSA_PSS_3072_SHA256": ("RSA-PSS", "3072"),
    "PKIX_RSA_PSS_4096_SHA256": ("RSA-PSS", "4096"),
    "ML_DSA_44": ("ML-DSA-44", None), "ML_DSA_65": ("ML-DSA-65", None),
    "ML_DSA_87": ("ML-DSA-87", None),
}


@dataclass(slots=True)
class SignatureInfo:
    algorithm: str
    parameter: str | None
    source: str          # "certificate", "keyDetails", "extension", "length", "assumed"

    def as_dict(self) -> dict:
        return {"algorithm": self.algorithm, "parameter": self.parameter, "source": self.source}


@dataclass(slots=True)
class BundleRecord:
    """A bundle found during the walk; coverage is resolved once all files are known."""

    path: str                         # root-relative bundle path
    subject_name: str
    resources: list[str]              # resource paths (shard ranges stripped)
    signatures: list[SignatureInfo] = field(default_factory=list)
    method: str = "key"               # key | certificate
    certificate_subject: str | None = None
    key_hint: str | None = None
    covered: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"bundle": self.path, "method": self.method,
                "signatures": [s.as_dict() for s in self.signatures],
                "certificate_subject": self.certificate_subject, "key_hint": self.key_hint,
                "resources": len(self.resources)}


def _by_length(sig: bytes) -> tuple[str, str | None] | None:
    from pqml.primitives import registry

    sizes: dict[int, list[str]] = {}
    for alg in registry.all_algorithms("signature"):
        if alg.signature_size:
            sizes.setdefault(alg.signature_size, []).append(alg.name)
    names = sizes.get(len(sig), [])
    if len(names) == 1:
        return names[0], None
    if sig[:1] in (b"\x39", b"\x3a") and len(sig) <= 1462:  # Falcon: header 0x30 + logn
        return ("Falcon-512" if sig[:1] == b"\x39" else "Falcon-1024"), None
    if len(sig) == 64:
        return "Ed25519", None
    if sig[:1] == b"\x30" and 8 <= len(sig) <= 139:
        curve = "P-256" if len(sig) <= 72 else ("P-384" if len(sig) <= 104 else "P-521")
        return "ECDSA", curve
    if len(sig) in (256, 384, 512):
        return "RSA", str(len(sig) * 8)
    return None


def _extension_algorithms(extensions: Any) -> list[str]:
    """Registry names found under "algorithm"-like keys in predicate extensions."""
    from pqml.primitives import registry
    from pqml.primitives.errors import UnknownAlgorithmError

    found: list[str] = []

    def walk(obj: Any, key: str = "") -> None:
        if isinstance(obj, dict):
            for k, v in obj.items():
                walk(v, k)
        elif isinstance(obj, list):
            for v in obj:
                walk(v, key)
        elif isinstance(obj, str) and "alg" in key.lower():
            try:
                name = registry.get(obj).name
            except UnknownAlgorithmError:
                return
            if name not in found:
                found.append(name)

    walk(extensions)
    return found


def parse(data: bytes, path: str) -> BundleRecord | None:
    """A bundle record, or None if ``data`` is not an OMS bundle (raises on a broken one)."""
    if b"dsseEnvelope" not in data[:1 << 16] and b"mediaType" not in data[:4096]:
        return None
    from pqml.formats import oms
    from pqml.scan.files.x509_certs import describe_certificate

    bundle = oms.parse_bundle(data)
    statement = bundle.statement()
    method = statement.serialization.method
    resources = []
    for r in statement.resources:
        name = r.name.split(":")[0] if method == "shards" else r.name
        if name not in resources:
            resources.append(name)
    record = BundleRecord(path=path, subject_name=statement.subject_name, resources=resources)
    content = bundle.verification_material.content
    first: tuple[str, str | None, str] | None = None
    if isinstance(content, oms.PublicKeyIdentifier):
        record.key_hint = content.hint
        if content.key_details in _KEY_DETAILS:
            alg, param = _KEY_DETAILS[content.key_details]
            first = (alg, param, "keyDetails")
    else:
        leaf = content.leaf if isinstance(content, oms.CertificateChain) else content.raw_bytes
        record.method = "certificate"
        info = describe_certificate(leaf)
        if info is not None and info["key_algorithm"]:
            record.certificate_subject = info["subject"]
            first = (info["key_algorithm"], info["key_parameter"], "certificate")
    extension_algs = _extension_algorithms(dict(statement.extensions))
    for i, sig in enumerate(bundle.envelope.signatures):
        guess = _by_length(sig.sig)
        if i == 0 and first is not None:
            alg, param, source = first
        elif i > 0 and len(extension_algs) >= i and guess is None:
            alg, param, source = extension_algs[i - 1], None, "extension"
        elif guess is not None:
            alg, param = guess
            source = "length"
        else:
            alg, param, source = "unknown", None, "unknown"
        record.signatures.append(SignatureInfo(alg, param, source))
    return record


def is_bundle_name(name: str) -> bool:
    low = name.lower()
    return low.endswith((".sig", ".sigstore", ".sigstore.json", ".bundle.json"))


def resolve_coverage(record: BundleRecord, files: set[str]) -> list[str]:
    """Root-relative paths of the scanned files this bundle's resources name."""
    directory = record.path.rsplit("/", 1)[0] if "/" in record.path else ""

    def join(*parts: str) -> str:
        return "/".join(p for p in parts if p)

    if record.resources == ["."]:
        candidates = [join(directory, record.subject_name)]
        stem = record.path.rsplit("/", 1)[-1]
        for suffix in (".sigstore.json", ".sigstore", ".bundle.json", ".sig"):
            if stem.lower().endswith(suffix):
                candidates.append(join(directory, stem[: -len(suffix)]))
                break
        return [c for c in candidates if c in files][:1]
    best: list[str] = []
    for base in (join(directory, record.subject_name), directory):
        covered = [join(base, r) for r in record.resources if join(base, r) in files]
        if len(covered) > len(best):
            best = covered
    return best

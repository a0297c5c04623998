"""The algorithm registry: one entry per algorithm, the single source of algorithm facts.

Everything that needs to know an algorithm's name, OID, size, security category or
quantum vulnerability asks here. Entries name their implementing module as a string, so
importing the registry imports no backend (the CLI starts fast) and an algorithm whose
backend is missing is still listed, marked unavailable.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from pqml.primitives.errors import PolicyError, UnavailableAlgorithmError, UnknownAlgorithmError

Family = Literal["kem", "signature", "aead", "hash"]
Status = Literal["recommended", "supported", "legacy", "broken"]


@dataclass(frozen=True)
class Algorithm:
    """Facts about one algorithm. Sizes are bytes; ``None`` means variable or not applicable."""

    name: str
    family: Family
    standard: str
    nist_category: int | None
    quantum_vulnerable: bool
    backend: str  # importable module that must be present
    impl: str | None = None  # "module:ATTRIBUTE" holding the Scheme
    aliases: tuple[str, ...] = ()
    oids: tuple[str, ...] = ()
    hpke_kem_id: int | None = None
    public_key_size: int | None = None
    private_key_size: int | None = None
    ciphertext_size: int | None = None
    signature_size: int | None = None
    shared_secret_size: int | None = None
    digest_size: int | None = None
    key_size: int | None = None
    status: Status = "supported"
    extra: str | None = None  # pip extra that installs the backend
    notes: str = ""
    parameters: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def available(self) -> bool:
        return _backend_present(self.backend)

    def require_available(self) -> Algorithm:
        """Raise UnavailableAlgorithmError, with the install hint, if the backend is missing."""
        if not self.available:
            hint = f" (pip install 'pqml[{self.extra}]')" if self.extra else ""
            raise UnavailableAlgorithmError(
                f"{self.name} needs the '{self.backend}' package, not installed here{hint}"
            )
        return self

    def scheme(self) -> Any:
        """Import and return the implementing Scheme (raises if the backend is missing)."""
        if self.impl is None:
            raise UnavailableAlgorithmError(f"{self.name} has no key-pair scheme")
        self.require_available()
        module, _, attr = self.impl.partition(":")
        return getattr(importlib.import_module(module), attr)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "aliases": list(self.aliases),
            "family": self.family,
            "standard": self.standard,
            "oids": list(self.oids),
            "hpke_kem_id": self.hpke_kem_id,
            "nist_category": self.nist_category,
            "quantum_vulnerable": self.quantum_vulnerable,
            "status": self.status,
            "public_key_size": self.public_key_size,
            "private_key_size": self.private_key_size,
            "ciphertext_size": self.ciphertext_size,
            "signature_size": self.signature_size,
            "shared_secret_size": self.shared_secret_size,
            "digest_size": self.digest_size,
            "key_size": self.key_size,
            "backend": self.backend,
            "extra": self.extra,
            "available": self.available,
            "notes": self.notes,
        }


@cache
def _backend_present(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


_KEM = "pqml.primitives.kem"
_SIG = "pqml.primitives.sig"
_NIST_SIG = "2.16.840.1.101.3.4.3."

_ENTRIES: list[Algorithm] = [
    # ---- key encapsulation -------------------------------------------------------------
    Algorithm(
        "X-Wing", "kem", "draft-connolly-cfrg-xwing-kem", 3, False, "cryptography",
        f"{_KEM}.xwing:SCHEME", aliases=("xwing", "mlkem768x25519"),
        oids=("1.3.6.1.4.1.62253.25722",), hpke_kem_id=0x647A,
        public_key_size=1216, private_key_size=32, ciphertext_size=1120,
        shared_secret_size=32, status="recommended",
        notes="ML-KEM-768 + X25519 hybrid; default KEM",
    ),
    Algorithm(
        "ML-KEM-768", "kem", "FIPS 203", 3, False, "cryptography", f"{_KEM}.mlkem:MLKEM768",
        aliases=("mlkem768", "ml-kem768", "kyber768"), oids=("2.16.840.1.101.3.4.4.2",),
        hpke_kem_id=0x0041, public_key_size=1184, private_key_size=64, ciphertext_size=1088,
        shared_secret_size=32,
    ),
    Algorithm(
        "ML-KEM-1024", "kem", "FIPS 203", 5, False, "cryptography", f"{_KEM}.mlkem:MLKEM1024",
        aliases=("mlkem1024", "ml-kem1024", "kyber1024"), oids=("2.16.840.1.101.3.4.4.3",),
        hpke_kem_id=0x0042, public_key_size=1568, private_key_size=64, ciphertext_size=1568,
        shared_secret_size=32, status="recommended", notes="CNSA 2.0 KEM",
    ),
    Algorithm(
        "MLKEM1024-P384", "kem", "draft-irtf-cfrg-concrete-hybrid-kems", 5, False,
        "cryptography", f"{_KEM}.mlkem1024_p384:SCHEME",
        aliases=("mlkem1024p384", "mlkem1024-p384", "MLKEM1024-ECDH-P384"),
        hpke_kem_id=0x0051, public_key_size=1665, private_key_size=32, ciphertext_size=1665,
        shared_secret_size=32, notes="ML-KEM-1024 + ECDH P-384 hybrid (CNSA 2.0 profile)",
    ),
    Algorithm(
        "X25519", "kem", "RFC 7748", None, True, "cryptography", f"{_KEM}.x25519:SCHEME",
        aliases=("curve25519",), oids=("1.3.101.110",), hpke_kem_id=0x0020,
        public_key_size=32, private_key_size=32, ciphertext_size=32, shared_secret_size=32,
        status="legacy", notes="classical ECDH; age v1 recipients",
    ),
    Algorithm(
        "RSA-OAEP", "kem", "RFC 8017", None, True, "cryptography", f"{_KEM}.rsa_oaep:SCHEME",
        aliases=("rsaoaep", "rsa-oaep-sha256"),
        oids=("1.2.840.113549.1.1.7", "1.2.840.113549.1.1.1"), shared_secret_size=32,
        status="legacy", parameters={"bits": 3072},
        notes="RSA-OAEP-SHA256 key transport of a random 32-byte secret; read/migrate only",
    ),
    # ---- signatures: ML-DSA (FIPS 204) --------------------------------------------------
    *(
        Algorithm(
            f"ML-DSA-{n}", "signature", "FIPS 204", cat, False, "cryptography",
            f"{_SIG}.mldsa:MLDSA{n}", aliases=(f"mldsa{n}", f"ml-dsa{n}", f"dilithium{d}"),
            oids=(f"{_NIST_SIG}{oid}",), public_key_size=pk, private_key_size=32,
            signature_size=sig, status="recommended" if n in (65, 87) else "supported",
            notes={65: "default signature", 87: "CNSA 2.0 signature"}.get(n, ""),
        )
        for n, d, cat, oid, pk, sig in (
            (44, 2, 2, 17, 1312, 2420),
            (65, 3, 3, 18, 1952, 3309),
            (87, 5, 5, 19, 2592, 4627),
        )
    ),
    # ---- signatures: SLH-DSA (FIPS 205), OIDs per RFC 9909 --------------------------------
    *(
        Algorithm(
            f"SLH-DSA-{h.upper()}-{bits}{v}", "signature", "FIPS 205",
            {128: 1, 192: 3, 256: 5}[bits], False, "pqcrypto",
            f"{_SIG}.slhdsa:SLH_DSA_{h.upper()}_{bits}{v.upper()}",
            aliases=(f"slhdsa-{h}-{bits}{v}", f"slh-dsa-{h}{bits}{v}", f"sphincs-{h}-{bits}{v}"),
            oids=(f"{_NIST_SIG}{20 + 6 * hi + 2 * bi + vi}",),
            public_key_size=bits // 4, private_key_size=bits // 2,
            signature_size={
                (128, "s"): 7856, (128, "f"): 17088, (192, "s"): 16224,
                (192, "f"): 35664, (256, "s"): 29792, (256, "f"): 49856,
            }[(bits, v)],
            notes="stateless hash-based; long-term roots" if v == "s" else "stateless hash-based",
        )
        for hi, h in enumerate(("sha2", "shake"))
        for bi, bits in enumerate((128, 192, 256))
        for vi, v in enumerate(("s", "f"))
    ),
    # ---- signatures: Falcon (round 3; FIPS 206 not final) ---------------------------------
    *(
        Algorithm(
            f"Falcon-{n}", "signature", "Falcon round 3 (FN-DSA draft)", cat, False, "pqc",
            f"{_SIG}.falcon:FALCON{n}", aliases=(f"falcon{n}",), oids=(oid,),
            public_key_size=pk, private_key_size=sk, signature_size=sig, extra="falcon",
            notes="compact signatures for edge devices; stored private key is PQClean sk ‖ pk; "
            "OID is the OQS provisional arc",
        )
        for n, cat, oid, pk, sk, sig in (
            (512, 1, "1.3.9999.3.11", 897, 1281 + 897, 752),
            (1024, 5, "1.3.9999.3.14", 1793, 2305 + 1793, 1462),
        )
    ),
    # ---- signatures: composite ML-DSA (draft-ietf-lamps-pq-composite-sigs) ---------------
    # OIDs and sizes are checked against the certificates in the draft's test vectors.
    # Private keys are the ML-DSA seed followed by the traditional key; RSA sizes vary.
    *(
        Algorithm(
            name, "signature", "draft-ietf-lamps-pq-composite-sigs", cat, False, "cryptography",
            f"{_SIG}.composite:{name.replace('-', '_')}",
            aliases=(name.lower().replace("-", ""),), oids=(f"1.3.6.1.5.5.7.6.{arc}",),
            public_key_size=pk, private_key_size=sk, signature_size=sig,
            status="recommended" if name == "MLDSA65-Ed25519-SHA512" else "supported",
            notes="hybrid: valid only if both ML-DSA and the classical signature verify",
        )
        for name, cat, arc, pk, sk, sig in (
            ("MLDSA44-RSA2048-PSS-SHA256", 2, 37, None, None, 2676),
            ("MLDSA44-RSA2048-PKCS15-SHA256", 2, 38, None, None, 2676),
            ("MLDSA44-Ed25519-SHA512", 2, 39, 1344, 64, 2484),
            ("MLDSA44-ECDSA-P256-SHA256", 2, 40, 1377, 83, None),
            ("MLDSA65-RSA3072-PSS-SHA512", 3, 41, None, None, 3693),
            ("MLDSA65-RSA3072-PKCS15-SHA512", 3, 42, None, None, 3693),
            ("MLDSA65-RSA4096-PSS-SHA512", 3, 43, None, None, 3821),
            ("MLDSA65-RSA4096-PKCS15-SHA512", 3, 44, None, None, 3821),
            ("MLDSA65-ECDSA-P256-SHA512", 3, 45, 2017, 83, None),
            ("MLDSA65-ECDSA-P384-SHA512", 3, 46, 2049, 96, None),
            ("MLDSA65-ECDSA-brainpoolP256r1-SHA512", 3, 47, 2017, 84, None),
            ("MLDSA65-Ed25519-SHA512", 3, 48, 1984, 64, 3373),
            ("MLDSA87-ECDSA-P384-SHA512", 5, 49, 2689, 96, None),
            ("MLDSA87-ECDSA-brainpoolP384r1-SHA512", 5, 50, 2689, 100, None),
            ("MLDSA87-Ed448-SHAKE256", 5, 51, 2649, 89, 4741),
            ("MLDSA87-RSA3072-PSS-SHA512", 5, 52, None, None, 5011),
            ("MLDSA87-RSA4096-PSS-SHA512", 5, 53, None, None, 5139),
            ("MLDSA87-ECDSA-P521-SHA512", 5, 54, 2725, 114, None),
        )
    ),
    # ---- signatures: classical (quantum-vulnerable) --------------------------------------
    Algorithm(
        "Ed25519", "signature", "RFC 8032", None, True, "cryptography", f"{_SIG}.ed25519:SCHEME",
        aliases=("eddsa",), oids=("1.3.101.112",), public_key_size=32, private_key_size=32,
        signature_size=64, status="legacy",
    ),
    *(
        Algorithm(
            f"ECDSA-P{bits}", "signature", "FIPS 186-5", None, True, "cryptography",
            f"{_SIG}.ecdsa:ECDSA_P{bits}",
            aliases=(f"ecdsa-p{bits}", f"p{bits}", f"secp{bits}r1", f"es{es}")
            + (("prime256v1",) if bits == 256 else ()),
            oids=("1.2.840.10045.2.1", curve), public_key_size=pub,
            private_key_size=(bits + 7) // 8, status="legacy",
            notes=f"signs with SHA-{es}; signature is DER, at most {maxsig} bytes",
        )
        for bits, es, curve, pub, maxsig in (
            (256, 256, "1.2.840.10045.3.1.7", 65, 72),
            (384, 384, "1.3.132.0.34", 97, 104),
            (521, 512, "1.3.132.0.35", 133, 139),
        )
    ),
    Algorithm(
        "RSA-PSS", "signature", "RFC 8017", None, True, "cryptography",
        f"{_SIG}.rsa_pss:SCHEME", aliases=("rsapss", "ps256", "rsa-pss-sha256"),
        oids=("1.2.840.113549.1.1.10", "1.2.840.113549.1.1.1"), status="legacy",
        parameters={"bits": 3072}, notes="RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32",
    ),
    # ---- AEAD ----------------------------------------------------------------------------
    Algorithm(
        "AES-256-GCM", "aead", "NIST SP 800-38D", 5, False, "cryptography",
        aliases=("aes256gcm", "aes-256gcm"), oids=("2.16.840.1.101.3.4.1.46",), key_size=32,
        status="recommended", notes="payload AEAD; 96-bit nonce, 128-bit tag",
    ),
    Algorithm(
        "ChaCha20-Poly1305", "aead", "RFC 8439", 5, False, "cryptography",
        aliases=("chacha20poly1305",), oids=("1.2.840.113549.1.9.16.3.18",),
        key_size=32, notes="age v1 payload",
    ),
    # ---- hashes --------------------------------------------------------------------------
    *(
        Algorithm(
            f"SHA-{n}", "hash", "FIPS 180-4", cat, False, "hashlib",
            aliases=(f"sha{n}", f"sha-{n}"), oids=(f"2.16.840.1.101.3.4.2.{oid}",),
            digest_size=n // 8, status="recommended" if n in (256, 384) else "supported",
        )
        for n, cat, oid in ((256, 2, 1), (384, 4, 2), (512, 5, 3))
    ),
    *(
        Algorithm(
            f"SHA3-{n}", "hash", "FIPS 202", cat, False, "hashlib",
            aliases=(f"sha3{n}", f"sha3_{n}"), oids=(f"2.16.840.1.101.3.4.2.{oid}",),
            digest_size=n // 8,
        )
        for n, cat, oid in ((256, 2, 8), (384, 4, 9), (512, 5, 10))
    ),
    Algorithm(
        "BLAKE3", "hash", "BLAKE3 spec", 2, False, "blake3", aliases=("blake3-256",),
        digest_size=32, extra="blake3", notes="fast tree hash; no NIST standing",
    ),
    Algorithm(
        "SHA-1", "hash", "FIPS 180-4", None, False, "hashlib", aliases=("sha1",),
        oids=("1.3.14.3.2.26",), digest_size=20, status="broken",
        notes="collisions found; inventory only",
    ),
    Algorithm(
        "MD5", "hash", "RFC 1321", None, False, "hashlib", aliases=("md5",),
        oids=("1.2.840.113549.2.5",), digest_size=16, status="broken",
        notes="collisions found; inventory only",
    ),
]


# Aliases must name exactly one thing: bare "RSA", "AES-GCM" or "ChaCha20" would claim a
# specific padding, key size or AEAD that the user did not say.
def _key(name: str) -> str:
    return name.strip().lower().replace("_", "-")


def _build_index(entries: list[Algorithm]) -> dict[str, Algorithm]:
    index: dict[str, Algorithm] = {}
    for alg in entries:
        for key in {_key(alg.name), *(_key(a) for a in alg.aliases)}:
            if key in index and index[key] is not alg:
                raise RuntimeError(f"registry: name {key!r} is ambiguous")
            index[key] = alg
    return index


_INDEX = _build_index(_ENTRIES)


def _unique_oids(entries: list[Algorithm]) -> dict[str, Algorithm]:
    """OIDs that name exactly one entry (rsaEncryption and id-ecPublicKey name several)."""
    seen: dict[str, list[Algorithm]] = {}
    for alg in entries:
        for oid in alg.oids:
            seen.setdefault(oid, []).append(alg)
    return {oid: algs[0] for oid, algs in seen.items() if len(algs) == 1}


_BY_OID = _unique_oids(_ENTRIES)


def get(name: str) -> Algorithm:
    """Look up an algorithm by canonical name or alias, case-insensitively."""
    try:
        return _INDEX[_key(name)]
    except KeyError:
        raise UnknownAlgorithmError(
            f"unknown algorithm {name!r} (see 'pqml algorithms' for the list)"
        ) from None


def by_oid(oid: str) -> Algorithm | None:
    """The algorithm whose key or signature OID this is (unique OIDs only)."""
    return _BY_OID.get(oid)


def by_hpke_kem_id(kem_id: int) -> Algorithm | None:
    return next((a for a in _ENTRIES if a.hpke_kem_id == kem_id), None)


def all_algorithms(family: Family | None = None) -> list[Algorithm]:
    return [a for a in _ENTRIES if family is None or a.family == family]


def scheme(name: str) -> Any:
    """Shortcut: the Scheme implementing ``name``."""
    return get(name).scheme()


# ---- profiles: one algorithm per role, plus the set a profile permits ---------------------

Role = Literal["kem", "signature", "aead", "hash"]


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    defaults: dict[str, str]
    allowed: frozenset[str]

    def default(self, role: str) -> Algorithm:
        if role not in self.defaults:
            raise UnknownAlgorithmError(
                f"unknown role {role!r}; roles are: {', '.join(self.defaults)}"
            )
        return get(self.defaults[role])

    def check(self, alg: Algorithm) -> Algorithm:
        """Raise PolicyError unless the profile permits ``alg``."""
        if self.allowed and alg.name not in self.allowed:
            raise PolicyError(
                f"{alg.name} is not allowed by profile {self.name!r} "
                f"(allowed: {', '.join(sorted(self.allowed))})"
            )
        return alg


PROFILES: dict[str, Profile] = {
    "default": Profile(
        "default",
        "hybrid post-quantum KEM, ML-DSA-65 signatures, SHA-256",
        {"kem": "X-Wing", "signature": "ML-DSA-65", "aead": "AES-256-GCM", "hash": "SHA-256"},
        frozenset(),
    ),
    "cnsa2": Profile(
        "cnsa2",
        "NSA CNSA 2.0: ML-KEM-1024, ML-DSA-87, AES-256, SHA-384",
        {"kem": "ML-KEM-1024", "signature": "ML-DSA-87", "aead": "AES-256-GCM", "hash": "SHA-384"},
        frozenset(
            {"ML-KEM-1024", "MLKEM1024-P384", "ML-DSA-87", "AES-256-GCM", "SHA-384", "SHA-512"}
            | {a.name for a in _ENTRIES if a.name.startswith("SLH-DSA") and "256" in a.name}
            | {"MLDSA87-ECDSA-P384-SHA512", "MLDSA87-ECDSA-P521-SHA512"}
        ),
    ),
}


def profile(name: str) -> Profile:
    try:
        return PROFILES[name.lower()]
    except KeyError:
        raise UnknownAlgorithmError(
            f"unknown profile {name!r} (profiles: {', '.join(PROFILES)})"
        ) from None


def resolve(name_or_role: str | None, profile_name: str = "default") -> Algorithm:
    """Turn ``--alg`` (an algorithm or a role such as 'kem') under ``--profile`` into an entry."""
    prof = profile(profile_name)
    if name_or_role is None:
        return prof.default("kem")
    if name_or_role.lower() in prof.defaults:
        return prof.default(name_or_role.lower())
    return prof.check(get(name_or_role))

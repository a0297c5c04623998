"""The registry is the single source of algorithm facts: check its invariants."""

from __future__ import annotations

import pytest

from pqml.errors import PolicyError, UnavailableAlgorithmError, UnknownAlgorithmError
from pqml.primitives import registry
from pqml.primitives.base import KEMScheme, SignatureScheme

REQUIRED = [
    "X-Wing", "ML-KEM-768", "ML-KEM-1024", "MLKEM1024-P384", "X25519", "RSA-OAEP",
    "ML-DSA-44", "ML-DSA-65", "ML-DSA-87", "Falcon-512", "Falcon-1024",
    "MLDSA65-Ed25519-SHA512", "MLDSA65-ECDSA-P256-SHA512", "MLDSA87-ECDSA-P384-SHA512",
    "Ed25519", "ECDSA-P256", "ECDSA-P384", "ECDSA-P521", "RSA-PSS",
    "AES-256-GCM", "ChaCha20-Poly1305", "SHA-256", "SHA-384", "SHA-512", "SHA3-256",
    "BLAKE3",
]


@pytest.mark.parametrize("name", REQUIRED)
def test_required_algorithms_are_registered(name: str) -> None:
    assert registry.get(name).name == name


def test_all_twelve_slh_dsa_sets() -> None:
    names = {a.name for a in registry.all_algorithms("signature") if a.name.startswith("SLH-DSA")}
    expected = {f"SLH-DSA-{h}-{b}{v}" for h in ("SHA2", "SHAKE") for b in (128, 192, 256)
                for v in "sf"}
    assert names == expected
    oids = sorted(int(registry.get(n).oids[0].rsplit(".", 1)[1]) for n in names)
    assert oids == list(range(20, 32))  # RFC 9909 arcs 20..31, one per set


@pytest.mark.parametrize(
    ("alias", "canonical"),
    [("xwing", "X-Wing"), ("XWING", "X-Wing"), ("mlkem768", "ML-KEM-768"),
     ("mldsa65", "ML-DSA-65"), ("ml_dsa_87", "ML-DSA-87"),
     ("slh-dsa-sha2-128f", "SLH-DSA-SHA2-128f"),
     ("falcon512", "Falcon-512"), ("mldsa65-ed25519-sha512", "MLDSA65-Ed25519-SHA512"),
     ("  Ed25519 ", "Ed25519"), ("sha3_256", "SHA3-256"), ("es256", "ECDSA-P256")],
)
def test_names_are_case_insensitive_with_aliases(alias: str, canonical: str) -> None:
    assert registry.get(alias).name == canonical


def test_unknown_name_is_a_typed_error() -> None:
    with pytest.raises(UnknownAlgorithmError, match="unknown algorithm 'rot13'"):
        registry.get("rot13")


def test_every_entry_is_well_formed() -> None:
    seen: set[str] = set()
    for alg in registry.all_algorithms():
        assert alg.family in ("kem", "signature", "aead", "hash")
        assert alg.name not in seen
        seen.add(alg.name)
        assert alg.nist_category in (None, 1, 2, 3, 4, 5)
        if alg.quantum_vulnerable:
            assert alg.nist_category is None and alg.status == "legacy"
        if alg.family in ("kem", "signature"):
            assert alg.impl, alg.name
        for oid in alg.oids:
            assert all(part.isdigit() for part in oid.split(".")), oid


@pytest.mark.parametrize(
    "alg", [a for a in registry.all_algorithms() if a.family in ("kem", "signature")],
    ids=lambda a: a.name,
)
def test_each_available_scheme_matches_its_family_and_sizes(alg: registry.Algorithm) -> None:
    if not alg.available:
        with pytest.raises(UnavailableAlgorithmError, match=alg.backend):
            alg.scheme()
        return
    scheme = alg.scheme()
    assert scheme.algorithm == alg.name
    assert isinstance(scheme, KEMScheme if alg.family == "kem" else SignatureScheme)
    if alg.name.startswith("SLH-DSA-SHA2-256s") or alg.name.startswith("SLH-DSA-SHAKE-256s"):
        return  # slow keygen; covered in the SLH-DSA tests
    sk = scheme.generate()
    assert sk.algorithm == alg.name
    pk = sk.public_key()
    if alg.public_key_size is not None:
        assert len(pk.public_bytes()) == alg.public_key_size
    if alg.private_key_size is not None:
        assert len(sk.private_bytes()) == alg.private_key_size
    if alg.family == "kem":
        ss, ct = pk.encapsulate()
        if alg.ciphertext_size is not None:
            assert len(ct) == alg.ciphertext_size
        assert len(ss) == alg.shared_secret_size
        assert sk.decapsulate(ct) == ss
    else:
        sig = sk.sign(b"registry")
        if alg.signature_size is not None:
            assert len(sig) <= alg.signature_size
        pk.verify(sig, b"registry")


def test_lookup_by_oid_and_hpke_id() -> None:
    assert registry.by_oid("2.16.840.1.101.3.4.3.18").name == "ML-DSA-65"
    assert registry.by_oid("1.3.6.1.4.1.62253.25722").name == "X-Wing"
    assert registry.by_oid("1.2.840.113549.1.1.1") is None  # rsaEncryption: ambiguous
    assert registry.by_hpke_kem_id(0x647A).name == "X-Wing"
    assert registry.by_hpke_kem_id(0x0042).name == "ML-KEM-1024"


def test_profiles_pick_one_algorithm_per_role() -> None:
    assert registry.resolve(None).name == "X-Wing"
    assert registry.resolve("signature").name == "ML-DSA-65"
    assert registry.resolve("kem", "cnsa2").name == "ML-KEM-1024"
    assert registry.resolve("signature", "CNSA2").name == "ML-DSA-87"
    assert registry.profile("cnsa2").default("hash").name == "SHA-384"
    assert registry.resolve("ml-dsa-87", "cnsa2").name == "ML-DSA-87"


def test_cnsa2_profile_refuses_weaker_algorithms() -> None:
    with pytest.raises(PolicyError, match="not allowed by profile 'cnsa2'"):
        registry.resolve("ML-DSA-65", "cnsa2")
    with pytest.raises(PolicyError):
        registry.resolve("X-Wing", "cnsa2")


def test_unknown_profile_and_role() -> None:
    with pytest.raises(UnknownAlgorithmError, match="unknown profile"):
        registry.profile("fips-9000")


def test_importing_the_registry_loads_no_backend() -> None:
    import subprocess
    import sys

    code = (
        "import sys, pqml.primitives.registry as r; r.all_algorithms(); "
        "bad=[m for m in ('cryptography','pqcrypto','pqc','blake3') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""

"""ML-KEM-768/1024 against the cryptography-vectors KATs, with kyber-py as independent oracle.

Also the MLKEM1024-P384 (and MLKEM768-P256) hybrid scheme: sizes, failures and the
draft's seed expansion; its HPKE vectors and pyca interop live in test_hpke.py.
"""

from __future__ import annotations

from functools import cache

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, mlkem

from pqml.errors import DecryptionError, KeyFormatError, UnavailableAlgorithmError
from pqml.primitives import registry
from pqml.primitives.kem import mlkem1024_p384
from pqml.primitives.kem.mlkem import MLKEM768, MLKEM1024, MLKEMScheme

from conftest import load_json, pyca_vector

SCHEMES = {"ML-KEM-768": MLKEM768, "ML-KEM-1024": MLKEM1024}
KAT_FILES = {"ML-KEM-512": "kat_MLKEM_512.rsp", "ML-KEM-768": "kat_MLKEM_768.rsp",
             "ML-KEM-1024": "kat_MLKEM_1024.rsp"}  # fmt: skip
ORACLE_STRIDE = 10  # kyber-py is pure Python: check every 10th KAT entry with it


@cache
def kats(name: str) -> list[dict[str, bytes]]:
    """Parse a NIST-style .rsp file: blank-line separated ``key = hex`` records."""
    entries: list[dict[str, bytes]] = []
    current: dict[str, bytes] = {}
    for line in pyca_vector("asymmetric", "MLKEM", KAT_FILES[name]).read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition(" = ")
        if key == "count":
            if current:
                entries.append(current)
            current = {}
            continue
        current[key] = bytes.fromhex(value)
    if current:
        entries.append(current)
    return entries


def _oracle(name: str):
    from kyber_py.ml_kem import ML_KEM_768, ML_KEM_1024

    return {"ML-KEM-768": ML_KEM_768, "ML-KEM-1024": ML_KEM_1024}[name]


def test_kat_files_are_complete() -> None:
    for name in KAT_FILES:
        entries = kats(name)
        assert len(entries) == 1000
        assert set(entries[0]) == {"z", "d", "msg", "seed", "pk", "sk", "ct_n", "ss_n", "ct", "ss"}


def test_mlkem512_kats_not_applicable() -> None:
    pytest.skip(
        "ML-KEM-512 KATs not applicable: cryptography 50 implements only ML-KEM-768/1024 "
        "and pqml registers no ML-KEM-512"
    )


@pytest.mark.parametrize("name", list(SCHEMES))
def test_all_kats_keygen_and_decapsulation(name: str) -> None:
    """All 1000 entries: seed d‖z -> pk, decaps(ct) = ss, implicit rejection of ct_n."""
    scheme = SCHEMES[name]
    for i, kat in enumerate(kats(name)):
        sk = scheme.private_from_bytes(kat["d"] + kat["z"])
        assert sk.private_bytes() == kat["d"] + kat["z"], i
        assert sk.public_key().public_bytes() == kat["pk"], i
        assert sk.decapsulate(kat["ct"]) == kat["ss"], i
        assert sk.decapsulate(kat["ct_n"]) == kat["ss_n"], i  # implicit rejection value
        assert scheme.public_from_bytes(kat["pk"]) == sk.public_key()


@pytest.mark.parametrize("name", list(SCHEMES))
def test_kats_with_kyber_py_oracle(name: str) -> None:
    """Every 10th entry: kyber-py agrees on keygen (pk and expanded sk), encaps and decaps."""
    oracle, scheme = _oracle(name), SCHEMES[name]
    for kat in kats(name)[::ORACLE_STRIDE]:
        ek, dk = oracle._keygen_internal(kat["d"], kat["z"])
        assert ek == kat["pk"]
        assert dk == kat["sk"]
        ss, ct = oracle._encaps_internal(kat["pk"], kat["msg"])
        assert (ss, ct) == (kat["ss"], kat["ct"])
        sk = scheme.private_from_bytes(kat["d"] + kat["z"])
        assert oracle.decaps(dk, kat["ct_n"]) == sk.decapsulate(kat["ct_n"])


@pytest.mark.parametrize("name", list(SCHEMES))
def test_random_keys_agree_with_kyber_py(name: str) -> None:
    oracle, scheme = _oracle(name), SCHEMES[name]
    for _ in range(3):
        sk = scheme.generate()
        seed = sk.private_bytes()
        ek, dk = oracle._keygen_internal(seed[:32], seed[32:])
        assert ek == sk.public_key().public_bytes()
        ss, ct = sk.public_key().encapsulate()  # ours -> oracle
        assert oracle.decaps(dk, ct) == ss
        ss, ct = oracle.encaps(ek)  # oracle -> ours
        assert sk.decapsulate(ct) == ss


def test_pkcs8_seed_key_from_vectors() -> None:
    """mlkem768.der/.pem hold KAT entry 0's seed in PKCS#8 seed form; wrap_private adopts it."""
    kat = kats("ML-KEM-768")[0]
    der = pyca_vector("asymmetric", "MLKEM", "mlkem768.der").read_bytes()
    pem = pyca_vector("asymmetric", "MLKEM", "mlkem768.pem").read_bytes()
    for key in (
        serialization.load_der_private_key(der, None),
        serialization.load_pem_private_key(pem, None),
    ):
        assert isinstance(key, mlkem.MLKEM768PrivateKey)
        sk = MLKEM768.wrap_private(key)
        assert sk.private_bytes() == kat["d"] + kat["z"]
        assert sk.public_key().public_bytes() == kat["pk"]
        assert sk.backend_key is key
        pk = MLKEM768.wrap_public(key.public_key())
        assert pk == sk.public_key()


@pytest.mark.parametrize("name", list(SCHEMES))
def test_round_trip_and_sizes_match_registry(name: str) -> None:
    scheme, alg = SCHEMES[name], registry.get(name)
    assert registry.scheme(name) is scheme
    sk = scheme.generate()
    pk = scheme.public_from_bytes(sk.public_key().public_bytes())
    ss, ct = pk.encapsulate()
    assert sk.decapsulate(ct) == ss
    assert len(ss) == alg.shared_secret_size
    assert len(ct) == alg.ciphertext_size
    assert len(pk.public_bytes()) == alg.public_key_size
    assert len(sk.private_bytes()) == alg.private_key_size
    assert scheme.private_from_bytes(sk.private_bytes()).public_key() == pk


@pytest.mark.parametrize("name", list(SCHEMES))
def test_wrong_key_and_tampering_change_the_secret(name: str) -> None:
    scheme = SCHEMES[name]
    sk = scheme.generate()
    ss, ct = sk.public_key().encapsulate()
    assert scheme.generate().decapsulate(ct) != ss
    for pos in (0, len(ct) // 2, len(ct) - 1):
        bad = bytearray(ct)
        bad[pos] ^= 1
        assert sk.decapsulate(bytes(bad)) != ss


@pytest.mark.parametrize("name", list(SCHEMES))
@pytest.mark.parametrize("size", [0, 32, 63, 65])
def test_bad_lengths_are_typed_errors(name: str, size: int) -> None:
    scheme: MLKEMScheme = SCHEMES[name]
    with pytest.raises(KeyFormatError):
        scheme.private_from_bytes(bytes(size))
    with pytest.raises(KeyFormatError):
        scheme.public_from_bytes(bytes(size))
    with pytest.raises(DecryptionError):
        scheme.generate().decapsulate(bytes(size))


@pytest.mark.parametrize("name", list(SCHEMES))
def test_public_key_with_unreduced_coefficients_is_rejected(name: str) -> None:
    """FIPS 203 §7.2 modulus check: a coefficient of 0xFFF (>= q) must not load."""
    scheme = SCHEMES[name]
    with pytest.raises(KeyFormatError):
        scheme.public_from_bytes(b"\xff" * scheme.public_key_size)


# ---- MLKEM1024-P384 / MLKEM768-P256 hybrid -------------------------------------------------

HYBRIDS = {"MLKEM1024-P384": mlkem1024_p384.SCHEME, "MLKEM768-P256": mlkem1024_p384.MLKEM768_P256}
PQ_VECTORS = {v["kem_id"]: v for v in load_json(pyca_vector("HPKE", "hpke-pq-test-vectors.json"))}


@pytest.mark.parametrize(("name", "kem_id"), [("MLKEM1024-P384", 0x51), ("MLKEM768-P256", 0x50)])
def test_hybrid_seed_to_public_key_and_decapsulation(name: str, kem_id: int) -> None:
    v = PQ_VECTORS[kem_id]
    sk = HYBRIDS[name].private_from_bytes(bytes.fromhex(v["skRm"]))
    assert sk.private_bytes().hex() == v["skRm"]
    assert sk.public_key().public_bytes().hex() == v["pkRm"]
    assert sk.decapsulate(bytes.fromhex(v["enc"])).hex() == v["shared_secret"]


def test_mlkem1024_p384_sizes_match_registry() -> None:
    alg = registry.get("MLKEM1024-P384")
    scheme = registry.scheme("mlkem1024p384")
    assert scheme is mlkem1024_p384.SCHEME
    assert alg.hpke_kem_id == 0x0051
    sk = scheme.generate()
    ss, ct = sk.public_key().encapsulate()
    assert sk.decapsulate(ct) == ss
    assert len(sk.private_bytes()) == alg.private_key_size == 32
    assert len(sk.public_key().public_bytes()) == alg.public_key_size == 1568 + 97
    assert len(ct) == alg.ciphertext_size == 1568 + 97
    assert len(ss) == alg.shared_secret_size == 32


@pytest.mark.parametrize("name", list(HYBRIDS))
def test_hybrid_failures(name: str) -> None:
    scheme = HYBRIDS[name]
    sk = scheme.generate()
    ss, ct = sk.public_key().encapsulate()
    assert scheme.generate().decapsulate(ct) != ss
    for pos in (0, scheme.mlkem_ct_size - 1):  # ML-KEM part: implicit rejection
        bad = bytearray(ct)
        bad[pos] ^= 1
        assert sk.decapsulate(bytes(bad)) != ss
    off_curve = bytearray(ct)
    off_curve[-1] ^= 1
    with pytest.raises(DecryptionError, match="invalid"):
        sk.decapsulate(bytes(off_curve))
    compressed = bytearray(ct)
    compressed[scheme.mlkem_ct_size] = 0x02
    with pytest.raises(DecryptionError):
        sk.decapsulate(bytes(compressed))
    for size in (0, 31, 33):
        with pytest.raises(KeyFormatError):
            scheme.private_from_bytes(bytes(size))
    with pytest.raises(KeyFormatError):
        scheme.public_from_bytes(bytes(scheme.public_key_size))
    with pytest.raises(KeyFormatError):
        scheme.public_from_bytes(sk.public_key().public_bytes()[:-1])
    with pytest.raises(DecryptionError):
        sk.decapsulate(ct[:-1])


def test_hybrid_seed_expansion_follows_the_draft() -> None:
    """SHAKE256(seed) -> ML-KEM d‖z, then the first in-range 48-byte scalar (RandomScalar)."""
    import hashlib

    scheme = mlkem1024_p384.SCHEME
    seed = bytes(range(32))
    full = hashlib.shake_256(seed).digest(64 + 48)
    d_z, key_t = scheme.expand_seed(seed)
    assert d_z == full[:64]
    scalar = int.from_bytes(full[64:], "big")
    assert key_t.private_bytes() == full[64:]
    sk = scheme.private_from_bytes(seed)
    sk_m, sk_t = sk.components
    assert sk_m.private_bytes_raw() == d_z
    assert sk_t.private_numbers().private_value == scalar
    order = scheme.group.order
    assert scheme.random_scalar(bytes(48) + (5).to_bytes(48, "big")) == 5  # zero is rejected
    assert scheme.random_scalar(order.to_bytes(48, "big") + (7).to_bytes(48, "big")) == 7
    with pytest.raises(KeyFormatError, match="rejection"):
        scheme.random_scalar(bytes(48))


def test_hybrid_backend_key_matches_components() -> None:
    sk = mlkem1024_p384.SCHEME.generate()
    from cryptography.hazmat.primitives import hpke as pyca_hpke

    assert isinstance(sk.backend_key, pyca_hpke.MLKEM1024P384PrivateKey)
    assert isinstance(sk.public_key().backend_key, pyca_hpke.MLKEM1024P384PublicKey)
    assert isinstance(sk.components[1].curve, ec.SECP384R1)
    with pytest.raises(UnavailableAlgorithmError, match="MLKEM768-P256"):
        _ = mlkem1024_p384.MLKEM768_P256.generate().backend_key

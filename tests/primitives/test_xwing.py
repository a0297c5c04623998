"""X-Wing against the draft's vectors, with kyber-py as independent oracle for encapsulation."""

from __future__ import annotations

import pytest

from pqml.errors import DecryptionError, KeyFormatError
from pqml.primitives import registry
from pqml.primitives.kem import xwing

from conftest import load_json, vector

VECTORS = load_json(vector("xwing", "test-vectors.json"))


@pytest.mark.parametrize("vec", VECTORS, ids=[f"v{i}" for i in range(len(VECTORS))])
def test_keygen_and_decapsulation_match_vectors(vec: dict) -> None:
    sk = xwing.SCHEME.private_from_bytes(bytes.fromhex(vec["seed"]))
    assert sk.private_bytes().hex() == vec["sk"]
    assert sk.public_key().public_bytes().hex() == vec["pk"]
    assert sk.decapsulate(bytes.fromhex(vec["ct"])).hex() == vec["ss"]


@pytest.mark.parametrize("vec", VECTORS, ids=[f"v{i}" for i in range(len(VECTORS))])
def test_encapsulation_matches_vectors_with_kyber_py_oracle(vec: dict) -> None:
    """pyca cannot encapsulate with fixed randomness; kyber-py can, so the combiner is checked."""
    from cryptography.hazmat.primitives.asymmetric import x25519
    from kyber_py.ml_kem import ML_KEM_768

    eseed = bytes.fromhex(vec["eseed"])
    pk = bytes.fromhex(vec["pk"])
    pk_m, pk_x = pk[:1184], pk[1184:]
    ss_m, ct_m = ML_KEM_768._encaps_internal(pk_m, eseed[:32])
    ek_x = x25519.X25519PrivateKey.from_private_bytes(eseed[32:64])
    ct_x = ek_x.public_key().public_bytes_raw()
    ss_x = ek_x.exchange(x25519.X25519PublicKey.from_public_bytes(pk_x))
    assert (ct_m + ct_x).hex() == vec["ct"]
    assert xwing.combiner(ss_m, ss_x, ct_x, pk_x).hex() == vec["ss"]


def test_round_trip_and_sizes() -> None:
    sk = xwing.SCHEME.generate()
    pk = xwing.SCHEME.public_from_bytes(sk.public_key().public_bytes())
    ss, ct = pk.encapsulate()
    alg = registry.get("xwing")
    assert len(ct) == alg.ciphertext_size
    assert len(pk.public_bytes()) == alg.public_key_size
    assert len(sk.private_bytes()) == alg.private_key_size
    assert sk.decapsulate(ct) == ss


def test_wrong_key_gives_different_secret() -> None:
    ss, ct = xwing.SCHEME.generate().public_key().encapsulate()
    assert xwing.SCHEME.generate().decapsulate(ct) != ss  # ML-KEM implicit rejection


def test_tampered_ciphertext_changes_secret() -> None:
    sk = xwing.SCHEME.generate()
    ss, ct = sk.public_key().encapsulate()
    for pos in (0, 1087, 1088, 1119):
        bad = bytearray(ct)
        bad[pos] ^= 1
        assert sk.decapsulate(bytes(bad)) != ss


def test_low_order_x25519_share_is_a_decryption_error() -> None:
    sk = xwing.SCHEME.generate()
    _, ct = sk.public_key().encapsulate()
    with pytest.raises(DecryptionError, match="low-order"):
        sk.decapsulate(ct[:1088] + bytes(32))


@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_bad_lengths_are_typed_errors(size: int) -> None:
    with pytest.raises(KeyFormatError):
        xwing.SCHEME.private_from_bytes(bytes(size))
    with pytest.raises(KeyFormatError):
        xwing.SCHEME.public_from_bytes(bytes(size))
    with pytest.raises(DecryptionError):
        xwing.SCHEME.generate().decapsulate(bytes(size))

"""Legacy KEMs: RSA-OAEP key transport and X25519; round trips, wrapping and failures."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, x25519

from pqml.errors import DecryptionError, KeyFormatError, WrongKeyTypeError
from pqml.primitives import registry
from pqml.primitives.kem import rsa_oaep
from pqml.primitives.kem import x25519 as x25519_kem


@pytest.fixture(scope="module")
def rsa_key() -> rsa_oaep.RSAOAEPPrivateKey:
    return rsa_oaep.SCHEME.generate(2048)  # 3072 is the default; 2048 keeps the test fast


def test_rsa_default_is_3072_bits() -> None:
    assert registry.get("RSA-OAEP").parameters["bits"] == rsa_oaep.DEFAULT_BITS == 3072
    assert registry.scheme("rsa-oaep") is rsa_oaep.SCHEME
    sk = rsa_oaep.SCHEME.generate()
    assert sk.key_size == 3072
    ss, ct = sk.public_key().encapsulate()
    assert len(ct) == 384
    assert sk.decapsulate(ct) == ss


def test_rsa_round_trip_and_encodings(rsa_key: rsa_oaep.RSAOAEPPrivateKey) -> None:
    pk = rsa_key.public_key()
    ss, ct = pk.encapsulate()
    assert len(ss) == registry.get("RSA-OAEP").shared_secret_size == 32
    assert len(ct) == 256
    assert rsa_key.decapsulate(ct) == ss
    assert pk.encapsulate()[0] != ss  # fresh secret each time
    loaded = rsa_oaep.SCHEME.private_from_bytes(rsa_key.private_bytes())
    assert loaded.decapsulate(ct) == ss
    assert rsa_oaep.SCHEME.public_from_bytes(pk.public_bytes()) == pk
    # PKCS#8 and SPKI DER, readable by anything
    der_sk = serialization.load_der_private_key(rsa_key.private_bytes(), None)
    assert isinstance(der_sk, rsa.RSAPrivateKey)
    assert isinstance(serialization.load_der_public_key(pk.public_bytes()), rsa.RSAPublicKey)


def test_rsa_oaep_parameters_are_sha256_mgf1_sha256(rsa_key) -> None:
    """Interop: plain pyca OAEP(SHA-256, MGF1-SHA-256) decrypts what we encapsulate."""
    ss, ct = rsa_key.public_key().encapsulate()
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    assert rsa_key.backend_key.decrypt(ct, oaep) == ss
    sha1 = padding.OAEP(mgf=padding.MGF1(hashes.SHA1()), algorithm=hashes.SHA1(), label=None)
    with pytest.raises(DecryptionError):
        rsa_key.decapsulate(rsa_key.backend_key.public_key().encrypt(ss, sha1))


def test_rsa_wrong_key_and_tampering(rsa_key) -> None:
    _, ct = rsa_key.public_key().encapsulate()
    other = rsa_oaep.SCHEME.generate(2048)
    with pytest.raises(DecryptionError, match="wrong key"):
        other.decapsulate(ct)
    bad = bytearray(ct)
    bad[100] ^= 1
    with pytest.raises(DecryptionError):
        rsa_key.decapsulate(bytes(bad))
    with pytest.raises(DecryptionError, match="256 bytes"):
        rsa_key.decapsulate(ct[:-1])


def test_rsa_payload_must_be_a_32_byte_secret(rsa_key) -> None:
    oaep = padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
    ct = rsa_key.backend_key.public_key().encrypt(b"short", oaep)
    with pytest.raises(DecryptionError, match="32-byte"):
        rsa_key.decapsulate(ct)


def test_rsa_wrapping_and_bad_inputs(rsa_key) -> None:
    wrapped = rsa_oaep.SCHEME.wrap_private(rsa_key.backend_key)
    assert wrapped.private_bytes() == rsa_key.private_bytes()
    assert rsa_oaep.SCHEME.wrap_public(rsa_key.backend_key.public_key()) == rsa_key.public_key()
    with pytest.raises(WrongKeyTypeError):
        rsa_oaep.SCHEME.wrap_private(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(WrongKeyTypeError):
        rsa_oaep.SCHEME.wrap_public(x25519.X25519PrivateKey.generate().public_key())
    ec_der = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(WrongKeyTypeError):
        rsa_oaep.SCHEME.private_from_bytes(ec_der)
    for junk in (b"", b"\x30\x00", bytes(64)):
        with pytest.raises(KeyFormatError):
            rsa_oaep.SCHEME.private_from_bytes(junk)
        with pytest.raises(KeyFormatError):
            rsa_oaep.SCHEME.public_from_bytes(junk)
    with pytest.raises(KeyFormatError, match="refusing"):
        rsa_oaep.SCHEME.generate(1024)
    assert "private" in repr(rsa_key) and "RSA-OAEP" in repr(rsa_key)


# ---- X25519 -----------------------------------------------------------------------------


def test_x25519_round_trip_and_sizes() -> None:
    alg = registry.get("X25519")
    sk = x25519_kem.SCHEME.generate()
    pk = x25519_kem.SCHEME.public_from_bytes(sk.public_key().public_bytes())
    ss, ct = pk.encapsulate()
    assert sk.decapsulate(ct) == ss
    assert len(ss) == alg.shared_secret_size
    assert len(ct) == alg.ciphertext_size
    assert len(pk.public_bytes()) == alg.public_key_size
    assert len(sk.private_bytes()) == alg.private_key_size
    assert x25519_kem.SCHEME.private_from_bytes(sk.private_bytes()).public_key() == pk


def test_x25519_rfc7748_vector() -> None:
    """RFC 7748 §6.1: Alice's key agreement with Bob."""
    alice = x25519_kem.SCHEME.private_from_bytes(
        bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    )
    bob_pub = bytes.fromhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f")
    assert alice.public_key().public_bytes().hex() == (
        "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    )
    assert alice.decapsulate(bob_pub).hex() == (
        "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"
    )


def test_x25519_wrapping() -> None:
    key = x25519.X25519PrivateKey.generate()
    sk = x25519_kem.SCHEME.wrap_private(key)
    assert sk.backend_key is key
    assert x25519_kem.SCHEME.wrap_public(key.public_key()) == sk.public_key()
    assert sk.public_key().backend_key.public_bytes_raw() == sk.public_key().public_bytes()
    with pytest.raises(WrongKeyTypeError):
        x25519_kem.SCHEME.wrap_private(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(WrongKeyTypeError):
        x25519_kem.SCHEME.wrap_public(key)


def test_x25519_failures() -> None:
    sk = x25519_kem.SCHEME.generate()
    ss, ct = sk.public_key().encapsulate()
    assert x25519_kem.SCHEME.generate().decapsulate(ct) != ss
    with pytest.raises(DecryptionError, match="low-order"):
        sk.decapsulate(bytes(32))
    for size in (0, 31, 33):
        with pytest.raises(DecryptionError):
            sk.decapsulate(bytes(size))
        with pytest.raises(KeyFormatError):
            x25519_kem.SCHEME.private_from_bytes(bytes(size))
        with pytest.raises(KeyFormatError):
            x25519_kem.SCHEME.public_from_bytes(bytes(size))

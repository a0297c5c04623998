"""Ed25519, ECDSA P-256/384/521 and RSA-PSS: KATs where they exist, forgeries, key handling."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from pqml.errors import InvalidSignatureError, KeyFormatError, PqmlError, WrongKeyTypeError
from pqml.primitives import registry
from pqml.primitives.sig import ecdsa, rsa_pss
from pqml.primitives.sig import ed25519 as ed

from conftest import pyca_vector

ECDSA = {
    "ECDSA-P256": ecdsa.ECDSA_P256,
    "ECDSA-P384": ecdsa.ECDSA_P384,
    "ECDSA-P521": ecdsa.ECDSA_P521,
}
NIST_SECTION = {
    "ECDSA-P256": "P-256,SHA-256",
    "ECDSA-P384": "P-384,SHA-384",
    "ECDSA-P521": "P-521,SHA-512",
}


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


def assert_forgeries_rejected(pub, sig: bytes, msg: bytes, other_pub) -> None:
    pub.verify(sig, msg)
    forgeries = [
        _flip(sig, 0),
        _flip(sig, len(sig) // 2),
        _flip(sig, -1),
        sig[:-1],
        sig + b"\x00",
        b"",
    ]
    for s in forgeries:
        with pytest.raises(InvalidSignatureError):
            pub.verify(s, msg)
    for m in (msg + b"!", _flip(msg, 0)):
        with pytest.raises(InvalidSignatureError):
            pub.verify(sig, m)
    with pytest.raises(InvalidSignatureError):
        other_pub.verify(sig, msg)


def assert_context_refused(key) -> None:
    sig = key.sign(b"m")
    assert not key.supports_context and not key.public_key().supports_context
    with pytest.raises(PqmlError, match="context"):
        key.sign(b"m", b"ctx")
    with pytest.raises(PqmlError, match="context"):
        key.public_key().verify(sig, b"m", b"ctx")
    key.public_key().verify(sig, b"m", b"")


# ---- Ed25519 -------------------------------------------------------------------------------


def test_ed25519_rfc8032_vectors() -> None:
    """cryptography-vectors' sign.input (the RFC 8032 / ed25519 reference set); deterministic."""
    lines = pyca_vector("asymmetric", "Ed25519", "sign.input").read_text().splitlines()
    for line in lines[:64]:
        sk_pk, pk, msg, sig_msg, _ = line.split(":")
        msg_b = bytes.fromhex(msg)
        key = ed.SCHEME.private_from_bytes(bytes.fromhex(sk_pk)[:32])
        assert key.public_key().public_bytes().hex() == pk
        sig = bytes.fromhex(sig_msg)[:64]
        assert key.sign(msg_b) == sig
        ed.SCHEME.public_from_bytes(bytes.fromhex(pk)).verify(sig, msg_b)


def test_ed25519_round_trip_forgeries_context() -> None:
    key, other = ed.SCHEME.generate(), ed.SCHEME.generate()
    again = ed.SCHEME.private_from_bytes(key.private_bytes())
    pub = ed.SCHEME.public_from_bytes(key.public_key().public_bytes())
    assert again.public_key() == pub
    assert_forgeries_rejected(pub, again.sign(b"checkpoint"), b"checkpoint", other.public_key())
    assert_context_refused(key)


def test_ed25519_keys_and_registry() -> None:
    alg = registry.get("Ed25519")
    assert alg.scheme() is ed.SCHEME and alg.quantum_vulnerable
    key = ed.SCHEME.generate()
    assert len(key.public_key().public_bytes()) == alg.public_key_size
    assert len(key.private_bytes()) == alg.private_key_size
    assert len(key.sign(b"m")) == alg.signature_size
    for bad in (b"", bytes(31), bytes(33)):
        with pytest.raises(KeyFormatError):
            ed.SCHEME.private_from_bytes(bad)
        with pytest.raises(KeyFormatError):
            ed.SCHEME.public_from_bytes(bad)
    pyca = ed25519.Ed25519PrivateKey.generate()
    wrapped = ed.SCHEME.wrap_private(pyca)
    assert wrapped.backend_key is pyca
    assert ed.SCHEME.wrap_public(pyca.public_key()) == wrapped.public_key()
    with pytest.raises(WrongKeyTypeError):
        ed.SCHEME.wrap_private(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(WrongKeyTypeError):
        ed.SCHEME.wrap_public(pyca)


# ---- ECDSA ---------------------------------------------------------------------------------


def _nist_records(filename: str, section: str) -> list[dict[str, str]]:
    records: list[dict[str, str]] = []
    inside = False
    for line in pyca_vector("asymmetric", "ECDSA", "FIPS_186-3", filename).read_text().splitlines():
        line = line.strip()
        if line.startswith("["):
            inside = line == f"[{section}]"
        elif inside and " = " in line:
            key, _, value = line.partition(" = ")
            if key == "Msg":
                records.append({})
            records[-1][key] = value
    assert records
    return records


@pytest.mark.parametrize("name", sorted(ECDSA))
def test_ecdsa_fips186_siggen_vectors(name: str) -> None:
    scheme = ECDSA[name]
    size = scheme.private_key_size
    for rec in _nist_records("SigGen.txt", NIST_SECTION[name]):
        key = scheme.private_from_bytes(int(rec["d"], 16).to_bytes(size, "big"))
        q = (
            b"\x04"
            + int(rec["Qx"], 16).to_bytes(size, "big")
            + int(rec["Qy"], 16).to_bytes(size, "big")
        )
        assert key.public_key().public_bytes() == q
        assert key.private_bytes() == int(rec["d"], 16).to_bytes(size, "big")
        sig = encode_dss_signature(int(rec["R"], 16), int(rec["S"], 16))
        key.public_key().verify(sig, bytes.fromhex(rec["Msg"]))


@pytest.mark.parametrize("name", sorted(ECDSA))
def test_ecdsa_fips186_sigver_vectors(name: str) -> None:
    scheme = ECDSA[name]
    size = scheme.private_key_size
    seen = set()
    for rec in _nist_records("SigVer.rsp", NIST_SECTION[name]):
        q = (
            b"\x04"
            + int(rec["Qx"], 16).to_bytes(size, "big")
            + int(rec["Qy"], 16).to_bytes(size, "big")
        )
        try:
            pub = scheme.public_from_bytes(q)
        except KeyFormatError:
            assert rec["Result"].startswith("F")  # point not on the curve
            seen.add("bad key")
            continue
        sig = encode_dss_signature(int(rec["R"], 16), int(rec["S"], 16))
        if rec["Result"].startswith("P"):
            pub.verify(sig, bytes.fromhex(rec["Msg"]))
            seen.add("P")
        else:
            with pytest.raises(InvalidSignatureError):
                pub.verify(sig, bytes.fromhex(rec["Msg"]))
            seen.add("F")
    assert {"P", "F"} <= seen


@pytest.mark.parametrize("name", sorted(ECDSA))
def test_ecdsa_round_trip_forgeries_context(name: str) -> None:
    scheme = ECDSA[name]
    key, other = scheme.generate(), scheme.generate()
    again = scheme.private_from_bytes(key.private_bytes())
    pub = scheme.public_from_bytes(key.public_key().public_bytes())
    assert again.public_key() == pub
    sig = again.sign(b"dataset manifest")
    assert len(sig) <= scheme.max_signature_size
    assert_forgeries_rejected(pub, sig, b"dataset manifest", other.public_key())
    assert_context_refused(key)
    # Uses its fixed hash: a pyca signature under the curve's hash verifies.
    raw = key.backend_key.sign(b"x", ec.ECDSA(scheme.hash_algorithm))
    pub.verify(raw, b"x")


@pytest.mark.parametrize("name", sorted(ECDSA))
def test_ecdsa_keys_and_registry(name: str) -> None:
    scheme = ECDSA[name]
    alg = registry.get(name)
    assert alg.scheme() is scheme and scheme.algorithm == alg.name and alg.quantum_vulnerable
    key = scheme.generate()
    pk = key.public_key().public_bytes()
    assert len(pk) == alg.public_key_size and pk[0] == 4
    assert len(key.private_bytes()) == alg.private_key_size
    assert str(scheme.max_signature_size) in alg.notes
    group_order = {  # the scalar must lie in [1, n - 1]
        "ECDSA-P256": "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551",
        "ECDSA-P384": "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf"
        "581a0db248b0a77aecec196accc52973",
        "ECDSA-P521": "01ff" + "ffffffff" * 7 + "fffffffa"
        "51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
    }[name]
    n = int(group_order, 16)
    size = scheme.private_key_size
    scheme.private_from_bytes((n - 1).to_bytes(size, "big"))
    for bad in (b"", bytes(size - 1), bytes(size + 1), bytes(size), n.to_bytes(size, "big")):
        with pytest.raises(KeyFormatError):
            scheme.private_from_bytes(bad)
    compressed = key.backend_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    off_curve = pk[:-1] + bytes([pk[-1] ^ 1])
    for bad in (b"", pk[:-1], pk + b"\x00", compressed, b"\x05" + pk[1:], off_curve):
        with pytest.raises(KeyFormatError):
            scheme.public_from_bytes(bad)
    wrapped = scheme.wrap_private(key.backend_key)
    assert scheme.wrap_public(key.backend_key.public_key()) == wrapped.public_key()
    other_curve = ECDSA["ECDSA-P384" if name != "ECDSA-P384" else "ECDSA-P256"].generate()
    with pytest.raises(WrongKeyTypeError):
        scheme.wrap_private(other_curve.backend_key)
    with pytest.raises(WrongKeyTypeError):
        scheme.wrap_public(other_curve.public_key().backend_key)


# ---- RSA-PSS -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rsa_keys():
    return rsa_pss.SCHEME.generate(), rsa_pss.SCHEME.generate()


def test_rsa_pss_round_trip_forgeries_context(rsa_keys) -> None:
    key, other = rsa_keys
    assert key.backend_key.key_size == registry.get("RSA-PSS").parameters["bits"] == 3072
    again = rsa_pss.SCHEME.private_from_bytes(key.private_bytes())
    pub = rsa_pss.SCHEME.public_from_bytes(key.public_key().public_bytes())
    assert again.public_key() == pub
    sig = again.sign(b"legacy signed artifact")
    assert len(sig) == 384 == pub.signature_size
    assert_forgeries_rejected(pub, sig, b"legacy signed artifact", other.public_key())
    assert_context_refused(key)


def test_rsa_pss_fixed_parameters(rsa_keys) -> None:
    """PS256 with salt 32: peers using those parameters interoperate; other salts do not."""
    key, _ = rsa_keys
    pub = key.public_key()

    def pss(salt: int, h: hashes.HashAlgorithm) -> bytes:
        return key.backend_key.sign(b"m", padding.PSS(padding.MGF1(h), salt), h)

    pub.verify(pss(32, hashes.SHA256()), b"m")
    for sig in (pss(0, hashes.SHA256()), pss(64, hashes.SHA256()), pss(48, hashes.SHA384())):
        with pytest.raises(InvalidSignatureError):
            pub.verify(sig, b"m")
    with pytest.raises(InvalidSignatureError):
        pub.verify(key.backend_key.sign(b"m", padding.PKCS1v15(), hashes.SHA256()), b"m")


def test_rsa_pss_keys_and_registry(rsa_keys) -> None:
    key, _ = rsa_keys
    alg = registry.get("RSA-PSS")
    assert alg.scheme() is rsa_pss.SCHEME and alg.quantum_vulnerable
    sk, pk = key.private_bytes(), key.public_key().public_bytes()
    assert serialization.load_der_private_key(sk, None).private_numbers() == (
        key.backend_key.private_numbers()
    )
    assert pk == key.backend_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for bad in (b"", sk[:-1], sk[:100], pk, b"\x30\x00"):
        with pytest.raises(KeyFormatError):
            rsa_pss.SCHEME.private_from_bytes(bad)
    for bad in (b"", pk[:-1], sk, b"\x30\x00"):
        with pytest.raises(KeyFormatError):
            rsa_pss.SCHEME.public_from_bytes(bad)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    ec_der = ec_key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    with pytest.raises(WrongKeyTypeError):
        rsa_pss.SCHEME.private_from_bytes(ec_der)
    with pytest.raises(WrongKeyTypeError):
        rsa_pss.SCHEME.wrap_public(ec_key.public_key())
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(KeyFormatError, match="2048"):
        rsa_pss.SCHEME.wrap_private(weak)
    with pytest.raises(KeyFormatError, match="2048"):
        rsa_pss.SCHEME.wrap_public(weak.public_key())

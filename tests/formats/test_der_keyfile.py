"""DER helpers and PEM/DER key files for every registry algorithm, with interop checks."""

from __future__ import annotations

import base64
import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization as ser
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, rsa, x25519

from pqml.errors import KeyFileExistsError, KeyFormatError, WrongKeyTypeError
from pqml.formats import age_keys, der, keyfile
from pqml.primitives import registry
from pqml.primitives.base import PrivateKey, PublicKey

from conftest import vector

FAST = 1000  # PBKDF2 iterations for tests; the default (600 000) is exercised once

KEY_PAIR_ALGS = [
    a for a in registry.all_algorithms() if a.family in ("kem", "signature") and a.impl
]
AVAILABLE = [a for a in KEY_PAIR_ALGS if a.available]
WITH_OID = [a for a in AVAILABLE if a.oids]
_KEYS: dict[str, PrivateKey] = {}


def _key(name: str) -> PrivateKey:
    """One generated key per algorithm (RSA and SLH-DSA keygen are not free)."""
    if name not in _KEYS:
        _KEYS[name] = registry.scheme(name).generate()
    return _KEYS[name]


def _same(a: PrivateKey, b: PrivateKey) -> None:
    assert a.algorithm == b.algorithm
    assert a.private_bytes() == b.private_bytes()
    assert a.public_key() == b.public_key()


# ---- der -------------------------------------------------------------------------------


@pytest.mark.parametrize("dotted", [
    "1.3.6.1.4.1.62253.25722", "2.16.840.1.101.3.4.3.20", "1.2.840.113549.1.1.1",
    "0.0", "2.999.1", "1.3.101.110", "1.2.3.18446744073709551617",
])
def test_oid_round_trip(dotted: str) -> None:
    encoded = der.oid(dotted)
    assert der.decode_oid(der.parse_one(encoded, der.OBJECT_IDENTIFIER, "OID")) == dotted


def test_known_oid_encoding() -> None:
    assert der.oid("1.3.6.1.4.1.62253.25722").hex() == "060b2b0601040183e62d81c87a"


@pytest.mark.parametrize("n", [0, 1, 127, 128, 255, 256, 2**64])
def test_integer_round_trip(n: int) -> None:
    assert der.decode_integer(der.parse_one(der.integer(n), der.INTEGER, "INTEGER")) == n


@pytest.mark.parametrize("size", [0, 1, 127, 128, 255, 256, 70000])
def test_length_forms(size: int) -> None:
    encoded = der.octet_string(bytes(size))
    assert der.parse_one(encoded, der.OCTET_STRING, "x") == bytes(size)


@pytest.mark.parametrize(("data", "message"), [
    (bytes.fromhex("04810100"), "non-minimal length"),  # long form for a length < 128
    (bytes.fromhex("0482000100"), "non-minimal length"),  # leading zero length byte
    (bytes.fromhex("0480"), "indefinite"),
    (bytes.fromhex("0403aabb"), "truncated"),
    (bytes.fromhex("04"), "missing length"),
    (bytes.fromhex("0401aa00"), "trailing"),
    (bytes.fromhex("1f0100"), "multi-byte tags"),
    (bytes.fromhex("0485ffffffffff"), "too large"),
    (b"", "end of data"),
])
def test_der_rejects(data: bytes, message: str) -> None:
    with pytest.raises(der.DERError, match=message):
        der.parse_one(data, data[0] if data else der.OCTET_STRING, "test")


def test_der_value_rejects() -> None:
    with pytest.raises(der.DERError, match="non-minimal INTEGER"):
        der.decode_integer(b"\x00\x05")
    with pytest.raises(der.DERError, match="negative"):
        der.decode_integer(b"\x80")
    with pytest.raises(der.DERError, match="non-minimal arc"):
        der.decode_oid(bytes.fromhex("2b80") + b"\x01")
    with pytest.raises(der.DERError, match="truncated arc"):
        der.decode_oid(bytes.fromhex("2b86"))
    with pytest.raises(der.DERError, match="unused bits"):
        der.decode_bit_string(b"\x01\xff")
    with pytest.raises(der.DERError, match="expected tag"):
        der.parse_one(der.integer(1), der.OCTET_STRING, "x")


# ---- every registry algorithm ------------------------------------------------------------


def test_every_key_pair_algorithm_is_covered() -> None:
    names = {a.name for a in KEY_PAIR_ALGS}
    assert {"X-Wing", "ML-KEM-768", "ML-DSA-65", "SLH-DSA-SHA2-128s", "Falcon-512",
            "MLDSA65-Ed25519-SHA512", "RSA-PSS", "ECDSA-P384"} <= names


@pytest.mark.parametrize("alg", WITH_OID, ids=lambda a: a.name)
def test_pem_round_trip(alg: registry.Algorithm) -> None:
    key = _key(alg.name)
    pem = keyfile.private_key_to_pem(key)
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----\n")
    loaded = keyfile.load_private_key(pem, hint=alg.name)
    _same(key, loaded)
    pub_pem = keyfile.public_key_to_pem(key.public_key())
    assert pub_pem.startswith(b"-----BEGIN PUBLIC KEY-----\n")
    public = keyfile.load_public_key(pub_pem, hint=alg.name)
    assert public == key.public_key()
    # DER too, and the sniffing entry point.
    assert keyfile.load_key(keyfile.private_key_to_der(key), hint=alg.name).algorithm == alg.name
    assert keyfile.load_key(keyfile.public_key_to_der(public), hint=alg.name) == public
    # Re-encoding is stable.
    assert keyfile.private_key_to_pem(loaded) == pem
    assert keyfile.public_key_to_pem(public) == pub_pem
    if alg.name != "RSA-OAEP":  # the only algorithm whose PEM needs a hint (see below)
        assert keyfile.load_private_key(pem).algorithm == alg.name
        assert keyfile.load_public_key(pub_pem).algorithm == alg.name


@pytest.mark.parametrize("alg", WITH_OID, ids=lambda a: a.name)
def test_encrypted_pem_round_trip(alg: registry.Algorithm) -> None:
    key = _key(alg.name)
    pem = keyfile.private_key_to_pem(key, b"correct horse", iterations=FAST)
    assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
    assert key.private_bytes() not in base64.b64decode(b"".join(pem.splitlines()[1:-1]))
    assert keyfile.is_encrypted(pem)
    _same(key, keyfile.load_private_key(pem, b"correct horse", hint=alg.name))
    with pytest.raises(keyfile.PassphraseRequiredError):
        keyfile.load_private_key(pem, hint=alg.name)
    with pytest.raises(KeyFormatError, match="wrong passphrase"):
        keyfile.load_private_key(pem, b"wrong horse", hint=alg.name)


@pytest.mark.parametrize("alg", [a for a in AVAILABLE if not a.oids], ids=lambda a: a.name)
def test_algorithms_without_oid_refused(alg: registry.Algorithm) -> None:
    key = _key(alg.name)
    with pytest.raises(KeyFormatError, match="no standard key OID"):
        keyfile.private_key_to_pem(key)
    with pytest.raises(KeyFormatError, match="no standard key OID"):
        keyfile.public_key_to_pem(key.public_key())


def test_default_iterations_and_pbes2_structure() -> None:
    key = _key("X-Wing")
    pem = keyfile.private_key_to_pem(key, b"pw")
    data = keyfile.pem_blocks(pem)[0].der
    items = der.parse_children(der.parse_one(data, der.SEQUENCE, "epki"))
    scheme, params = der.parse_algorithm_identifier(items[0][1])
    assert scheme == keyfile.PBES2
    kdf, cipher = der.parse_children(der.parse_one(params or b"", der.SEQUENCE, "p"))
    kdf_oid, kdf_params = der.parse_algorithm_identifier(kdf[1])
    assert kdf_oid == keyfile.PBKDF2
    salt, count, *_ = der.parse_children(der.parse_one(kdf_params or b"", der.SEQUENCE, "k"))
    assert len(salt[1]) == 16 and der.decode_integer(count[1]) == 600_000
    assert der.parse_algorithm_identifier(cipher[1])[0] == keyfile.AES256_CBC
    _same(key, keyfile.load_private_key(pem, b"pw"))


def test_empty_passphrase_refused() -> None:
    with pytest.raises(KeyFormatError, match="empty passphrase"):
        keyfile.private_key_to_pem(_key("X-Wing"), b"")


# ---- vectors -----------------------------------------------------------------------------


def test_xwing_x509_vectors() -> None:
    priv_pem = vector("xwing", "xwing.priv").read_bytes()
    pub_pem = vector("xwing", "xwing.pub").read_bytes()
    key = keyfile.load_private_key(priv_pem)
    public = keyfile.load_public_key(pub_pem)
    assert key.algorithm == public.algorithm == "X-Wing"
    assert key.private_bytes() == bytes(range(32))
    assert key.public_key() == public
    assert keyfile.private_key_to_pem(key) == priv_pem
    assert keyfile.public_key_to_pem(public) == pub_pem


RFC9909_PRIVATE = b"""-----BEGIN PRIVATE KEY-----
MFICAQAwCwYJYIZIAWUDBAMUBECiJjvKRYYINlIxYASVI9YhZ3+tkNUetgZ6Mn4N
HmSlASuBCex3fKpOHwJMz8+Ul9mRgFCSgPQlavKwevgCibSU
-----END PRIVATE KEY-----
"""
RFC9909_PUBLIC = b"""-----BEGIN PUBLIC KEY-----
MDAwCwYJYIZIAWUDBAMUAyEAK4EJ7Hd8qk4fAkzPz5SX2ZGAUJKA9CVq8rB6+AKJ
tJQ=
-----END PUBLIC KEY-----
"""


def test_rfc9909_slh_dsa_examples() -> None:
    """RFC 9909 Appendix C: SLH-DSA-SHA2-128s private and public key."""
    key = keyfile.load_private_key(RFC9909_PRIVATE)
    public = keyfile.load_public_key(RFC9909_PUBLIC)
    assert key.algorithm == public.algorithm == "SLH-DSA-SHA2-128s"
    assert key.public_key() == public
    assert keyfile.private_key_to_pem(key) == RFC9909_PRIVATE
    assert keyfile.public_key_to_pem(public) == RFC9909_PUBLIC


def _composite_vectors() -> list[dict[str, str]]:
    tests = json.loads(vector("composite-sigs", "testvectors.json").read_text())["tests"]
    names = {a.name for a in KEY_PAIR_ALGS}
    return [t for t in tests if t["tcId"].removeprefix("id-") in names]


@pytest.mark.parametrize("vec", _composite_vectors(), ids=lambda v: v["tcId"])
def test_composite_and_mldsa_draft_vectors(vec: dict[str, str]) -> None:
    """The draft's PKCS#8 loads; our PKCS#8 is byte-identical; our SPKI is the one in its cert."""
    name = vec["tcId"].removeprefix("id-")
    sk_pkcs8 = base64.b64decode(vec["sk_pkcs8"])
    key = keyfile.load_private_key(sk_pkcs8)
    assert key.algorithm == name
    assert key.public_key().public_bytes() == base64.b64decode(vec["pk"])
    assert key.private_bytes() == base64.b64decode(vec["sk"])
    assert keyfile.private_key_to_der(key) == sk_pkcs8
    spki = keyfile.public_key_to_der(key.public_key())
    assert spki in base64.b64decode(vec["x5c"])


def test_composite_vectors_cover_registry() -> None:
    covered = {v["tcId"].removeprefix("id-") for v in _composite_vectors()}
    composites = {a.name for a in KEY_PAIR_ALGS if a.standard.startswith("draft-ietf-lamps")}
    assert composites <= covered


# ---- pyca interop: ML-KEM / ML-DSA ---------------------------------------------------------

PYCA_PQ = [
    ("ML-KEM-768", mlkem.MLKEM768PrivateKey), ("ML-KEM-1024", mlkem.MLKEM1024PrivateKey),
    ("ML-DSA-44", mldsa.MLDSA44PrivateKey), ("ML-DSA-65", mldsa.MLDSA65PrivateKey),
    ("ML-DSA-87", mldsa.MLDSA87PrivateKey),
]


@pytest.mark.parametrize(("name", "cls"), PYCA_PQ, ids=[n for n, _ in PYCA_PQ])
def test_pq_pem_interop_with_pyca(name: str, cls: type) -> None:
    ours = _key(name)
    theirs = ser.load_pem_private_key(keyfile.private_key_to_pem(ours), None)
    assert isinstance(theirs, cls)
    assert theirs.private_bytes_raw() == ours.private_bytes()  # type: ignore[attr-defined]
    enc = keyfile.private_key_to_pem(ours, b"pw", iterations=FAST)
    assert ser.load_pem_private_key(enc, b"pw").private_bytes_raw() == ours.private_bytes()  # type: ignore[union-attr]
    pub = ser.load_pem_public_key(keyfile.public_key_to_pem(ours.public_key()))
    assert pub.public_bytes_raw() == ours.public_key().public_bytes()  # type: ignore[union-attr]

    native = cls.generate()  # type: ignore[attr-defined]
    pem = native.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    loaded = keyfile.load_private_key(pem)
    assert loaded.algorithm == name
    assert loaded.private_bytes() == native.private_bytes_raw()
    enc = native.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                               ser.BestAvailableEncryption(b"pw"))
    assert keyfile.load_private_key(enc, b"pw").private_bytes() == native.private_bytes_raw()
    spki = native.public_key().public_bytes(ser.Encoding.PEM,
                                            ser.PublicFormat.SubjectPublicKeyInfo)
    assert keyfile.load_public_key(spki).public_bytes() == native.public_key().public_bytes_raw()


def test_mldsa_expanded_only_key_rejected() -> None:
    from dilithium_py.ml_dsa import ML_DSA_44

    _, sk = ML_DSA_44.key_derive(bytes(32))
    data = der.sequence(der.integer(0), der.algorithm_identifier("2.16.840.1.101.3.4.3.17"),
                        der.octet_string(der.octet_string(sk)))
    with pytest.raises(KeyFormatError, match="private key") as info:
        keyfile.load_private_key(data)
    assert sk[:16].hex() not in str(info.value)


# ---- classical keys in OpenSSL's forms (made by pyca) ---------------------------------------

CURVES = [(ec.SECP256R1(), "ECDSA-P256"), (ec.SECP384R1(), "ECDSA-P384"),
          (ec.SECP521R1(), "ECDSA-P521")]


@pytest.mark.parametrize(("curve", "name"), CURVES, ids=[n for _, n in CURVES])
def test_ec_forms(curve: ec.EllipticCurve, name: str) -> None:
    native = ec.generate_private_key(curve)
    scalar = native.private_numbers().private_value
    for fmt in (ser.PrivateFormat.TraditionalOpenSSL, ser.PrivateFormat.PKCS8):
        pem = native.private_bytes(ser.Encoding.PEM, fmt, ser.NoEncryption())
        key = keyfile.load_private_key(pem)
        assert key.algorithm == name
        assert int.from_bytes(key.private_bytes(), "big") == scalar
        enc = native.private_bytes(ser.Encoding.PEM, fmt, ser.BestAvailableEncryption(b"pw"))
        assert keyfile.load_private_key(enc, b"pw").algorithm == name
        assert keyfile.is_encrypted(enc)
        der_bytes = native.private_bytes(ser.Encoding.DER, fmt, ser.NoEncryption())
        assert keyfile.load_key(der_bytes).algorithm == name
    assert b"EC PRIVATE KEY" in native.private_bytes(
        ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL, ser.NoEncryption())
    spki = native.public_key().public_bytes(ser.Encoding.PEM,
                                            ser.PublicFormat.SubjectPublicKeyInfo)
    assert keyfile.load_public_key(spki).algorithm == name
    with pytest.raises(WrongKeyTypeError):
        keyfile.load_private_key(native.private_bytes(
            ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()), hint="ECDSA-P256"
            if name != "ECDSA-P256" else "ECDSA-P384")


def test_unsupported_curve() -> None:
    native = ec.generate_private_key(ec.SECP256K1())
    pem = native.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
    with pytest.raises(KeyFormatError, match="secp256k1"):
        keyfile.load_private_key(pem)


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def test_rsa_forms_and_hint(rsa_key: rsa.RSAPrivateKey) -> None:
    n = rsa_key.public_key().public_numbers().n
    forms = [
        rsa_key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL,
                              ser.NoEncryption()),
        rsa_key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption()),
        rsa_key.private_bytes(ser.Encoding.DER, ser.PrivateFormat.TraditionalOpenSSL,
                              ser.NoEncryption()),
    ]
    assert forms[0].startswith(b"-----BEGIN RSA PRIVATE KEY-----")
    for pem in forms:
        assert keyfile.load_private_key(pem).algorithm == "RSA-PSS"  # default: signing
        for hint, expected in (("RSA-OAEP", "RSA-OAEP"), ("kem", "RSA-OAEP"),
                               ("signature", "RSA-PSS"), ("ps256", "RSA-PSS")):
            key = keyfile.load_private_key(pem, hint=hint)
            assert key.algorithm == expected
            assert key.backend_key.private_numbers().public_numbers.n == n  # type: ignore[attr-defined]
        with pytest.raises(WrongKeyTypeError, match="RSA-PSS or RSA-OAEP"):
            keyfile.load_private_key(pem, hint="ML-DSA-65")
    public_forms = [
        rsa_key.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.PKCS1),
        rsa_key.public_key().public_bytes(ser.Encoding.PEM, ser.PublicFormat.SubjectPublicKeyInfo),
        rsa_key.public_key().public_bytes(ser.Encoding.DER, ser.PublicFormat.PKCS1),
    ]
    assert public_forms[0].startswith(b"-----BEGIN RSA PUBLIC KEY-----")
    for pem in public_forms:
        assert keyfile.load_public_key(pem).algorithm == "RSA-PSS"
        assert keyfile.load_public_key(pem, hint="RSA-OAEP").algorithm == "RSA-OAEP"


def test_rsa_encrypted_traditional(rsa_key: rsa.RSAPrivateKey) -> None:
    pem = rsa_key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL,
                                ser.BestAvailableEncryption(b"pw"))
    assert b"Proc-Type: 4,ENCRYPTED" in pem
    assert keyfile.is_encrypted(pem)
    assert keyfile.load_private_key(pem, b"pw", hint="RSA-OAEP").algorithm == "RSA-OAEP"
    with pytest.raises(keyfile.PassphraseRequiredError):
        keyfile.load_private_key(pem)
    with pytest.raises(KeyFormatError, match="wrong passphrase"):
        keyfile.load_private_key(pem, b"nope")


def test_wrong_passphrase_is_reported_as_such_even_when_padding_survives(
    rsa_key: rsa.RSAPrivateKey,
) -> None:
    """A wrong passphrase leaves valid CBC padding about 1 time in 256; the garbage then
    fails to parse. Many wrong passphrases make that case certain to occur here."""
    pem = rsa_key.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.TraditionalOpenSSL,
                                ser.BestAvailableEncryption(b"pw"))
    for i in range(1500):
        with pytest.raises(KeyFormatError, match="wrong passphrase or corrupted"):
            keyfile.load_private_key(pem, f"wrong-{i}".encode())


def test_ed25519_x25519_forms() -> None:
    for native, name in ((ed25519.Ed25519PrivateKey.generate(), "Ed25519"),
                         (x25519.X25519PrivateKey.generate(), "X25519")):
        pem = native.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8, ser.NoEncryption())
        key = keyfile.load_private_key(pem)
        assert key.algorithm == name and key.private_bytes() == native.private_bytes_raw()
        enc = native.private_bytes(ser.Encoding.PEM, ser.PrivateFormat.PKCS8,
                                   ser.BestAvailableEncryption(b"pw"))
        assert keyfile.load_private_key(enc, b"pw").private_bytes() == native.private_bytes_raw()
        spki = native.public_key().public_bytes(ser.Encoding.PEM,
                                                ser.PublicFormat.SubjectPublicKeyInfo)
        assert keyfile.load_public_key(spki).public_bytes() == \
            native.public_key().public_bytes_raw()
        ours = keyfile.private_key_to_pem(key, b"pw", iterations=FAST)
        assert ser.load_pem_private_key(ours, b"pw").private_bytes_raw() == \
            native.private_bytes_raw()  # type: ignore[union-attr]


def _scrypt_pkcs8(plain: bytes, passphrase: bytes, n: int) -> bytes:
    """PBES2 with scrypt (what `openssl pkcs8 -scrypt` writes), built from pyca pieces."""
    from cryptography.hazmat.primitives import padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt, iv = os.urandom(8), os.urandom(16)
    wrap = Scrypt(salt, 32, min(n, 1 << 10), 8, 1).derive(passphrase)
    padder = padding.PKCS7(128).padder()
    enc = Cipher(algorithms.AES(wrap), modes.CBC(iv)).encryptor()
    ct = enc.update(padder.update(plain) + padder.finalize()) + enc.finalize()
    kdf = der.algorithm_identifier(keyfile.SCRYPT, der.sequence(
        der.octet_string(salt), der.integer(n), der.integer(8), der.integer(1)))
    algid = der.algorithm_identifier(keyfile.PBES2, der.sequence(
        kdf, der.algorithm_identifier(keyfile.AES256_CBC, der.octet_string(iv))))
    return der.sequence(algid, der.octet_string(ct))


def test_scrypt_pbes2_read() -> None:
    key = _key("X-Wing")
    data = _scrypt_pkcs8(keyfile.private_key_to_der(key), b"pw", 1 << 10)
    _same(key, keyfile.load_private_key(keyfile.pem_encode("ENCRYPTED PRIVATE KEY", data), b"pw"))
    _same(key, keyfile.load_private_key(data, b"pw"))  # DER
    huge = _scrypt_pkcs8(keyfile.private_key_to_der(key), b"pw", 1 << 24)
    with pytest.raises(KeyFormatError, match="scrypt parameters"):
        keyfile.load_private_key(huge, b"pw")


# ---- the openssl command line ----------------------------------------------------------------

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl not installed")


def _openssl(*args: str, stdin: bytes | None = None) -> bytes:
    return subprocess.run(["openssl", *args], input=stdin, check=True,
                          capture_output=True).stdout


@needs_openssl
@pytest.mark.parametrize(("args", "name"), [
    (["genpkey", "-algorithm", "ed25519"], "Ed25519"),
    (["genpkey", "-algorithm", "x25519"], "X25519"),
    (["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"], "ECDSA-P256"),
    (["ecparam", "-genkey", "-name", "secp384r1"], "ECDSA-P384"),  # EC PARAMETERS + SEC1
    (["ecparam", "-genkey", "-name", "secp521r1", "-noout"], "ECDSA-P521"),
    (["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"], "RSA-PSS"),
    (["genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"], "RSA-PSS"),
], ids=lambda v: v if isinstance(v, str) else " ".join(v[:4]))
def test_openssl_generated(args: list[str], name: str, tmp_path: Path) -> None:
    pem = _openssl(*args)
    key = keyfile.load_private_key(pem)
    assert key.algorithm == name
    path = tmp_path / "k.pem"
    path.write_bytes(pem)
    pub = keyfile.load_public_key(_openssl("pkey", "-in", str(path), "-pubout"))
    assert pub == key.public_key()
    for extra in ([], ["-scrypt"], ["-v2", "aes-128-cbc"]):
        enc = _openssl("pkcs8", "-topk8", "-in", str(path), "-passout", "pass:pw", *extra)
        assert enc.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        _same(key, keyfile.load_private_key(enc, b"pw"))
    # And OpenSSL reads what we write, encrypted or not.
    ours = tmp_path / "ours.pem"
    ours.write_bytes(keyfile.private_key_to_pem(key, b"pw", iterations=FAST))
    out = _openssl("pkey", "-in", str(ours), "-passin", "pass:pw", "-pubout")
    assert keyfile.load_public_key(out) == key.public_key()


@needs_openssl
def test_openssl_rsa_pss_key_refuses_oaep_hint(tmp_path: Path) -> None:
    pem = _openssl("genpkey", "-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048")
    with pytest.raises(WrongKeyTypeError):
        keyfile.load_private_key(pem, hint="RSA-OAEP")


@needs_openssl
@pytest.mark.parametrize("name", ["X-Wing", "SLH-DSA-SHAKE-128f", "MLDSA65-Ed25519-SHA512"])
def test_openssl_parses_our_raw_structures(name: str, tmp_path: Path) -> None:
    """OpenSSL's ASN.1 parser accepts our hand-written DER (encrypted and not)."""
    key = _key(name)
    for data in (keyfile.private_key_to_pem(key),
                 keyfile.private_key_to_pem(key, b"pw", iterations=FAST),
                 keyfile.public_key_to_pem(key.public_key())):
        path = tmp_path / "x.pem"
        path.write_bytes(data)
        assert b"OBJECT" in _openssl("asn1parse", "-in", str(path))
        path.unlink()


# ---- load_key sniffing -----------------------------------------------------------------------


def test_load_key_sniffs_every_form() -> None:
    key = _key("X-Wing")
    pub = key.public_key()
    identity_file = age_keys.format_identity_file(key).encode()
    recipient = age_keys.encode_recipient(pub).encode()
    cases: list[tuple[bytes, type]] = [
        (keyfile.private_key_to_pem(key), PrivateKey),
        (keyfile.public_key_to_pem(pub), PublicKey),
        (keyfile.private_key_to_der(key), PrivateKey),
        (keyfile.public_key_to_der(pub), PublicKey),
        (identity_file, PrivateKey),
        (age_keys.encode_identity(key).encode(), PrivateKey),
        (recipient, PublicKey),
        (recipient + b"\n", PublicKey),
        (b"Some explanatory text\n" + keyfile.public_key_to_pem(pub), PublicKey),
    ]
    for data, kind in cases:
        loaded = keyfile.load_key(data)
        assert isinstance(loaded, kind)
        assert loaded.algorithm == "X-Wing"
        if isinstance(loaded, PrivateKey):
            _same(key, loaded)
        else:
            assert loaded == pub
    with pytest.raises(WrongKeyTypeError):
        keyfile.load_key(recipient, hint="X25519")
    with pytest.raises(KeyFormatError, match="line 1"):
        keyfile.load_key(b"garbage\n" + identity_file)
    assert keyfile.load_key(identity_file.decode()).algorithm == "X-Wing"  # str accepted
    two = identity_file + age_keys.encode_identity(_key("X25519")).encode() + b"\n"
    with pytest.raises(KeyFormatError, match="2 age identities"):
        keyfile.load_key(two)


def test_load_private_public_type_checks() -> None:
    key = _key("ML-DSA-65")
    with pytest.raises(WrongKeyTypeError, match="expected a private key"):
        keyfile.load_private_key(keyfile.public_key_to_pem(key.public_key()))
    with pytest.raises(WrongKeyTypeError, match="expected a private key"):
        keyfile.load_private_key(keyfile.public_key_to_der(key.public_key()))
    with pytest.raises(WrongKeyTypeError, match="expected a public key"):
        keyfile.load_public_key(keyfile.private_key_to_pem(key))
    with pytest.raises(WrongKeyTypeError, match="expected a public key"):
        keyfile.load_public_key(keyfile.private_key_to_pem(key, b"pw", iterations=FAST))
    with pytest.raises(WrongKeyTypeError, match="expected a public key"):
        keyfile.load_public_key(keyfile.private_key_to_der(key))
    with pytest.raises(WrongKeyTypeError, match="expected a public key"):
        keyfile.load_public_key(age_keys.encode_identity(_key("X-Wing")).encode())
    with pytest.raises(WrongKeyTypeError):
        keyfile.private_key_to_pem(key.public_key())  # type: ignore[arg-type]
    with pytest.raises(WrongKeyTypeError):
        keyfile.public_key_to_pem(key)  # type: ignore[arg-type]
    with pytest.raises(WrongKeyTypeError, match="not ML-DSA-87"):
        keyfile.load_private_key(keyfile.private_key_to_pem(key), hint="ML-DSA-87")
    with pytest.raises(WrongKeyTypeError, match="not a kem key"):
        keyfile.load_private_key(keyfile.private_key_to_pem(key), hint="kem")
    with pytest.raises(KeyFormatError, match="not encrypted"):
        keyfile.load_private_key(keyfile.private_key_to_pem(key), b"pw")


# ---- bad input ---------------------------------------------------------------------------------


def _xwing_der(**overrides: bytes) -> bytes:
    parts = {
        "version": der.integer(0),
        "alg": der.algorithm_identifier("1.3.6.1.4.1.62253.25722"),
        "key": der.octet_string(bytes(range(32))),
        "extra": b"",
    }
    parts.update(overrides)
    return der.sequence(*parts.values())


def test_bad_inputs() -> None:
    good = keyfile.pem_encode("PRIVATE KEY", _xwing_der())
    assert keyfile.load_private_key(good).private_bytes() == bytes(range(32))
    cases: list[tuple[bytes, str]] = [
        (b"", "unrecognized key format"),
        (b"\x00\x01garbage", "unrecognized key format"),
        (b"hello world\n", "unrecognized key format"),
        (good.replace(b"-----END PRIVATE KEY-----\n", b""), "truncated PEM"),
        (good[:41] + b"\n-----END PRIVATE KEY-----\n", "not valid base64"),
        (good[:40] + b"\n-----END PRIVATE KEY-----\n", "truncated"),
        (good.replace(b"PRIVATE KEY", b"CERTIFICATE"), "'CERTIFICATE' is not a key"),
        (good.replace(b"END PRIVATE", b"END PUBLIC"), "closed by END"),
        (good + good, "2 blocks"),
        (keyfile.pem_encode("PRIVATE KEY", b""), "empty body"),
        (keyfile.pem_encode("PRIVATE KEY", _xwing_der(
            alg=der.algorithm_identifier("1.2.3.4.5"))), "unknown key algorithm OID 1.2.3.4.5"),
        (keyfile.pem_encode("PRIVATE KEY", _xwing_der(
            alg=der.algorithm_identifier("1.3.101.113"))), "Ed448"),
        (keyfile.pem_encode("PRIVATE KEY", _xwing_der(
            key=der.octet_string(bytes(31)))), "32-byte seed, got 31"),
        (keyfile.pem_encode("PRIVATE KEY", _xwing_der() + b"\x00"), "trailing bytes"),
        (keyfile.pem_encode("PRIVATE KEY", _xwing_der(
            alg=der.algorithm_identifier("1.3.6.1.4.1.62253.25722", der.null()))),
         "absent parameters"),
        (keyfile.pem_encode("PRIVATE KEY", _xwing_der(version=der.integer(2))), "version 2"),
        (keyfile.pem_encode("PRIVATE KEY", _xwing_der(
            extra=der.tlv(0x81, b"\x00" + bytes(1216)))), "publicKey requires version 1"),
        (keyfile.pem_encode("PRIVATE KEY", _xwing_der(
            version=der.integer(1), extra=der.tlv(0x81, b"\x00" + bytes(1216)))),
         "embedded public key does not match"),
        (keyfile.pem_encode("PRIVATE KEY", _xwing_der(extra=der.integer(5))), "trailing fields"),
        (_xwing_der() + b"\x00", "trailing bytes"),
        (b"\x30\x81\x05" + _xwing_der()[2:7], "non-minimal length"),
        (b"\x30\x03\x02\x01", "truncated"),
    ]
    for data, message in cases:
        with pytest.raises(KeyFormatError, match=message) as info:
            keyfile.load_key(data)
        assert bytes(range(32)).hex()[8:40] not in str(info.value)


def test_embedded_public_key_accepted_when_it_matches() -> None:
    key = _key("X-Wing")
    pk = key.public_key().public_bytes()
    data = der.sequence(der.integer(1), der.algorithm_identifier("1.3.6.1.4.1.62253.25722"),
                        der.octet_string(key.private_bytes()), der.tlv(0x81, b"\x00" + pk))
    _same(key, keyfile.load_private_key(data))


def test_bad_public_inputs() -> None:
    pub = keyfile.public_key_to_der(_key("X-Wing").public_key())
    short = der.sequence(der.algorithm_identifier("1.3.6.1.4.1.62253.25722"),
                         der.bit_string(bytes(1215)))
    unused = pub.replace(b"\x03\x82\x04\xc1\x00", b"\x03\x82\x04\xc1\x07")
    for data, message in ((short, "1216 bytes, got 1215"), (unused, "unused bits"),
                          (pub + b"\x00", "trailing"),
                          (keyfile.pem_encode("PUBLIC KEY", short), "1216 bytes")):
        with pytest.raises(KeyFormatError, match=message):
            keyfile.load_public_key(data)


def test_encrypted_corruption_detected() -> None:
    key = _key("X-Wing")
    pem = keyfile.private_key_to_pem(key, b"pw", iterations=FAST)
    block = keyfile.pem_blocks(pem)[0].der
    flipped = block[:-20] + bytes([block[-20] ^ 1]) + block[-19:]
    with pytest.raises(KeyFormatError):
        keyfile.load_private_key(flipped, b"pw")
    with pytest.raises(KeyFormatError, match="trailing"):
        keyfile.load_private_key(block + b"\x00", b"pw")


# ---- files ---------------------------------------------------------------------------------


def test_private_file_mode_and_no_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "id.pem"
    pem = keyfile.private_key_to_pem(_key("X-Wing"))
    keyfile.write_private_key_file(path, pem)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes() == pem
    with pytest.raises(KeyFileExistsError, match="refusing to overwrite"):
        keyfile.write_private_key_file(path, b"other")
    assert path.read_bytes() == pem
    assert sorted(p.name for p in tmp_path.iterdir()) == ["id.pem"]  # no temp files left


def test_public_file_mode_and_no_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "id.pub"
    keyfile.write_public_file(str(path), b"age1...\n")
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    with pytest.raises(KeyFileExistsError):
        keyfile.write_public_file(path, b"x")
    assert path.read_bytes() == b"age1...\n"


def test_write_refuses_symlink_and_missing_dir(tmp_path: Path) -> None:
    target = tmp_path / "target"
    link = tmp_path / "link.pem"
    link.symlink_to(target)  # dangling: writing would create the target through it
    with pytest.raises(KeyFileExistsError):
        keyfile.write_private_key_file(link, b"secret")
    assert not target.exists()
    with pytest.raises(FileNotFoundError):
        keyfile.write_private_key_file(tmp_path / "nope" / "k.pem", b"secret")


def test_exclusive_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where hard links are unsupported the O_EXCL path keeps the same guarantees."""
    def no_link(*_: object) -> None:
        raise PermissionError("links not supported")

    monkeypatch.setattr(os, "link", no_link)
    path = tmp_path / "k.pem"
    keyfile.write_private_key_file(path, b"secret")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and path.read_bytes() == b"secret"
    with pytest.raises(KeyFileExistsError):
        keyfile.write_private_key_file(path, b"other")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["k.pem"]

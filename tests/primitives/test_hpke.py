"""HPKE against every vector in cryptography-vectors, pyca's HPKE both ways, and misuse.

Vectors: ``HPKE/test-vectors.json`` (RFC 9180, all four modes) and
``HPKE/hpke-pq-test-vectors.json`` (draft-ietf-hpke-pq). A vector part whose algorithm has
no backend here is skipped with the reason, never dropped.
"""

from __future__ import annotations

import contextlib

import pytest
from cryptography.hazmat.bindings._rust import openssl as rust_openssl
from cryptography.hazmat.primitives import hpke as pyca_hpke
from cryptography.hazmat.primitives.asymmetric import ec, x25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pqml.errors import (
    DecryptionError,
    KeyFormatError,
    UnavailableAlgorithmError,
    UnknownAlgorithmError,
    WrongKeyTypeError,
)
from pqml.primitives import hpke, registry
from pqml.primitives.hpke import AEADId, KDFId, KEMId, Mode, Suite
from pqml.primitives.kem import mlkem1024_p384, xwing

from conftest import load_json, pyca_vector

RFC_VECTORS = load_json(pyca_vector("HPKE", "test-vectors.json"))
PQ_VECTORS = load_json(pyca_vector("HPKE", "hpke-pq-test-vectors.json"))
ALL_VECTORS = [("rfc9180", v) for v in RFC_VECTORS] + [("pq", v) for v in PQ_VECTORS]


def _vid(item: tuple[str, dict]) -> str:
    src, v = item
    return f"{src}-m{v['mode']}-kem{v['kem_id']:04x}-kdf{v['kdf_id']:04x}-aead{v['aead_id']:04x}"


def h(value: str) -> bytes:
    return bytes.fromhex(value)


def test_vector_files_are_complete() -> None:
    """Guard against a vectors upgrade silently shrinking what we check."""
    assert len(RFC_VECTORS) == 128
    assert len(PQ_VECTORS) == 13
    assert {v["mode"] for v in RFC_VECTORS} == {0, 1, 2, 3}


def _kem_or_skip(v: dict) -> hpke.KEM:
    try:
        return hpke.get_kem(v["kem_id"])
    except UnavailableAlgorithmError as exc:
        pytest.skip(f"not applicable here: {exc}")


def _suite_or_skip(v: dict) -> Suite:
    _kem_or_skip(v)
    try:
        return Suite(v["kem_id"], v["kdf_id"], v["aead_id"])
    except UnavailableAlgorithmError as exc:
        pytest.skip(f"not applicable here: {exc}")


def _inputs(v: dict) -> dict:
    return {
        "info": h(v["info"]),
        "psk": h(v.get("psk", "")),
        "psk_id": h(v.get("psk_id", "")),
    }


def _sender_keys(kem: hpke.KEM, v: dict):
    if v["mode"] not in (Mode.AUTH, Mode.AUTH_PSK):
        return None
    return kem.derive_key_pair(h(v["ikmS"]))


# ---- the KEM part: runs even when the vector's KDF has no backend --------------------------


def _clamped(kem_id: int, sk: bytes) -> bytes:
    """RFC 7748 clamping: X25519/X448 private keys equal up to clamping are the same key."""
    k = bytearray(sk)
    if kem_id == KEMId.DHKEM_X25519_HKDF_SHA256:
        k[0] &= 248
        k[31] = (k[31] & 127) | 64
    elif kem_id == KEMId.DHKEM_X448_HKDF_SHA512:
        k[0] &= 252
        k[55] |= 128
    return bytes(k)


def _assert_same_private(kem_id: int, got: bytes, want_hex: str) -> None:
    """The pq vectors' X448 skRm is stored clamped, RFC 9180's unclamped; both are valid."""
    assert _clamped(kem_id, got) == _clamped(kem_id, bytes.fromhex(want_hex))


@pytest.mark.parametrize("item", ALL_VECTORS, ids=_vid)
def test_derive_key_pair(item: tuple[str, dict]) -> None:
    _, v = item
    kem = _kem_or_skip(v)
    sk = kem.derive_key_pair(h(v["ikmR"]))
    _assert_same_private(v["kem_id"], sk.private_bytes(), v["skRm"])
    assert sk.public_key().public_bytes().hex() == v["pkRm"]
    loaded = kem.private_from_bytes(h(v["skRm"]))
    assert loaded.public_key().public_bytes().hex() == v["pkRm"]
    assert kem.public_from_bytes(h(v["pkRm"])) == sk.public_key()
    if "skEm" in v:
        sk_e = kem.derive_key_pair(h(v["ikmE"]))
        _assert_same_private(v["kem_id"], sk_e.private_bytes(), v["skEm"])
        assert sk_e.public_key().public_bytes().hex() == v["pkEm"]
    if "skSm" in v:
        sk_s = kem.derive_key_pair(h(v["ikmS"]))
        _assert_same_private(v["kem_id"], sk_s.private_bytes(), v["skSm"])
        assert sk_s.public_key().public_bytes().hex() == v["pkSm"]


@pytest.mark.parametrize("item", ALL_VECTORS, ids=_vid)
def test_decapsulation(item: tuple[str, dict]) -> None:
    _, v = item
    kem = _kem_or_skip(v)
    sk = kem.private_from_bytes(h(v["skRm"]))
    sks = _sender_keys(kem, v)
    if sks is None:
        ss = kem.decap(h(v["enc"]), sk)
    else:
        ss = kem.auth_decap(h(v["enc"]), sk, sks.public_key())
    assert ss.hex() == v["shared_secret"]


def _oracle_encap(v: dict) -> tuple[bytes, bytes]:
    """EncapsDerand for the PQ KEMs; pyca has no deterministic ML-KEM, kyber-py does."""
    from kyber_py.ml_kem import ML_KEM_768, ML_KEM_1024

    kem_id, pk, rnd = v["kem_id"], h(v["pkRm"]), h(v["ikmE"])
    if kem_id in (KEMId.ML_KEM_768, KEMId.ML_KEM_1024):
        oracle = ML_KEM_768 if kem_id == KEMId.ML_KEM_768 else ML_KEM_1024
        ss, ct = oracle._encaps_internal(pk, rnd[:32])
        return ss, ct
    if kem_id == KEMId.MLKEM768_X25519:
        ss_m, ct_m = ML_KEM_768._encaps_internal(pk[:1184], rnd[:32])
        ek = x25519.X25519PrivateKey.from_private_bytes(rnd[32:64])
        ct_x = ek.public_key().public_bytes_raw()
        ss_x = ek.exchange(x25519.X25519PublicKey.from_public_bytes(pk[1184:]))
        return xwing.combiner(ss_m, ss_x, ct_x, pk[1184:]), ct_m + ct_x
    scheme = {
        KEMId.MLKEM1024_P384: mlkem1024_p384.SCHEME,
        KEMId.MLKEM768_P256: mlkem1024_p384.MLKEM768_P256,
    }[kem_id]
    oracle = ML_KEM_1024 if kem_id == KEMId.MLKEM1024_P384 else ML_KEM_768
    n = scheme.mlkem_pk_size
    ss_m, ct_m = oracle._encaps_internal(pk[:n], rnd[:32])
    curve = scheme.group.curve
    ek = ec.derive_private_key(scheme.random_scalar(rnd[32:]), curve)
    ct_t = ek.public_key().public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    ss_t = ek.exchange(ec.ECDH(), ec.EllipticCurvePublicKey.from_encoded_point(curve, pk[n:]))
    return scheme.combiner(ss_m, ss_t, ct_t, pk[n:]), ct_m + ct_t


@pytest.mark.parametrize("item", [i for i in ALL_VECTORS if i[1]["kem_id"] >= 0x40], ids=_vid)
def test_pq_encapsulation_with_fixed_randomness(item: tuple[str, dict]) -> None:
    _, v = item
    _kem_or_skip(v)
    ss, enc = _oracle_encap(v)
    assert enc.hex() == v["enc"]
    assert ss.hex() == v["shared_secret"]


# ---- the key schedule, encryption and export ----------------------------------------------


@pytest.mark.parametrize("item", ALL_VECTORS, ids=_vid)
def test_key_schedule(item: tuple[str, dict]) -> None:
    _, v = item
    suite = _suite_or_skip(v)
    args = _inputs(v)
    key, base_nonce, exporter_secret = suite.key_schedule(
        v["mode"], h(v["shared_secret"]), args["info"], args["psk"], args["psk_id"]
    )
    assert key.hex() == v["key"]
    assert base_nonce.hex() == v["base_nonce"]
    assert exporter_secret.hex() == v["exporter_secret"]


def _check_context(ctx: hpke.Context, v: dict, sending: bool) -> None:
    if ctx.suite.aead.export_only:
        assert v["encryptions"] == []
        with pytest.raises(hpke.HPKEError, match="Export-only"):
            if isinstance(ctx, hpke.SenderContext):
                ctx.seal(b"x")
            elif isinstance(ctx, hpke.RecipientContext):
                ctx.open(bytes(16))
    for e in v["encryptions"]:
        assert ctx._nonce().hex() == e["nonce"]
        if sending:
            assert isinstance(ctx, hpke.SenderContext)
            assert ctx.seal(h(e["pt"]), h(e["aad"])).hex() == e["ct"]
        else:
            assert isinstance(ctx, hpke.RecipientContext)
            assert ctx.open(h(e["ct"]), h(e["aad"])).hex() == e["pt"]
    for x in v["exports"]:
        assert ctx.export(h(x["exporter_context"]), x["L"]).hex() == x["exported_value"]


@pytest.mark.parametrize("item", ALL_VECTORS, ids=_vid)
def test_recipient_decrypts_and_exports(item: tuple[str, dict]) -> None:
    _, v = item
    suite = _suite_or_skip(v)
    sk = suite.kem.private_from_bytes(h(v["skRm"]))
    sks = _sender_keys(suite.kem, v)
    ctx = suite._setup_r(
        v["mode"], h(v["enc"]), sk, **_inputs(v), pks=sks.public_key() if sks else None
    )
    _check_context(ctx, v, sending=False)


@pytest.mark.parametrize("item", ALL_VECTORS, ids=_vid)
def test_sender_encrypts_deterministically(item: tuple[str, dict]) -> None:
    """DHKEMs fix the ephemeral from ikmE; PQ KEMs take the oracle's encapsulation."""
    _, v = item
    suite = _suite_or_skip(v)
    pk = suite.kem.public_from_bytes(h(v["pkRm"]))
    if v["kem_id"] < 0x40:
        sks = _sender_keys(suite.kem, v)
        enc, ctx = suite._setup_s(v["mode"], pk, **_inputs(v), sks=sks, ikm_e=h(v["ikmE"]))
    else:
        ss, enc = _oracle_encap(v)
        ctx = suite._sender_from_secret(v["mode"], ss, **_inputs(v))
    assert enc.hex() == v["enc"]
    _check_context(ctx, v, sending=True)


def test_pq_kem_cannot_fix_ephemeral_in_backend() -> None:
    suite = Suite(KEMId.ML_KEM_768)
    pk = suite.kem.generate_key_pair().public_key()
    with pytest.raises(hpke.HPKEError, match="deterministically"):
        suite._setup_s(Mode.BASE, pk, b"", ikm_e=bytes(32))


# ---- interoperability with pyca's HPKE (single-shot Base mode) ----------------------------

PYCA_KEMS = {
    KEMId.DHKEM_X25519_HKDF_SHA256: pyca_hpke.KEM.X25519,
    KEMId.DHKEM_P256_HKDF_SHA256: pyca_hpke.KEM.P256,
    KEMId.DHKEM_P384_HKDF_SHA384: pyca_hpke.KEM.P384,
    KEMId.DHKEM_P521_HKDF_SHA512: pyca_hpke.KEM.P521,
    KEMId.ML_KEM_768: pyca_hpke.KEM.MLKEM768,
    KEMId.ML_KEM_1024: pyca_hpke.KEM.MLKEM1024,
    KEMId.MLKEM768_X25519: pyca_hpke.KEM.MLKEM768_X25519,
    KEMId.MLKEM1024_P384: pyca_hpke.KEM.MLKEM1024_P384,
}
PYCA_KDFS = {
    KDFId.HKDF_SHA256: pyca_hpke.KDF.HKDF_SHA256,
    KDFId.HKDF_SHA384: pyca_hpke.KDF.HKDF_SHA384,
    KDFId.HKDF_SHA512: pyca_hpke.KDF.HKDF_SHA512,
    KDFId.SHAKE128: pyca_hpke.KDF.SHAKE128,
    KDFId.SHAKE256: pyca_hpke.KDF.SHAKE256,
}
PYCA_AEADS = {
    AEADId.AES_128_GCM: pyca_hpke.AEAD.AES_128_GCM,
    AEADId.AES_256_GCM: pyca_hpke.AEAD.AES_256_GCM,
    AEADId.CHACHA20_POLY1305: pyca_hpke.AEAD.CHACHA20_POLY1305,
}
INTEROP = [(k, KDFId.HKDF_SHA256, AEADId.AES_256_GCM) for k in PYCA_KEMS] + [
    (KEMId.MLKEM768_X25519, KDFId.SHAKE256, AEADId.CHACHA20_POLY1305),
    (KEMId.MLKEM1024_P384, KDFId.HKDF_SHA384, AEADId.AES_128_GCM),
    (KEMId.DHKEM_P256_HKDF_SHA256, KDFId.SHAKE128, AEADId.AES_256_GCM),
]


def _ids(suite: tuple[int, int, int]) -> str:
    return "-".join(f"{i:04x}" for i in suite)


def _pyca(sk) -> tuple[object, object]:
    return sk.backend_key, sk.public_key().backend_key


@pytest.mark.parametrize("ids", INTEROP, ids=_ids)
def test_interop_with_pyca_both_ways(ids: tuple[int, int, int]) -> None:
    ours = Suite(*ids)
    theirs = pyca_hpke.Suite(PYCA_KEMS[ids[0]], PYCA_KDFS[ids[1]], PYCA_AEADS[ids[2]])
    sk = ours.kem.generate_key_pair()
    pyca_sk, pyca_pk = _pyca(sk)
    info, msg = b"pqml interop", b"model weights \x00\xff" * 50
    assert theirs.decrypt(ours.seal(sk.public_key(), msg, info), pyca_sk, info) == msg
    assert ours.open(sk, theirs.encrypt(msg, pyca_pk, info), info) == msg
    assert ours.open(sk, theirs.encrypt(b"", pyca_pk, None)) == b""


@pytest.mark.parametrize("ids", INTEROP[:8], ids=_ids)
def test_interop_with_pyca_aad(ids: tuple[int, int, int]) -> None:
    """pyca's public Suite has no aad; its bindings expose the aad-taking pair."""
    ours = Suite(*ids)
    theirs = pyca_hpke.Suite(PYCA_KEMS[ids[0]], PYCA_KDFS[ids[1]], PYCA_AEADS[ids[2]])
    sk = ours.kem.generate_key_pair()
    pyca_sk, pyca_pk = _pyca(sk)
    data = ours.seal(sk.public_key(), b"secret", b"info", b"aad")
    assert rust_openssl.hpke._decrypt_with_aad(theirs, data, pyca_sk, b"info", b"aad") == b"secret"
    data = rust_openssl.hpke._encrypt_with_aad(theirs, b"secret", pyca_pk, b"info", b"aad")
    assert ours.open(sk, data, b"info", b"aad") == b"secret"
    with pytest.raises(DecryptionError):
        ours.open(sk, data, b"info", b"other aad")


# ---- round trips, contexts, export ---------------------------------------------------------

ROUND_TRIP = [(k, KDFId.HKDF_SHA256, AEADId.AES_256_GCM) for k in hpke._KEMS]


@pytest.mark.parametrize("ids", ROUND_TRIP, ids=_ids)
def test_multi_message_context_and_export(ids: tuple[int, int, int]) -> None:
    suite = Suite(*ids)
    sk = suite.kem.generate_key_pair()
    enc, sender = suite.setup_base_s(sk.public_key(), b"info")
    assert len(enc) == suite.kem.n_enc
    recipient = suite.setup_base_r(enc, sk, b"info")
    for i in range(5):
        assert recipient.open(sender.seal(b"msg %d" % i, b"aad"), b"aad") == b"msg %d" % i
    assert sender.seq == recipient.seq == 5
    assert sender.export(b"ctx", 48) == recipient.export(b"ctx", 48)
    assert sender.export(b"ctx", 48) != sender.export(b"ctx2", 48)
    assert len(sender.export(b"", 0)) == 0


@pytest.mark.parametrize("ids", ROUND_TRIP, ids=_ids)
def test_send_and_receive_export(ids: tuple[int, int, int]) -> None:
    suite = Suite(*ids)
    sk = suite.kem.generate_key_pair()
    enc, secret = suite.send_export(sk.public_key(), b"ohttp", b"message/bhttp response", 32)
    assert len(secret) == 32
    assert suite.receive_export(enc, sk, b"ohttp", b"message/bhttp response", 32) == secret
    assert suite.receive_export(enc, sk, b"ohttp", b"other context", 32) != secret
    assert suite.receive_export(enc, sk, b"other info", b"message/bhttp response", 32) != secret
    other = suite.kem.generate_key_pair()
    with contextlib.suppress(DecryptionError):  # a KEM may also reject outright
        assert suite.receive_export(enc, other, b"ohttp", b"message/bhttp response", 32) != secret


@pytest.mark.parametrize(
    "ids",
    [
        (KEMId.MLKEM768_X25519, KDFId.SHAKE256, AEADId.EXPORT_ONLY),
        (KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.EXPORT_ONLY),
    ],
    ids=_ids,
)
def test_export_only_suite(ids: tuple[int, int, int]) -> None:
    suite = Suite(*ids)
    sk = suite.kem.generate_key_pair()
    enc, sender = suite.setup_base_s(sk.public_key())
    assert suite.setup_base_r(enc, sk).export(b"", 64) == sender.export(b"", 64)
    with pytest.raises(hpke.HPKEError, match="Export-only"):
        sender.seal(b"no")
    with pytest.raises(hpke.HPKEError, match="Export-only"):
        suite.seal(sk.public_key(), b"no")


def test_export_length_limits() -> None:
    suite = Suite(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES_128_GCM)
    sk = suite.kem.generate_key_pair()
    _, ctx = suite.setup_base_s(sk.public_key())
    assert len(ctx.export(b"", 255 * 32)) == 255 * 32
    with pytest.raises(hpke.HPKEError, match="export length"):
        ctx.export(b"", 255 * 32 + 1)
    with pytest.raises(hpke.HPKEError):
        ctx.export(b"", -1)
    shake = Suite(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.SHAKE128, AEADId.AES_128_GCM)
    _, ctx = shake.setup_base_s(sk.public_key())
    assert len(ctx.export(b"", 65535)) == 65535
    with pytest.raises(hpke.HPKEError):
        ctx.export(b"", 65536)
    with pytest.raises(hpke.HPKEError, match="65535"):
        shake.setup_base_s(sk.public_key(), info=bytes(65536))


def test_message_limit_and_nonce_overflow() -> None:
    """RFC 9180 §5.2: the last usable sequence number is 2^96 - 2."""
    suite = Suite(KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES_128_GCM)
    sk = suite.kem.generate_key_pair()
    enc, sender = suite.setup_base_s(sk.public_key())
    recipient = suite.setup_base_r(enc, sk)
    sender._seq = recipient._seq = (1 << 96) - 2
    ct = sender.seal(b"last")
    assert recipient.open(ct) == b"last"
    with pytest.raises(hpke.MessageLimitReachedError):
        sender.seal(b"one too many")
    with pytest.raises(hpke.MessageLimitReachedError):
        recipient.open(ct)
    assert sender.export(b"still fine", 32) == recipient.export(b"still fine", 32)


def test_sequence_advances_only_on_success_and_order_matters() -> None:
    suite = Suite(KEMId.MLKEM768_X25519)
    sk = suite.kem.generate_key_pair()
    enc, sender = suite.setup_base_s(sk.public_key())
    recipient = suite.setup_base_r(enc, sk)
    first, second = sender.seal(b"1"), sender.seal(b"2")
    with pytest.raises(DecryptionError, match="out-of-order"):
        recipient.open(second)
    assert recipient.seq == 0
    assert recipient.open(first) == b"1"
    assert recipient.open(second) == b"2"


# ---- PSK and Auth modes (round trips beyond the vectors) -----------------------------------


def test_psk_and_auth_round_trips() -> None:
    suite = Suite(KEMId.DHKEM_P256_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.AES_128_GCM)
    sk_r, sk_s = suite.kem.generate_key_pair(), suite.kem.generate_key_pair()
    psk, psk_id = bytes(range(32)), b"psk id"
    enc, s = suite.setup_psk_s(sk_r.public_key(), b"i", psk, psk_id)
    assert suite.setup_psk_r(enc, sk_r, b"i", psk, psk_id).open(s.seal(b"p")) == b"p"
    with pytest.raises(DecryptionError):
        suite.setup_psk_r(enc, sk_r, b"i", bytes(32), psk_id).open(s.seal(b"p"))
    enc, s = suite.setup_auth_s(sk_r.public_key(), b"i", sk_s)
    assert suite.setup_auth_r(enc, sk_r, b"i", sk_s.public_key()).open(s.seal(b"a")) == b"a"
    impostor = suite.kem.generate_key_pair().public_key()
    with pytest.raises(DecryptionError):
        suite.setup_auth_r(enc, sk_r, b"i", impostor).open(s.seal(b"a"))
    enc, s = suite.setup_auth_psk_s(sk_r.public_key(), b"i", psk, psk_id, sk_s)
    r = suite.setup_auth_psk_r(enc, sk_r, b"i", psk, psk_id, sk_s.public_key())
    assert r.open(s.seal(b"ap")) == b"ap"


@pytest.mark.parametrize(
    ("mode", "psk", "psk_id", "match"),
    [
        (Mode.BASE, bytes(32), b"id", "mode without a PSK"),
        (Mode.PSK, b"", b"", "needs a PSK"),
        (Mode.PSK, bytes(32), b"", "together"),
        (Mode.PSK, b"", b"id", "together"),
        (Mode.PSK, bytes(16), b"id", "at least 32"),
        (7, b"", b"", "unknown HPKE mode"),
    ],
)
def test_psk_input_validation(mode: int, psk: bytes, psk_id: bytes, match: str) -> None:
    suite = Suite(KEMId.DHKEM_X25519_HKDF_SHA256)
    pk = suite.kem.generate_key_pair().public_key()
    with pytest.raises(hpke.HPKEError, match=match):
        suite._setup_s(mode, pk, b"", psk, psk_id)


def test_auth_mode_needs_a_dhkem_and_sender_keys() -> None:
    suite = Suite(KEMId.MLKEM768_X25519)
    sk = suite.kem.generate_key_pair()
    with pytest.raises(hpke.HPKEError, match="no authenticated mode"):
        suite.setup_auth_s(sk.public_key(), b"", sk)
    dh = Suite(KEMId.DHKEM_X25519_HKDF_SHA256)
    sk = dh.kem.generate_key_pair()
    with pytest.raises(hpke.HPKEError, match="sender's private key"):
        dh._setup_s(Mode.AUTH, sk.public_key(), b"")


# ---- failure modes ---------------------------------------------------------------------

FAILURE_SUITES = [
    (KEMId.MLKEM768_X25519, KDFId.HKDF_SHA256, AEADId.AES_256_GCM),
    (KEMId.ML_KEM_768, KDFId.HKDF_SHA256, AEADId.AES_256_GCM),
    (KEMId.ML_KEM_1024, KDFId.HKDF_SHA384, AEADId.AES_256_GCM),
    (KEMId.MLKEM1024_P384, KDFId.HKDF_SHA384, AEADId.AES_256_GCM),
    (KEMId.DHKEM_X25519_HKDF_SHA256, KDFId.HKDF_SHA256, AEADId.CHACHA20_POLY1305),
    (KEMId.DHKEM_P384_HKDF_SHA384, KDFId.HKDF_SHA384, AEADId.AES_256_GCM),
]


@pytest.fixture(params=FAILURE_SUITES, ids=_ids)
def sealed(request: pytest.FixtureRequest):
    suite = Suite(*request.param)
    sk = suite.kem.generate_key_pair()
    data = suite.seal(sk.public_key(), b"the plaintext", b"info", b"aad")
    return suite, sk, data


def test_round_trip(sealed) -> None:
    suite, sk, data = sealed
    assert suite.open(sk, data, b"info", b"aad") == b"the plaintext"
    assert len(data) == suite.kem.n_enc + len(b"the plaintext") + suite.aead.nt


def test_wrong_key_fails(sealed) -> None:
    suite, _, data = sealed
    with pytest.raises(DecryptionError):
        suite.open(suite.kem.generate_key_pair(), data, b"info", b"aad")


@pytest.mark.parametrize("where", ["enc-start", "enc-end", "ct-start", "tag"])
def test_tampering_fails(sealed, where: str) -> None:
    suite, sk, data = sealed
    pos = {
        "enc-start": 1,
        "enc-end": suite.kem.n_enc - 1,
        "ct-start": suite.kem.n_enc,
        "tag": len(data) - 1,
    }[where]
    bad = bytearray(data)
    bad[pos] ^= 0x01
    with pytest.raises(DecryptionError):
        suite.open(sk, bytes(bad), b"info", b"aad")


@pytest.mark.parametrize("cut", [0, 1, 16, -1, -17])
def test_truncated_input_fails(sealed, cut: int) -> None:
    suite, sk, data = sealed
    short = data[:cut]
    with pytest.raises(DecryptionError):
        suite.open(sk, short, b"info", b"aad")


def test_appended_bytes_fail(sealed) -> None:
    suite, sk, data = sealed
    with pytest.raises(DecryptionError):
        suite.open(sk, data + b"\x00", b"info", b"aad")


def test_wrong_info_or_aad_fails(sealed) -> None:
    suite, sk, data = sealed
    with pytest.raises(DecryptionError, match="wrong info/aad"):
        suite.open(sk, data, b"other info", b"aad")
    with pytest.raises(DecryptionError, match="wrong info/aad"):
        suite.open(sk, data, b"info", b"")


def test_bad_enc_length_is_a_decryption_error() -> None:
    suite = Suite(KEMId.MLKEM768_X25519)
    sk = suite.kem.generate_key_pair()
    enc, _ = suite.setup_base_s(sk.public_key())
    with pytest.raises(DecryptionError, match="encapsulated key"):
        suite.setup_base_r(enc[:-1], sk)


def test_low_order_x25519_share_is_a_decryption_error() -> None:
    for kem_id in (KEMId.DHKEM_X25519_HKDF_SHA256, KEMId.MLKEM768_X25519):
        suite = Suite(kem_id)
        sk = suite.kem.generate_key_pair()
        enc, _ = suite.setup_base_s(sk.public_key())
        with pytest.raises(DecryptionError, match=r"low.order"):
            suite.setup_base_r(enc[:-32] + bytes(32), sk)


def test_invalid_nist_point_in_enc_is_a_decryption_error() -> None:
    for kem_id in (KEMId.DHKEM_P256_HKDF_SHA256, KEMId.MLKEM1024_P384):
        suite = Suite(kem_id)
        sk = suite.kem.generate_key_pair()
        enc, _ = suite.setup_base_s(sk.public_key())
        bad = bytearray(enc)
        bad[-1] ^= 0x01  # off the curve
        with pytest.raises(DecryptionError):
            suite.setup_base_r(bytes(bad), sk)
        compressed = bytearray(enc)
        compressed[-97 if kem_id == KEMId.MLKEM1024_P384 else 0] = 0x02
        with pytest.raises(DecryptionError):
            suite.setup_base_r(bytes(compressed), sk)


@pytest.mark.parametrize("kem_id", [KEMId.DHKEM_X25519_HKDF_SHA256, KEMId.DHKEM_X448_HKDF_SHA512])
def test_low_order_keys_are_refused(kem_id: int) -> None:
    suite = Suite(kem_id, KDFId.HKDF_SHA512)
    zero = bytes(suite.kem.n_pk)
    with pytest.raises(KeyFormatError, match="recipient public key"):
        suite.seal(suite.kem.public_from_bytes(zero), b"x")
    with pytest.raises(DecryptionError, match=r"low.order"):
        suite.setup_base_r(zero, suite.kem.generate_key_pair())


def test_wrong_key_type_is_refused() -> None:
    suite = Suite(KEMId.MLKEM768_X25519)
    other = Suite(KEMId.ML_KEM_768).kem.generate_key_pair()
    with pytest.raises(WrongKeyTypeError, match="X-Wing"):
        suite.seal(other.public_key(), b"x")
    with pytest.raises(WrongKeyTypeError):
        suite.open(other, bytes(2000))


# ---- identifiers and registry consistency --------------------------------------------------


@pytest.mark.parametrize(
    ("ids", "error"),
    [
        ((0x9999, 1, 1), UnknownAlgorithmError),
        ((0x0020, 0x0099, 1), UnknownAlgorithmError),
        ((0x0020, 1, 0x0004), UnknownAlgorithmError),
        ((0x0040, 1, 1), UnavailableAlgorithmError),
        ((0x0020, 0x0012, 1), UnavailableAlgorithmError),
        ((0x0020, 0x0013, 1), UnavailableAlgorithmError),
    ],
)
def test_unknown_and_unavailable_ids(ids: tuple[int, int, int], error: type) -> None:
    with pytest.raises(error):
        Suite(*ids)


def test_suite_for_algorithm_and_repr() -> None:
    suite = Suite.for_algorithm("xwing")
    assert suite.kem.kem_id == 0x647A
    assert suite.suite_id == bytes.fromhex("48504b45647a00010002")
    assert "X-Wing" in repr(suite)
    with pytest.raises(UnknownAlgorithmError, match="no HPKE KEM id"):
        Suite.for_algorithm("RSA-OAEP")


@pytest.mark.parametrize(
    "alg",
    [a for a in registry.all_algorithms("kem") if a.hpke_kem_id is not None],
    ids=lambda a: a.name,
)
def test_registry_sizes_match_hpke(alg: registry.Algorithm) -> None:
    kem = hpke.get_kem(alg.hpke_kem_id)
    assert kem.scheme.algorithm == alg.name
    assert kem.n_pk == alg.public_key_size
    assert kem.n_enc == alg.ciphertext_size
    assert kem.n_sk == alg.private_key_size
    sk = kem.generate_key_pair()
    assert len(sk.private_bytes()) == kem.n_sk
    assert len(sk.public_key().public_bytes()) == kem.n_pk

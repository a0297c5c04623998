"""Composite ML-DSA against draft-ietf-lamps-pq-composite-sigs test vectors and misuse cases.

tests/vectors/composite-sigs/testvectors.json: one test per algorithm with raw keys, a
self-signed certificate, and signatures over ``m`` with empty and non-empty ``ctx``.
"""

from __future__ import annotations

import base64

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pqml.errors import InvalidSignatureError, KeyFormatError, PqmlError
from pqml.primitives import registry
from pqml.primitives.sig import composite, mldsa

from conftest import load_json, vector

VECTORS = load_json(vector("composite-sigs", "testvectors.json"))
M = base64.b64decode(VECTORS["m"])
CTX = base64.b64decode(VECTORS["ctx"])
TESTS = {
    t["tcId"]: {k: v if k == "tcId" else base64.b64decode(v) for k, v in t.items()}
    for t in VECTORS["tests"]
}
PURE_MLDSA = {
    "id-ML-DSA-44": mldsa.MLDSA44,
    "id-ML-DSA-65": mldsa.MLDSA65,
    "id-ML-DSA-87": mldsa.MLDSA87,
}
REGISTRY_COMPOSITES = [
    a
    for a in registry.all_algorithms("signature")
    if a.standard == "draft-ietf-lamps-pq-composite-sigs"
]


def scheme_for(tc_id: str):
    if tc_id in PURE_MLDSA:
        return PURE_MLDSA[tc_id]
    name = tc_id.removeprefix("id-")
    if name not in composite.SCHEMES:
        pytest.skip(f"{name}: composite not implemented in pqml.primitives.sig.composite")
    return composite.SCHEMES[name]


def trad_kind(name: str) -> str:
    """'MLDSA65-RSA3072-PSS-SHA512' -> 'RSA3072': what the traditional key itself is."""
    kind = name.split("-", 1)[1].rsplit("-", 1)[0]
    return kind.removesuffix("-PSS").removesuffix("-PKCS15")


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


@pytest.mark.parametrize("tc_id", sorted(TESTS))
def test_vector_signatures_verify(tc_id: str) -> None:
    tc, scheme = TESTS[tc_id], scheme_for(tc_id)
    pub = scheme.public_from_bytes(tc["pk"])
    assert pub.public_bytes() == tc["pk"]
    pub.verify(tc["s"], M)
    pub.verify(tc["s"], M, b"")
    pub.verify(tc["sWithContext"], M, CTX)
    with pytest.raises(InvalidSignatureError):
        pub.verify(tc["s"], M, CTX)
    with pytest.raises(InvalidSignatureError):
        pub.verify(tc["sWithContext"], M)
    with pytest.raises(InvalidSignatureError):
        pub.verify(tc["s"], M + b" ")


@pytest.mark.parametrize("tc_id", sorted(TESTS))
def test_vector_private_key_signs(tc_id: str) -> None:
    tc, scheme = TESTS[tc_id], scheme_for(tc_id)
    key = scheme.private_from_bytes(tc["sk"])
    assert key.private_bytes() == tc["sk"]  # re-encodes exactly (ECPrivateKey w/o publicKey)
    assert key.public_key().public_bytes() == tc["pk"]
    assert tc["sk_pkcs8"].endswith(tc["sk"])  # PKCS#8 privateKey OCTET STRING holds sk as is
    pub = scheme.public_from_bytes(tc["pk"])
    pub.verify(key.sign(M), M)
    pub.verify(key.sign(M, CTX), M, CTX)


@pytest.mark.parametrize("tc_id", sorted(TESTS))
def test_vector_certificate(tc_id: str) -> None:
    """The x5c is self-signed: its OID is the algorithm's and its signature verifies with pk."""
    tc, scheme = TESTS[tc_id], scheme_for(tc_id)
    cert = x509.load_der_x509_certificate(tc["x5c"])
    oid = cert.signature_algorithm_oid.dotted_string
    assert cert.public_key_algorithm_oid.dotted_string == oid
    assert tc["pk"] in tc["x5c"]
    if tc_id in PURE_MLDSA:
        assert registry.get(tc_id.removeprefix("id-")).oids == (oid,)
    else:
        assert scheme.oid == oid
        alg = registry.by_oid(oid)
        assert alg is None or alg.name == scheme.algorithm
    scheme.public_from_bytes(tc["pk"]).verify(cert.signature, cert.tbs_certificate_bytes)


@pytest.mark.parametrize("alg", REGISTRY_COMPOSITES, ids=lambda a: a.name)
def test_registry_entries(alg: registry.Algorithm) -> None:
    scheme = alg.scheme()
    assert scheme is getattr(composite, alg.name.replace("-", "_"))
    assert scheme is composite.SCHEMES[alg.name] and scheme.algorithm == alg.name
    tc = TESTS[f"id-{alg.name}"]
    cert = x509.load_der_x509_certificate(tc["x5c"])
    assert alg.oids == (cert.signature_algorithm_oid.dotted_string,) == (scheme.oid,)
    assert alg.public_key_size == scheme.public_key_size
    assert alg.private_key_size == scheme.private_key_size
    if alg.public_key_size is not None:  # RSA components are variable-size
        assert alg.public_key_size == len(tc["pk"])
    assert alg.signature_size == scheme.signature_size
    if alg.signature_size is not None:
        assert len(tc["s"]) == len(tc["sWithContext"]) == alg.signature_size
    else:  # DER ECDSA component: variable, bounded
        assert len(tc["s"]) <= scheme.max_signature_size
    if scheme.private_key_size is not None:
        assert len(tc["sk"]) == scheme.private_key_size
    if alg.private_key_size is not None:
        assert alg.private_key_size == scheme.private_key_size
    assert registry.by_oid(scheme.oid) is alg


def test_message_representative_matches_draft_example() -> None:
    """The draft's "Message Representative Examples" (with ctx) for MLDSA65-ECDSA-P256-SHA512."""
    expected = bytes.fromhex(
        "436f6d706f73697465416c676f726974686d5369676e61747572657332303235"
        "434f4d505349472d4d4c44534136352d45434453412d503235362d534841353132"
        "080813061205162623"
        "0f89ee1fcb7b0a4f7809d1267a029719004c5a5e5ec323a7c3523a20974f9a3f"
        "202f56fadba4cd9e8d654ab9f2e96dc5c795ea176fa20ede8d854c342f903533"
    )
    scheme = composite.MLDSA65_ECDSA_P256_SHA512
    got = scheme.message_representative(bytes(range(10)), bytes.fromhex("0813061205162623"))
    assert got == expected
    assert scheme.label == b"COMPSIG-MLDSA65-ECDSA-P256-SHA512"


@pytest.fixture(scope="module", params=sorted(composite.SCHEMES))
def signed(request):
    """Fresh key pairs and a signature for every composite (RSA key generation included)."""
    scheme = composite.SCHEMES[request.param]
    key = scheme.generate()
    return scheme, key, scheme.generate(), key.sign(M, CTX)


def test_round_trip_and_forgeries(signed) -> None:
    scheme, key, other, sig = signed
    again = scheme.private_from_bytes(key.private_bytes())
    pub = scheme.public_from_bytes(key.public_key().public_bytes())
    assert again.public_key() == pub and pub.supports_context
    if scheme.private_key_size is not None:
        assert len(key.private_bytes()) == scheme.private_key_size
    if scheme.signature_size is not None:
        assert len(sig) == scheme.signature_size
    assert len(sig) <= scheme.max_signature_size
    pub.verify(sig, M, CTX)
    pub.verify(again.sign(M), M)
    split = scheme.mldsa.signature_size
    forgeries = [
        (_flip(sig, 0), M, CTX),  # ML-DSA part
        (_flip(sig, split - 1), M, CTX),
        (_flip(sig, split), M, CTX),  # traditional part
        (_flip(sig, -1), M, CTX),
        (sig, M + b"!", CTX),
        (sig, _flip(M, 0), CTX),
        (sig, M, b""),
        (sig, M, _flip(CTX, 0)),
        (sig[:-1], M, CTX),
        (sig + b"\x00", M, CTX),
        (sig[:split], M, CTX),  # ML-DSA component alone
        (b"", M, CTX),
    ]
    for s, m, c in forgeries:
        with pytest.raises(InvalidSignatureError):
            pub.verify(s, m, c)
    with pytest.raises(InvalidSignatureError):
        other.public_key().verify(sig, M, CTX)


def test_both_components_must_verify(signed) -> None:
    """Splicing a valid component from another signature (other message) must fail."""
    scheme, key, _, sig = signed
    pub = key.public_key()
    other_sig = key.sign(b"another message", CTX)
    split = scheme.mldsa.signature_size
    for spliced in (sig[:split] + other_sig[split:], other_sig[:split] + sig[split:]):
        with pytest.raises(InvalidSignatureError):
            pub.verify(spliced, M, CTX)
    # A plain ML-DSA signature of M by the component key (no M', no label) is no composite.
    mldsa_key, _ = key.components
    with pytest.raises(InvalidSignatureError):
        pub.verify(mldsa_key.sign(M, CTX) + sig[split:], M, CTX)


def test_context_limit(signed) -> None:
    _, key, _, sig = signed
    with pytest.raises(PqmlError, match="255"):
        key.sign(M, bytes(256))
    with pytest.raises(PqmlError, match="255"):
        key.public_key().verify(sig, M, bytes(256))


def test_malformed_keys(signed) -> None:
    scheme, key, _, _ = signed
    pk, sk = key.public_key().public_bytes(), key.private_bytes()
    split = scheme.mldsa.public_key_size
    bad_sks = [b"", sk[:32], sk[:-1], sk[:32] + b"\x30\x00", sk[:31] + sk[32:]]
    bad_pks = [b"", pk[:split], pk[:-1], pk[:split] + b"\x00", sk]
    if not trad_kind(scheme.algorithm).startswith("Ed"):  # any Ed seed (or y = 0) is valid
        bad_sks.append(sk[:32] + bytes(len(sk) - 32))
        bad_pks.append(pk[:split] + bytes(len(pk) - split))
    for bad in bad_sks:
        with pytest.raises(KeyFormatError):
            scheme.private_from_bytes(bad)
    for bad in bad_pks:
        with pytest.raises(KeyFormatError):
            scheme.public_from_bytes(bad)
    # A traditional key of another type, curve or size is refused, never reinterpreted.
    for tc_id, tc in TESTS.items():
        name = tc_id.removeprefix("id-")
        if name not in composite.SCHEMES or trad_kind(name) == trad_kind(scheme.algorithm):
            continue
        foreign = composite.SCHEMES[name]
        with pytest.raises(KeyFormatError):
            scheme.public_from_bytes(pk[:split] + tc["pk"][foreign.mldsa.public_key_size :])
        with pytest.raises(KeyFormatError):
            scheme.private_from_bytes(sk[:32] + tc["sk"][32:])


def test_only_the_drafts_component_encodings_are_accepted() -> None:
    """Other valid encodings of the same traditional key (PKCS#8, SPKI, ECPrivateKey with its
    publicKey field) are refused, so each composite key has exactly one byte form."""
    der, nocrypt = serialization.Encoding.DER, serialization.NoEncryption()
    tc, scheme = TESTS["id-MLDSA65-ECDSA-P256-SHA512"], composite.MLDSA65_ECDSA_P256_SHA512
    _, ec_key = scheme.private_from_bytes(tc["sk"]).components
    for fmt in (serialization.PrivateFormat.TraditionalOpenSSL, serialization.PrivateFormat.PKCS8):
        with pytest.raises(KeyFormatError):  # caught by the fixed length already
            scheme.private_from_bytes(tc["sk"][:32] + ec_key.private_bytes(der, fmt, nocrypt))
    compressed = ec_key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    with pytest.raises(KeyFormatError):
        scheme.public_from_bytes(tc["pk"][:1952] + compressed)

    tc, scheme = TESTS["id-MLDSA44-RSA2048-PSS-SHA256"], composite.MLDSA44_RSA2048_PSS_SHA256
    _, rsa_key = scheme.private_from_bytes(tc["sk"]).components
    pkcs8 = rsa_key.private_bytes(der, serialization.PrivateFormat.PKCS8, nocrypt)
    with pytest.raises(KeyFormatError, match="encoding"):
        scheme.private_from_bytes(tc["sk"][:32] + pkcs8)
    spki = rsa_key.public_key().public_bytes(der, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(KeyFormatError, match="encoding"):
        scheme.public_from_bytes(tc["pk"][:1312] + spki)

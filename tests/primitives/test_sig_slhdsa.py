"""SLH-DSA (FIPS 205), all 12 sets on pqcrypto, cross-checked with the pure-Python `slhdsa`.

The s-variants sign slowly (up to ~1.5 s), so each set makes one key pair and one signature
(module-scoped) and every check reuses them; only f-variants sign more than once.
"""

from __future__ import annotations

import pytest
import slhdsa as oracle

from pqml.errors import InvalidSignatureError, KeyFormatError, PqmlError
from pqml.primitives import registry
from pqml.primitives.sig import slhdsa

NAMES = [
    f"SLH-DSA-{h}-{bits}{v}"
    for h in ("SHA2", "SHAKE")
    for bits in (128, 192, 256)
    for v in ("s", "f")
]
MSG = b"long-term root: model index v1"
CTX = b"pqml/slh-dsa test"


def scheme_for(name: str) -> slhdsa.SLHDSAScheme:
    return getattr(slhdsa, name.replace("-", "_").upper())


def oracle_params(name: str):
    _, _, h, rest = name.split("-")
    return getattr(oracle, f"{h.lower()}_{rest}")


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


@pytest.fixture(scope="module", params=NAMES)
def signed(request):
    """(name, scheme, private key, signature over MSG with CTX): one costly signature per set."""
    scheme = scheme_for(request.param)
    key = scheme.generate()
    return request.param, scheme, key, key.sign(MSG, CTX)


def test_sizes_match_registry_and_fips205(signed) -> None:
    name, scheme, key, sig = signed
    alg = registry.get(name)
    assert alg.scheme() is scheme and scheme.algorithm == alg.name
    pk, sk = key.public_key().public_bytes(), key.private_bytes()
    assert (len(pk), len(sk), len(sig)) == (
        alg.public_key_size,
        alg.private_key_size,
        alg.signature_size,
    )
    assert sk[len(sk) // 2 :] == pk  # SK.seed ‖ SK.prf ‖ PK.seed ‖ PK.root


def test_round_trip_and_forgeries(signed) -> None:
    _, scheme, key, sig = signed
    pub = scheme.public_from_bytes(key.public_key().public_bytes())
    assert pub.supports_context
    pub.verify(sig, MSG, CTX)
    assert scheme.private_from_bytes(key.private_bytes()).public_key() == pub
    forgeries = [
        (_flip(sig, 0), MSG, CTX),
        (_flip(sig, len(sig) // 2), MSG, CTX),
        (_flip(sig, -1), MSG, CTX),
        (sig, MSG + b"!", CTX),
        (sig, _flip(MSG, 0), CTX),
        (sig, MSG, b""),
        (sig, MSG, _flip(CTX, 0)),
        (sig[:-1], MSG, CTX),
        (sig + b"\x00", MSG, CTX),
        (b"", MSG, CTX),
    ]
    for s, m, c in forgeries:
        with pytest.raises(InvalidSignatureError):
            pub.verify(s, m, c)
    for other in (_flip(pub.public_bytes(), 0), _flip(pub.public_bytes(), -1)):  # wrong key
        with pytest.raises(InvalidSignatureError):
            scheme.public_from_bytes(other).verify(sig, MSG, CTX)


def test_oracle_verifies_our_signature(signed) -> None:
    name, _, key, sig = signed
    pub = oracle.PublicKey.from_digest(key.public_key().public_bytes(), oracle_params(name))
    assert pub.verify_pure(MSG, sig, CTX)
    assert not pub.verify_pure(MSG, sig, b"")


def test_malformed_keys(signed) -> None:
    _, scheme, key, _ = signed
    pk, sk = key.public_key().public_bytes(), key.private_bytes()
    for bad in (b"", sk[:-1], sk + b"\x00", pk):
        with pytest.raises(KeyFormatError):
            scheme.private_from_bytes(bad)
    for bad in (b"", pk[:-1], pk + b"\x00", sk):
        with pytest.raises(KeyFormatError):
            scheme.public_from_bytes(bad)


@pytest.mark.parametrize(
    "name", ["SLH-DSA-SHA2-128f", "SLH-DSA-SHAKE-128f", "SLH-DSA-SHA2-192f", "SLH-DSA-SHAKE-256f"]
)
def test_cross_verify_both_ways_with_oracle(name: str) -> None:
    scheme, params = scheme_for(name), oracle_params(name)
    # Oracle key and signature, verified by us; then our signature with the oracle's key.
    pair = oracle.KeyPair.gen(params)
    ours = scheme.private_from_bytes(pair.sec.digest())
    assert ours.public_key().public_bytes() == pair.pub.digest()
    for ctx in (b"", CTX):
        ours.public_key().verify(pair.sign_pure(MSG, randomize=True, ctx=ctx), MSG, ctx)
        assert pair.verify_pure(MSG, ours.sign(MSG, ctx), ctx)
    with pytest.raises(InvalidSignatureError):  # pre-hash (HashSLH-DSA) is a different input
        ours.public_key().verify(pair.sign_hash(MSG, ctx=CTX), MSG, CTX)


def test_empty_context_signature_and_hedging() -> None:
    key = slhdsa.SLH_DSA_SHA2_128F.generate()
    a, b = key.sign(MSG), key.sign(MSG)
    assert a != b  # hedged: fresh opt_rand per signature
    key.public_key().verify(a, MSG)
    key.public_key().verify(b, MSG, b"")


def test_inconsistent_private_key_is_refused_at_signing() -> None:
    """pqcrypto signs with whatever PK.root the key holds; we must not emit such signatures."""
    key = slhdsa.SLH_DSA_SHAKE_128F.generate()
    sk = key.private_bytes()
    broken = slhdsa.SLH_DSA_SHAKE_128F.private_from_bytes(sk[:-1] + bytes([sk[-1] ^ 1]))
    with pytest.raises(KeyFormatError, match="inconsistent"):
        broken.sign(MSG)


def test_context_limit() -> None:
    key = slhdsa.SLH_DSA_SHA2_128F.generate()
    with pytest.raises(PqmlError, match="255"):
        key.sign(MSG, bytes(256))
    with pytest.raises(PqmlError, match="255"):
        key.public_key().verify(bytes(17088), MSG, bytes(256))
    key.public_key().verify(key.sign(MSG, bytes(255)), MSG, bytes(255))

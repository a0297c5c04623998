"""Falcon-512/1024 (round 3, compressed) via pypqc: round trips, forgeries, key handling."""

from __future__ import annotations

import pytest

pytest.importorskip("pqc", reason="Falcon needs the optional 'falcon' extra (pypqc)")

from pqml.errors import InvalidSignatureError, KeyFormatError, PqmlError
from pqml.primitives import registry
from pqml.primitives.sig import falcon

SCHEMES = {"Falcon-512": falcon.FALCON512, "Falcon-1024": falcon.FALCON1024}
NAMES = sorted(SCHEMES)


def _flip(data: bytes, index: int) -> bytes:
    out = bytearray(data)
    out[index] ^= 0x01
    return bytes(out)


@pytest.fixture(scope="module", params=NAMES)
def pair(request):
    scheme = SCHEMES[request.param]
    return request.param, scheme, scheme.generate(), scheme.generate()


def test_round_trip_and_stored_forms(pair) -> None:
    _, scheme, key, _ = pair
    sk = key.private_bytes()
    assert len(sk) == scheme.private_key_size == scheme.secret_key_size + scheme.public_key_size
    assert sk[scheme.secret_key_size :] == key.public_key().public_bytes()  # sk ‖ pk
    again = scheme.private_from_bytes(sk)
    pub = scheme.public_from_bytes(key.public_key().public_bytes())
    assert again.public_key() == pub and not pub.supports_context
    for msg in (b"", b"edge model", bytes(10_000)):
        sig = again.sign(msg)
        assert sig[0] == scheme.signature_header
        assert len(sig) <= scheme.produced_signature_size <= scheme.signature_size
        pub.verify(sig, msg)
        pub.verify(sig, msg, b"")


def test_forgeries_rejected(pair) -> None:
    _, scheme, key, other = pair
    msg = b"quantised weights"
    sig = key.sign(msg)
    pub = key.public_key()
    forgeries = [
        (_flip(sig, 0), msg),  # header
        (_flip(sig, 5), msg),  # nonce
        (_flip(sig, len(sig) // 2), msg),
        (_flip(sig, -1), msg),
        (sig, msg + b"!"),
        (sig, _flip(msg, 0)),
        (sig[:-1], msg),
        (sig + b"\x00", msg),
        (sig[:41], msg),
        (b"", msg),
        (sig + bytes(scheme.signature_size), msg),
    ]
    for s, m in forgeries:
        with pytest.raises(InvalidSignatureError):
            pub.verify(s, m)
    with pytest.raises(InvalidSignatureError):
        other.public_key().verify(sig, msg)


def test_context_is_refused(pair) -> None:
    _, _, key, _ = pair
    sig = key.sign(b"m")
    with pytest.raises(PqmlError, match="context"):
        key.sign(b"m", b"ctx")
    with pytest.raises(PqmlError, match="context"):
        key.public_key().verify(sig, b"m", b"ctx")


def test_malformed_keys(pair) -> None:
    _, scheme, key, _ = pair
    pk, sk = key.public_key().public_bytes(), key.private_bytes()
    wrong_pk_header = sk[: scheme.secret_key_size] + _flip(pk, 0)
    for bad in (b"", sk[:-1], sk + b"\x00", pk, _flip(sk, 0), wrong_pk_header):
        with pytest.raises(KeyFormatError):
            scheme.private_from_bytes(bad)
    for bad in (b"", pk[:-1], pk + b"\x00", _flip(pk, 0), sk):
        with pytest.raises(KeyFormatError):
            scheme.public_from_bytes(bad)


def test_mismatched_halves_are_refused_at_signing(pair) -> None:
    """The sk ‖ pk form could be spliced; signing verifies first and refuses."""
    _, scheme, key, other = pair
    spliced = key.private_bytes()[: scheme.secret_key_size] + other.public_key().public_bytes()
    with pytest.raises(KeyFormatError, match="inconsistent"):
        scheme.private_from_bytes(spliced).sign(b"m")


def test_matches_registry(pair) -> None:
    name, scheme, key, _ = pair
    alg = registry.get(name)
    assert alg.scheme() is scheme and scheme.algorithm == alg.name
    assert alg.public_key_size == scheme.public_key_size == len(key.public_key().public_bytes())
    assert alg.signature_size == scheme.signature_size
    assert alg.private_key_size == scheme.private_key_size  # PQClean sk ‖ pk

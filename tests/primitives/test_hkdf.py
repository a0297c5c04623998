"""HKDF helpers against RFC 5869's own test case and against each other."""

from __future__ import annotations

import pytest

from pqml.primitives.symmetric import hkdf_outputs, hkdf_sha256, hkdf_sha384


def test_rfc5869_test_case_1() -> None:
    ikm = bytes.fromhex("0b" * 22)
    salt = bytes.fromhex("000102030405060708090a0b0c")
    info = bytes.fromhex("f0f1f2f3f4f5f6f7f8f9")
    okm = bytes.fromhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
                        "34007208d5b887185865")
    assert hkdf_sha256(ikm, salt, info, 42) == okm
    assert hkdf_outputs("SHA-256", ikm, salt, [(info, 42), (b"other", 7)])[0] == okm


@pytest.mark.parametrize(("name", "full"), [("SHA-256", hkdf_sha256), ("SHA-384", hkdf_sha384)])
def test_one_extract_for_several_outputs_equals_full_hkdf_each(name, full) -> None:
    secret, salt = bytes(range(48)), b"enc and response nonce"
    wanted = [(b"key", 32), (b"nonce", 12), (b"", 1)]
    assert hkdf_outputs(name, secret, salt, wanted) == [
        full(secret, salt, info, length) for info, length in wanted]

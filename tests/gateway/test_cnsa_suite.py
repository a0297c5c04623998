"""The CNSA 2.0 suite: ML-KEM-1024 / HKDF-SHA384 / AES-256-GCM, with the response keys of
RFC 9458 §4.4 derived with the suite's own KDF (HKDF-SHA384), checked against the
draft-ietf-hpke-pq vector for exactly this HPKE suite and by independent recomputation."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest
from gateway_support import bhttp_request, demo_app, encapsulate

from pqml.formats.ohttp import RESPONSE_LABEL, RequestHeader, SymmetricSuite
from pqml.gateway import ohttp
from pqml.gateway.key_configs import CNSA_SUITES, GatewayKeys, suites_for
from pqml.primitives import hpke
from pqml.primitives.symmetric import hkdf_sha256, hkdf_sha384

from conftest import pyca_vector

CNSA = SymmetricSuite(hpke.KDFId.HKDF_SHA384, hpke.AEADId.AES_256_GCM)


def _vector() -> dict[str, Any]:
    vectors = json.loads(pyca_vector("HPKE", "hpke-pq-test-vectors.json").read_text())
    (found,) = [v for v in vectors if (v["mode"], v["kem_id"], v["kdf_id"], v["aead_id"])
                == (0, 0x0042, 0x0002, 0x0002)]
    return found


def test_hkdf_sha384_is_rfc5869_with_sha384() -> None:
    # RFC 5869 defines HKDF for any hash; recompute Extract and Expand with HMAC-SHA384
    import hashlib
    import hmac

    ikm, salt, info = os.urandom(48), os.urandom(16), b"ctx"
    prk = hmac.new(salt, ikm, hashlib.sha384).digest()
    t1 = hmac.new(prk, info + b"\x01", hashlib.sha384).digest()
    t2 = hmac.new(prk, t1 + info + b"\x02", hashlib.sha384).digest()
    assert hkdf_sha384(ikm, salt, info, 80) == (t1 + t2)[:80]
    assert hkdf_sha384(ikm, salt, info) == t1  # 48 bytes by default
    assert hkdf_sha384(ikm, salt, info, 32) != hkdf_sha256(ikm, salt, info, 32)


def test_cnsa_suite_is_mlkem1024_sha384_aes256() -> None:
    assert ohttp.CNSA_SUITE is ohttp.MLKEM1024
    assert (ohttp.MLKEM1024.kem_id, ohttp.MLKEM1024.kdf_id, ohttp.MLKEM1024.aead_id) == (
        0x0042, 0x0002, 0x0002)
    key = ohttp.ServerKey.generate(5, ohttp.MLKEM1024)
    assert key.config.suites == (CNSA,)
    assert suites_for("ML-KEM-1024") == CNSA_SUITES == (CNSA,)
    assert suites_for("X-Wing") != CNSA_SUITES


def test_hpke_suite_of_a_cnsa_header_matches_the_published_vector() -> None:
    """The HPKE context OHTTP sets up for a CNSA header reproduces the draft-ietf-hpke-pq
    vector for ML-KEM-1024 / HKDF-SHA384 / AES-256-GCM: key schedule, seal, export."""
    v = _vector()
    suite = ohttp.hpke_suite_of(RequestHeader(1, 0x0042, 0x0002, 0x0002))
    key, base_nonce, exporter = suite.key_schedule(
        0, bytes.fromhex(v["shared_secret"]), bytes.fromhex(v["info"]), b"", b"")
    assert key.hex() == v["key"] and base_nonce.hex() == v["base_nonce"]
    assert exporter.hex() == v["exporter_secret"]
    sender = suite._sender_from_secret(0, bytes.fromhex(v["shared_secret"]),
                                       bytes.fromhex(v["info"]))
    for item in v["encryptions"]:
        assert sender.seal(bytes.fromhex(item["pt"]), bytes.fromhex(item["aad"])).hex() \
            == item["ct"]
    for item in v["exports"]:
        got = sender.export(bytes.fromhex(item["exporter_context"]), item["L"])
        assert got.hex() == item["exported_value"]


def test_response_keys_use_hkdf_sha384() -> None:
    """RFC 9458 §4.4 with the suite's KDF: recompute the response key and nonce from the
    exported secret with HKDF-SHA384 (and see that SHA-256 would differ)."""
    key = ohttp.ServerKey.generate(2, ohttp.MLKEM1024)
    request, client = ohttp.encapsulate_request(key.config, b"prompt")
    assert request[:7] == RequestHeader(2, 0x0042, 2, 2).encode()
    _, server = key.decapsulate_request(request)
    nonce = os.urandom(32)  # max(Nn, Nk) for AES-256-GCM
    response = server.encapsulate_response(b"answer", _response_nonce=nonce)
    secret = client._context.export(RESPONSE_LABEL, 32)
    salt = client.enc + nonce
    aead_key = hkdf_sha384(secret, salt, b"key", 32)
    aead_nonce = hkdf_sha384(secret, salt, b"nonce", 12)
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    assert AESGCM(aead_key).decrypt(aead_nonce, response[32:], b"") == b"answer"
    assert hkdf_sha256(secret, salt, b"key", 32) != aead_key
    assert client.decapsulate_response(response) == b"answer"


def test_cnsa_chunked_round_trip() -> None:
    from pqml.formats import bhttp

    key = ohttp.ServerKey.generate(3, ohttp.MLKEM1024)
    body, read = encapsulate(key.config, b"prompt", chunked=True)
    from pqml.gateway.chunked import ChunkedRequestReader

    reader = ChunkedRequestReader([key])
    assert b"".join(reader.feed(body)) + reader.close() == b"prompt"
    assert reader.enc and body[:7] == RequestHeader(3, 0x0042, 2, 2).encode()
    writer = reader.response_writer()
    answer = (writer.start() + writer.seal(bhttp.response_head(200))
              + writer.seal(bhttp.content_chunk(b"tokens"))
              + writer.seal_final(bhttp.message_tail()))
    assert read(answer).content == b"tokens"


def test_a_sha384_request_to_a_sha256_key_is_a_key_mismatch() -> None:
    from pqml.gateway.errors import KeyConfigMismatchError

    xwing = ohttp.ServerKey.generate(1)
    cnsa = ohttp.ServerKey.generate(1, ohttp.MLKEM1024)
    forged = ohttp.ServerKey(1, xwing.private_key, (CNSA,))
    request, _ = ohttp.encapsulate_request(forged.config, b"x")
    with pytest.raises(KeyConfigMismatchError):
        xwing.decapsulate_request(request)  # the key accepts HKDF-SHA256 only
    with pytest.raises(KeyConfigMismatchError):
        cnsa.decapsulate_request(request)  # another KEM


def test_key_directory_defaults_to_cnsa_suites(tmp_path: Any) -> None:
    cnsa = GatewayKeys(tmp_path / "cnsa")
    assert cnsa.create("ML-KEM-1024").suites == (CNSA,)
    mixed = GatewayKeys(tmp_path / "mixed")
    mixed.create()
    assert mixed.rotate(algorithm="ML-KEM-1024").suites == (CNSA,)
    assert mixed.rotate().suites == (CNSA,)  # inherited from the newest key
    assert mixed.rotate(algorithm="X-Wing").suites == suites_for("X-Wing")


def test_middleware_answers_a_cnsa_request(tmp_path: Any) -> None:
    from test_middleware import call

    from pqml.gateway.middleware import OHTTPMiddleware

    directory = GatewayKeys(tmp_path / "keys")
    directory.create("ML-KEM-1024")
    app = OHTTPMiddleware(demo_app(), directory)
    config = app.keys.current().configs[0]
    assert config.suites == (CNSA,)
    body, read = encapsulate(config, bhttp_request("POST", "/echo", b"secret prompt"))
    status, _, out = call(app, "POST", body=body)
    assert status == 200
    assert read(out).content == b"secret prompt"

"""Interoperability with an independent OHTTP implementation: ``ohttpy`` (Lorica's Python
binding of Microsoft's fork of the Rust ``ohttp`` crate, the client of Azure's attested
OHTTP). It is classical only: DHKEM(P-384) / HKDF-SHA384 / AES-256-GCM.

What interoperates: its encapsulated requests are RFC 9458 requests, and pqml's gateway
code opens them (this test). What cannot: its responses use a pre-standard chunked variant
(LEB128 lengths, export label "message/bhttp response", a length after the final-chunk
indicator) that no chunked-OHTTP draft defines, so pqml, following draft-08, does not
answer it in that form. ohttpy's Rust client blocks while holding the GIL, so it runs in a
subprocess against a gateway double in this process.
"""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from pqml.formats import bhttp
from pqml.formats.errors import BinaryHTTPError
from pqml.formats.ohttp import SymmetricSuite, encode_key_configs
from pqml.gateway import ohttp
from pqml.primitives import hpke

pytest.importorskip("ohttpy", reason="ohttpy (test-only interop dependency) not installed")
hkdf_module = pytest.importorskip("cryptography.hazmat.primitives.kdf.hkdf")
hashes = pytest.importorskip("cryptography.hazmat.primitives.hashes")

P384 = int(hpke.KEMId.DHKEM_P384_HKDF_SHA384)
SHA384_AES256 = SymmetricSuite(int(hpke.KDFId.HKDF_SHA384), int(hpke.AEADId.AES_256_GCM))

CLIENT = """
import sys, httpx, ohttpy
client = httpx.Client(transport=ohttpy.Transport(key_config=bytes.fromhex(sys.argv[2])),
                      timeout=20)
try:
    client.post(sys.argv[1], content=b"prompt from ohttpy", headers={"x-model": "tiny"})
except Exception as exc:  # the gateway double answers 502: no ohttpy-style response
    print(type(exc).__name__, exc)
"""


def _hkdf_sha384(ikm: bytes, salt: bytes, info: bytes, length: int) -> bytes:
    return hkdf_module.HKDF(hashes.SHA384(), length, salt, info).derive(ikm)


@pytest.fixture
def p384_key(monkeypatch: pytest.MonkeyPatch) -> ohttp.ServerKey:
    # The primitives layer has no bare HKDF-SHA384 yet; the test lends one so the suite is
    # accepted (only the request direction is exercised here).
    monkeypatch.setitem(ohttp.RESPONSE_KDFS, SHA384_AES256.kdf_id, _hkdf_sha384)
    private = hpke.get_kem(P384).generate_key_pair()
    return ohttp.ServerKey(1, private, [SHA384_AES256], kem_id=P384, allow_legacy=True)


@pytest.fixture
def gateway(p384_key: ohttp.ServerKey) -> Iterator[tuple[str, list[object]]]:
    seen: list[object] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            try:
                inner, context = p384_key.decapsulate_request(body)
                seen.append((self.headers["content-type"], context.header, inner))
            except Exception as exc:
                seen.append(exc)
            self.send_response(502)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/score", seen
    finally:
        server.shutdown()
        server.server_close()


def test_ohttpy_request_opens_in_pqml_gateway(p384_key: ohttp.ServerKey,
                                              gateway: tuple[str, list[object]]) -> None:
    url, seen = gateway
    config = encode_key_configs([p384_key.config]).hex()
    done = subprocess.run([sys.executable, "-c", CLIENT, url, config], capture_output=True,
                          timeout=60, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert len(seen) == 1, seen
    media_type, header, inner = seen[0]  # type: ignore[misc]
    request = bhttp.decode_request(inner, drop_connection_fields=True)
    assert media_type == "message/ohttp-chunked-req"  # its label; the body is RFC 9458's
    assert (header.kem_id, header.kdf_id, header.aead_id) == (P384, 2, 2)
    assert request.method == "POST" and request.path == "/v1/score"
    assert request.content == b"prompt from ohttpy"
    assert (b"x-model", b"tiny") in request.headers
    # ohttpy copies HTTP/1.1's connection field inside, which RFC 9292 makes invalid:
    # strict decoding refuses it, the gateway's lenient mode drops it
    assert all(name != b"connection" for name, _ in request.headers)
    with pytest.raises(BinaryHTTPError, match="connection-specific"):
        bhttp.decode_request(inner)

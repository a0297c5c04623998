"""Encrypted inference over Oblivious HTTP (RFC 9458) with post-quantum HPKE — services layer.

Data flow of one request::

    client app ──httpx──▶ OHTTPTransport (client.py)
        │  Binary HTTP request (formats.bhttp) ─▶ encapsulate_request (ohttp.py):
        │  HPKE to the gateway's key config (X-Wing by default), fetched from the
        │  gateway, its ML-DSA signature checked against a pinned key, then cached
        ▼
    relay (sees only ciphertext, the client's address) ──▶ gateway (middleware.py, app.py)
        │  ServerKey.decapsulate_request (ohttp.py) with the key id's private key
        │  (key_configs.py serves and rotates the configs), replay check (replay.py)
        ▼
    target ASGI app / upstream HTTP service: plain request in, plain response out
        │  ServerContext.encapsulate_response: a key exported from the request's HPKE
        │  context, so only that client can read the answer; streamed answers (generated
        │  tokens) go out as chunked OHTTP (chunked.py), one sealed chunk per piece
        ▼
    relay ──▶ OHTTPTransport: ClientContext.decapsulate_response ─▶ httpx.Response

Modules: ``ohttp`` (the RFC 9458 crypto composition: suites, KeyConfig, ServerKey, the two
contexts), ``chunked`` (draft-ietf-ohai-chunked-ohttp incremental encoders and decoders),
``key_trust`` (the ML-DSA signature over the key configs, which config a client uses),
``client`` (httpx transports and a requests adapter), ``errors`` (protocol, client and
server errors); the server side adds ``middleware``, ``replay``, ``key_configs``,
``problems`` (RFC 9457 problem responses) and ``app``. Wire formats are pure and live
in :mod:`pqml.formats.bhttp` and :mod:`pqml.formats.ohttp`; every cryptographic step
composes :mod:`pqml.primitives.hpke`.
"""

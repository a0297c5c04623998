"""OAuth2 resource-server helpers: validate tokens from the corporate IdP."""

from __future__ import annotations

import functools
import json
import urllib.request

import jwt
from jwt import PyJWKClient

ALLOWED_ALGS = ["RS256", "ES256"]
JWKS_URL = "https://idp.example.internal/.well-known/jwks.json"


@functools.lru_cache(maxsize=1)
def _jwks_client() -> PyJWKClient:
    return PyJWKClient(JWKS_URL, cache_keys=True)


def validate(token: str, audience: str) -> dict:
    signing_key = _jwks_client().get_signing_key_from_jwt(token)
    return jwt.decode(
        token,
        signing_key.key,
        algorithms=ALLOWED_ALGS,
        audience=audience,
    )


def introspect(token: str, endpoint: str) -> dict:
    body = json.dumps({"token": token}).encode()
    req = urllib.request.Request(endpoint, data=body, method="POST")
    with urllib.request.urlopen(req, timeout=5) as resp:  # TLS via urllib defaults
        return json.load(resp)

"""OIDC id_token minting for the internal IdP, built on authlib."""

from authlib.jose import JsonWebKey, JsonWebSignature, jwt

SIGNING_KEY = JsonWebKey.generate_key("RSA", 3072, is_private=True)
ENC_KEY = JsonWebKey.generate_key("EC", "P-384", is_private=True)


def id_token(claims: dict) -> bytes:
    header = {"alg": "RS256", "kid": "idp-2025"}
    return jwt.encode(header, claims, SIGNING_KEY)


def detached_signature(payload: bytes) -> bytes:
    jws = JsonWebSignature(algorithms=["ES384"])
    return jws.serialize_compact({"alg": "ES384"}, payload, ENC_KEY)

"""Notebook-hub login through the company IdP (authlib + Starlette)."""

from authlib.integrations.starlette_client import OAuth
from authlib.jose import JsonWebKey, jwt

oauth = OAuth()
oauth.register(
    "corp",
    server_metadata_url="https://idp.example.internal/.well-known/openid-configuration",
    client_kwargs={"scope": "openid email", "code_challenge_method": "S256"},
)


def parse_id_token(token: str, jwks: dict) -> dict:
    keys = JsonWebKey.import_key_set(jwks)
    claims = jwt.decode(token, keys)
    claims.validate()
    return dict(claims)


def local_signing_key():
    return JsonWebKey.generate_key("OKP", "Ed25519", is_private=True)

"""Publish the service's JSON Web Key Set."""

from jwcrypto import jwk

STATIC_KEYS = [
    {
        "kty": "EC",
        "crv": "P-256",
        "kid": "2024-ec",
        "use": "sig",
        "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    },
    {
        "kty": "OKP",
        "crv": "Ed25519",
        "kid": "2025-ed",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
    },
]


def rotate() -> jwk.JWK:
    return jwk.JWK.generate(kty="RSA", size=2048, kid="2026-rsa")


def jwks() -> dict:
    return {"keys": STATIC_KEYS}

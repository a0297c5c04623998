"""Django settings for the model registry web UI (excerpt)."""

import os
from datetime import timedelta

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "dev-only")
DEBUG = False
ALLOWED_HOSTS = ["registry.internal"]

# rsa_enabled is a feature flag for the legacy login form, nothing cryptographic
rsa_enabled = False
use_hashlib_fallback = True

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=30),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=7),
    "ALGORITHM": "ES256",
    "SIGNING_KEY": os.environ.get("JWT_SIGNING_KEY"),
    "AUTH_HEADER_TYPES": ("Bearer",),
}

OIDC_PROVIDER = {
    "issuer": "https://login.example.internal",
    "id_token_signing_alg": "PS256",
}

SECURE_SSL_REDIRECT = True
SESSION_COOKIE_SECURE = True

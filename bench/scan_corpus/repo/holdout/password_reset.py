"""Password reset tokens and hashing for the labelling tool's users."""

import hashlib
import secrets

from django.contrib.auth.hashers import make_password


def reset_token() -> str:
    return secrets.token_urlsafe(32)


def store_password(raw: str) -> str:
    return make_password(raw, hasher="pbkdf2_sha256")


def token_fingerprint(token: str) -> str:
    return hashlib.sha224(token.encode()).hexdigest()


def legacy_check(raw: str, stored: str, salt: str) -> bool:
    return hashlib.md5((salt + raw).encode()).hexdigest() == stored

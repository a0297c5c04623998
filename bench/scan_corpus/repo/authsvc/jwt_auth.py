"""Token issuing and verification for the auth service."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

log = logging.getLogger(__name__)

JWT_ALGORITHM = "RS256"
ACCESS_TOKEN_TTL = dt.timedelta(minutes=15)
KEY_BITS = 2048


@dataclass
class TokenPair:
    access: str
    refresh: str


class TokenService:
    """Issues RS256 access tokens and HS256 refresh tokens."""

    def __init__(self, refresh_secret: bytes, private_pem: bytes | None = None) -> None:
        if private_pem is None:
            self._key = rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)
        else:
            self._key = serialization.load_pem_private_key(private_pem, password=None)
        self._refresh_secret = refresh_secret

    def public_pem(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def issue(self, subject: str) -> TokenPair:
        now = dt.datetime.now(dt.UTC)
        claims = {"sub": subject, "iat": now, "exp": now + ACCESS_TOKEN_TTL,
                  "jti": uuid.uuid4().hex}
        access = jwt.encode(claims, self._key, algorithm=JWT_ALGORITHM)
        refresh = jwt.encode({"sub": subject, "typ": "refresh"}, self._refresh_secret)
        log.debug("issued RS256 token for %s", subject)  # not a crypto call
        return TokenPair(access, refresh)

    def verify_access(self, token: str) -> dict:
        return jwt.decode(token, self._key.public_key(), algorithms=[JWT_ALGORITHM],
                          options={"require": ["exp", "sub"]})

    def verify_refresh(self, token: str) -> dict:
        return jwt.decode(token, self._refresh_secret, algorithms=["HS256"])

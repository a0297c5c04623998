"""Credential storage for the annotation tool's local accounts."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

import nacl.pwhash

ITERATIONS = 310_000


def hash_password(password: str) -> str:
    salt = os.urandom(16)
    dk = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, ITERATIONS)
    return "pbkdf2$" + base64.b64encode(salt + dk).decode()


def hash_password_v3(password: str) -> bytes:
    return nacl.pwhash.argon2id.str(password.encode())


def check_legacy(password: str, stored: str) -> bool:
    # v1 accounts: unsalted SHA-1, migrated on next login
    candidate = hashlib.sha1(password.encode()).hexdigest()
    return hmac.compare_digest(candidate, stored)

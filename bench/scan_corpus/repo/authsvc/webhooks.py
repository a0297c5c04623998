"""Verify webhook signatures from GitHub and the data-labelling vendor."""

import hashlib
import hmac


def verify_github(secret: bytes, body: bytes, header: str) -> bool:
    """GitHub sends X-Hub-Signature-256 (sha256) and the legacy X-Hub-Signature (sha1)."""
    if header.startswith("sha256="):
        digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest("sha256=" + digest, header)
    digest = hmac.new(secret, body, digestmod=hashlib.sha1).hexdigest()
    return hmac.compare_digest("sha1=" + digest, header)


def verify_vendor(secret: bytes, body: bytes, signature: str) -> bool:
    mac = hmac.new(secret, msg=body, digestmod="sha512")
    return hmac.compare_digest(mac.hexdigest(), signature)


def body_checksum(body: bytes) -> str:
    return hmac.digest(b"static-salt", body, "sha256").hex()

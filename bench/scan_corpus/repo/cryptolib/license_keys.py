"""Offline license files signed with python-rsa (kept for old installers)."""

import base64
import json

import rsa as r

LICENSE_KEY_BITS = 1024 * 2


def make_keys():
    (pub, priv) = r.newkeys(LICENSE_KEY_BITS)
    return pub, priv


def sign_license(data: dict, priv) -> str:
    blob = json.dumps(data, sort_keys=True).encode()
    sig = r.sign(blob, priv, "SHA-1")
    return base64.b64encode(blob + b"." + sig).decode()


def check_license(token: str, pub) -> bool:
    raw = base64.b64decode(token)
    blob, _, sig = raw.rpartition(b".")
    try:
        r.verify(blob, sig, pub)
    except r.VerificationError:
        return False
    return True


def load_public(pem: bytes):
    return r.PublicKey.load_pkcs1(pem)

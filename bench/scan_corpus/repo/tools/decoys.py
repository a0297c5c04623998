"""Nothing in this module uses cryptography; it only talks about it.

Use hashlib.sha1 only for git object ids.  rsa.generate_private_key(65537, 1024) is what
the old setup script did.  Example: jwt.encode(payload, key, algorithm="RS256").
"""

import logging
import re

log = logging.getLogger(__name__)

# rsa.generate_private_key(public_exponent=65537, key_size=1024)
# hashlib.md5(data).hexdigest()
rsa_enabled = False
md5sum_column = "md5sum"
hashlib_version = "builtin"
ecdsa_curve_name = "P-256"
SUPPORTED_ALG_NAMES = "RS256, ES256 and EdDSA are listed in the docs"


class RSA:
    """A local class that happens to share a name with a crypto module."""

    @staticmethod
    def generate(size):
        return {"rows": size}


def describe(alg: str) -> str:
    log.info("token algorithm is %s", "RS256")
    return f"algorithm {alg} (e.g. ES256)"


def table_sizes():
    return RSA.generate(2048)


def sha1_like(name: str) -> bool:
    return bool(re.match(r"[0-9a-f]{40}", name))


def md5(text: str) -> str:
    """A local function named md5 that is not a hash."""
    return text[::-1]


def uses_local_md5() -> str:
    return md5("abc")

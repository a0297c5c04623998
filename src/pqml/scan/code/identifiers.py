"""Algorithm *names* written in code: the JOSE, SSH, COSE and TLS registries, hash names,
and finite-field Diffie-Hellman group primes.

Libraries rarely call ``rsa.generate_private_key`` next to the place that decides the
algorithm: they keep tables (``{"RS256": RSAAlgorithm(...)}``), class attributes
(``name = "ssh-rsa"``, ``ALGORITHM = -7``), negotiation lists (``b"curve25519-sha256"``)
and constants (``P = 0xFFFF...``). This module answers one question for the analyzer --
*does this value name an algorithm, and which* -- from the public registries, never from
a list of files it was tuned on:

* JOSE (RFC 7518 / 8037 / 8812): JWS and JWE ``alg`` / ``enc`` names;
* SSH (RFC 4253 / 5656 / 8268 / 8332 / 8709 / 9142, OpenSSH): KEX, host-key, cipher and
  MAC names, including ``-cert-v01@openssh.com`` variants, ``gss-`` KEX names and the
  ``groupN-shaX`` rows DH tables are built from;
* COSE (RFC 9053 / 8812, IANA "COSE Algorithms"): negative integers, only where the
  name they are bound to says "alg";
* TLS (IANA cipher suite names ``TLS_..._WITH_...``);
* hash names written as strings (``"SHA-256"``, ``"sha384"``) -- exact names only;
* DH group primes: MODP (RFC 2409 / 3526) and FFDHE (RFC 7919) primes are safe primes
  whose top and bottom 64 bits are all ones; a big integer of a group size with that shape
  is a DH group whatever the spelling of the literal.

Only exact matches count, so a docstring or message that *mentions* RS256 is not one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from pqml.scan.algorithm_names import JOSE_ALGS


@dataclass(frozen=True, slots=True)
class Named:
    """What an identifier names."""

    algorithm: str
    parameter: str | None
    usage: str
    registry: str       # jose | ssh | cose | tls | hash | library


# JOSE names beyond the JWS/JWE core table in algorithm_names (key wrap with GCM, PBES2,
# the 192-bit composite, brainpool drafts, the AES-CBC pseudo names some libraries use).
_JOSE_EXTRA: dict[str, tuple[str, str | None, str]] = {
    "A128GCMKW": ("AES-128-GCM", None, "encrypt"), "A192GCMKW": ("AES-192-GCM", None, "encrypt"),
    "A256GCMKW": ("AES-256-GCM", None, "encrypt"),
    "A192CBC-HS384": ("AES-192-CBC", None, "encrypt"),
    "A128CBC": ("AES-128-CBC", None, "encrypt"), "A192CBC": ("AES-192-CBC", None, "encrypt"),
    "A256CBC": ("AES-256-CBC", None, "encrypt"),
    "PBES2-HS256+A128KW": ("PBKDF2-SHA-256", None, "kdf"),
    "PBES2-HS384+A192KW": ("PBKDF2-SHA-384", None, "kdf"),
    "PBES2-HS512+A256KW": ("PBKDF2-SHA-512", None, "kdf"),
    "ES521": ("ECDSA", "P-521", "sign"),
    "BP256R1": ("ECDSA", "brainpoolP256r1", "sign"),
    "BP384R1": ("ECDSA", "brainpoolP384r1", "sign"),
    "BP512R1": ("ECDSA", "brainpoolP512r1", "sign"),
}
JOSE_NAMES: dict[str, tuple[str, str | None, str]] = {**JOSE_ALGS, **_JOSE_EXTRA}

# IANA COSE Algorithms (negative values only: small positive ones are too common).
COSE_ALGS: dict[int, tuple[str, str | None, str]] = {
    -7: ("ECDSA", "P-256", "sign"), -35: ("ECDSA", "P-384", "sign"),
    -36: ("ECDSA", "P-521", "sign"), -47: ("ECDSA", "secp256k1", "sign"),
    -9: ("ECDSA", "P-256", "sign"), -51: ("ECDSA", "P-384", "sign"),
    -52: ("ECDSA", "P-521", "sign"),
    -8: ("Ed25519", None, "sign"), -19: ("Ed25519", None, "sign"), -53: ("Ed448", None, "sign"),
    -37: ("RSA-PSS", None, "sign"), -38: ("RSA-PSS", None, "sign"),
    -39: ("RSA-PSS", None, "sign"),
    -257: ("RSA", None, "sign"), -258: ("RSA", None, "sign"), -259: ("RSA", None, "sign"),
    -65535: ("RSA", None, "sign"),
    -40: ("RSA-OAEP", None, "encrypt"), -41: ("RSA-OAEP", None, "encrypt"),
    -42: ("RSA-OAEP", None, "encrypt"),
    -25: ("ECDH", None, "key-exchange"), -26: ("ECDH", None, "key-exchange"),
    -27: ("ECDH", None, "key-exchange"), -28: ("ECDH", None, "key-exchange"),
    -29: ("ECDH", None, "key-exchange"), -30: ("ECDH", None, "key-exchange"),
    -31: ("ECDH", None, "key-exchange"),
    -48: ("ML-DSA-44", None, "sign"), -49: ("ML-DSA-65", None, "sign"),
    -50: ("ML-DSA-87", None, "sign"),
}

# Constants exported by libraries whose value is not visible where they are imported.
LIBRARY_CONSTANTS: dict[str, tuple[str, str | None, str]] = {
    "oauthlib.oauth1.SIGNATURE_HMAC": ("HMAC-SHA-1", None, "mac"),
    "oauthlib.oauth1.SIGNATURE_HMAC_SHA1": ("HMAC-SHA-1", None, "mac"),
    "oauthlib.oauth1.SIGNATURE_HMAC_SHA256": ("HMAC-SHA-256", None, "mac"),
    "oauthlib.oauth1.SIGNATURE_HMAC_SHA512": ("HMAC-SHA-512", None, "mac"),
    "oauthlib.oauth1.SIGNATURE_RSA": ("RSA", None, "sign"),
    "oauthlib.oauth1.SIGNATURE_RSA_SHA1": ("RSA", None, "sign"),
    "oauthlib.oauth1.SIGNATURE_RSA_SHA256": ("RSA", None, "sign"),
    "oauthlib.oauth1.SIGNATURE_RSA_SHA512": ("RSA", None, "sign"),
}

_HASH_STRING = re.compile(
    r"(?i)sha-?(?:1|224|256|384|512)|sha-?512[/_-](?:224|256)|sha3[-_](?:224|256|384|512)"
    r"|md5|blake2[bs]")
_SSH_SHAPE = re.compile(r"[a-z0-9][a-z0-9.+-]*(?:@[a-z0-9.-]+)?")
_SSH_DH_ROW = re.compile(r"(?:diffie-hellman-)?group(\d+)-sha(\d+)(?:@[a-z0-9.-]+)?")
_HASH_BITS = {"1": "SHA-1", "224": "SHA-224", "256": "SHA-256", "384": "SHA-384",
              "512": "SHA-512"}

#: Sizes (bits) of the MODP and FFDHE groups.
DH_GROUP_BITS = frozenset({768, 1024, 1536, 2048, 3072, 4096, 6144, 8192})
_ONES64 = (1 << 64) - 1
#: Smallest integer worth a look as a group prime.
BIG_INT = 1 << 700


@lru_cache(maxsize=4096)
def name_of(value: str) -> Named | None:
    """The algorithm a string names exactly, or None."""
    if not 2 < len(value) <= 80:
        return None
    jose = JOSE_NAMES.get(value)
    if jose is not None:
        return Named(*jose, "jose")
    if _HASH_STRING.fullmatch(value):
        from pqml.scan.algorithm_names import hash_name

        h = hash_name(value)
        return Named(h, None, "digest", "hash") if h else None
    if value.startswith("TLS_") and "_WITH_" in value:
        from pqml.scan.files.cipher_suites import parse_cipher_string

        suites = parse_cipher_string(value)
        kex = next((s for s in suites if s.usage in ("key-exchange", "sign")), None)
        if kex is not None:
            return Named(kex.algorithm, kex.parameter, kex.usage, "tls")
        return None
    if "-" in value and _SSH_SHAPE.fullmatch(value):
        return _ssh_name(value)
    return None


def _ssh_name(value: str) -> Named | None:
    from pqml.scan.files.cipher_suites import ssh_algorithm

    name = value.removeprefix("gss-")
    m = _SSH_DH_ROW.fullmatch(name)
    if m is not None:
        from pqml.scan.files.cipher_suites import _DH_GROUPS

        bits = _DH_GROUPS.get(f"group{m.group(1)}")
        if bits is None or m.group(2) not in _HASH_BITS:
            return None
        return Named("DH", bits, "key-exchange", "ssh")
    s = ssh_algorithm(name)
    if s is None:
        return None
    return Named(s.algorithm, s.parameter, s.usage, "ssh")


# SSH name prefixes completed at run time (``"ecdsa-sha2-" + curve_id``).
_SSH_PREFIXES: dict[str, tuple[str, str]] = {
    "ecdsa-sha2-": ("ECDSA", "sign"), "sk-ecdsa-sha2-": ("ECDSA", "sign"),
    "ecdh-sha2-": ("ECDH", "key-exchange"), "rsa-sha2-": ("RSA", "sign"),
    "diffie-hellman-group-exchange-": ("DH", "key-exchange"),
    "diffie-hellman-": ("DH", "key-exchange"),
}


def prefix_of(value: str) -> Named | None:
    """An SSH name prefix that code completes (``b"ecdh-sha2-" + curve``), or None."""
    entry = _SSH_PREFIXES.get(value.removeprefix("gss-"))
    return Named(entry[0], None, entry[1], "ssh") if entry is not None else None


def cose_of(value: int) -> Named | None:
    entry = COSE_ALGS.get(value)
    return Named(*entry, "cose") if entry is not None else None


def dh_group_bits(value: int) -> int | None:
    """Bit size of ``value`` if it has the shape of a MODP / FFDHE group prime."""
    bits = value.bit_length()
    if bits not in DH_GROUP_BITS:
        return None
    if value & _ONES64 != _ONES64 or value >> (bits - 64) != _ONES64:
        return None
    middle = (value >> 64) & ((1 << (bits - 128)) - 1)
    if middle == (1 << (bits - 128)) - 1:  # 2**n - 1: all ones is no prime of this shape
        return None
    return bits

"""Is a file encrypted, and to which kinds of recipient? Read from its header, keyless.

Both pqml's native ``pqml/v1`` format and age v1 start with a text header in the same
grammar (C2SP age spec): a version line, one ``-> TYPE args`` stanza per recipient, then
``--- MAC``. The stanza types say which KEM protects the file key -- ``X25519`` (quantum-
vulnerable: harvest now, decrypt later), ``mlkem768x25519`` (X-Wing), ``scrypt`` (a
passphrase) -- so the scanner reports them without any key. Armored age files are
base64-decoded first. Nothing is decrypted.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field

PQML_MAGIC = b"pqml/v1\n"
AREA_STANZA = "header-area"  # pqml.formats.pqml_v1.header_area.STANZA_TYPE (not imported:
#                              scanning loads no cryptography)
AGE_MAGIC = b"age-encryption.org/v1\n"
AGE_ARMOR = b"-----BEGIN AGE ENCRYPTED FILE-----"

# Stanza types of age and its plugins that the registry does not name directly.
_STANZA_ALGORITHMS = {
    "x25519": "X25519", "mlkem768x25519": "X-Wing", "scrypt": "scrypt",
    "argon2id": "Argon2id", "ssh-rsa": "RSA-OAEP", "ssh-ed25519": "X25519",
    "piv-p256": "ECDH", "yubikey": "ECDH", "tpm": "ECDH", "se": "ECDH",
}


@dataclass(slots=True)
class EncryptionInfo:
    format: str                      # "pqml/v1" or "age"
    armored: bool
    stanzas: list[str] = field(default_factory=list)    # stanza types, in order
    kems: list[str] = field(default_factory=list)       # distinct algorithm names
    complete: bool = True            # the header's "---" line was seen

    def as_dict(self) -> dict:
        return {"format": self.format, "armored": self.armored, "stanzas": self.stanzas,
                "kems": self.kems, "header_complete": self.complete}


def stanza_algorithm(stanza_type: str) -> str:
    """The KEM (or passphrase KDF) a stanza type names; the type itself if unknown."""
    low = stanza_type.lower()
    if low in _STANZA_ALGORITHMS:
        return _STANZA_ALGORITHMS[low]
    if low.startswith("age-plugin-") or low.startswith("plugin-"):
        return stanza_type
    from pqml.primitives import registry
    from pqml.primitives.errors import UnknownAlgorithmError

    for candidate in (stanza_type, low.removeprefix("hpke-"), low.removeprefix("pqml-"),
                      low.removeprefix("pqml/")):
        try:
            return registry.get(candidate).name
        except UnknownAlgorithmError:
            continue
    return stanza_type


def is_encrypted_header(head: bytes) -> bool:
    return head.startswith((PQML_MAGIC, AGE_MAGIC, AGE_ARMOR))


def parse_header(head: bytes) -> EncryptionInfo | None:
    """Stanza types from the first bytes of a pqml/v1 or age file (binary or armored)."""
    armored = head.startswith(AGE_ARMOR)
    if armored:
        body = head[len(AGE_ARMOR):].split(b"-----END AGE ENCRYPTED FILE-----")[0]
        b64 = b"".join(ln.strip() for ln in body.splitlines())
        b64 = b64[: len(b64) - len(b64) % 4]
        try:
            head = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            return None
    if head.startswith(PQML_MAGIC):
        fmt = "pqml/v1"
    elif head.startswith(AGE_MAGIC):
        fmt = "age"
    else:
        return None
    info = EncryptionInfo(fmt, armored, complete=False)
    for raw in head.split(b"\n")[1:]:
        if raw.startswith(b"--- ") or raw == b"---":
            info.complete = True
            break
        if raw.startswith(b"-> "):
            parts = raw[3:].split(b" ")
            stanza = parts[0].decode("ascii", "replace") if parts and parts[0] else "?"
            if fmt == "pqml/v1" and stanza == AREA_STANZA:
                continue  # layout (the reserved header area), not a recipient
            info.stanzas.append(stanza)
            alg = stanza_algorithm(stanza)
            if alg not in info.kems:
                info.kems.append(alg)
    return info

"""age v1 (C2SP age spec): read and write, streaming, with X25519, scrypt, the SSH
(ssh-ed25519, ssh-rsa) and the post-quantum mlkem768x25519 (X-Wing, age >= 1.3) recipient
types, armor included.

Laid out like age itself: ``header`` (grammar and MAC, reusable with another version
line), ``stream`` (the STREAM payload), ``armor``, one module per stanza type
(``x25519``, ``scrypt``, ``mlkem768x25519``, ``ssh_ed25519``, ``ssh_rsa``), ``recipients``
(what callers may pass), ``encrypted_identity`` (passphrase-encrypted identity files) and
``file`` (whole files and file-like readers/writers). Everything is pure: file-like
objects in and out, no file-system access.

    >>> from pqml.formats import age
    >>> age.encrypt(["age1pq1…"], src, dst, armor=True)
    >>> age.decrypt(["AGE-SECRET-KEY-PQ-1…"], src, dst)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Names load their module on first use: a pqml/v1 command that only needs the header
# grammar (age.header) or the reader (age._io) then skips the stanza types, armor and
# STREAM modules (start-up is part of every CLI run).
_LAZY = {
    "AGE_V1": "header",
    "AgeError": "errors",
    "AgeReader": "file",
    "AgeWriter": "file",
    "ArmorError": "errors",
    "Header": "header",
    "HeaderError": "errors",
    "HeaderMACError": "errors",
    "Identity": "recipients",
    "MLKEM768X25519Identity": "mlkem768x25519",
    "MLKEM768X25519Recipient": "mlkem768x25519",
    "NoIdentityMatchError": "errors",
    "PayloadError": "errors",
    "Recipient": "recipients",
    "RecipientError": "errors",
    "SSHEd25519Identity": "ssh_ed25519",
    "SSHEd25519Recipient": "ssh_ed25519",
    "SSHRSAIdentity": "ssh_rsa",
    "SSHRSARecipient": "ssh_rsa",
    "ScryptIdentity": "scrypt",
    "ScryptRecipient": "scrypt",
    "Stanza": "header",
    "X25519Identity": "x25519",
    "X25519Recipient": "x25519",
    "decrypt": "file",
    "decrypt_bytes": "file",
    "encrypt": "file",
    "encrypt_bytes": "file",
    "identity_for": "recipients",
    "open_source": "file",
    "parse_header": "header",
    "read_header": "header",
    "recipient_for": "recipients",
    "unwrap_file_key": "file",
    "wrap_file_key": "file",
}

if TYPE_CHECKING:
    from pqml.formats.age.errors import (
        AgeError,
        ArmorError,
        HeaderError,
        HeaderMACError,
        NoIdentityMatchError,
        PayloadError,
        RecipientError,
    )
    from pqml.formats.age.file import (
        AgeReader,
        AgeWriter,
        decrypt,
        decrypt_bytes,
        encrypt,
        encrypt_bytes,
        open_source,
        unwrap_file_key,
        wrap_file_key,
    )
    from pqml.formats.age.header import AGE_V1, Header, Stanza, parse_header, read_header
    from pqml.formats.age.mlkem768x25519 import MLKEM768X25519Identity, MLKEM768X25519Recipient
    from pqml.formats.age.recipients import Identity, Recipient, identity_for, recipient_for
    from pqml.formats.age.scrypt import ScryptIdentity, ScryptRecipient
    from pqml.formats.age.ssh_ed25519 import SSHEd25519Identity, SSHEd25519Recipient
    from pqml.formats.age.ssh_rsa import SSHRSAIdentity, SSHRSARecipient
    from pqml.formats.age.x25519 import X25519Identity, X25519Recipient


_SUBMODULES = {"armor", "errors", "file", "header", "mlkem768x25519", "recipients", "scrypt",
               "ssh_ed25519", "ssh_rsa", "stream", "x25519", "encrypted_identity"}


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:  # ``age.armor`` without importing it first, as before
        return importlib.import_module(f"{__name__}.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AGE_V1",
    "AgeError",
    "AgeReader",
    "AgeWriter",
    "ArmorError",
    "Header",
    "HeaderError",
    "HeaderMACError",
    "Identity",
    "MLKEM768X25519Identity",
    "MLKEM768X25519Recipient",
    "NoIdentityMatchError",
    "PayloadError",
    "Recipient",
    "RecipientError",
    "SSHEd25519Identity",
    "SSHEd25519Recipient",
    "SSHRSAIdentity",
    "SSHRSARecipient",
    "ScryptIdentity",
    "ScryptRecipient",
    "Stanza",
    "X25519Identity",
    "X25519Recipient",
    "decrypt",
    "decrypt_bytes",
    "encrypt",
    "encrypt_bytes",
    "identity_for",
    "open_source",
    "parse_header",
    "read_header",
    "recipient_for",
    "unwrap_file_key",
    "wrap_file_key",
]

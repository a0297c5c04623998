"""age v1 (C2SP age spec): read and write, streaming, with X25519, scrypt and the
post-quantum mlkem768x25519 (X-Wing, age >= 1.3) recipient types, armor included.

Laid out like age itself: ``header`` (grammar and MAC, reusable with another version
line), ``stream`` (the STREAM payload), ``armor``, one module per stanza type
(``x25519``, ``scrypt``, ``mlkem768x25519``), ``recipients`` (what callers may pass) and
``file`` (whole files and file-like readers/writers). Everything is pure: file-like
objects in and out, no file-system access.

    >>> from pqml.formats import age
    >>> age.encrypt(["age1pq1…"], src, dst, armor=True)
    >>> age.decrypt(["AGE-SECRET-KEY-PQ-1…"], src, dst)
"""

from __future__ import annotations

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
from pqml.formats.age.x25519 import X25519Identity, X25519Recipient

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

"""pqml/v1: the native encrypted-file format (DESIGN.md §5.2, docs/FORMAT.md).

An age-grammar header (version line ``pqml/v1``, one HPKE stanza per recipient or one
Argon2id passphrase stanza, header MAC as age's) over a C2SP chunked-encryption payload
(AES-256-GCM, key-committing, random access in 16 KiB chunks). Laid out like the age
package: ``hpke_stanza`` (one stanza type per KEM), ``argon2id`` (passphrase),
``recipients`` (what callers may pass, and the mixing rules), ``header_area`` (the two
fixed-size header slots that let rekey rewrite in place), ``file`` (header, payload,
streaming). Pure: file-like objects in and out. Errors are the age package's classes
(HeaderError, HeaderMACError, NoIdentityMatchError, PayloadError), since the failure
classes are the same.
"""

from __future__ import annotations

from pqml.formats.age.errors import (
    HeaderError,
    HeaderMACError,
    NoIdentityMatchError,
    PayloadError,
    RecipientError,
)
from pqml.formats.pqml_v1.argon2id import Argon2idIdentity, Argon2idRecipient, Argon2Params
from pqml.formats.pqml_v1.file import (
    FILE_KEY_SIZE,
    MAGIC,
    PAYLOAD_CONTEXT,
    VERSION,
    PqmlWriter,
    chunk_cipher,
    decrypt,
    decrypt_bytes,
    decrypt_payload,
    encrypt,
    encrypt_bytes,
    encrypt_payload,
    iter_payload,
    marshal_header,
    open_header,
    payload_key,
    read_header,
    rewrap,
    unwrap_file_key,
    wrap_file_key,
)
from pqml.formats.pqml_v1.header_area import Located
from pqml.formats.pqml_v1.hpke_stanza import TYPES, HPKEIdentity, HPKERecipient, KEMType
from pqml.formats.pqml_v1.recipients import (
    check_stanzas,
    describe_stanza,
    identities_for,
    identity_for,
    recipient_for,
    recipients_for,
)

__all__ = [
    "FILE_KEY_SIZE",
    "MAGIC",
    "PAYLOAD_CONTEXT",
    "TYPES",
    "VERSION",
    "Argon2Params",
    "Argon2idIdentity",
    "Argon2idRecipient",
    "HPKEIdentity",
    "HPKERecipient",
    "HeaderError",
    "HeaderMACError",
    "KEMType",
    "Located",
    "NoIdentityMatchError",
    "PayloadError",
    "PqmlWriter",
    "RecipientError",
    "check_stanzas",
    "chunk_cipher",
    "decrypt",
    "decrypt_bytes",
    "decrypt_payload",
    "describe_stanza",
    "encrypt",
    "encrypt_bytes",
    "encrypt_payload",
    "identities_for",
    "identity_for",
    "iter_payload",
    "marshal_header",
    "open_header",
    "payload_key",
    "read_header",
    "recipient_for",
    "recipients_for",
    "rewrap",
    "unwrap_file_key",
    "wrap_file_key",
]

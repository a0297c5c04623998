"""Passphrase-encrypted identity files, as ``age -d -i key.age`` takes them.

An identity file may itself be an age file, binary or armored, encrypted to a passphrase
(``age -p -o key.age key.txt``). As age does, it is recognised by its first bytes, must
carry exactly one stanza, of type scrypt (otherwise: "encrypted with age but not with a
passphrase"), is read whole up to 16 MiB (age's limit) and is decrypted in memory; the
caller then parses the age identity file inside. The scrypt work factor is bounded as for
any age file, so a hostile identity file cannot demand minutes of CPU.
"""

from __future__ import annotations

import io

from pqml.formats.age.errors import AgeError, NoIdentityMatchError
from pqml.formats.errors import WrongKeyPassphraseError
from pqml.primitives.errors import KeyFormatError

SIZE_LIMIT = 16 * 1024 * 1024
_PREFIXES = (b"age-encryption", b"-----BEGIN AGE")  # what age peeks at, byte for byte


def is_encrypted_identity_file(data: bytes) -> bool:
    """True if ``data`` is an age file (binary or armored), which as an identity file
    means a passphrase-encrypted one."""
    return data.startswith(_PREFIXES)


def check(data: bytes) -> None:
    """KeyFormatError unless ``data`` is a well-formed age header with one scrypt stanza
    (checked before a passphrase is asked for)."""
    from pqml.formats.age import file, scrypt
    from pqml.formats.age.header import read_header

    if len(data) > SIZE_LIMIT:
        raise KeyFormatError(f"encrypted identity file is over {SIZE_LIMIT >> 20} MiB")
    try:
        header = read_header(file.open_source(io.BytesIO(data), armor=_armored(data)))
    except AgeError as exc:
        raise KeyFormatError(f"encrypted identity file: {exc}") from None
    if [s.type for s in header.stanzas] != [scrypt.STANZA_TYPE]:
        raise KeyFormatError("identity file is encrypted with age but not with a "
                             "passphrase (only a passphrase-encrypted one can be read)")


def _armored(data: bytes) -> bool:
    return data.startswith(_PREFIXES[1])


def decrypt(data: bytes, passphrase: bytes) -> bytes:
    """The identity file inside ``data``. WrongKeyPassphraseError for a wrong passphrase,
    KeyFormatError for anything else wrong (never the content, which is secret)."""
    from pqml.formats.age import file, scrypt

    check(data)
    try:
        reader = file.AgeReader([scrypt.ScryptIdentity(passphrase)], io.BytesIO(data),
                                armor=_armored(data))
        return reader.read()
    except NoIdentityMatchError:
        raise WrongKeyPassphraseError("wrong passphrase for this encrypted identity "
                                      "file") from None
    except AgeError as exc:
        raise KeyFormatError(f"encrypted identity file: {exc}") from None

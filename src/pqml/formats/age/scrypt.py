"""The age ``scrypt`` (passphrase) recipient stanza.

::

    -> scrypt base64(salt, 16 bytes) log2(N)
    base64(ChaCha20-Poly1305(wrap key, nonce = 0^12, file key))

    wrap key = scrypt(N, r = 8, p = 1, dkLen = 32,
                      S = "age-encryption.org/v1/scrypt" || salt, P = passphrase)

log2(N) is decimal without leading zeros (``^[1-9][0-9]*$``). Decryption refuses work
factors above a limit (2^22 by default, as age) so a hostile file cannot demand minutes of
CPU and gigabytes of memory. A scrypt stanza must be the only stanza in its header: a
passphrase-encrypted file then implies that whoever knew the passphrase wrote it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence

from pqml.formats.age.errors import HeaderError
from pqml.formats.age.header import Stanza, b64decode_exact, b64encode, stanzas_of
from pqml.formats.age.stream import FILE_KEY_SIZE
from pqml.primitives import symmetric
from pqml.primitives.errors import DecryptionError

STANZA_TYPE = "scrypt"
SALT_LABEL = b"age-encryption.org/v1/scrypt"
SALT_SIZE = 16
DEFAULT_WORK_FACTOR = 18  # age's default: about 1 s and 256 MiB
DEFAULT_MAX_WORK_FACTOR = 22
_ZERO_NONCE = bytes(12)
_BODY_SIZE = FILE_KEY_SIZE + symmetric.ChaCha20Poly1305Key.tag_size
_DECIMAL = re.compile(r"[1-9][0-9]*")


def _passphrase(value: str | bytes) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if not data:
        raise ValueError("the passphrase must not be empty")
    return data


def _wrap_key(passphrase: bytes, salt: bytes, log_n: int) -> symmetric.ChaCha20Poly1305Key:
    return symmetric.ChaCha20Poly1305Key(symmetric.scrypt(passphrase, SALT_LABEL + salt, log_n))


def check_alone(stanzas: Sequence[Stanza]) -> None:
    """Raise HeaderError if a scrypt stanza shares the header with any other stanza."""
    if len(stanzas) > 1 and any(s.type == STANZA_TYPE for s in stanzas):
        raise HeaderError("a scrypt stanza must be the only stanza in the header")


class ScryptRecipient:
    """Wraps the file key under a passphrase; must be the file's only recipient."""

    post_quantum = True  # symmetric: Grover only halves the passphrase's entropy
    must_be_alone = True

    def __init__(self, passphrase: str | bytes, work_factor: int = DEFAULT_WORK_FACTOR) -> None:
        if not 1 <= work_factor <= 30:
            raise ValueError(f"scrypt work factor must be in 1..30, got {work_factor}")
        self._passphrase = _passphrase(passphrase)
        self.work_factor = work_factor

    def wrap(self, file_key: bytes) -> list[Stanza]:
        salt = os.urandom(SALT_SIZE)
        body = _wrap_key(self._passphrase, salt, self.work_factor).seal(_ZERO_NONCE, file_key)
        return [Stanza(STANZA_TYPE, (b64encode(salt), str(self.work_factor)), body)]

    def __repr__(self) -> str:  # never show the passphrase
        return f"<age scrypt recipient, work factor 2^{self.work_factor}>"


class ScryptIdentity:
    """Unwraps a ``scrypt`` stanza with a passphrase, refusing work factors above the limit."""

    def __init__(
        self, passphrase: str | bytes, max_work_factor: int = DEFAULT_MAX_WORK_FACTOR
    ) -> None:
        self._passphrase = _passphrase(passphrase)
        self.max_work_factor = max_work_factor

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        check_alone(stanzas)
        for stanza in stanzas_of(stanzas, STANZA_TYPE, 2, "scrypt"):
            salt = b64decode_exact(stanza.args[0], SALT_SIZE, "scrypt stanza salt")
            if not _DECIMAL.fullmatch(stanza.args[1]):
                raise HeaderError("scrypt work factor is not a decimal number without "
                                  "leading zeros")
            arg = stanza.args[1]
            if len(arg) > 3 or int(arg) > self.max_work_factor:  # len check: no huge ints
                shown = f"work factor 2^{arg}" if len(arg) <= 3 else "work factor"
                raise HeaderError(f"scrypt {shown} exceeds the limit 2^{self.max_work_factor}")
            log_n = int(arg)
            if len(stanza.body) != _BODY_SIZE:
                raise HeaderError(f"scrypt stanza body must be {_BODY_SIZE} bytes")
            try:
                return _wrap_key(self._passphrase, salt, log_n).open(_ZERO_NONCE, stanza.body)
            except DecryptionError:
                return None  # wrong passphrase (or work factor): not a header error
        return None

    def __repr__(self) -> str:
        return "<age scrypt identity>"

"""The pqml/v1 passphrase stanza: Argon2id (RFC 9106) wrapping the file key.

::

    -> argon2id base64(salt, 16 bytes) T M P
    base64(AES-256-GCM(wrap key, nonce = 0^12, file key))      (48 bytes)

    wrap key = Argon2id(P = passphrase, S = "pqml/v1/argon2id" || salt, t = T,
                        m = M KiB, p = P lanes, tag length 32, no secret, no data)

T, M and P are decimal without leading zeros. Argon2id rather than age's scrypt because
pyca/cryptography 50 provides it and RFC 9106 makes it the recommended password hash; the
defaults are RFC 9106 §4's second recommended option (t = 3, m = 64 MiB, p = 4). The label
goes into the salt (as age does for scrypt) so implementations whose Argon2 API has no
associated-data input can read the format. Decryption refuses costs above limits (1 GiB,
t = 10, p = 16 by default) so a hostile file cannot demand unbounded memory or time.

A passphrase stanza must be the only stanza of its header: otherwise anyone holding a
public-key identity could rewrite a "passphrase-encrypted" file, breaking the guarantee
that only the passphrase holder made it (age's rule for scrypt).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pqml.formats.age.errors import HeaderError
from pqml.formats.age.header import Stanza, b64decode_exact, b64encode
from pqml.primitives import symmetric
from pqml.primitives.errors import DecryptionError

STANZA_TYPE = "argon2id"
SALT_LABEL = b"pqml/v1/argon2id"
SALT_SIZE = 16
FILE_KEY_SIZE = 32
_BODY_SIZE = FILE_KEY_SIZE + symmetric.AES256GCMKey.tag_size
_ZERO_NONCE = bytes(12)
_DECIMAL = re.compile(r"[1-9][0-9]{0,9}")


@dataclass(frozen=True)
class Argon2Params:
    iterations: int = 3
    memory_kib: int = 64 * 1024
    lanes: int = 4

    def check(self) -> None:
        if not 1 <= self.lanes <= 255:
            raise ValueError("Argon2id lanes must be in 1..255")
        if self.iterations < 1:
            raise ValueError("Argon2id iterations must be at least 1")
        if self.memory_kib < 8 * self.lanes:
            raise ValueError("Argon2id memory must be at least 8 KiB per lane")


DEFAULT_PARAMS = Argon2Params()
DEFAULT_LIMITS = Argon2Params(iterations=10, memory_kib=1024 * 1024, lanes=16)


def _passphrase(value: str | bytes) -> bytes:
    data = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if not data:
        raise ValueError("the passphrase must not be empty")
    return data


def _wrap_key(passphrase: bytes, salt: bytes, params: Argon2Params) -> symmetric.AES256GCMKey:
    return symmetric.AES256GCMKey(symmetric.argon2id(
        passphrase, SALT_LABEL + salt, params.iterations, params.memory_kib, params.lanes))


def check_alone(stanzas: Sequence[Stanza]) -> None:
    if len(stanzas) > 1 and any(s.type == STANZA_TYPE for s in stanzas):
        raise HeaderError("an argon2id (passphrase) stanza must be the only stanza in the header")


def parse(stanza: Stanza) -> tuple[bytes, Argon2Params]:
    """Salt and parameters of a well-formed stanza; HeaderError otherwise."""
    if len(stanza.args) != 4:
        raise HeaderError("argon2id stanza must have exactly four arguments")
    salt = b64decode_exact(stanza.args[0], SALT_SIZE, "argon2id stanza salt")
    for arg in stanza.args[1:]:
        if not _DECIMAL.fullmatch(arg):
            raise HeaderError("argon2id parameters must be decimal numbers without leading "
                              "zeros")
    params = Argon2Params(int(stanza.args[1]), int(stanza.args[2]), int(stanza.args[3]))
    try:
        params.check()
    except ValueError as exc:
        raise HeaderError(f"argon2id stanza: {exc}") from None
    if len(stanza.body) != _BODY_SIZE:
        raise HeaderError(f"argon2id stanza body must be {_BODY_SIZE} bytes")
    return salt, params


class Argon2idRecipient:
    """Wraps the file key under a passphrase; must be the file's only recipient."""

    post_quantum = True  # symmetric: Grover at most halves the passphrase's strength
    must_be_alone = True

    def __init__(self, passphrase: str | bytes, params: Argon2Params = DEFAULT_PARAMS) -> None:
        params.check()
        self._passphrase = _passphrase(passphrase)
        self.params = params

    def wrap(self, file_key: bytes) -> list[Stanza]:
        salt = os.urandom(SALT_SIZE)
        body = _wrap_key(self._passphrase, salt, self.params).seal(_ZERO_NONCE, file_key)
        p = self.params
        args = (b64encode(salt), str(p.iterations), str(p.memory_kib), str(p.lanes))
        return [Stanza(STANZA_TYPE, args, body)]

    def __repr__(self) -> str:  # never show the passphrase
        return "<pqml/v1 argon2id recipient>"


class Argon2idIdentity:
    """Unwraps an ``argon2id`` stanza with a passphrase, within cost limits."""

    def __init__(self, passphrase: str | bytes, limits: Argon2Params = DEFAULT_LIMITS) -> None:
        self._passphrase = _passphrase(passphrase)
        self.limits = limits

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        check_alone(stanzas)
        for stanza in stanzas:
            if stanza.type != STANZA_TYPE:
                continue
            salt, params = parse(stanza)
            lim = self.limits
            if (params.iterations > lim.iterations or params.memory_kib > lim.memory_kib
                    or params.lanes > lim.lanes):
                raise HeaderError(
                    f"argon2id cost (t={params.iterations}, m={params.memory_kib} KiB, "
                    f"p={params.lanes}) exceeds the limit (t={lim.iterations}, "
                    f"m={lim.memory_kib} KiB, p={lim.lanes})"
                )
            try:
                return _wrap_key(self._passphrase, salt, params).open(_ZERO_NONCE, stanza.body)
            except DecryptionError:
                return None  # wrong passphrase: not a header error
        return None

    def __repr__(self) -> str:
        return "<pqml/v1 argon2id identity>"

"""What ``-r``, ``-R``, ``-i`` and ``--passphrase-file`` (and their Python equivalents)
resolve to, for both encrypted formats.

Recipients are age strings (``age1pq1…`` X-Wing, ``age1…`` X25519), key objects, or key
files: PEM SubjectPublicKeyInfo, PEM private keys (their public half is used, as
``age -R`` does with identity files), age recipients files and age identity files.
Identities are key objects, age identity strings or key files. A passphrase is a
:class:`Passphrase`, turned into the format's passphrase stanza (Argon2id for pqml/v1,
scrypt for age) only once the format is known, so one API call works for both.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pqml.primitives.base import PrivateKey, PublicKey
from pqml.primitives.errors import KeyFormatError, PqmlError

Format = Literal["pqml", "age"]
FORMATS: tuple[Format, ...] = ("pqml", "age")


@dataclass(frozen=True)
class Passphrase:
    """A passphrase recipient or identity; the value never appears in repr or errors.

    ``work_factor`` tunes the stanza: Argon2id ``(t, m_kib, p)`` for pqml/v1, scrypt
    ``log2(N)`` for age; None takes the format's default.
    """

    value: bytes = field(repr=False)
    work_factor: Any = None

    def __post_init__(self) -> None:
        if isinstance(self.value, str):
            object.__setattr__(self, "value", self.value.encode("utf-8"))
        if not self.value:
            raise KeyFormatError("the passphrase is empty")

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], work_factor: Any = None) -> Passphrase:
        """The first line of ``path`` (its line ending stripped), as age and pqml read it."""
        data = Path(path).read_bytes()
        line = data.split(b"\n", 1)[0].rstrip(b"\r")
        if not line:
            raise KeyFormatError(f"{path}: passphrase file is empty")
        return cls(line, work_factor)


RecipientInput = PublicKey | PrivateKey | Passphrase | str | os.PathLike[str] | Any
IdentityInput = PrivateKey | Passphrase | str | os.PathLike[str] | Any


def _is_age_recipient(text: str) -> bool:
    return text.startswith("age1") and "\n" not in text and not os.path.exists(text)


def _is_age_identity(text: str) -> bool:
    return text.upper().startswith("AGE-SECRET-KEY-") and "\n" not in text


def _read_key_file(path: str | os.PathLike[str]) -> bytes:
    p = Path(path)
    if not p.exists():
        raise KeyFormatError(f"{path}: no such key file (and not an age recipient string)")
    if p.is_dir():
        raise KeyFormatError(f"{path}: is a directory, not a key file")
    return p.read_bytes()


def recipients_from_file(path: str | os.PathLike[str]) -> list[PublicKey]:
    """Every recipient in a key file: an age recipients or identity file (all lines), or
    one PEM / DER key (a private key gives its public half)."""
    from pqml.formats import age_keys, keyfile

    data = _read_key_file(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    try:
        if text is not None and not keyfile.is_pem(data):
            if age_keys.looks_like_identity_file(text):
                return [k.public_key() for k in age_keys.parse_identity_file(text)]
            if age_keys.looks_like_recipient(text):
                return age_keys.parse_recipients_file(text)
        key = keyfile.load_key(data)
    except KeyFormatError as exc:
        raise type(exc)(f"{path}: {exc}") from None
    return [key.public_key() if isinstance(key, PrivateKey) else key]


def identities_from_file(path: str | os.PathLike[str], *,
                         passphrase: bytes | None = None) -> list[PrivateKey]:
    """Every identity in a key file: an age identity file (all lines) or one PEM / DER
    private key (``passphrase`` decrypts an encrypted PEM)."""
    from pqml.formats import age_keys, keyfile

    data = _read_key_file(path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    try:
        if text is not None and not keyfile.is_pem(data) and \
                age_keys.looks_like_identity_file(text):
            return age_keys.parse_identity_file(text)
        return [keyfile.load_private_key(data, passphrase)]
    except KeyFormatError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def resolve_recipients(values: Iterable[RecipientInput]) -> list[Any]:
    """Key objects, Passphrase and recipient objects pass through; strings are age
    recipients or key-file paths; paths are key files (every key they hold)."""
    from pqml.formats import age_keys

    out: list[Any] = []
    for value in values:
        if isinstance(value, str) and _is_age_recipient(value.strip()):
            out.append(age_keys.parse_recipient(value.strip()))
        elif isinstance(value, (str, os.PathLike)):
            out.extend(recipients_from_file(value))
        elif isinstance(value, PrivateKey):
            out.append(value.public_key())
        else:
            out.append(value)
    return out


def resolve_identities(values: Iterable[IdentityInput]) -> list[Any]:
    """Key objects, Passphrase and identity objects pass through; strings are age identity
    strings or key-file paths; paths are key files."""
    from pqml.formats import age_keys

    out: list[Any] = []
    for value in values:
        if isinstance(value, str) and _is_age_identity(value.strip()):
            out.append(age_keys.parse_identity(value.strip()))
        elif isinstance(value, (str, os.PathLike)):
            out.extend(identities_from_file(value))
        else:
            out.append(value)
    return out


def _argon2_params(work_factor: Any) -> Any:
    from pqml.formats.pqml_v1 import argon2id

    if work_factor is None:
        return argon2id.DEFAULT_PARAMS
    if isinstance(work_factor, argon2id.Argon2Params):
        return work_factor
    t, m, p = work_factor
    return argon2id.Argon2Params(int(t), int(m), int(p))


def for_format(fmt: Format, items: Sequence[Any], *, role: Literal["recipient", "identity"]
               ) -> list[Any]:
    """Turn :class:`Passphrase` items into the format's passphrase stanza objects."""
    out: list[Any] = []
    for item in items:
        if not isinstance(item, Passphrase):
            out.append(item)
            continue
        if fmt == "pqml":
            from pqml.formats.pqml_v1 import argon2id

            if role == "recipient":
                out.append(argon2id.Argon2idRecipient(item.value, _argon2_params(
                    item.work_factor)))
            else:
                out.append(argon2id.Argon2idIdentity(item.value))
        else:
            from pqml.formats.age import scrypt

            if role == "recipient":
                wf = scrypt.DEFAULT_WORK_FACTOR if item.work_factor is None else int(
                    item.work_factor)
                out.append(scrypt.ScryptRecipient(item.value, wf))
            else:
                out.append(scrypt.ScryptIdentity(item.value))
    return out


def check_format(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise PqmlError(f"unknown encrypted format {fmt!r} (choose pqml or age)")
    return fmt  # type: ignore[return-value]

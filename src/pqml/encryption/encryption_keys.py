"""What ``-r``, ``-R``, ``-i`` and ``--passphrase-file`` (and their Python equivalents)
resolve to, for both encrypted formats.

Recipients are age strings (``age1pq1…`` X-Wing, ``age1…`` X25519), key objects, or key
files: PEM SubjectPublicKeyInfo, PEM private keys (their public half is used, as
``age -R`` does with identity files), age recipients files and age identity files.
Identities are key objects, age identity strings or key files; a passphrase-protected PEM
key file is an :class:`IdentityFile` with its passphrase, or with a callable asked for it
only if the key turns out to be encrypted (the CLI's terminal prompt). A passphrase is a
:class:`Passphrase`, turned into the format's passphrase stanza (Argon2id for pqml/v1,
scrypt for age) only once the format is known, so one API call works for both.
SSH keys (age's ``ssh-ed25519`` / ``ssh-rsa``) and passphrase-encrypted age identity files
are read by :mod:`pqml.encryption.age_key_files`, hooked in where key files are read.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pqml.primitives.base import PrivateKey, PublicKey
from pqml.primitives.errors import KeyFormatError, PqmlError

if TYPE_CHECKING:
    from pqml.formats.recipient_policy import RecipientRules

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


KeyPassphrase = bytes | str | Callable[[str], bytes | str]


@dataclass(frozen=True)
class IdentityFile:
    """A key file used as an identity, with what unlocks it if it is a passphrase-protected
    PEM private key: the passphrase, or a callable given the file's name that returns it
    (asked only for an encrypted key). Ignored for keys that are not encrypted, so one key
    passphrase can go with several identity files. Never shown in repr or errors."""

    path: str | os.PathLike[str]
    passphrase: KeyPassphrase | None = field(default=None, repr=False)


RecipientInput = PublicKey | PrivateKey | Passphrase | str | os.PathLike[str] | Any
IdentityInput = PrivateKey | Passphrase | IdentityFile | str | os.PathLike[str] | Any


def _is_age_recipient(text: str) -> bool:
    """``age1…``, or an SSH public key line (``ssh-ed25519 AAAA…``) as ``age -r`` takes."""
    return text.startswith(("age1", "ssh-")) and "\n" not in text and not os.path.exists(text)


def _is_age_identity(text: str) -> bool:
    return text.upper().startswith("AGE-SECRET-KEY-") and "\n" not in text


# The largest key file read: age's limit for an (encrypted) identity file.
MAX_KEY_FILE_SIZE = 16 * 2**20


def _read_key_file(path: str | os.PathLike[str]) -> tuple[bytes, str | None]:
    """The bytes of a key file and, if they are UTF-8, its text."""
    p = Path(path)
    if not p.exists():
        raise KeyFormatError(f"{path}: no such key file (and not an age recipient string)")
    if p.is_dir():
        raise KeyFormatError(f"{path}: is a directory, not a key file")
    with p.open("rb") as f:  # bounded: a key file given by someone else may be huge
        data = f.read(MAX_KEY_FILE_SIZE + 1)
    if len(data) > MAX_KEY_FILE_SIZE:
        raise KeyFormatError(f"{path}: larger than {MAX_KEY_FILE_SIZE // 2**20} MiB, "
                             "not a key file")
    try:
        return data, data.decode("utf-8")
    except UnicodeDecodeError:
        return data, None


@contextlib.contextmanager
def _naming(path: str | os.PathLike[str]) -> Iterator[None]:
    """Prefix a KeyFormatError raised inside with the key file's name."""
    try:
        yield
    except KeyFormatError as exc:
        raise type(exc)(f"{path}: {exc}") from None


def recipients_from_file(path: str | os.PathLike[str]) -> list[PublicKey]:
    """Every recipient in a key file: an age recipients or identity file (all lines), or
    one PEM / DER key (a private key gives its public half)."""
    from pqml.encryption import age_key_files
    from pqml.formats import age_keys, keyfile

    data, text = _read_key_file(path)
    with _naming(path):
        ssh = age_key_files.recipients(data, text)  # SSH keys: age_key_files says which
        if ssh is not None:
            return ssh
        if text is not None and not keyfile.is_pem(data):
            if age_keys.looks_like_identity_file(text):
                return [k.public_key() for k in age_keys.parse_identity_file(text)]
            if age_keys.looks_like_recipient(text):
                return age_keys.parse_recipients_file(text)
        key = keyfile.load_key(data)
    return [key.public_key() if isinstance(key, PrivateKey) else key]


def identities_from_file(path: str | os.PathLike[str], *,
                         passphrase: KeyPassphrase | None = None) -> list[PrivateKey]:
    """Every identity in a key file: an age identity file (all lines) or one PEM / DER
    private key. ``passphrase`` (or the callable's answer) decrypts an encrypted key and
    is ignored for one that is not; errors name the key file, never the passphrase."""
    from pqml.encryption import age_key_files
    from pqml.formats import age_keys, keyfile
    from pqml.formats.errors import PassphraseRequiredError, WrongKeyPassphraseError

    data, text = _read_key_file(path)
    with _naming(path):
        # OpenSSH keys and passphrase-encrypted age identity files: age_key_files says which
        found = age_key_files.identities(data, str(path), passphrase)
        if found is not None:
            return found
        if text is not None and not keyfile.is_pem(data) and \
                age_keys.looks_like_identity_file(text):
            return age_keys.parse_identity_file(text)
        if not keyfile.is_encrypted(data):
            return [keyfile.load_private_key(data)]
        if passphrase is None:
            raise PassphraseRequiredError(
                "the private key is passphrase-protected: give its passphrase "
                "(IdentityFile(path, passphrase=…)) or an unlocked key")
        value = passphrase(str(path)) if callable(passphrase) else passphrase
        value = value.encode("utf-8") if isinstance(value, str) else bytes(value)
        if not value:
            raise PassphraseRequiredError("no passphrase given for the private key")
        try:
            return [keyfile.load_private_key(data, value)]
        except WrongKeyPassphraseError:
            raise WrongKeyPassphraseError("wrong passphrase for this private key file (or the "
                                          "file is damaged)") from None


def _resolve(values: Iterable[Any], is_age_string: Callable[[str], bool],
             parse: Callable[[str], Any], from_file: Callable[[Any], list[Any]]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, str) and is_age_string(value.strip()):
            out.append(parse(value.strip()))
        elif isinstance(value, (str, os.PathLike)):
            out.extend(from_file(value))
        else:
            out.append(value)
    return out


def resolve_recipients(values: Iterable[RecipientInput]) -> list[Any]:
    """Key objects, Passphrase and recipient objects pass through (a private key as its
    public half); strings are age recipients or key-file paths; paths are key files
    (every key they hold)."""
    from pqml.encryption import age_key_files

    resolved = _resolve(values, _is_age_recipient, age_key_files.parse_recipient,
                        recipients_from_file)
    return [v.public_key() if isinstance(v, PrivateKey) else v for v in resolved]


def resolve_identities(values: Iterable[IdentityInput]) -> list[Any]:
    """Key objects, Passphrase and identity objects pass through; strings are age identity
    strings or key-file paths; paths are key files; an IdentityFile is a key file with
    its passphrase."""
    from pqml.formats import age_keys

    out: list[Any] = []
    for value in values:
        if isinstance(value, IdentityFile):
            out.extend(identities_from_file(value.path, passphrase=value.passphrase))
        else:
            out.extend(_resolve([value], _is_age_identity, age_keys.parse_identity,
                                identities_from_file))
    return out


class _PassphraseIdentity:
    """The format's passphrase identity, telling a wrong passphrase (the header's lone
    stanza is a passphrase stanza it does not open) from "not addressed to me", which
    the format reports as "no identity matched"."""

    def __init__(self, inner: Any, stanza_type: str) -> None:
        self._inner = inner
        self._type = stanza_type

    def unwrap(self, stanzas: Sequence[Any]) -> bytes | None:
        file_key: bytes | None = self._inner.unwrap(stanzas)
        if file_key is None and any(s.type == self._type for s in stanzas):
            from pqml.encryption.errors import WrongPassphraseError

            raise WrongPassphraseError("wrong passphrase: it does not open this "
                                       "passphrase-encrypted file")
        return file_key

    def __repr__(self) -> str:  # never show the passphrase
        return repr(self._inner)


def rules_for(fmt: Format) -> RecipientRules:
    """The recipient rules of ``fmt`` (:mod:`pqml.formats.recipient_policy`), imported
    on first use: a pqml/v1 run does not load age's stanza types."""
    if fmt == "pqml":
        from pqml.formats.pqml_v1.recipients import RULES
    else:
        from pqml.formats.age.recipients import RULES
    return RULES


def for_format(fmt: Format, items: Sequence[Any], *, role: Literal["recipient", "identity"]
               ) -> list[Any]:
    """Turn :class:`Passphrase` items into the format's passphrase stanza objects
    (Argon2id for pqml/v1, scrypt for age); other items pass through."""
    rules = rules_for(fmt)
    out: list[Any] = []
    for item in items:
        if not isinstance(item, Passphrase):
            out.append(item)
        elif role == "recipient":
            out.append(rules.passphrase_recipient(item.value, item.work_factor))
        else:
            out.append(_PassphraseIdentity(rules.passphrase_identity(item.value),
                                           rules.passphrase_type))
    return out


def check_format(fmt: str) -> Format:
    if fmt not in FORMATS:
        raise PqmlError(f"unknown encrypted format {fmt!r} (choose pqml or age)")
    return fmt  # type: ignore[return-value]

"""Key references on the command line: a key file, or a key in the keyring.

Every option that takes a key file (``encrypt -r/-R``, ``decrypt -i``, ``rekey -i/--add/
--remove``, ``sign -k``, ``verify -k``, ``pubkey``) also takes a keyring reference: a key
id, a unique id prefix of 4 or more hex digits, or a label. An existing file always wins,
so a file that happens to be called like a label is still read as a file; a text that is
an age recipient or identity string is never looked up. A reference that matches no key
or several is an :class:`UnknownKeyError` naming a few candidates. Without a keyring (no
index yet) nothing is looked up and a missing file stays the usual "no such file" error.

A keyring key brings its state: :class:`KeyringUse` refuses a key whose state forbids the
use (encrypt and sign need an active, unexpired key; decrypt and verify an opening state)
and, once the command succeeded, counts the use and links the asset
(:meth:`Keyring.record_use`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pqml.keys.errors import UnknownKeyError
from pqml.keys.keyring import KeyRecord, Keyring, check_key_use
from pqml.keys.states import KeyState

if TYPE_CHECKING:
    from pqml.primitives.base import PrivateKey, PublicKey

PASSPHRASE_ENV = "PQML_KEY_PASSPHRASE"
_STRINGS = ("age1", "AGE-SECRET-KEY-", "ssh-")


def env_passphrase() -> bytes | None:
    """The key passphrase from ``$PQML_KEY_PASSPHRASE`` (None if unset or empty)."""
    value = os.environ.get(PASSPHRASE_ENV)
    return value.encode("utf-8") if value else None


def could_be_keyring_ref(text: str) -> bool:
    """False for existing paths, standard input, age/SSH key strings and anything with a
    path separator or a line break (labels and ids have none)."""
    value = text.strip()
    return bool(value) and value != "-" and "/" not in value and os.sep not in value \
        and "\n" not in value and not value.upper().startswith(("AGE1", "AGE-SECRET-KEY-")) \
        and not value.startswith(_STRINGS) and not os.path.lexists(text)


def _refuse_shadowing(text: str, keyring: Keyring) -> None:
    """A bare name that is both a file here and a keyring key's label or id is refused:
    a file dropped into a cloned repository or a downloaded model folder must never
    silently replace the key the user meant."""
    bare = "/" not in text and os.sep not in text
    if not (bare and os.path.lexists(text) and keyring.exists()):
        return
    try:
        record = keyring.get(text)
    except UnknownKeyError:
        return
    if text in (record.label, record.id):
        raise UnknownKeyError(f"{text}: is both a file here and keyring key {record.name}: "
                              f"write ./{text} for the file, or the key id {record.id} "
                              "for the keyring key")


def resolve(text: str, *, keyring: Keyring | None = None) -> Path | KeyRecord:
    """What ``text`` names: an existing file (a Path), else a keyring key."""
    ring = keyring or Keyring()
    _refuse_shadowing(text, ring)
    if os.path.lexists(text) or not could_be_keyring_ref(text):
        return Path(text)
    found = lookup(text, keyring=ring, required=True)
    assert found is not None
    return found


def lookup(text: str, *, keyring: Keyring, required: bool = False) -> KeyRecord | None:
    """The keyring key ``text`` names, None if ``text`` is a file or key string (or there
    is no keyring and ``required`` is false). Unknown or ambiguous: UnknownKeyError that
    says the text is no file either; a bare name that is both a file and a key's label or
    id: UnknownKeyError too."""
    _refuse_shadowing(text, keyring)
    if not could_be_keyring_ref(text):
        return None
    if not required and not keyring.exists():
        return None
    try:
        return keyring.get(text)
    except UnknownKeyError as exc:
        raise UnknownKeyError(f"{text}: no such key file, and {exc}") from None


def verification_notice(record: KeyRecord, *, now: float | None = None) -> str | None:
    """What a verifier must be told about a trusted keyring key: revoked, compromised
    (since when) or expired; None for a key in good standing."""
    from pqml.keys.times import format_time

    if record.state is KeyState.REVOKED:
        return (f"key {record.name} was revoked on {format_time(record.state_since)}: its "
                "signatures are from a key no longer trusted to sign")
    if record.state is KeyState.COMPROMISED:
        return (f"key {record.name} is compromised since "
                f"{format_time(record.compromised_at)}: a signature made after that time "
                "may be forged")
    if record.expired(now):
        return f"key {record.name} expired on {format_time(record.not_after)}"
    return None


@dataclass
class KeyringUse:
    """The keyring keys one command uses: references resolved to key objects with their
    state checked, and their use recorded after the command succeeded."""

    keyring: Keyring = field(default_factory=Keyring)
    passphrase: bytes | None = None
    used: list[KeyRecord] = field(default_factory=list)
    removed: list[KeyRecord] = field(default_factory=list)

    def _lookup(self, text: Any) -> KeyRecord | None:
        if not isinstance(text, str):
            return None
        return lookup(text, keyring=self.keyring)

    def _key_passphrase(self) -> bytes | None:
        return self.passphrase if self.passphrase is not None else env_passphrase()

    def _check_purpose(self, record: KeyRecord, purpose: str) -> None:
        if record.purpose != purpose:
            from pqml._internal.text import with_article
            from pqml.primitives.errors import WrongKeyTypeError

            kind = {"encrypt": "encryption", "sign": "signing"}
            raise WrongKeyTypeError(f"key {record.name} is {with_article(record.algorithm)} "
                                    f"{kind[record.purpose]} key, not "
                                    f"{with_article(kind[purpose])} key")

    def _use(self, record: KeyRecord) -> None:
        if all(r.id != record.id for r in self.used):
            self.used.append(record)

    def ids(self) -> list[str]:
        """The ids of the keyring keys this command used (for its log entry)."""
        return [r.id for r in self.used]

    def _each(self, values: Iterable[Any], purpose: str,
              make: Callable[[KeyRecord], Any]) -> list[Any]:
        """``values`` with each keyring reference replaced by ``make(record)`` (after its
        purpose is checked; the key then counts as used); anything else passes through."""
        out: list[Any] = []
        for value in values:
            record = self._lookup(value)
            if record is None:
                out.append(value)
                continue
            self._check_purpose(record, purpose)
            out.append(make(record))
            self._use(record)
        return out

    def recipients(self, values: Iterable[Any]) -> list[Any]:
        """``-r`` / ``-R`` / ``rekey --add``: keyring keys become public keys (active
        keys only); everything else passes through."""
        def public(record: KeyRecord) -> Any:
            check_key_use(record, "encrypt")
            return self.keyring.public_key(record.id)

        return self._each(values, "encrypt", public)

    def removed_recipients(self, values: Iterable[Any]) -> list[Any]:
        """``rekey --remove``: keyring keys become public keys whatever their state (a
        revoked key is exactly what one removes); not counted as a use, but remembered
        so :meth:`unlink` can drop their links to the files they no longer protect."""
        out: list[Any] = []
        for value in values:
            record = self._lookup(value)
            if record is not None and all(r.id != record.id for r in self.removed):
                self.removed.append(record)
            out.append(value if record is None else self.keyring.public_key(record.id))
        return out

    def unlink(self, paths: Iterable[str | os.PathLike[str]],
               key_ids: Iterable[str] = ()) -> None:
        """The removed keyring keys (and ``key_ids``, e.g. dropped revoked ones) no
        longer protect ``paths``."""
        names = [os.fspath(p) for p in paths]
        if not names:
            return
        ids = {r.id for r in self.removed} | set(key_ids)
        known = {r.id for r in self.keyring.list()} if key_ids else ids
        for key_id in sorted(ids & known):
            self.keyring.unlink_assets(key_id, names)

    def identity(self, value: Any) -> PrivateKey | None:
        """``-i``: a keyring key's private key (decrypting state), else None."""
        record = self._lookup(value)
        if record is None:
            return None
        self._check_purpose(record, "encrypt")
        key = self.keyring.private_key(record.id, use="decrypt",
                                       passphrase=self._key_passphrase())
        self._use(record)
        return key

    def signing_keys(self, values: Iterable[Any]) -> list[Any]:
        """``sign -k``: keyring keys become private keys (active, unexpired)."""
        return self._each(values, "sign", lambda record: self.keyring.private_key(
            record.id, use="sign", passphrase=self._key_passphrase()))

    def trusted_keys(self, values: Iterable[Any]) -> list[Any]:
        """``verify -k``: keyring keys become public keys (any opening state; revoked,
        compromised and expired keys are reported by :meth:`notices`)."""
        def public(record: KeyRecord) -> Any:
            check_key_use(record, "verify")
            return self.keyring.public_key(record.id)

        return self._each(values, "sign", public)

    def public_key(self, value: str) -> PublicKey | None:
        """``pubkey``: a keyring key's public key (any state), else None."""
        record = self._lookup(value)
        return None if record is None else self.keyring.public_key(record.id)

    def notices(self) -> list[tuple[KeyRecord, str]]:
        return [(r, n) for r in self.used if (n := verification_notice(r)) is not None]

    def record(self, operation: str, asset: str | os.PathLike[str] | None = None,
               nbytes: int = 0) -> None:
        """Count one use of every keyring key of this command."""
        self.record_many(operation, [(asset, nbytes)])

    def record_many(self, operation: str,
                    uses: Iterable[tuple[str | os.PathLike[str] | None, int]]) -> None:
        """Count a use per ``(asset, nbytes)`` for every keyring key of this command (one
        transaction per key)."""
        if not self.used:
            return
        items = [(os.fspath(a) if a is not None else None, n) for a, n in uses]
        for record in self.used:
            self.keyring.record_uses(record.id, operation=operation, uses=items)

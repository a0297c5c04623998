"""Key files age reads beyond pqml's PEM/DER and age key files: SSH keys and
passphrase-encrypted identity files, for :mod:`pqml.encryption.encryption_keys`.

- recipients: an SSH public key line (``-r "ssh-ed25519 AAAA…"``), a ``.pub`` or
  authorized_keys-style file (SSH lines and ``age1…`` lines, ``age -R``), or an OpenSSH
  private key file, whose public half is stored in the clear (no passphrase needed);
- identities: an OpenSSH private key file (``age -i ~/.ssh/id_ed25519``), and an identity
  file that is an age file encrypted to a passphrase (``age -d -i key.age``), decrypted in
  memory. Either may need the key passphrase: the caller's bytes or callable (the CLI's
  ``--key-passphrase-file`` or terminal prompt), asked only when the file is encrypted.

SSH keys work only with the age format (pqml/v1 has no SSH stanza) and, like X25519, are
quantum-vulnerable: encryption refuses them without ``allow_classical``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pqml.formats.errors import PassphraseRequiredError
from pqml.primitives.base import PrivateKey, PublicKey


def is_recipient_string(text: str) -> bool:
    """True for an SSH public key line given as a recipient string."""
    from pqml.formats import ssh_keys

    return ssh_keys.looks_like_public_key(text)


def parse_recipient(text: str) -> PublicKey:
    """An ``age1…`` recipient or an SSH public key line."""
    from pqml.formats import age_keys, ssh_keys

    if ssh_keys.looks_like_public_key(text):
        return ssh_keys.parse_public_key(text)
    return age_keys.parse_recipient(text)


def recipients(data: bytes, text: str | None) -> list[PublicKey] | None:
    """The recipients of an SSH key file (public lines, or a private key's public half),
    or None if ``data`` is not one."""
    from pqml.formats import ssh_keys

    if ssh_keys.is_private_key(data):
        return [ssh_keys.public_key_of(data)]
    if text is not None and ssh_keys.looks_like_recipients_file(text):
        return ssh_keys.parse_recipients_file(text)
    return None


def identities(data: bytes, name: str, passphrase: Any) -> list[PrivateKey] | None:
    """The identities of an OpenSSH private key file or of a passphrase-encrypted age
    identity file, or None if ``data`` is neither. ``passphrase``: bytes, str, a callable
    given ``name`` that returns it, or None (PassphraseRequiredError if one is needed)."""
    from pqml.formats import age_keys, ssh_keys
    from pqml.formats.age import encrypted_identity

    if ssh_keys.is_private_key(data):
        if not ssh_keys.is_encrypted(data):
            return [ssh_keys.load_private_key(data)]
        return [ssh_keys.load_private_key(data, _value(passphrase, name, "SSH private key"))]
    if encrypted_identity.is_encrypted_identity_file(data):
        encrypted_identity.check(data)  # one scrypt stanza, before asking the passphrase
        inner = encrypted_identity.decrypt(
            data, _value(passphrase, name, "age-encrypted identity file"))
        return age_keys.parse_identity_file(inner)
    return None


def _value(passphrase: bytes | str | Callable[[str], bytes | str] | None, name: str,
           what: str) -> bytes:
    if passphrase is None:
        raise PassphraseRequiredError(
            f"the {what} is passphrase-protected: give its passphrase "
            "(IdentityFile(path, passphrase=…)) or an unlocked key")
    value = passphrase(name) if callable(passphrase) else passphrase
    value = value.encode("utf-8") if isinstance(value, str) else bytes(value)
    if not value:
        raise PassphraseRequiredError(f"no passphrase given for the {what}")
    return value

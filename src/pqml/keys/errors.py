"""Errors of key management (re-exported by :mod:`pqml.errors`).

Every message names the key (id, prefix or label as the user gave it) or the file, and
never carries key material or a passphrase.
"""

from __future__ import annotations

from pqml.primitives.errors import PqmlError


class KeyringError(PqmlError):
    """The keyring cannot do what was asked; subclasses say why."""


class UnknownKeyError(KeyringError, LookupError):
    """A key reference (id, id prefix or label) matches no key, or more than one."""


class KeyStateError(KeyringError):
    """The key's state forbids the operation or the transition (e.g. encrypting to a
    retired key, promoting a destroyed one)."""


class KeyringLockedError(KeyringError):
    """Another process holds the keyring's write lock longer than the wait allows."""


class KeyringCorruptError(KeyringError):
    """The keyring's index or a key file is unreadable, of an unknown schema version, or
    disagrees with itself; nothing is changed."""


class RotationError(KeyringError):
    """A rotation or its journal cannot proceed (the journal names the asset)."""


class MigrationError(PqmlError):
    """An artifact cannot be migrated to post-quantum protection (names the file and why)."""


class MigrationFailed(MigrationError):
    """:class:`MigrationError` with the report of every artifact (``report``: a
    :class:`pqml.keys.migration.MigrationReport`)."""

    def __init__(self, message: str, report: object) -> None:
        super().__init__(message)
        self.report = report


class RotationPolicyError(RotationError):
    """The ``[keys]`` rotation policy in pqml.toml is malformed (names the file and the
    setting); a usage error, since a typo must not silently relax the policy."""

    exit_code = 2


class CertificateAuthorityError(PqmlError):
    """A CA directory is missing, malformed or locked, or cannot issue what was asked
    (unknown serial, validity beyond the CA's own, a key the CA cannot certify)."""

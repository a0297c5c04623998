"""Errors of encryption, decryption, rekey and encrypted loading (re-exported by
:mod:`pqml.errors`); format-level failures are in :mod:`pqml.formats.age.errors`."""

from __future__ import annotations

from typing import Any

from pqml.formats.age.errors import NoIdentityMatchError
from pqml.primitives.errors import DecryptionError, PqmlError


class NotEncryptedError(DecryptionError):
    """The input is neither a pqml/v1 file nor an age file (binary or armored)."""


class RekeyError(PqmlError):
    """A rekey cannot be done as asked (a recipient to remove has no stanza, no stanza would
    remain, or age stanzas cannot be matched to a public key)."""


class RekeyManyError(RekeyError):
    """A rekey of several files failed: ``outcomes`` says, per file, whether it was
    changed, skipped, failed or left unchanged (a failed check changes no file; a failed
    write stops the run, with the files before it changed)."""

    def __init__(self, message: str, outcomes: Any = ()) -> None:
        super().__init__(message)
        self.outcomes: list[Any] = list(outcomes)


class WrongPassphraseError(NoIdentityMatchError):
    """The file is passphrase-encrypted and the passphrase given does not open it (a
    :class:`NoIdentityMatchError`, so code catching that still catches this)."""


class UnsafeTreeEntryError(PqmlError):
    """A directory tree to encrypt or decrypt holds what pqml will not read as one of its
    files: a symbolic link (unless allowed, and never one resolving outside the tree, which
    would put an outside file into the output), a broken link or a special file."""


class UntrustedSourceError(PqmlError):
    """Refusing to unpickle (joblib, torch): the caller did not name the trusted source."""


class SafetensorsFormatError(PqmlError):
    """The decrypted safetensors header is malformed or does not match its data."""

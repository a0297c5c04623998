"""Errors of encryption, decryption, rekey and encrypted loading (re-exported by
:mod:`pqml.errors`); format-level failures are in :mod:`pqml.formats.age.errors`."""

from __future__ import annotations

from pqml.primitives.errors import DecryptionError, PqmlError


class NotEncryptedError(DecryptionError):
    """The input is neither a pqml/v1 file nor an age file (binary or armored)."""


class RekeyError(PqmlError):
    """A rekey cannot be done as asked (a recipient to remove has no stanza, no stanza would
    remain, or age stanzas cannot be matched to a public key)."""


class UntrustedSourceError(PqmlError):
    """Refusing to unpickle (joblib, torch): the caller did not name the trusted source."""


class SafetensorsFormatError(PqmlError):
    """The decrypted safetensors header is malformed or does not match its data."""

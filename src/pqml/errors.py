"""Typed errors: every failure a user can cause maps to one of these.

The CLI prints ``str(error)`` on one line and exits non-zero, so messages must
name the object and the problem and must never contain secret material.
"""

from __future__ import annotations


class PqmlError(Exception):
    """Base class for every error pqml raises on purpose."""

    exit_code = 1


class UnknownAlgorithmError(PqmlError, ValueError):
    """The name matches no registry entry."""

    exit_code = 2


class UnavailableAlgorithmError(PqmlError):
    """The algorithm is known but its backend is not installed here."""


class PolicyError(PqmlError):
    """The requested algorithm is not allowed by the selected profile or policy."""

    exit_code = 2


class KeyFormatError(PqmlError, ValueError):
    """Key bytes or a key file could not be parsed or have the wrong type."""


class WrongKeyTypeError(KeyFormatError):
    """A key parsed fine but is not the kind the operation needs."""


class InvalidSignatureError(PqmlError):
    """A signature did not verify."""


class DecryptionError(PqmlError):
    """Decapsulation or authenticated decryption failed."""


class KeyFileExistsError(PqmlError, FileExistsError):
    """Refusing to overwrite an existing key file."""

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


class ScanError(PqmlError):
    """``pqml scan`` could not run as asked: a missing path, a malformed ``pqml.toml`` or
    baseline file, an unknown option value, or a report that cannot be written.

    Exit code 2 keeps these apart from exit code 1, which ``--fail-on`` reserves for
    "findings matched the policy", so CI can tell a broken job from a failing one.
    """

    exit_code = 2


# ---- model signing and verify-before-load (pqml sign / verify, pqml.load) ------------------


class UnsafePathError(PqmlError):
    """A model path is a symlink, special file or name that pqml refuses to follow or sign."""


class PolicyFileError(PqmlError, ValueError):
    """A trust policy file (JSON or TOML) is malformed; the message names the file and key."""

    exit_code = 2


class VerificationError(PqmlError):
    """A model failed verification. ``report`` holds the structured result when one exists,
    so the CLI and callers can show every signature and file, not only the first problem."""

    def __init__(self, message: str, *, report: object | None = None) -> None:
        super().__init__(message)
        self.report = report


class SignatureVerificationError(VerificationError, InvalidSignatureError):
    """No signature of the bundle verified with a trusted key, or a trusted key's failed."""


class TrustPolicyError(VerificationError):
    """Signatures verified, but not the ones the policy demands (e.g. --require-pq)."""


class IntegrityError(VerificationError):
    """The files on disk differ from the signed manifest (modified, added, removed, renamed)."""


class UnsignedFileError(IntegrityError):
    """A file was asked for (or found) that the signed manifest does not cover."""


# ---- encryption (pqml encrypt / decrypt / rekey / inspect, pqml.open, encrypted loads) ------


class NotEncryptedError(DecryptionError):
    """The input is neither a pqml/v1 file nor an age file (binary or armored)."""


class OutputPathError(PqmlError):
    """An output cannot be written as asked: it would replace an input or land inside the
    input tree, or writing failed (disk full); nothing is left behind."""


class RekeyError(PqmlError):
    """A rekey cannot be done as asked (a recipient to remove has no stanza, no stanza would
    remain, or age stanzas cannot be matched to a public key)."""


class UntrustedSourceError(PqmlError):
    """Refusing to unpickle (joblib, torch): the caller did not name the trusted source."""

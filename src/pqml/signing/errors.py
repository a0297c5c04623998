"""Errors of model signing and verify-before-load (``pqml sign`` / ``verify``,
``pqml.load``), re-exported by :mod:`pqml.errors`."""

from __future__ import annotations

from pqml.primitives.errors import InvalidSignatureError, PqmlError


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


class CertificateChainError(SignatureVerificationError):
    """A bundle's certificate chain is not valid: it does not reach a trusted certificate,
    a certificate is expired, not yet valid, revoked or not allowed to sign code, or a CRL
    is not the chain's; the message names the certificate (subject, serial) or CRL."""


class TrustPolicyError(VerificationError):
    """Signatures verified, but not the ones the policy demands (e.g. --require-pq)."""


class IntegrityError(VerificationError):
    """The files on disk differ from the signed manifest (modified, added, removed, renamed)."""


class UnsignedFileError(IntegrityError):
    """A file was asked for (or found) that the signed manifest does not cover."""


class FileChangedError(PqmlError):
    """A file's size changed between listing and hashing (it is being written to)."""


class UpdateError(PqmlError):
    """An update could not be applied or rolled back; the model in service is unchanged."""


class UpdateInProgressError(UpdateError):
    """Another process holds the update directory's lock."""

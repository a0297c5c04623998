"""Typed errors of the age format, one class per failure the C2SP CCTV vectors tell apart.

The vectors distinguish "header failure", "HMAC failure", "no match", "payload failure"
and "armor failure" so that a low-level parsing error is never masked by a higher-level
one; callers (and the CLI's one-line messages) get the same distinction. Messages name the
problem only: never key material, never plaintext.
"""

from __future__ import annotations

from pqml.primitives.errors import DecryptionError, PqmlError


class AgeError(DecryptionError):
    """Base class: an age file could not be decrypted."""


class HeaderError(AgeError):
    """The header is malformed, uses an unsupported version, or a stanza addressed to one
    of our identities is invalid (bad arguments, wrong body size, low-order share, …)."""


class HeaderMACError(HeaderError):
    """A file key was unwrapped but the header MAC does not match it."""


class NoIdentityMatchError(AgeError):
    """The header is well formed but none of its stanzas opens with the given identities."""


class PayloadError(AgeError):
    """The STREAM payload is truncated, tampered, reordered or followed by trailing data.

    Plaintext already written before the failure is authentic but incomplete; callers that
    must not leave partial output write to a temporary file (see DESIGN.md §6)."""


class ArmorError(AgeError):
    """The ASCII armor (strict PEM, "AGE ENCRYPTED FILE") is malformed."""


class RecipientError(PqmlError, ValueError):
    """The recipients given to encrypt cannot be combined (e.g. scrypt with others)."""

"""The root of pqml's errors and the ones every layer raises: unknown or unavailable
algorithms, policy refusals, malformed keys, failed signatures and decryptions.

They live in the lowest layer so that primitives, formats and capabilities can all raise
them; users import them from :mod:`pqml.errors`. The CLI prints ``str(error)`` on one line
and exits with ``exit_code``, so messages name the object and the problem and never carry
secret material.
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


class KeyFileExistsError(PqmlError, FileExistsError):
    """Refusing to overwrite an existing key file."""


class InvalidSignatureError(PqmlError):
    """A signature did not verify."""


class DecryptionError(PqmlError):
    """Decapsulation or authenticated decryption failed."""


class ChunkedFormatError(DecryptionError):
    """The chunked ciphertext is too short, truncated or fails authentication."""


class HPKEError(PqmlError):
    """HPKE misuse: bad PSK inputs, export-only suite asked to encrypt, length limits."""


class MessageLimitReachedError(HPKEError):
    """The context's sequence number is exhausted (RFC 9180 §5.2); set up a new context."""

"""Errors of the pure formats: strict DER, key files, OMS bundles (re-exported by
:mod:`pqml.errors`); the age format keeps its own in :mod:`pqml.formats.age.errors`."""

from __future__ import annotations

from pqml.primitives.errors import KeyFormatError, PqmlError


class DERError(KeyFormatError):
    """The bytes are not the strict DER we expect; the message names the flaw."""


class PassphraseRequiredError(KeyFormatError):
    """The private key is encrypted and no passphrase was given (callers may prompt)."""


class WrongKeyPassphraseError(KeyFormatError):
    """The passphrase does not decrypt the encrypted private key (or the key file is
    damaged: the two cannot be told apart); callers name the key file."""


class BundleFormatError(PqmlError, ValueError):
    """An OMS bundle, DSSE envelope or in-toto statement is malformed or not supported.

    The message names the JSON location (e.g. ``dsseEnvelope.signatures[0].sig``) and the
    rule broken; the caller prefixes the file name.
    """


class Bech32Error(KeyFormatError):
    """A string is not valid Bech32; the message says why (never echoes the payload)."""


class NoteFormatError(PqmlError, ValueError):
    """A C2SP signed note, verifier key, checkpoint or tlog-proof breaks its grammar or a
    size bound; the message names the line or field and the rule broken."""


class BinaryHTTPError(PqmlError, ValueError):
    """A Binary HTTP message (RFC 9292) is malformed, invalid or over a size bound; the
    message names the section (control data, header field 3, content, padding) and the
    rule broken, never a field's value."""


class OHTTPFormatError(PqmlError, ValueError):
    """An Oblivious HTTP key configuration, encapsulated request or response (RFC 9458,
    chunked OHTTP) is truncated, oversized or breaks its grammar; the message names the
    part (key config 2, request header, chunk 5) and the rule broken."""

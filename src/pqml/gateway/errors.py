"""Errors of Oblivious HTTP: the protocol and client (OHTTPError and below), the gateway's
server side (GatewayError and below: replay, Date, gateway keys); re-exported by
:mod:`pqml.errors`.

Messages name the key id, suite or message part at fault and never carry key material or
any part of a request's or response's content: they may reach a log.
"""

from __future__ import annotations

from pqml.primitives.errors import InvalidSignatureError, PqmlError


class OHTTPError(PqmlError):
    """Oblivious HTTP could not encapsulate or decapsulate a message; subclasses say why."""


class KeyConfigMismatchError(OHTTPError):
    """An encapsulated request names a key id, KEM or (KDF, AEAD) pair that no key
    configuration of the gateway offers: answered 422 with the ``ohttp-key`` problem type,
    so the client refetches the key configuration once."""


class UnsupportedSuiteError(OHTTPError):
    """A key configuration offers no HPKE suite this build can use (or one is asked for
    that it cannot: HKDF-SHA256 and HKDF-SHA384 derive OHTTP response keys here)."""


class KeyConfigSignatureError(InvalidSignatureError):
    """The signature over a gateway's key configurations is missing, malformed or does not
    verify with the pinned key: the configurations are not used."""


class KeyConfigExpiredError(KeyConfigSignatureError):
    """The signature over a gateway's key configurations verifies but is past its
    not-after: an old configuration, possibly replayed; the client refetches once."""

    def __init__(self, message: str, *, not_after: float | None = None) -> None:
        super().__init__(message)
        self.not_after = not_after


class GatewayResponseError(OHTTPError):
    """The relay or gateway answered an encapsulated request with an HTTP error or a body
    that is not an encapsulated response; ``status`` and ``problem_type`` say which."""

    def __init__(self, message: str, *, status: int | None = None,
                 problem_type: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.problem_type = problem_type


class GatewayError(PqmlError):
    """The Oblivious HTTP gateway refused a request or cannot run; subclasses say why."""


class RequestDateError(GatewayError):
    """A decrypted request has no Date, or one outside the gateway's window (RFC 9458
    §6.5): answered 400 with the ``date`` problem type and the gateway's own Date."""


class ReplayedRequestError(GatewayError):
    """An encapsulated request whose encapsulated key was already accepted (a replay)."""


class ReplayStoreError(GatewayError):
    """The replay cache cannot vouch for a request (Redis unreachable, memory store full):
    the request is refused, never forwarded unchecked."""


class GatewayKeyError(GatewayError):
    """A gateway key directory, key file or key id is unusable (names which and why)."""

"""What encrypt and decrypt accept as recipients and identities, and the rules on mixing.

A recipient wraps the file key into stanzas; an identity unwraps it from the header's
stanzas, returning None when no stanza is addressed to it and raising HeaderError when
one is but is malformed. Third-party stanza types plug in by implementing the same two
one-method protocols. Plain pqml keys and age key strings are converted here, so callers
can pass whatever they hold.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from pqml.formats import age_keys
from pqml.formats.age import mlkem768x25519, scrypt, x25519
from pqml.formats.age.errors import RecipientError
from pqml.formats.age.header import Stanza
from pqml.primitives.base import PrivateKey, PublicKey
from pqml.primitives.errors import PolicyError, WrongKeyTypeError


@runtime_checkable
class Recipient(Protocol):
    def wrap(self, file_key: bytes) -> list[Stanza]: ...


@runtime_checkable
class Identity(Protocol):
    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None: ...


RecipientLike = Recipient | PublicKey | str
IdentityLike = Identity | PrivateKey | str


def recipient_for(value: RecipientLike) -> Recipient:
    """An age recipient from a recipient object, an X25519/X-Wing public key, or an
    ``age1…`` / ``age1pq1…`` string."""
    if isinstance(value, str):
        value = age_keys.parse_recipient(value)
    if isinstance(value, PublicKey):
        if value.algorithm == x25519.ALGORITHM:
            return x25519.X25519Recipient(value)  # type: ignore[arg-type]
        if value.algorithm == mlkem768x25519.ALGORITHM:
            return mlkem768x25519.MLKEM768X25519Recipient(value)  # type: ignore[arg-type]
        raise WrongKeyTypeError(
            f"age has no recipient type for {value.algorithm} keys (X25519 and X-Wing only)"
        )
    if isinstance(value, Recipient):
        return value
    raise TypeError(f"not an age recipient: {type(value).__name__}")


def identity_for(value: IdentityLike) -> Identity:
    """An age identity from an identity object, an X25519/X-Wing private key, or an
    ``AGE-SECRET-KEY-1…`` / ``AGE-SECRET-KEY-PQ-1…`` string."""
    if isinstance(value, str):
        value = age_keys.parse_identity(value)
    if isinstance(value, PrivateKey):
        if value.algorithm == x25519.ALGORITHM:
            return x25519.X25519Identity(value)  # type: ignore[arg-type]
        if value.algorithm == mlkem768x25519.ALGORITHM:
            return mlkem768x25519.MLKEM768X25519Identity(value)  # type: ignore[arg-type]
        raise WrongKeyTypeError(
            f"age has no identity type for {value.algorithm} keys (X25519 and X-Wing only)"
        )
    if isinstance(value, Identity):
        return value
    raise TypeError(f"not an age identity: {type(value).__name__}")


def recipients_for(values: Iterable[RecipientLike], *, allow_mixed_pq: bool = False
                   ) -> list[Recipient]:
    """Convert and check a recipient list.

    A scrypt recipient must be alone. Post-quantum and classical recipients are not mixed
    unless ``allow_mixed_pq`` (as age >= 1.3 refuses): the classical stanza would let a
    future quantum attacker read what the post-quantum one protects.
    """
    recipients = [recipient_for(v) for v in values]
    if not recipients:
        raise RecipientError("at least one recipient is required")
    if len(recipients) > 1 and any(getattr(r, "must_be_alone", False) for r in recipients):
        raise RecipientError("a passphrase (scrypt) recipient must be the only recipient")
    kinds = {bool(getattr(r, "post_quantum", False)) for r in recipients}
    if len(kinds) > 1 and not allow_mixed_pq:
        raise PolicyError(
            "refusing to mix post-quantum and classical recipients: the classical one "
            "would leave the file open to a quantum attacker (pass allow_mixed_pq=True)"
        )
    return recipients


def identities_for(values: Iterable[IdentityLike]) -> list[Identity]:
    identities = [identity_for(v) for v in values]
    if not identities:
        raise ValueError("at least one identity is required")
    return identities


def check_stanzas(stanzas: Sequence[Stanza]) -> None:
    """Header-wide rules (a scrypt stanza is alone), checked before any identity runs."""
    scrypt.check_alone(stanzas)

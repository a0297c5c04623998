"""What pqml/v1 encryption accepts as recipients and identities, and the rules on mixing.

The protocols are age's (``wrap(file_key) -> stanzas``, ``unwrap(stanzas) -> file key |
None``), so third-party stanza types plug in the same way. Plain pqml keys (X-Wing,
ML-KEM-768/1024, MLKEM1024-P384, X25519) and age key strings (``age1pq1…`` is an X-Wing
key, ``age1…`` an X25519 key) are converted here.

Rules: at least one recipient; a passphrase recipient is alone; a quantum-vulnerable
recipient (X25519) only with ``allow_classical`` — its stanza would let a future quantum
attacker recover the file key, whatever the other stanzas use.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pqml.formats import age_keys
from pqml.formats.age.errors import HeaderError, RecipientError
from pqml.formats.age.header import Stanza
from pqml.formats.age.recipients import Identity, Recipient
from pqml.formats.pqml_v1 import argon2id, header_area, hpke_stanza
from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, PrivateKey, PublicKey
from pqml.primitives.errors import PolicyError

RecipientLike = Recipient | PublicKey | str
IdentityLike = Identity | PrivateKey | str


def recipient_for(value: RecipientLike) -> Recipient:
    """A recipient from a recipient object, a KEM public key or an age recipient string."""
    if isinstance(value, str):
        value = age_keys.parse_recipient(value)
    if isinstance(value, PrivateKey):
        value = value.public_key()
    if isinstance(value, PublicKey):
        if not isinstance(value, KEMPublicKey):
            hpke_stanza.kem_type_for(value.algorithm)  # raises WrongKeyTypeError
        return hpke_stanza.HPKERecipient(value)  # type: ignore[arg-type]
    if isinstance(value, Recipient):
        return value
    raise TypeError(f"not a pqml/v1 recipient: {type(value).__name__}")


def identity_for(value: IdentityLike) -> Identity:
    """An identity from an identity object, a KEM private key or an age identity string."""
    if isinstance(value, str):
        value = age_keys.parse_identity(value)
    if isinstance(value, PrivateKey):
        if not isinstance(value, KEMPrivateKey):
            hpke_stanza.kem_type_for(value.algorithm)
        return hpke_stanza.HPKEIdentity(value)  # type: ignore[arg-type]
    if isinstance(value, Identity):
        return value
    raise TypeError(f"not a pqml/v1 identity: {type(value).__name__}")


def is_post_quantum(recipient: Any) -> bool:
    return bool(getattr(recipient, "post_quantum", False))


def recipients_for(values: Iterable[RecipientLike], *, allow_classical: bool = False
                   ) -> list[Recipient]:
    """Convert and check a recipient list (duplicates of one key collapse to one)."""
    recipients: list[Recipient] = []
    seen: set[str] = set()
    for value in values:
        recipient = recipient_for(value)
        kid = getattr(recipient, "key_id", None)
        if kid is not None:
            if kid in seen:
                continue
            seen.add(kid)
        recipients.append(recipient)
    if not recipients:
        raise RecipientError("at least one recipient is required")
    if len(recipients) > 1 and any(getattr(r, "must_be_alone", False) for r in recipients):
        raise RecipientError("a passphrase recipient must be the only recipient")
    classical = [r for r in recipients if not is_post_quantum(r)]
    if classical and not allow_classical:
        raise PolicyError(
            "refusing a quantum-vulnerable (classical) recipient: its stanza would let a "
            "future quantum attacker decrypt the file (pass --allow-classical / "
            "allow_classical=True to accept that)"
        )
    return recipients


def identities_for(values: Iterable[IdentityLike]) -> list[Identity]:
    identities = [identity_for(v) for v in values]
    if not identities:
        raise ValueError("at least one identity is required")
    return identities


def check_stanzas(stanzas: Sequence[Stanza]) -> None:
    """Header-wide rules, checked before any identity runs: every stanza of a type pqml/v1
    defines is well formed, a ``header-area`` stanza (layout, not a recipient) comes
    first, and a passphrase stanza is alone among the recipients. Unknown types are
    ignored (a newer writer may add types; they simply never match)."""
    recipients = header_area.recipient_stanzas(stanzas)
    argon2id.check_alone(recipients)
    for stanza in recipients:
        if stanza.type in hpke_stanza.BY_STANZA_TYPE:
            hpke_stanza.check_stanza(stanza)
        elif stanza.type == argon2id.STANZA_TYPE:
            argon2id.parse(stanza)


def describe_stanza(stanza: Stanza) -> dict[str, object]:
    """Facts about one stanza for ``pqml inspect`` (no key needed)."""
    kem = hpke_stanza.BY_STANZA_TYPE.get(stanza.type)
    if kem is not None:
        return {"type": stanza.type, "kem": kem.algorithm, "key_id": stanza.args[0],
                "post_quantum": kem.post_quantum, "quantum_vulnerable": not kem.post_quantum}
    if stanza.type == argon2id.STANZA_TYPE:
        _, params = argon2id.parse(stanza)
        return {"type": stanza.type, "kem": None, "passphrase": "Argon2id",
                "argon2id": {"t": params.iterations, "m_kib": params.memory_kib,
                             "p": params.lanes},
                "post_quantum": True, "quantum_vulnerable": False}
    if stanza.type == header_area.STANZA_TYPE:
        return {"type": stanza.type, "kem": None, "layout": True,
                "header_area": header_area.parse_stanza(stanza), "post_quantum": None,
                "quantum_vulnerable": None}
    return {"type": stanza.type, "kem": None, "post_quantum": None,
            "quantum_vulnerable": None, "unknown": True}


__all__ = [
    "HeaderError",
    "IdentityLike",
    "RecipientLike",
    "check_stanzas",
    "describe_stanza",
    "identities_for",
    "identity_for",
    "recipient_for",
    "recipients_for",
]

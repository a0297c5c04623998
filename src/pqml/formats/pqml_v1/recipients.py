"""What pqml/v1 encryption accepts as recipients and identities: pqml/v1's part of the
recipient policy both formats share (:mod:`pqml.formats.recipient_policy`, which has the
rules).

What is pqml/v1's own: one HPKE stanza type per KEM (X-Wing, ML-KEM-768/1024,
MLKEM1024-P384, X25519; ``age1pq1…`` is an X-Wing key, ``age1…`` an X25519 key) and the
``argon2id`` passphrase stanza, alone in its header (docs/FORMAT.md); the quantum rule
(no quantum-vulnerable recipient, i.e. X25519, without ``allow_classical``: its stanza
would let a future quantum attacker recover the file key, whatever the other stanzas use);
key ids, so a key given twice gets one stanza; and a header whose ``header-area`` stanza
is layout, not a recipient, and whose stanzas of every known type are validated
header-wide, before any identity runs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pqml.formats.age.errors import HeaderError
from pqml.formats.age.header import Stanza
from pqml.formats.pqml_v1 import argon2id, header_area, hpke_stanza
from pqml.formats.recipient_policy import (
    Description,
    Identity,
    IdentityLike,
    Recipient,
    RecipientLike,
    RecipientRules,
)


def _describe_known(recipient: Any) -> Description | None:
    if isinstance(recipient, hpke_stanza.HPKERecipient):
        kem = recipient.kem_type
        return {"type": kem.stanza_type, "kem": kem.algorithm, "key_id": recipient.key_id,
                "post_quantum": kem.post_quantum}
    if isinstance(recipient, argon2id.Argon2idRecipient):
        return {"type": argon2id.STANZA_TYPE, "kem": None, "passphrase": True,
                "post_quantum": True}
    return None


def _argon2id_recipient(passphrase: bytes, work_factor: Any) -> argon2id.Argon2idRecipient:
    """``work_factor`` is Argon2Params or ``(t, m_kib, p)``; None takes the default."""
    if work_factor is None:
        params = argon2id.DEFAULT_PARAMS
    elif isinstance(work_factor, argon2id.Argon2Params):
        params = work_factor
    else:
        t, m, p = work_factor
        params = argon2id.Argon2Params(int(t), int(m), int(p))
    return argon2id.Argon2idRecipient(passphrase, params)


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


RULES = RecipientRules(
    name="pqml/v1",
    key_types={t.algorithm: (hpke_stanza.HPKERecipient, hpke_stanza.HPKEIdentity)
               for t in hpke_stanza.TYPES},
    passphrase_type=argon2id.STANZA_TYPE,
    passphrase_recipient=_argon2id_recipient,
    passphrase_identity=argon2id.Argon2idIdentity,
    check_passphrase_alone=argon2id.check_alone,
    describe_known=_describe_known,
    describe_stanza=describe_stanza,
    recipient_stanzas=header_area.recipient_stanzas,
    stanza_checks={argon2id.STANZA_TYPE: argon2id.parse,
                   **dict.fromkeys(hpke_stanza.BY_STANZA_TYPE, hpke_stanza.check_stanza)},
)


def recipients_for(values: Iterable[RecipientLike], *, allow_classical: bool = False
                   ) -> list[Recipient]:
    """Convert and check a recipient set: pqml/v1's quantum rule refuses any
    quantum-vulnerable recipient unless ``allow_classical`` (then mixing is allowed)."""
    return RULES.recipients_for(values, allow_classical=allow_classical, allow_mixed_pq=True)


# the rest of the shared policy under the names callers import, bound to pqml/v1's rules
recipient_for = RULES.recipient_for
identity_for = RULES.identity_for
identities_for = RULES.identities_for
check_stanzas = RULES.check_stanzas


__all__ = [
    "RULES",
    "HeaderError",
    "Identity",
    "IdentityLike",
    "Recipient",
    "RecipientLike",
    "check_stanzas",
    "describe_stanza",
    "identities_for",
    "identity_for",
    "recipient_for",
    "recipients_for",
]

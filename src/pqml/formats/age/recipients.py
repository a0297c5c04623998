"""What age encryption accepts as recipients and identities: age's part of the recipient
policy both formats share (:mod:`pqml.formats.recipient_policy`, which has the rules).

What is age's own: stanza types for X25519 (classical, quantum-vulnerable) and X-Wing
(``mlkem768x25519``) keys, for SSH keys (``ssh-ed25519``, ``ssh-rsa``: classical,
quantum-vulnerable; age's agessh, for keys people already have) and the ``scrypt``
passphrase stanza, which the age spec wants alone in its header; the quantum rule of
age >= 1.3 (post-quantum and classical recipients are not mixed unless ``allow_mixed_pq``;
a classical recipient alone is plain age); no header-wide stanza validation beyond the
scrypt rule (each identity checks the stanzas of its own type), and no key ids (stanzas do
not name their recipient; the SSH ones carry a 4-byte tag of their key instead).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pqml.formats.age import mlkem768x25519, scrypt, ssh_ed25519, ssh_rsa, x25519
from pqml.formats.age.header import Stanza
from pqml.formats.recipient_policy import (
    Description,
    Identity,  # noqa: F401  (re-exported: callers import the protocols from here)
    IdentityLike,  # noqa: F401
    Recipient,
    RecipientLike,
    RecipientRules,
)

# stanza type -> (KEM, or None for the passphrase; post-quantum)
_STANZAS: dict[str, tuple[str | None, bool]] = {
    x25519.STANZA_TYPE: ("X25519", False),
    mlkem768x25519.STANZA_TYPE: ("X-Wing", True),
    scrypt.STANZA_TYPE: (None, True),
    ssh_ed25519.STANZA_TYPE: ("X25519", False),
    ssh_rsa.STANZA_TYPE: ("RSA-OAEP", False),
}
_RECIPIENT_TYPES: tuple[tuple[type, str], ...] = (
    (x25519.X25519Recipient, x25519.STANZA_TYPE),
    (mlkem768x25519.MLKEM768X25519Recipient, mlkem768x25519.STANZA_TYPE),
    (scrypt.ScryptRecipient, scrypt.STANZA_TYPE),
    (ssh_ed25519.SSHEd25519Recipient, ssh_ed25519.STANZA_TYPE),
    (ssh_rsa.SSHRSARecipient, ssh_rsa.STANZA_TYPE),
)


def describe_stanza(stanza: Stanza) -> Description:
    """Facts about one stanza for ``pqml inspect`` (no key needed)."""
    kem, pq = _STANZAS.get(stanza.type, (None, None))
    info: Description = {"type": stanza.type, "kem": kem}
    if stanza.type == scrypt.STANZA_TYPE:
        info["passphrase"] = "scrypt"
        if len(stanza.args) == 2:
            info["scrypt_log2_n"] = stanza.args[1]
    if stanza.type in (ssh_ed25519.STANZA_TYPE, ssh_rsa.STANZA_TYPE) and stanza.args:
        info["ssh_key_tag"] = stanza.args[0]  # SHA-256(SSH key)[:4]: names the key
    if pq is None:
        info["unknown"] = True
    info["post_quantum"] = pq
    info["quantum_vulnerable"] = None if pq is None else not pq
    return info


def _describe_known(recipient: Any) -> Description | None:
    for cls, stanza_type in _RECIPIENT_TYPES:
        if isinstance(recipient, cls):
            kem, pq = _STANZAS[stanza_type]
            passphrase = {"passphrase": True} if kem is None else {}
            return {"type": stanza_type, "kem": kem, **passphrase, "post_quantum": pq}
    return None


def _scrypt_recipient(passphrase: bytes, work_factor: Any) -> scrypt.ScryptRecipient:
    """``work_factor`` is log2(N); None takes age's default."""
    wf = scrypt.DEFAULT_WORK_FACTOR if work_factor is None else int(work_factor)
    return scrypt.ScryptRecipient(passphrase, wf)


RULES = RecipientRules(
    name="age",
    key_types={
        x25519.ALGORITHM: (x25519.X25519Recipient, x25519.X25519Identity),
        mlkem768x25519.ALGORITHM: (mlkem768x25519.MLKEM768X25519Recipient,
                                   mlkem768x25519.MLKEM768X25519Identity),
        ssh_ed25519.ALGORITHM: (ssh_ed25519.SSHEd25519Recipient,
                                ssh_ed25519.SSHEd25519Identity),
        ssh_rsa.ALGORITHM: (ssh_rsa.SSHRSARecipient, ssh_rsa.SSHRSAIdentity),
    },
    passphrase_type=scrypt.STANZA_TYPE,
    passphrase_recipient=_scrypt_recipient,
    passphrase_identity=scrypt.ScryptIdentity,
    check_passphrase_alone=scrypt.check_alone,
    describe_known=_describe_known,
    describe_stanza=describe_stanza,
)


def recipients_for(values: Iterable[RecipientLike], *, allow_mixed_pq: bool = False
                   ) -> list[Recipient]:
    """Convert and check a recipient set: age's quantum rule refuses only the mix of
    post-quantum and classical recipients, unless ``allow_mixed_pq``."""
    return RULES.recipients_for(values, allow_classical=True, allow_mixed_pq=allow_mixed_pq)


# the rest of the shared policy under the names callers import, bound to age's rules
recipient_for = RULES.recipient_for
identity_for = RULES.identity_for
identities_for = RULES.identities_for
check_stanzas = RULES.check_stanzas


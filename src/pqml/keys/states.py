"""The one life cycle every managed key follows, KEM and signature keys alike.

Tink has ENABLED / DISABLED / DESTROYED and a primary; Vault has versions and a minimum
decryption version. pqml needs both ideas plus what ML assets ask for: a key that stops
protecting new assets but still opens old ones (retired), a key whose holder was removed
(revoked), and a key known to be in an attacker's hands since a given time (compromised),
so that signatures made before that time can still be told apart from later ones.

Only the transitions in :data:`TRANSITIONS` exist; :func:`check_transition` is the single
place that says so (the keyring calls it inside its write transaction).
"""

from __future__ import annotations

import enum

from pqml.keys.errors import KeyStateError


class KeyState(enum.StrEnum):
    PENDING = "pending"                    # made, not yet in use (rotation's successor)
    ACTIVE = "active"                      # protects new assets: encrypt, sign
    RETIRED = "retired"                    # opens old assets only: decrypt, verify
    REVOKED = "revoked"                    # its holder was removed; old assets still open
    COMPROMISED = "compromised"            # in other hands since ``compromised_at``
    DISABLED = "disabled"                  # usable for nothing until re-enabled
    DESTROY_SCHEDULED = "destroy-scheduled"  # private key deleted after a window
    DESTROYED = "destroyed"                # private key material is gone


S = KeyState
TRANSITIONS: dict[KeyState, frozenset[KeyState]] = {
    S.PENDING: frozenset({S.ACTIVE, S.DISABLED, S.COMPROMISED}),
    S.ACTIVE: frozenset({S.RETIRED, S.REVOKED, S.COMPROMISED, S.DISABLED}),
    S.RETIRED: frozenset({S.REVOKED, S.COMPROMISED, S.DISABLED}),
    S.REVOKED: frozenset({S.COMPROMISED, S.DISABLED}),
    S.COMPROMISED: frozenset({S.DISABLED}),
    # Re-enabling gives back only what the key could do before it was disabled; the
    # keyring records that earlier state and passes it as ``restore_to``.
    S.DISABLED: frozenset({S.RETIRED, S.REVOKED, S.COMPROMISED, S.DESTROY_SCHEDULED}),
    S.DESTROY_SCHEDULED: frozenset({S.DISABLED, S.DESTROYED, S.COMPROMISED}),
    S.DESTROYED: frozenset({S.COMPROMISED}),  # learning of a leak later is still news
}

# What each state allows. New protection (encrypt to it, sign with it) only when active.
PROTECTS = frozenset({S.ACTIVE})
# Opening what it protected: decrypt, and verify (revoked / compromised keys verify, but
# verification reports the state; compromised ones by time, see the transparency log).
OPENS = frozenset({S.ACTIVE, S.RETIRED, S.REVOKED, S.COMPROMISED})
HAS_PRIVATE_KEY = frozenset(set(S) - {S.DESTROYED})


def check_transition(key: str, old: KeyState, new: KeyState) -> None:
    """Raise :class:`KeyStateError` naming ``key`` unless ``old → new`` is allowed."""
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "none"
        raise KeyStateError(f"key {key}: cannot go from {old} to {new} "
                            f"(allowed from {old}: {allowed})")


def check_use(key: str, state: KeyState, use: str) -> None:
    """Refuse ``use`` ("encrypt", "sign", "decrypt", "verify") in ``state``, one line."""
    if use in ("encrypt", "sign"):
        if state not in PROTECTS:
            raise KeyStateError(f"key {key} is {state}: it cannot {use} new assets "
                                "(only an active key can)")
    elif use in ("decrypt", "verify"):
        if state not in OPENS:
            raise KeyStateError(f"key {key} is {state}: it cannot {use}")
    else:
        raise ValueError(f"unknown key use {use!r}")

"""One recipient-set policy for both encrypted formats (age v1 and pqml/v1).

Both formats accept the same inputs (recipient and identity objects, key objects, age key
strings), check a recipient set by the same rules and check a header's stanzas, before any
identity runs, in the same steps. A :class:`RecipientRules` holds what one format
describes differently (``pqml.formats.age.recipients.RULES``,
``pqml.formats.pqml_v1.recipients.RULES``); its methods are the policy itself.

A recipient set, checked in this order:

1. every value converts: a string is an age recipient (``age1…``, ``age1pq1…``) or an SSH
   public key line (``ssh-ed25519 AAAA…``, ``ssh-rsa …``: only age has stanzas for them),
   a private key stands for its public half, a key needs a stanza type of the format for
   its algorithm (WrongKeyTypeError), any other object must have ``wrap`` (TypeError);
2. recipients with the same ``key_id`` collapse to one (pqml/v1 stanzas name their key;
   age stanzas do not, so an age recipient given twice gets two stanzas, as in age);
3. at least one recipient (RecipientError);
4. a recipient that must be alone (the passphrase) is alone (RecipientError);
5. no quantum-vulnerable recipient unless ``allow_classical`` (PolicyError);
6. no quantum-vulnerable recipient beside a post-quantum one unless ``allow_mixed_pq``
   (PolicyError): the classical stanza would let a future quantum attacker read what the
   post-quantum one protects.

Rules 5 and 6 are where the formats differ: age's own rule is 6 (as age >= 1.3: a lone
classical recipient is plain age), pqml/v1's is 5 (docs/FORMAT.md: ``x25519`` only on
opt-in, whatever the other stanzas). pqml's encryption layer applies 5 to both formats.
A recipient object without a true ``post_quantum`` attribute counts as quantum-vulnerable.

A header, before any identity: the format picks its recipient stanzas (pqml/v1 leaves
out its layout stanza), there is at least one, the passphrase stanza is alone
(HeaderError, as the format's spec words it), stanzas of the types the format validates
header-wide are well formed, and stanzas of other types are ignored (a newer writer may
add types; they never match).

Pure: objects in, objects out; errors from their home modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from pqml.formats import age_keys
from pqml.formats.age.errors import HeaderError, RecipientError
from pqml.formats.age.header import Stanza
from pqml.primitives.base import PrivateKey, PublicKey
from pqml.primitives.errors import PolicyError, WrongKeyTypeError


@runtime_checkable
class Recipient(Protocol):
    """Wraps a file key into stanzas (third-party stanza types implement this too)."""

    def wrap(self, file_key: bytes) -> list[Stanza]: ...


@runtime_checkable
class Identity(Protocol):
    """Unwraps the file key: None when no stanza is addressed to it, HeaderError when one
    is but is malformed."""

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None: ...


RecipientLike = Recipient | PublicKey | PrivateKey | str
IdentityLike = Identity | PrivateKey | str
Description = dict[str, Any]
Role = Literal["recipient", "identity"]


@dataclass(frozen=True)
class RecipientRules:
    """What one format's recipients differ in; the methods are the shared policy."""

    name: str  #: the format, in messages ("age", "pqml/v1")
    #: key algorithm -> (recipient, identity) constructors; other keys are refused
    key_types: Mapping[str, tuple[Callable[[Any], Recipient], Callable[[Any], Identity]]]
    passphrase_type: str  #: the passphrase stanza type (it must be alone)
    passphrase_recipient: Callable[[bytes, Any], Recipient]  #: (passphrase, work factor)
    passphrase_identity: Callable[[bytes], Identity]
    #: HeaderError unless a passphrase stanza is alone, in the words of the format's spec
    check_passphrase_alone: Callable[[Sequence[Stanza]], None]
    #: type, KEM and post-quantum status of the format's own recipient objects, else None
    describe_known: Callable[[Any], Description | None]
    describe_stanza: Callable[[Stanza], Description]  #: facts about a stanza, no key needed
    #: the header's recipient stanzas (HeaderError if its layout is wrong)
    recipient_stanzas: Callable[[Sequence[Stanza]], Sequence[Stanza]] = tuple
    #: stanza type -> validator run header-wide (HeaderError); other types are not checked
    stanza_checks: Mapping[str, Callable[[Stanza], object]] = field(default_factory=dict)

    # ---- one value ---------------------------------------------------------------------------

    def recipient_for(self, value: RecipientLike) -> Recipient:
        """A recipient from a recipient object, a key (a private key gives its public
        half) or an age recipient string."""
        return self._convert(value, "recipient")

    def identity_for(self, value: IdentityLike) -> Identity:
        """An identity from an identity object, a private key or an age identity string."""
        return self._convert(value, "identity")

    def _convert(self, value: Any, role: Role) -> Any:
        recipient = role == "recipient"
        if isinstance(value, str) and recipient and value.startswith("ssh-"):
            from pqml.formats import ssh_keys  # an SSH public key line, as age -r takes

            value = ssh_keys.parse_public_key(value)
        elif isinstance(value, str):
            value = (age_keys.parse_recipient if recipient else age_keys.parse_identity)(value)
        if recipient and isinstance(value, PrivateKey):
            value = value.public_key()
        if isinstance(value, PublicKey if recipient else PrivateKey):
            makers = self.key_types.get(value.algorithm)
            if makers is None:
                raise WrongKeyTypeError(
                    f"{self.name} has no {role} type for {value.algorithm} keys "
                    f"(supported: {', '.join(self.key_types)})"
                )
            return makers[0 if recipient else 1](value)
        if isinstance(value, Recipient if recipient else Identity):
            return value
        article = "an" if self.name[:1] in "aeiou" else "a"
        raise TypeError(f"not {article} {self.name} {role}: {type(value).__name__}")

    # ---- sets --------------------------------------------------------------------------------

    def recipients_for(self, values: Iterable[RecipientLike], *, allow_classical: bool,
                       allow_mixed_pq: bool) -> list[Recipient]:
        """Convert and check a recipient set (rules 1-6 of the module docstring)."""
        recipients: list[Recipient] = []
        seen: set[str] = set()
        for value in _many(values, "recipients"):
            recipient = self.recipient_for(value)
            kid = getattr(recipient, "key_id", None)
            if kid is not None:
                if kid in seen:
                    continue
                seen.add(kid)
            recipients.append(recipient)
        if not recipients:
            raise RecipientError("at least one recipient is required")
        if len(recipients) > 1 and any(getattr(r, "must_be_alone", False) for r in recipients):
            raise RecipientError(f"a passphrase ({self.passphrase_type}) recipient must be "
                                 "the only recipient")
        classical = [r for r in recipients if not getattr(r, "post_quantum", False)]
        if classical and not allow_classical:
            kind = self.describe_recipient(classical[0])["type"]
            raise PolicyError(
                f"refusing the quantum-vulnerable {kind} recipient: a future quantum attacker "
                "could decrypt the file (pass --allow-classical / allow_classical=True to "
                "accept that)"
            )
        if classical and len(classical) < len(recipients) and not allow_mixed_pq:
            raise PolicyError(
                "refusing to mix post-quantum and classical recipients: the classical one "
                "would leave the file open to a quantum attacker (pass allow_mixed_pq=True)"
            )
        return recipients

    def identities_for(self, values: Iterable[IdentityLike]) -> list[Identity]:
        """Convert an identity set: every value converts, at least one (ValueError)."""
        identities = [self.identity_for(v) for v in _many(values, "identities")]
        if not identities:
            raise ValueError("at least one identity is required")
        return identities

    def check_stanzas(self, stanzas: Sequence[Stanza]) -> tuple[Stanza, ...]:
        """The header's recipient stanzas, after the header-wide rules (checked before any
        identity runs): layout, at least one stanza (a header without any is malformed,
        not one that no identity matched), passphrase stanza alone, known types well
        formed."""
        recipients = tuple(self.recipient_stanzas(stanzas))
        if not recipients:
            raise HeaderError("header has no recipient stanzas")
        self.check_passphrase_alone(recipients)
        for stanza in recipients:
            check = self.stanza_checks.get(stanza.type)
            if check is not None:
                check(stanza)
        return recipients

    def describe_recipient(self, recipient: Any) -> Description:
        """Type, KEM and post-quantum status of a converted recipient (``--json``,
        warnings); a third-party one is described by its class and attribute."""
        known = self.describe_known(recipient)
        if known is not None:
            return known
        return {"type": type(recipient).__name__, "kem": None,
                "post_quantum": bool(getattr(recipient, "post_quantum", False))}


def _many(values: Iterable[Any], what: str) -> Iterable[Any]:
    """``values``, refusing one string or bytes where a set was meant (iterating it would
    try each character as a key)."""
    if isinstance(values, (str, bytes, bytearray)):
        raise TypeError(f"{what} must be a list or other iterable of values, not one "
                        f"{type(values).__name__}")
    return values

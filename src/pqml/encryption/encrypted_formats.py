"""One seam over the two encrypted formats (pqml/v1 and age v1) for the features above.

Detection by the first bytes, recipient and identity conversion by the recipient policy
the formats share, with pqml's quantum rule for both (no quantum-vulnerable recipient
without an explicit opt-in, whatever the format), header reading and unwrapping (with the
payload offset, which a pqml/v1 header area moves), and plain descriptions of recipients
and stanzas for ``--json``, warnings and ``pqml inspect``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pqml.encryption.encryption_keys import Format, for_format, rules_for
from pqml.encryption.errors import NotEncryptedError
from pqml.formats.age._io import Source
from pqml.formats.age.header import AGE_V1, Header, Stanza
from pqml.formats.pqml_v1.header_area import Located
from pqml.primitives.errors import WrongKeyTypeError

PQML_MAGIC = b"pqml/v1\n"
AGE_PREFIX = b"age-encryption.org/"
PQML_PREFIX = b"pqml/"
SUFFIX: dict[Format, str] = {"pqml": ".pqml", "age": ".age"}


@dataclass(frozen=True)
class Detected:
    format: Format
    armored: bool

    @property
    def name(self) -> str:
        return "pqml/v1" if self.format == "pqml" else "age-encryption.org/v1"


def detect(prefix: bytes) -> Detected:
    """The format of an encrypted file from its first bytes (at least 32 are best)."""
    from pqml.formats.age import armor

    if prefix.startswith(PQML_PREFIX):
        return Detected("pqml", False)
    if prefix.startswith(AGE_PREFIX):
        return Detected("age", False)
    if armor.armor_label(prefix) == armor.PQML_LABEL:
        return Detected("pqml", True)
    if armor.looks_armored(prefix):
        return Detected("age", True)
    if not prefix:
        raise NotEncryptedError("file is empty: not an encrypted file")
    raise NotEncryptedError("not an encrypted file (expected pqml/v1 or age, binary or armored)")


def armor_label(fmt: Format) -> bytes:
    """The armor label of a format: one armor encoding, a label saying what is inside."""
    from pqml.formats.age import armor

    return armor.PQML_LABEL if fmt == "pqml" else armor.LABEL


def unarmored(detected: Detected, source: Source) -> Source:
    """The binary file in ``source``: itself, or decoded from its armor."""
    if not detected.armored:
        return source
    from pqml.formats.age import armor

    return Source(armor.ArmorReader(source, armor_label(detected.format)))


def read_header(fmt: Format, source: Source) -> Header:
    if fmt == "pqml":
        from pqml.formats import pqml_v1

        return pqml_v1.read_header(source)
    from pqml.formats.age import header

    return header.read_header(source, AGE_V1)


def open_header(fmt: Format, source: Source, identities: Sequence[Any] | None = None
                ) -> Located:
    """The header, where the payload starts and, given prepared identities, the file key:
    the only way features find the payload (a pqml/v1 header area moves it to 2·S)."""
    if fmt == "pqml":
        from pqml.formats import pqml_v1

        return pqml_v1.open_header(source, identities)
    header = read_header(fmt, source)
    file_key = unwrap(fmt, header, identities) if identities is not None else None
    return Located(header, len(header.marshal()), file_key=file_key)


def recipient_stanzas(fmt: Format, header: Header) -> tuple[Stanza, ...]:
    """The stanzas that are recipients (a pqml/v1 header area's stanza is layout)."""
    return tuple(rules_for(fmt).recipient_stanzas(header.stanzas))


# ---- recipients ----------------------------------------------------------------------------


def prepare_recipients(fmt: Format, recipients: Iterable[Any], *,
                       allow_classical: bool = False) -> tuple[list[Any], list[dict[str, Any]]]:
    """Format-level recipient objects and their descriptions, after the recipient policy
    both formats share (:mod:`pqml.formats.recipient_policy`) with pqml's quantum rule
    for both: a quantum-vulnerable recipient only with ``allow_classical`` (and then also
    beside post-quantum ones, which age alone would refuse)."""
    rules = rules_for(fmt)
    items = for_format(fmt, list(recipients), role="recipient")
    objs = rules.recipients_for(items, allow_classical=allow_classical, allow_mixed_pq=True)
    return objs, [rules.describe_recipient(r) for r in objs]


def prepare_identities(fmt: Format, identities: Sequence[Any]) -> list[Any]:
    """The identities usable with ``fmt``; keys of types the format has no stanza for are
    skipped, and an error is raised only if none is left."""
    rules = rules_for(fmt)
    out: list[Any] = []
    last: WrongKeyTypeError | None = None
    for item in for_format(fmt, list(identities), role="identity"):
        try:
            out.append(rules.identity_for(item))
        except WrongKeyTypeError as exc:
            last = exc
    if not out:
        if last is not None:
            raise last
        raise WrongKeyTypeError("no identity given: pass -i IDENTITY or --passphrase-file")
    return out


def unwrap(fmt: Format, header: Header, identities: Sequence[Any]) -> bytes:
    """The file key (header rules, stanzas, MAC), with identities already prepared."""
    if fmt == "pqml":
        from pqml.formats import pqml_v1

        return pqml_v1.unwrap_file_key(header, identities)
    from pqml.formats import age

    return age.unwrap_file_key(header, identities)


# ---- stanzas --------------------------------------------------------------------------------


def describe_stanza(fmt: Format, stanza: Stanza) -> dict[str, Any]:
    """Facts about one stanza, without any key."""
    return rules_for(fmt).describe_stanza(stanza)

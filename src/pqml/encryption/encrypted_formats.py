"""One seam over the two encrypted formats (pqml/v1 and age v1) for the features above.

Detection by the first bytes, recipient and identity conversion with pqml's policy (no
quantum-vulnerable recipient without an explicit opt-in, whatever the format), header
reading and unwrapping (with the payload offset, which a pqml/v1 header area moves), and
plain descriptions of recipients and stanzas for ``--json``, warnings and ``pqml inspect``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pqml.encryption.encryption_keys import Format, for_format
from pqml.encryption.errors import NotEncryptedError
from pqml.formats.age._io import Source
from pqml.formats.age.header import AGE_V1, Header, Stanza
from pqml.formats.pqml_v1.header_area import Located
from pqml.primitives.errors import PolicyError, WrongKeyTypeError

PQML_MAGIC = b"pqml/v1\n"
AGE_PREFIX = b"age-encryption.org/"
PQML_PREFIX = b"pqml/"
SUFFIX: dict[Format, str] = {"pqml": ".pqml", "age": ".age"}

# age stanza types pqml knows: (KEM or None for a passphrase, post-quantum)
_AGE_STANZAS: dict[str, tuple[str | None, bool]] = {
    "X25519": ("X25519", False),
    "mlkem768x25519": ("X-Wing", True),
    "scrypt": (None, True),
}


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
    if fmt == "pqml":
        from pqml.formats.pqml_v1 import header_area

        return header_area.recipient_stanzas(header.stanzas)
    return header.stanzas


# ---- recipients -----------------------------------------------------------------------------


def describe_recipient(recipient: Any) -> dict[str, Any]:
    """Type, KEM and post-quantum status of a format-level recipient object."""
    from pqml.formats.age import mlkem768x25519, scrypt, x25519
    from pqml.formats.pqml_v1 import argon2id, hpke_stanza

    if isinstance(recipient, hpke_stanza.HPKERecipient):
        kem = recipient.kem_type
        return {"type": kem.stanza_type, "kem": kem.algorithm, "key_id": recipient.key_id,
                "post_quantum": kem.post_quantum}
    if isinstance(recipient, argon2id.Argon2idRecipient):
        return {"type": argon2id.STANZA_TYPE, "kem": None, "passphrase": True,
                "post_quantum": True}
    if isinstance(recipient, x25519.X25519Recipient):
        return {"type": "X25519", "kem": "X25519", "post_quantum": False}
    if isinstance(recipient, mlkem768x25519.MLKEM768X25519Recipient):
        return {"type": "mlkem768x25519", "kem": "X-Wing", "post_quantum": True}
    if isinstance(recipient, scrypt.ScryptRecipient):
        return {"type": "scrypt", "kem": None, "passphrase": True, "post_quantum": True}
    return {"type": type(recipient).__name__, "kem": None,
            "post_quantum": bool(getattr(recipient, "post_quantum", False))}


def prepare_recipients(fmt: Format, recipients: Iterable[Any], *,
                       allow_classical: bool = False) -> tuple[list[Any], list[dict[str, Any]]]:
    """Format-level recipient objects and their descriptions, after pqml's policy:
    a quantum-vulnerable recipient only with ``allow_classical``."""
    items = for_format(fmt, list(recipients), role="recipient")
    if fmt == "pqml":
        from pqml.formats.pqml_v1 import recipients as conv
    else:
        from pqml.formats.age import recipients as conv  # type: ignore[no-redef]
    for item in items:
        d = describe_recipient(conv.recipient_for(item))
        if not d["post_quantum"] and not allow_classical:
            raise PolicyError(
                f"refusing the quantum-vulnerable {d['type']} recipient: a future quantum "
                "attacker could decrypt the file (pass --allow-classical / "
                "allow_classical=True to accept that)"
            )
    if fmt == "pqml":
        objs = conv.recipients_for(items, allow_classical=True)  # type: ignore[call-arg]
    else:
        objs = conv.recipients_for(items, allow_mixed_pq=True)  # type: ignore[call-arg]
    described = [describe_recipient(r) for r in objs]
    return objs, described


def prepare_identities(fmt: Format, identities: Sequence[Any]) -> list[Any]:
    """The identities usable with ``fmt``; keys of types the format has no stanza for are
    skipped, and an error is raised only if none is left."""
    items = for_format(fmt, list(identities), role="identity")
    if fmt == "pqml":
        from pqml.formats.pqml_v1 import recipients as conv
    else:
        from pqml.formats.age import recipients as conv  # type: ignore[no-redef]
    out: list[Any] = []
    last: WrongKeyTypeError | None = None
    for item in items:
        try:
            out.append(conv.identity_for(item))
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
    if fmt == "pqml":
        from pqml.formats import pqml_v1

        return pqml_v1.describe_stanza(stanza)
    kem, pq = _AGE_STANZAS.get(stanza.type, (None, None))
    info: dict[str, Any] = {"type": stanza.type, "kem": kem}
    if stanza.type == "scrypt":
        info["passphrase"] = "scrypt"
        if len(stanza.args) == 2:
            info["scrypt_log2_n"] = stanza.args[1]
    if pq is None:
        info["unknown"] = True
    info["post_quantum"] = pq
    info["quantum_vulnerable"] = None if pq is None else not pq
    return info

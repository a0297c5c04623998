"""C2SP signed notes (c2sp.org/signed-note): text signed by one or more named keys.

A note is UTF-8 text ending in a newline, a blank line, then signature lines
``— <key name> base64(key ID || signature)``. Keys are named by C2SP verifier keys
(*vkeys*, ``<name>+<hex key ID>+base64(type || public key)``), whose key ID is
``SHA-256(name || 0x0A || type || public key)[:4]``.

This module is the grammar (strict, bounded: :data:`MAX_NOTE_SIZE`,
:data:`MAX_SIGNATURES`) and the signature-type-independent verification rules: signatures
of unknown keys are ignored, a known key's signature that fails rejects the whole note,
and a note with no verified signature is rejected. It verifies signature type 0x01
(Ed25519 over the note text) itself; type 0x06 (ML-DSA-44 checkpoint cosignatures, the one
post-quantum type C2SP defines) signs a message built from the checkpoint, so
:mod:`pqml.formats.tlog` supplies that verifier.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from pqml.formats.errors import NoteFormatError
from pqml.primitives.errors import InvalidSignatureError, KeyFormatError

MAX_NOTE_SIZE = 256 * 1024  # 16+ ML-DSA-87-sized signatures fit (the spec asks for >= 16)
MAX_SIGNATURES = 64
MAX_KEY_NAME = 255  # bytes; the ML-DSA-44 cosigned message has a one-byte name length
TYPE_ED25519 = 0x01
TYPE_COSIGNATURE_ED25519 = 0x04
TYPE_COSIGNATURE_MLDSA44 = 0x06
_DASH = "\u2014 "
# Unicode spaces (Zs, plus the ASCII whitespace controls) are not allowed in key names.
_SPACE = re.compile(r"[\s\u00a0\u1680\u2000-\u200a\u202f\u205f\u3000+]")


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: the key name, the 32-bit key ID and the signature bytes."""

    name: str
    key_id: int
    signature: bytes

    def line(self) -> str:
        blob = self.key_id.to_bytes(4, "big") + self.signature
        return f"{_DASH}{self.name} {base64.b64encode(blob).decode()}\n"


@dataclass(frozen=True)
class Note:
    """A parsed note: ``text`` includes its final newline; signatures in file order."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def to_bytes(self) -> bytes:
        return serialize_note(self)


@dataclass(frozen=True)
class VerifierKey:
    """A vkey: the key name, key ID, signature type byte and raw public key."""

    name: str
    key_id: int
    type: int
    public_key: bytes

    def __str__(self) -> str:
        blob = bytes([self.type]) + self.public_key
        return f"{self.name}+{self.key_id:08x}+{base64.b64encode(blob).decode()}"


def b64decode(text: str, what: str) -> bytes:
    """Strict standard base64 (RFC 4648 §4, padded, no whitespace), or NoteFormatError."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise NoteFormatError(f"{what} is not valid base64") from None
    if base64.b64encode(data).decode("ascii") != text:  # non-canonical padding bits
        raise NoteFormatError(f"{what} is not canonical base64")
    return data


def check_key_name(name: str) -> str:
    """Refuse key names that are empty, too long, or hold a space or ``+``."""
    if not name:
        raise NoteFormatError("key name is empty")
    if len(name.encode("utf-8")) > MAX_KEY_NAME:
        raise NoteFormatError(f"key name is longer than {MAX_KEY_NAME} bytes")
    if _SPACE.search(name) or any(ord(c) < 0x20 or c == "\x7f" for c in name):
        raise NoteFormatError("key name contains a space, '+' or control character")
    return name


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """The C2SP key ID: ``SHA-256(name || 0x0A || type || public key)[:4]``, big-endian."""
    check_key_name(name)
    if not 0 <= sig_type <= 0xFF:
        raise NoteFormatError("signature type must be one byte")
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def verifier_key(name: str, sig_type: int, public_key: bytes) -> VerifierKey:
    """The vkey for a public key under a name and signature type (key ID computed)."""
    return VerifierKey(name, key_id(name, sig_type, public_key), sig_type, bytes(public_key))


def parse_vkey(text: str) -> VerifierKey:
    """Parse ``<name>+<hex key ID>+<base64(type || key)>``; the key ID must match the
    C2SP rule, so a vkey cannot claim another key's ID."""
    if len(text) > 2 * MAX_NOTE_SIZE:
        raise NoteFormatError("verifier key is too long")
    parts = text.split("+", 2)  # names hold no "+"; base64 may
    if len(parts) != 3:
        raise NoteFormatError("verifier key must be <name>+<key ID>+<key>")
    name, hex_id, blob = parts
    check_key_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hex_id):
        raise NoteFormatError("verifier key ID must be 8 lowercase hex digits")
    raw = b64decode(blob, "verifier key")
    if len(raw) < 2:
        raise NoteFormatError("verifier key holds no public key")
    key = verifier_key(name, raw[0], raw[1:])
    if key.key_id != int(hex_id, 16):
        raise NoteFormatError(f"verifier key ID {hex_id} does not match its key")
    return key


def parse_note(data: bytes) -> Note:
    """Parse a signed note strictly: UTF-8, no control characters but newline, text and
    signatures split at the last blank line, 1..MAX_SIGNATURES well-formed lines."""
    if len(data) > MAX_NOTE_SIZE:
        raise NoteFormatError(f"note is larger than {MAX_NOTE_SIZE} bytes")
    try:
        text = bytes(data).decode("utf-8")
    except UnicodeDecodeError:
        raise NoteFormatError("note is not valid UTF-8") from None
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteFormatError("note contains a control character other than newline")
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise NoteFormatError("note has no blank line before its signatures")
    body, sig_block = text[: split + 1], text[split + 2 :]
    lines = sig_block[:-1].split("\n") if sig_block else []
    if not lines:
        raise NoteFormatError("note has no signature lines")
    if len(lines) > MAX_SIGNATURES:
        raise NoteFormatError(f"note has more than {MAX_SIGNATURES} signatures")
    signatures = []
    for number, line in enumerate(lines, 1):
        if not line.startswith(_DASH):
            raise NoteFormatError(f"signature line {number} does not start with an em dash")
        name, space, blob = line[len(_DASH) :].partition(" ")
        if not space:
            raise NoteFormatError(f"signature line {number} has no signature")
        check_key_name(name)
        raw = b64decode(blob, f"signature line {number}")
        if len(raw) < 5:
            raise NoteFormatError(f"signature line {number} is shorter than a key ID")
        signatures.append(NoteSignature(name, int.from_bytes(raw[:4], "big"), raw[4:]))
    return Note(body, tuple(signatures))


def serialize_note(note: Note) -> bytes:
    """The note's bytes: its text, a blank line, one line per signature."""
    if not note.text.endswith("\n") or not note.signatures:
        raise NoteFormatError("a note needs text ending in a newline and a signature")
    out = (note.text + "\n" + "".join(s.line() for s in note.signatures)).encode("utf-8")
    parse_note(out)  # never write what we would refuse to read
    return out


def sign_ed25519(text: str, name: str, signing_key: object) -> NoteSignature:
    """A type 0x01 signature over the note text with an Ed25519 pqml signing key."""
    if getattr(signing_key, "algorithm", None) != "Ed25519":
        raise NoteFormatError("signature type 0x01 needs an Ed25519 key")
    public = signing_key.public_key().public_bytes()  # type: ignore[attr-defined]
    sig = signing_key.sign(text.encode("utf-8"))  # type: ignore[attr-defined]
    return NoteSignature(name, key_id(name, TYPE_ED25519, public), sig)


def _verify_ed25519(note: Note, key: VerifierKey, sig: NoteSignature) -> None:
    from pqml.primitives import registry

    public = registry.scheme("Ed25519").public_from_bytes(key.public_key)
    public.verify(sig.signature, note.text.encode("utf-8"))


# A verifier for one signature type: raise InvalidSignatureError unless it verifies.
TypeVerifier = Callable[[Note, VerifierKey, NoteSignature], None]
VERIFIERS: Mapping[int, TypeVerifier] = {TYPE_ED25519: _verify_ed25519}


def verify_note(
    data: bytes | Note, keys: Sequence[VerifierKey],
    verifiers: Mapping[int, TypeVerifier] = VERIFIERS,
) -> tuple[Note, tuple[VerifierKey, ...]]:
    """Parse and verify a note against trusted ``keys``; return it with the keys whose
    signatures verified.

    Signatures whose (name, key ID) match no trusted key are ignored (key rotation,
    witnesses); two signatures by one key, a known key's signature that fails, or no
    verified signature at all raise :class:`InvalidSignatureError`.
    """
    note = data if isinstance(data, Note) else parse_note(data)
    trusted = {(k.name, k.key_id): k for k in keys}
    seen: set[tuple[str, int]] = set()
    verified = []
    for sig in note.signatures:
        ident = (sig.name, sig.key_id)
        key = trusted.get(ident)
        if key is None:
            continue
        if ident in seen:
            raise InvalidSignatureError(f"note carries two signatures by {sig.name}")
        seen.add(ident)
        verify = verifiers.get(key.type)
        if verify is None:
            raise InvalidSignatureError(
                f"signature type 0x{key.type:02x} of {sig.name} is not supported here"
            )
        try:
            verify(note, key, sig)
        except (InvalidSignatureError, KeyFormatError):  # a bad trusted key fails closed too
            raise InvalidSignatureError(f"note signature by {sig.name} is invalid") from None
        verified.append(key)
    if not verified:
        raise InvalidSignatureError("note has no signature by a trusted key")
    return note, tuple(verified)

"""Transparency-log texts: C2SP checkpoints, ML-DSA-44 cosignatures and tlog-proofs.

* c2sp.org/tlog-checkpoint: a note whose text is the log's origin, tree size and base64
  RFC 6962 root hash, then optional extension lines.
* c2sp.org/tlog-cosignature, signature type 0x06: the post-quantum way C2SP defines to sign
  a checkpoint (tlog-checkpoint says logs SHOULD sign their own checkpoints so). The
  signature is ``u64 timestamp || ML-DSA-44 signature`` over the ``cosigned_message``
  ``"subtree/v1\\n\\0" || u8 len || name || u64 timestamp || u8 len || origin || u64 start
  || u64 end || hash`` (start 0, end the tree size for a checkpoint; FIPS 204 pure ML-DSA,
  empty context). C2SP defines no other ML-DSA note signature, so none is offered.
  Extension lines are not covered by it, so a checkpoint with them is refused when an
  ML-DSA-44 signature is what verifies it.
* c2sp.org/tlog-proof@v1: an offline proof, the index and inclusion path of one entry
  followed by the checkpoint verbatim.
"""

from __future__ import annotations

import base64
import re
import struct
from dataclasses import dataclass

from pqml.formats.errors import NoteFormatError
from pqml.formats.signed_note import (
    MAX_KEY_NAME,
    MAX_NOTE_SIZE,
    TYPE_COSIGNATURE_MLDSA44,
    VERIFIERS,
    Note,
    NoteSignature,
    VerifierKey,
    b64decode,
    check_key_name,
    key_id,
    parse_note,
    verify_note,
)
from pqml.primitives.errors import InvalidSignatureError

HASH_SIZE = 32
MAX_TREE_SIZE = 2**63 - 1
MAX_EXTENSION_LINES = 16
MAX_PROOF_HASHES = 64
MLDSA44 = "ML-DSA-44"
MLDSA44_SIGNATURE_SIZE = 2420
SUBTREE_LABEL = b"subtree/v1\n\0"
PROOF_HEADER = "c2sp.org/tlog-proof@v1"
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class Checkpoint:
    """A log's signed tree head: origin, size, root hash, extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The note text (each line newline-terminated)."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root_hash).decode(),
                 *self.extensions]
        text = "".join(line + "\n" for line in lines)
        parse_checkpoint(text)  # never write what we would refuse to read
        return text


def _decimal(text: str, what: str) -> int:
    if not _DECIMAL.fullmatch(text) or int(text) > MAX_TREE_SIZE:
        raise NoteFormatError(f"{what} is not a decimal in 0..2^63-1 without leading zeroes")
    return int(text)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint's note text (strict: three non-empty lines, then extensions)."""
    if not text.endswith("\n"):
        raise NoteFormatError("checkpoint text does not end in a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise NoteFormatError("checkpoint has fewer than three lines")
    if len(lines) > 3 + MAX_EXTENSION_LINES:
        raise NoteFormatError(f"checkpoint has more than {MAX_EXTENSION_LINES} extension lines")
    if any(not line for line in lines):
        raise NoteFormatError("checkpoint has an empty line")
    origin, size, root = lines[:3]
    if len(origin.encode("utf-8")) > MAX_KEY_NAME:
        raise NoteFormatError(f"checkpoint origin is longer than {MAX_KEY_NAME} bytes")
    root_hash = b64decode(root, "checkpoint root hash")
    if len(root_hash) != HASH_SIZE:
        raise NoteFormatError(f"checkpoint root hash is not {HASH_SIZE} bytes")
    return Checkpoint(origin, _decimal(size, "checkpoint tree size"), root_hash,
                      tuple(lines[3:]))


def cosigned_message(name: str, timestamp: int, origin: str, start: int, end: int,
                     root_hash: bytes) -> bytes:
    """The tlog-cosignature ``cosigned_message`` an ML-DSA-44 (sub)tree cosignature signs."""
    check_key_name(name)
    raw_name, raw_origin = name.encode("utf-8"), origin.encode("utf-8")
    if not 1 <= len(raw_origin) <= MAX_KEY_NAME:
        raise NoteFormatError(f"origin must be 1..{MAX_KEY_NAME} bytes")
    if not all(0 <= v <= MAX_TREE_SIZE for v in (timestamp, start, end)) or start > end:
        raise NoteFormatError("timestamp, start and end must be in 0..2^63-1, start <= end")
    if start and timestamp:
        raise NoteFormatError("a subtree cosignature with a non-zero start has timestamp 0")
    if len(root_hash) != HASH_SIZE:
        raise NoteFormatError(f"hash must be {HASH_SIZE} bytes")
    return (SUBTREE_LABEL + bytes([len(raw_name)]) + raw_name + struct.pack(">Q", timestamp)
            + bytes([len(raw_origin)]) + raw_origin + struct.pack(">QQ", start, end)
            + bytes(root_hash))


def mldsa44_vkey(name: str, public_key: bytes) -> VerifierKey:
    """The vkey of an ML-DSA-44 cosigner (type 0x06, 1312-byte public key)."""
    return VerifierKey(name, key_id(name, TYPE_COSIGNATURE_MLDSA44, public_key),
                       TYPE_COSIGNATURE_MLDSA44, bytes(public_key))


def cosign_mldsa44(checkpoint: Checkpoint, name: str, signing_key: object,
                   timestamp: int) -> NoteSignature:
    """Sign a checkpoint with an ML-DSA-44 pqml signing key as a type 0x06 cosignature."""
    if getattr(signing_key, "algorithm", None) != MLDSA44:
        raise NoteFormatError("signature type 0x06 needs an ML-DSA-44 key")
    if checkpoint.extensions:
        raise NoteFormatError("ML-DSA-44 cosignatures do not cover extension lines")
    message = cosigned_message(name, timestamp, checkpoint.origin, 0, checkpoint.size,
                               checkpoint.root_hash)
    public = signing_key.public_key().public_bytes()  # type: ignore[attr-defined]
    signature = signing_key.sign(message)  # type: ignore[attr-defined]
    return NoteSignature(name, key_id(name, TYPE_COSIGNATURE_MLDSA44, public),
                         struct.pack(">Q", timestamp) + signature)


def _verify_mldsa44(note: Note, key: VerifierKey, sig: NoteSignature) -> None:
    from pqml.primitives import registry

    if len(sig.signature) != 8 + MLDSA44_SIGNATURE_SIZE:
        raise InvalidSignatureError("ML-DSA-44 cosignature has the wrong length")
    (timestamp,) = struct.unpack(">Q", sig.signature[:8])
    if timestamp > MAX_TREE_SIZE:
        raise InvalidSignatureError("cosignature timestamp exceeds 2^63-1")
    checkpoint = parse_checkpoint(note.text)
    if checkpoint.extensions:
        raise InvalidSignatureError("ML-DSA-44 cosignatures do not cover extension lines")
    message = cosigned_message(key.name, timestamp, checkpoint.origin, 0, checkpoint.size,
                               checkpoint.root_hash)
    public = registry.scheme(MLDSA44).public_from_bytes(key.public_key)
    public.verify(sig.signature[8:], message)


TLOG_VERIFIERS = {**VERIFIERS, TYPE_COSIGNATURE_MLDSA44: _verify_mldsa44}


def verify_checkpoint(data: bytes, origin: str, keys: list[VerifierKey]) -> Checkpoint:
    """Verify a signed checkpoint from ``origin`` against trusted log ``keys`` (Ed25519
    type 0x01 or ML-DSA-44 type 0x06); return it, or raise NoteFormatError /
    InvalidSignatureError."""
    note, _ = verify_note(data, keys, TLOG_VERIFIERS)
    checkpoint = parse_checkpoint(note.text)
    if checkpoint.origin != origin:
        raise InvalidSignatureError(f"checkpoint is from {checkpoint.origin!r}, not {origin!r}")
    return checkpoint


@dataclass(frozen=True)
class TlogProof:
    """A parsed c2sp.org/tlog-proof@v1: extra data, index, inclusion path, checkpoint."""

    index: int
    path: tuple[bytes, ...]
    checkpoint: bytes  # the signed checkpoint note, verbatim
    extra: bytes | None = None

    def to_bytes(self) -> bytes:
        lines = [PROOF_HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines += [base64.b64encode(h).decode() for h in self.path]
        out = ("\n".join(lines) + "\n\n").encode() + self.checkpoint
        parse_tlog_proof(out)  # never write what we would refuse to read
        return out


def parse_tlog_proof(data: bytes) -> TlogProof:
    """Parse a tlog-proof strictly; the checkpoint is checked as a note, not verified
    (that needs the verifier's trusted keys: :func:`verify_checkpoint`)."""
    if len(data) > 2 * MAX_NOTE_SIZE:
        raise NoteFormatError("tlog-proof is too large")
    head, sep, checkpoint = bytes(data).partition(b"\n\n")
    if not sep:
        raise NoteFormatError("tlog-proof has no blank line before its checkpoint")
    try:
        lines = head.decode("ascii").split("\n")
    except UnicodeDecodeError:
        raise NoteFormatError("tlog-proof header is not ASCII") from None
    if lines[0] != PROOF_HEADER:
        raise NoteFormatError(f"tlog-proof does not start with {PROOF_HEADER}")
    lines.pop(0)
    extra = None
    if lines and lines[0].startswith("extra "):
        extra = b64decode(lines.pop(0)[6:], "tlog-proof extra data")
    if not lines or not lines[0].startswith("index "):
        raise NoteFormatError("tlog-proof has no index line")
    index = _decimal(lines.pop(0)[6:], "tlog-proof index")
    if len(lines) > MAX_PROOF_HASHES:
        raise NoteFormatError(f"tlog-proof has more than {MAX_PROOF_HASHES} proof hashes")
    path = []
    for number, line in enumerate(lines, 1):
        digest = b64decode(line, f"tlog-proof hash {number}")
        if len(digest) != HASH_SIZE:
            raise NoteFormatError(f"tlog-proof hash {number} is not {HASH_SIZE} bytes")
        path.append(digest)
    note = parse_note(checkpoint)
    parse_checkpoint(note.text)
    return TlogProof(index, tuple(path), checkpoint, extra)

"""C2SP signed notes, checkpoints, ML-DSA-44 cosignatures and tlog-proofs: the spec's own
example, round trips through the log, and hostile input."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from pqml.formats import signed_note as sn
from pqml.formats import tlog
from pqml.formats.errors import NoteFormatError
from pqml.log import merkle
from pqml.log.errors import MerkleProofError
from pqml.log.log import Log, verify_proof
from pqml.primitives import registry
from pqml.primitives.errors import InvalidSignatureError

from conftest import vector

SPEC = vector("c2sp-signed-note", "signed-note.md").read_text(encoding="utf-8")
EXAMPLE = SPEC[SPEC.index("### Example") :]
VKEY = re.search(r"^    (example\.com/foo\+\S+)$", EXAMPLE, re.M).group(1)  # type: ignore[union-attr]
NOTE = re.search(r"```\n(.*?)```", EXAMPLE, re.S).group(1).encode()  # type: ignore[union-attr]
QUASIMODO = re.search(r"```\n(Ognuno.*?)```", SPEC, re.S).group(1).encode()  # type: ignore[union-attr]
ORIGIN = "example.com/pqml-test-log"


def test_spec_example_verifies() -> None:
    key = sn.parse_vkey(VKEY)
    assert (key.name, key.key_id, key.type) == ("example.com/foo", 0x530D903A, 0x01)
    assert str(key) == VKEY
    digest = hashlib.sha256(b"example.com/foo\n\x01" + key.public_key).digest()
    assert sn.key_id("example.com/foo", 1, key.public_key) == int.from_bytes(digest[:4], "big")
    note, verified = sn.verify_note(NOTE, [key])
    assert note.text == "This is an example message.\n" and verified == (key,)
    assert sn.serialize_note(note) == NOTE


def test_spec_example_with_a_flipped_bit_is_rejected() -> None:
    key = sn.parse_vkey(VKEY)
    tampered = NOTE.replace(b"example message", b"example messagE")
    with pytest.raises(InvalidSignatureError, match=r"by example\.com/foo is invalid"):
        sn.verify_note(tampered, [key])


def test_a_note_signed_only_by_unknown_keys_is_rejected() -> None:
    note = sn.parse_note(QUASIMODO)  # the spec's first example: its key is not published
    assert note.text.endswith("ed è subito sera.\n") and len(note.signatures) == 1
    with pytest.raises(InvalidSignatureError, match="no signature by a trusted key"):
        sn.verify_note(QUASIMODO, [sn.parse_vkey(VKEY)])


def _ed25519(name: str = "example.com/ed"):
    key = registry.scheme("Ed25519").generate()
    return key, sn.verifier_key(name, sn.TYPE_ED25519, key.public_key().public_bytes())


def _mldsa(name: str = ORIGIN):
    key = registry.scheme("ML-DSA-44").generate()
    return key, tlog.mldsa44_vkey(name, key.public_key().public_bytes())


def test_unknown_signatures_are_ignored_and_a_bad_known_one_rejects_the_note() -> None:
    key, vkey = _ed25519()
    other, other_vkey = _ed25519("example.com/other")
    text = "hello\n\nworld\n"  # empty lines inside the text are allowed
    note = sn.Note(text, (sn.sign_ed25519(text, "example.com/other", other),
                          sn.sign_ed25519(text, vkey.name, key)))
    assert sn.verify_note(sn.serialize_note(note), [vkey])[1] == (vkey,)
    # Same name, different ID: an unknown key, ignored.
    stranger = sn.NoteSignature(vkey.name, vkey.key_id ^ 1, b"\0" * 64)
    assert sn.verify_note(sn.Note(text, (stranger, *note.signatures)), [vkey])[1] == (vkey,)
    broken = sn.NoteSignature(other_vkey.name, other_vkey.key_id, b"\0" * 64)
    with pytest.raises(InvalidSignatureError, match=r"example\.com/other is invalid"):
        sn.verify_note(sn.Note(text, (broken, note.signatures[1])), [vkey, other_vkey])


def test_duplicate_signatures_by_one_key_are_rejected() -> None:
    key, vkey = _ed25519()
    sig = sn.sign_ed25519("x\n", vkey.name, key)
    with pytest.raises(InvalidSignatureError, match="two signatures"):
        sn.verify_note(sn.Note("x\n", (sig, sig)), [vkey])


@pytest.mark.parametrize(("data", "match"), [
    (b"x" * (sn.MAX_NOTE_SIZE + 1), "larger than"),
    (b"text\n\n\xe2\x80\x94 k \xff\n", "UTF-8"),
    (b"te\x01xt\n\n\xe2\x80\x94 k AAAAAAA=\n", "control character"),
    (b"text\n\xe2\x80\x94 k AAAAAAA=\n", "no blank line"),
    (b"text\n\n", "no signature lines"),
    (b"text\n\n- k AAAAAAA=\n", "em dash"),
    (b"text\n\n\xe2\x80\x94 k AAAA*AA=\n", "not valid base64"),
    (b"text\n\n\xe2\x80\x94 k AAAAAAB=\n", "not canonical"),
    (b"text\n\n\xe2\x80\x94 k AAAA\n", "shorter than a key ID"),
    (b"text\n\n\xe2\x80\x94 k+1 AAAAAAA=\n", "'\\+'"),
    (b"text\n\n\xe2\x80\x94 kAAAAAAA=\n", "has no signature"),
    (b"text\n\n" + b"\xe2\x80\x94 k AAAAAAA=\n" * (sn.MAX_SIGNATURES + 1), "more than"),
])
def test_hostile_notes_get_a_typed_error(data: bytes, match: str) -> None:
    with pytest.raises(NoteFormatError, match=match):
        sn.parse_note(data)


@pytest.mark.parametrize(("text", "match"), [
    ("example.com/foo+530d903b+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "does not match"),
    ("example.com/foo+530D903A+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "hex"),
    ("example.com/foo+530d903a+Aeky!Rrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k", "base64"),
    ("example.com/foo+530d903a", "<name>"),
    ("+530d903a+AQ==", "empty"),
    ("k+530d903a+AQ==", "no public key"),
])
def test_hostile_vkeys_get_a_typed_error(text: str, match: str) -> None:
    with pytest.raises(NoteFormatError, match=match):
        sn.parse_vkey(text)


def test_a_trusted_key_of_the_wrong_length_fails_closed() -> None:
    key, vkey = _ed25519()
    short = sn.verifier_key(vkey.name, sn.TYPE_ED25519, vkey.public_key[:31])
    sig = sn.sign_ed25519("x\n", vkey.name, key)
    forged = sn.NoteSignature(vkey.name, short.key_id, sig.signature)
    with pytest.raises(InvalidSignatureError, match="invalid"):
        sn.verify_note(sn.Note("x\n", (forged,)), [short])


def test_mldsa44_checkpoint_round_trip_and_message_layout() -> None:
    key, vkey = _mldsa()
    head = tlog.Checkpoint(ORIGIN, 5, bytes(range(32)))
    sig = tlog.cosign_mldsa44(head, ORIGIN, key, 1_700_000_000)
    assert sig.signature[:8] == (1_700_000_000).to_bytes(8, "big")
    assert len(sig.signature) == 8 + 2420
    message = tlog.cosigned_message(ORIGIN, 1_700_000_000, ORIGIN, 0, 5, head.root_hash)
    name = ORIGIN.encode()
    assert message == (b"subtree/v1\n\0" + bytes([len(name)]) + name
                       + (1_700_000_000).to_bytes(8, "big") + bytes([len(name)]) + name
                       + (0).to_bytes(8, "big") + (5).to_bytes(8, "big") + bytes(range(32)))
    key.public_key().verify(sig.signature[8:], message)  # pure ML-DSA, empty context
    assert vkey.key_id == int.from_bytes(hashlib.sha256(
        name + b"\n\x06" + key.public_key().public_bytes()).digest()[:4], "big")
    data = sn.serialize_note(sn.Note(head.text(), (sig,)))
    assert tlog.verify_checkpoint(data, ORIGIN, [vkey]) == head
    assert sn.parse_vkey(str(vkey)) == vkey
    with pytest.raises(InvalidSignatureError, match=r"not 'example\.com/elsewhere'"):
        tlog.verify_checkpoint(data, "example.com/elsewhere", [vkey])
    moved = data.replace(b"\n5\n", b"\n6\n")
    with pytest.raises(InvalidSignatureError, match="invalid"):
        tlog.verify_checkpoint(moved, ORIGIN, [vkey])


def test_mldsa44_does_not_cover_extension_lines() -> None:
    key, vkey = _mldsa()
    head = tlog.Checkpoint(ORIGIN, 1, bytes(32))
    sig = tlog.cosign_mldsa44(head, ORIGIN, key, 0)
    extended = sn.Note(head.text() + "extension\n", (sig,))
    with pytest.raises(InvalidSignatureError, match="invalid"):
        tlog.verify_checkpoint(sn.serialize_note(extended), ORIGIN, [vkey])
    with pytest.raises(NoteFormatError, match="extension lines"):
        tlog.cosign_mldsa44(tlog.Checkpoint(ORIGIN, 1, bytes(32), ("x",)), ORIGIN, key, 0)


@pytest.mark.parametrize(("text", "match"), [
    ("o\n01\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "leading zeroes"),
    ("o\n9223372036854775808\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", "2\\^63"),
    ("o\n1\nAAAA\n", "not 32 bytes"),
    ("o\n1\n", "fewer than three"),
    ("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\nx\n", "empty line"),
    ("o\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "newline"),
])
def test_hostile_checkpoints_get_a_typed_error(text: str, match: str) -> None:
    with pytest.raises(NoteFormatError, match=match):
        tlog.parse_checkpoint(text)


def test_log_proofs_verify_offline() -> None:
    key, vkey = _mldsa()
    log = Log(ORIGIN)
    for i in range(11):
        assert log.append(f"entry {i}".encode()) == i
    old_root = log.root(4)
    checkpoint = log.checkpoint(key, 1_700_000_000)
    proof = log.prove(7, checkpoint, extra=b"model.safetensors")
    parsed = tlog.parse_tlog_proof(proof)
    assert parsed.to_bytes() == proof and parsed.extra == b"model.safetensors"
    assert proof.startswith(b"c2sp.org/tlog-proof@v1\nextra ")
    assert verify_proof(proof, b"entry 7", ORIGIN, [vkey]) == 7
    with pytest.raises(MerkleProofError):
        verify_proof(proof, b"entry 8", ORIGIN, [vkey])
    _, stranger = _mldsa()
    with pytest.raises(InvalidSignatureError, match="no signature by a trusted key"):
        verify_proof(proof, b"entry 7", ORIGIN, [stranger])
    merkle.verify_consistency(4, 11, old_root, log.root(), log.consistency(4))
    log.append(b"later")  # an older checkpoint still proves what it covered
    assert verify_proof(log.prove(3, checkpoint), b"entry 3", ORIGIN, [vkey]) == 3
    with pytest.raises(MerkleProofError, match="not one of this log's"):
        Log("example.com/other").prove(0, checkpoint)


@pytest.mark.parametrize(("data", "match"), [
    (b"c2sp.org/tlog-proof@v2\nindex 0\n\n", "does not start"),
    (b"c2sp.org/tlog-proof@v1\n\n", "no index"),
    (b"c2sp.org/tlog-proof@v1\nindex 00\n\n", "leading zeroes"),
    (b"c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\n", "not 32 bytes"),
    (b"c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\n", "base64"),
    (b"c2sp.org/tlog-proof@v1\nindex 0\n" + b"A" * 43 + b"=\n" * 65 + b"\n", "more than 64"),
    (b"c2sp.org/tlog-proof@v1\nindex 0", "no blank line"),
    (b"c2sp.org/tlog-proof@v1\nindex 0\n\nnot a note", "blank line"),
])
def test_hostile_tlog_proofs_get_a_typed_error(data: bytes, match: str) -> None:
    with pytest.raises(NoteFormatError, match=match):
        tlog.parse_tlog_proof(data)


def test_base64_of_the_spec_example_is_standard() -> None:
    blob = NOTE.decode().rsplit(" ", 1)[1].strip()
    assert base64.b64decode(blob)[:4] == bytes.fromhex("530d903a")

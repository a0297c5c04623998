"""age's SSH recipient types (``ssh-ed25519``, ``ssh-rsa``) and passphrase-encrypted
identity files, at the format level.

Files that Debian's age 1.1.1 wrote (tests/vectors/age-ssh) must open, pinning the spec
details (tag, tweak, labels) where age itself is not installed; pqml's own stanzas must
round-trip; malformed stanzas, keys and key files must fail with typed errors, and hostile
key files within bounds.
"""

from __future__ import annotations

import base64
import struct
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from pqml.formats import age, age_keys, ssh_keys
from pqml.formats.age import encrypted_identity, ssh_rsa
from pqml.formats.age.errors import HeaderError, NoIdentityMatchError, RecipientError
from pqml.formats.age.header import Stanza, b64encode, parse_header
from pqml.formats.age.recipients import describe_stanza
from pqml.formats.errors import PassphraseRequiredError, WrongKeyPassphraseError
from pqml.formats.pqml_v1.recipients import RULES as PQML_RULES
from pqml.primitives.errors import KeyFormatError, UnavailableAlgorithmError, WrongKeyTypeError

from conftest import vector

VEC = vector("age-ssh")
PLAINTEXT = (VEC / "plaintext.txt").read_bytes()
PEM, OPENSSH = serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH


def private(name: str, passphrase: bytes | None = None) -> object:
    return ssh_keys.load_private_key((VEC / name).read_bytes(), passphrase)


def public(name: str) -> object:
    return ssh_keys.parse_public_key((VEC / name).read_text())


def new_ed25519() -> tuple[bytes, str]:
    key = ed25519.Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                        serialization.PublicFormat.OpenSSH)
    return key.private_bytes(PEM, OPENSSH, serialization.NoEncryption()), pub.decode()


# ---- what age 1.1.1 wrote ------------------------------------------------------------------


@pytest.mark.parametrize(("file", "key"), [
    ("ed25519.age", "id_ed25519"), ("rsa.age", "id_rsa"),
    ("both.age", "id_ed25519"), ("both.age", "id_rsa"),
])
def test_files_age_wrote_to_ssh_keys_open(file: str, key: str) -> None:
    data = (VEC / file).read_bytes()
    assert age.decrypt_bytes([private(key)], data) == PLAINTEXT


def test_encrypted_ssh_key_opens_what_age_wrote_to_it() -> None:
    key = private("id_ed25519_encrypted", b"ssh key passphrase")
    data = (VEC / "ed25519_encrypted_key.age").read_bytes()
    assert age.decrypt_bytes([key], data) == PLAINTEXT


def test_another_ssh_key_does_not_match() -> None:
    with pytest.raises(NoIdentityMatchError):
        age.decrypt_bytes([private("id_rsa")], (VEC / "ed25519.age").read_bytes())
    with pytest.raises(NoIdentityMatchError):
        age.decrypt_bytes([private("id_ed25519")], (VEC / "rsa.age").read_bytes())


def test_stanza_tags_are_ages() -> None:
    """The tag age wrote is SHA-256 of the SSH wire key, first 4 bytes, base64."""
    header, _ = parse_header((VEC / "both.age").read_bytes())
    tags = {s.type: s.args[0] for s in header.stanzas}
    assert tags == {"ssh-ed25519": ssh_rsa.tag(public("id_ed25519.pub")),
                    "ssh-rsa": ssh_rsa.tag(public("id_rsa.pub"))}
    described = describe_stanza(header.stanzas[0])
    assert described["post_quantum"] is False and described["quantum_vulnerable"] is True
    assert described["ssh_key_tag"] == tags[header.stanzas[0].type]


# ---- pqml's stanzas ------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["id_ed25519", "id_rsa"])
def test_round_trip_and_recipient_description(key: str) -> None:
    recipient = age.recipient_for(public(f"{key}.pub"))
    assert recipient.post_quantum is False
    data = age.encrypt_bytes([recipient], b"model weights")
    header, _ = parse_header(data)
    assert [s.type for s in header.stanzas] == [recipient.public_key.algorithm]
    assert age.decrypt_bytes([private(key)], data) == b"model weights"
    from pqml.formats.age.recipients import RULES
    assert RULES.describe_recipient(recipient)["post_quantum"] is False


def test_ssh_line_as_recipient_string_and_with_comment() -> None:
    line = (VEC / "id_ed25519.pub").read_text().strip()
    assert line.endswith("pqml-test-vector")
    data = age.encrypt_bytes([line], b"x")
    assert age.decrypt_bytes([private("id_ed25519")], data) == b"x"


def test_pqml_v1_has_no_ssh_stanza() -> None:
    with pytest.raises(WrongKeyTypeError, match="pqml/v1 has no recipient type for ssh-ed25519"):
        PQML_RULES.recipient_for(public("id_ed25519.pub"))
    with pytest.raises(WrongKeyTypeError, match="pqml/v1 has no identity type for ssh-rsa"):
        PQML_RULES.identity_for(private("id_rsa"))


def test_rsa_recipient_under_2048_bits_is_refused() -> None:
    small = rsa.generate_private_key(65537, 1024).public_key()
    line = small.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    with pytest.raises(RecipientError, match="1024-bit"):
        age.recipient_for(line.decode())


def test_rsa_recipient_over_16384_bits_is_refused_not_a_traceback() -> None:
    # OpenSSL cannot encrypt to a modulus this large; the key need not be a real one
    n = (1 << 19999) | (1 << 1000) | 1
    line = rsa.RSAPublicNumbers(65537, n).public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    with pytest.raises(RecipientError, match="20000-bit"):
        age.recipient_for(line.decode())


def test_ed25519_recipient_without_pynacl_says_how_to_install(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "nacl", None)
    _, line = new_ed25519()
    with pytest.raises(UnavailableAlgorithmError, match=r"pqml\[ssh\]"):
        age.recipient_for(line)
    # decryption needs no PyNaCl: the private key converts with SHA-512 and X25519
    assert age.decrypt_bytes([private("id_ed25519")], (VEC / "ed25519.age").read_bytes()) \
        == PLAINTEXT


def test_small_order_ed25519_key_is_refused() -> None:
    # the Edwards identity point (y = 1) is a valid encoding of a small-order point
    identity_point = b"\x01" + bytes(31)
    blob = _ssh_string(b"ssh-ed25519") + _ssh_string(identity_point)
    line = f"ssh-ed25519 {base64.b64encode(blob).decode()}"
    with pytest.raises(RecipientError, match="small or mixed order"):
        age.recipient_for(line)


# ---- malformed stanzas: header errors, not "no match" --------------------------------------


def _stanza_file(stanza: Stanza) -> bytes:
    from pqml.formats.age.header import make_header

    return make_header(bytes(16), [stanza]).marshal() + bytes(16)


def _ed_stanza() -> Stanza:
    header, _ = parse_header((VEC / "ed25519.age").read_bytes())
    return header.stanzas[0]


@pytest.mark.parametrize(("stanza", "message"), [
    (lambda s: Stanza(s.type, s.args[:1], s.body), "exactly two arguments"),
    (lambda s: Stanza(s.type, (*s.args, "x"), s.body), "exactly two arguments"),
    (lambda s: Stanza(s.type, (s.args[0], b64encode(bytes(31))), s.body), "share"),
    (lambda s: Stanza(s.type, s.args, s.body + b"\x00"), "body must be 32 bytes"),
    (lambda s: Stanza(s.type, (s.args[0], b64encode(bytes(32))), s.body), "low-order"),
])
def test_malformed_ssh_ed25519_stanza_is_a_header_error(stanza: object, message: str) -> None:
    bad = stanza(_ed_stanza())  # type: ignore[operator]
    with pytest.raises(HeaderError, match=message):
        age.decrypt_bytes([private("id_ed25519")], _stanza_file(bad))


def test_other_tag_is_skipped_even_if_otherwise_broken() -> None:
    s = _ed_stanza()
    other = Stanza(s.type, ("AAAAAA", s.args[1]), s.body + b"\x00")
    with pytest.raises(NoIdentityMatchError):
        age.decrypt_bytes([private("id_ed25519")], _stanza_file(other))


def test_malformed_ssh_rsa_stanza_is_a_header_error() -> None:
    header, _ = parse_header((VEC / "rsa.age").read_bytes())
    s = header.stanzas[0]
    with pytest.raises(HeaderError, match="exactly one argument"):
        age.decrypt_bytes([private("id_rsa")], _stanza_file(Stanza(s.type, (*s.args, "x"),
                                                                    s.body)))
    with pytest.raises(NoIdentityMatchError):  # our tag, but the body does not decrypt
        age.decrypt_bytes([private("id_rsa")], _stanza_file(Stanza(s.type, s.args,
                                                                    s.body[:-1] + b"\x00")))


# ---- SSH key files -------------------------------------------------------------------------


def test_recipients_file_mixes_ssh_and_age_lines() -> None:
    x25519 = age_keys.parse_identity_file((VEC / "key.txt").read_text())[0].public_key()
    text = ("# team\n\n" + (VEC / "authorized_keys").read_text()
            + age_keys.encode_recipient(x25519) + "\r\n")
    keys = ssh_keys.parse_recipients_file(text)
    assert [k.algorithm for k in keys] == ["ssh-ed25519", "ssh-rsa", "X25519"]


@pytest.mark.parametrize(("line", "message"), [
    ("ecdsa", "line 2: age has no recipient type for SSH ecdsa-sha2-nistp256 keys"),
    ("AGE-SECRET-KEY-1X", "line 2: an identity"),
    ("ssh-ed25519 AAAA", "line 2: malformed SSH public key"),
    ("ssh-ed25519 " + "A" * 9000, "line 2 is too long"),
])
def test_recipients_file_errors_name_the_line(line: str, message: str) -> None:
    if line == "ecdsa":
        key = ec.generate_private_key(ec.SECP256R1()).public_key()
        line = key.public_bytes(serialization.Encoding.OpenSSH,
                                serialization.PublicFormat.OpenSSH).decode()
    text = (VEC / "id_ed25519.pub").read_text() + line + "\n"
    with pytest.raises(KeyFormatError, match=message):
        ssh_keys.parse_recipients_file(text)


def test_private_key_public_half_needs_no_passphrase() -> None:
    data = (VEC / "id_ed25519_encrypted").read_bytes()
    assert ssh_keys.is_private_key(data) and ssh_keys.is_encrypted(data)
    assert ssh_keys.public_key_of(data) == public("id_ed25519_encrypted.pub")
    assert not ssh_keys.is_encrypted((VEC / "id_rsa").read_bytes())


def test_encrypted_ssh_key_passphrase_errors() -> None:
    with pytest.raises(PassphraseRequiredError):
        private("id_ed25519_encrypted")
    with pytest.raises(WrongKeyPassphraseError, match="wrong passphrase"):
        private("id_ed25519_encrypted", b"not it")
    # a passphrase for a key that is not encrypted is ignored
    assert private("id_ed25519", b"whatever").algorithm == "ssh-ed25519"


def test_unsupported_ssh_private_key_type_is_named() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    data = key.private_bytes(PEM, OPENSSH, serialization.NoEncryption())
    with pytest.raises(WrongKeyTypeError, match="ecdsa-sha2-nistp256"):
        ssh_keys.load_private_key(data)


def _ssh_string(data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + data


def _with_rounds(data: bytes, rounds: int) -> bytes:
    """The encrypted OpenSSH key ``data`` claiming ``rounds`` bcrypt-pbkdf rounds."""
    body = b"".join(data.strip().splitlines()[1:-1])
    raw = bytearray(base64.b64decode(body))
    pos = len(b"openssh-key-v1\x00")
    for _ in range(2):  # cipher name, KDF name
        pos += 4 + struct.unpack(">I", raw[pos:pos + 4])[0]
    salt_len = struct.unpack(">I", raw[pos + 4:pos + 8])[0]
    at = pos + 8 + salt_len
    raw[at:at + 4] = struct.pack(">I", rounds)
    encoded = base64.b64encode(bytes(raw))
    lines = [encoded[i:i + 70] for i in range(0, len(encoded), 70)]
    return b"\n".join([ssh_keys.PRIVATE_KEY_BEGIN, *lines, ssh_keys.PRIVATE_KEY_END, b""])


def test_hostile_private_keys_are_refused_before_any_work() -> None:
    data = (VEC / "id_ed25519_encrypted").read_bytes()
    assert private("id_ed25519_encrypted", b"ssh key passphrase") is not None
    with pytest.raises(KeyFormatError, match="4294967295 bcrypt-pbkdf rounds"):
        ssh_keys.load_private_key(_with_rounds(data, 2**32 - 1), b"ssh key passphrase")
    with pytest.raises(KeyFormatError, match="over 16 KiB"):
        ssh_keys.load_private_key(data + b"\n" * 16384)
    with pytest.raises(KeyFormatError, match="over 8 KiB"):
        age.recipient_for("ssh-rsa " + "A" * 9000)
    for broken in (data[:200] + ssh_keys.PRIVATE_KEY_END,
                   ssh_keys.PRIVATE_KEY_BEGIN + b"\n!!!\n" + ssh_keys.PRIVATE_KEY_END,
                   ssh_keys.PRIVATE_KEY_BEGIN + b"\nAAAA\n" + ssh_keys.PRIVATE_KEY_END):
        with pytest.raises(KeyFormatError, match="malformed OpenSSH private key"):
            ssh_keys.load_private_key(broken)


def test_rsa_identity_over_16384_bits_is_refused_before_pyca_validates_it() -> None:
    # pyca checks that p and q are prime when it loads a key: about 15 s at 12288 bits,
    # minutes for the largest modulus a 16 KiB file holds. The header's public key (in the
    # clear) gives the size first; the private section here is junk that is never read.
    n = (1 << 19999) | 1
    blob = (_ssh_string(b"ssh-rsa") + _ssh_string(b"\x01\x00\x01")
            + _ssh_string(b"\x00" + n.to_bytes(2500, "big")))
    raw = (b"openssh-key-v1\x00" + _ssh_string(b"none") + _ssh_string(b"none")
           + _ssh_string(b"") + struct.pack(">I", 1) + _ssh_string(blob)
           + _ssh_string(bytes(64)))
    encoded = base64.b64encode(raw)
    data = b"\n".join([ssh_keys.PRIVATE_KEY_BEGIN,
                       *(encoded[i:i + 70] for i in range(0, len(encoded), 70)),
                       ssh_keys.PRIVATE_KEY_END, b""])
    with pytest.raises(KeyFormatError, match="20000-bit RSA key"):
        ssh_keys.load_private_key(data)


# ---- passphrase-encrypted identity files ---------------------------------------------------


@pytest.mark.parametrize("name", ["key.txt.age", "key.txt.armored.age"])
def test_identity_file_age_encrypted_with_a_passphrase(name: str) -> None:
    data = (VEC / name).read_bytes()
    assert encrypted_identity.is_encrypted_identity_file(data)
    inner = encrypted_identity.decrypt(data, b"identity file passphrase")
    assert inner == (VEC / "key.txt").read_bytes()
    identities = age_keys.parse_identity_file(inner)
    assert age.decrypt_bytes(identities, (VEC / "x25519.age").read_bytes()) == PLAINTEXT
    with pytest.raises(WrongKeyPassphraseError, match="wrong passphrase"):
        encrypted_identity.decrypt(data, b"not it")


def test_identity_file_encrypted_to_a_key_is_refused(tmp_path: Path) -> None:
    data = (VEC / "x25519.age").read_bytes()
    assert encrypted_identity.is_encrypted_identity_file(data)
    with pytest.raises(KeyFormatError, match="not with a passphrase"):
        encrypted_identity.decrypt(data, b"anything")
    with pytest.raises(KeyFormatError, match="over 16 MiB"):
        encrypted_identity.decrypt(data + bytes(16 << 20), b"anything")
    with pytest.raises(KeyFormatError, match="encrypted identity file: "):
        encrypted_identity.decrypt(b"age-encryption.org/v1\n-> scrypt\n", b"anything")
    assert not encrypted_identity.is_encrypted_identity_file((VEC / "key.txt").read_bytes())

"""OpenSSH keys as age reads them, for its ``ssh-ed25519`` and ``ssh-rsa`` recipient types.

- A recipient is one public key line, ``ssh-ed25519 AAAA… [comment]`` (a ``.pub`` file, or
  ``-r`` with the line itself); a recipients file (``age -R``: ``.pub`` files,
  authorized_keys-style lists) mixes such lines with ``age1…`` recipients, ``#`` comments
  and blank lines. As in age, a line must start with its key type (authorized_keys options
  are not understood). age skips SSH key types it has no stanza for, with a warning; here
  such a line is an error naming it, so no intended reader is silently left out.
- An identity is an OpenSSH private key file (``-----BEGIN OPENSSH PRIVATE KEY-----``),
  unencrypted or encrypted with a passphrase (bcrypt-pbkdf, as ``ssh-keygen`` writes it).

Hostile input is bounded before any work: a private key file over 16 KiB (age's limit),
asking more than :data:`MAX_KDF_ROUNDS` bcrypt-pbkdf rounds, or holding an RSA key over
:data:`MAX_RSA_BITS` (pyca tests p and q for primality on loading: minutes for the largest
a 16 KiB file holds) is refused. The private key
header (cipher, KDF, rounds and the public key, all stored in the clear) is read here, so
an encrypted key's public half and its need for a passphrase are known without it. pyca
does the key parsing and decryption (:mod:`pqml.primitives.ssh`), loaded on first use.
"""

from __future__ import annotations

import base64
import binascii
import re
import struct
from dataclasses import dataclass
from typing import Any

from pqml.formats.errors import PassphraseRequiredError, WrongKeyPassphraseError
from pqml.primitives.base import PrivateKey, PublicKey
from pqml.primitives.errors import KeyFormatError, WrongKeyTypeError

SUPPORTED = ("ssh-ed25519", "ssh-rsa")
PRIVATE_KEY_BEGIN = b"-----BEGIN OPENSSH PRIVATE KEY-----"
PRIVATE_KEY_END = b"-----END OPENSSH PRIVATE KEY-----"
PRIVATE_KEY_LIMIT = 16 * 1024  # age's limit for an SSH private key file
MAX_KDF_ROUNDS = 1024  # ssh-keygen's default is 16; ~9 ms a round here, so ~10 s at most
MAX_RSA_BITS = 16384  # OpenSSH's and OpenSSL's largest RSA modulus
LINE_LIMIT = 8 * 1024  # age's (and sshd's) limit for one recipients-file line
_MAGIC = b"openssh-key-v1\x00"
_KEY_TYPE = re.compile(r"[a-z0-9][a-z0-9@.+-]{0,63}")


# ---- public keys ---------------------------------------------------------------------------


def looks_like_public_key(text: str) -> bool:
    """True for a line age would read as an SSH recipient (it starts with ``ssh-``)."""
    return text.startswith("ssh-")


def parse_public_key(line: str) -> PublicKey:
    """One ``ssh-ed25519`` / ``ssh-rsa`` public key line (an optional comment follows)."""
    if "\n" in line.rstrip("\r\n"):
        raise KeyFormatError("an SSH public key is one line")
    if len(line) > LINE_LIMIT:
        raise KeyFormatError(f"SSH public key line is over {LINE_LIMIT // 1024} KiB")
    key_type = line.split(" ", 1)[0]
    if key_type not in SUPPORTED:
        shown = f" {key_type}" if _KEY_TYPE.fullmatch(key_type) else ""
        raise WrongKeyTypeError(f"age has no recipient type for SSH{shown} keys (only "
                                "ssh-ed25519 and ssh-rsa)")
    from pqml.primitives import ssh

    return ssh.load_public_key(line.rstrip("\r\n").encode("utf-8"))


def ssh_key_type(line: str) -> str | None:
    """The type of any SSH public key line, supported or not (``ecdsa-sha2-nistp256``,
    ``sk-ssh-ed25519@openssh.com``, …): its first field, if the key blob names the same
    type, as age checks before skipping a key it has no stanza for; else None."""
    fields = line.split(" ")
    if len(fields) < 2 or len(fields[1]) > LINE_LIMIT:
        return None
    try:
        blob = base64.b64decode(fields[1], validate=True)
        name = _Reader(blob).text()
    except (binascii.Error, ValueError):  # KeyFormatError is a ValueError
        return None
    return name if name == fields[0] and _KEY_TYPE.fullmatch(name) else None


def looks_like_recipients_file(text: str) -> bool:
    """True if any line (comments aside) is an SSH public key (for format sniffing)."""
    return any(looks_like_public_key(line) or ssh_key_type(line) for _, line in _lines(text))


def parse_recipients_file(text: str) -> list[PublicKey]:
    """Every recipient of an ``age -R`` file: SSH public key lines and ``age1…`` lines;
    errors name the line, never its content."""
    from pqml.formats import age_keys

    keys: list[PublicKey] = []
    for number, line in _lines(text):
        if len(line) > LINE_LIMIT:
            raise KeyFormatError(f"recipients file line {number} is too long")
        try:
            if looks_like_public_key(line) or ssh_key_type(line):
                keys.append(parse_public_key(line))
            elif line.upper().startswith("AGE-"):
                raise KeyFormatError("an identity (secret key) where a recipient belongs")
            else:
                keys.append(age_keys.parse_recipient(line.strip()))
        except KeyFormatError as exc:
            raise type(exc)(f"recipients file line {number}: {exc}") from None
    if not keys:
        raise KeyFormatError("recipients file contains no recipients")
    return keys


def _lines(text: str) -> list[tuple[int, str]]:
    text = text.removeprefix("\ufeff")
    return [(n, line.removesuffix("\r")) for n, line in enumerate(text.split("\n"), start=1)
            if line.strip() and not line.startswith("#")]


# ---- private keys --------------------------------------------------------------------------


@dataclass(frozen=True)
class PrivateKeyInfo:
    """What an OpenSSH private key file says in the clear."""

    cipher: str
    kdf: str
    rounds: int
    public_blob: bytes  # the SSH wire encoding of the (first) public key

    @property
    def encrypted(self) -> bool:
        return self.cipher != "none"


def is_private_key(data: bytes) -> bool:
    """True if ``data`` is an OpenSSH private key file."""
    return data.lstrip().startswith(PRIVATE_KEY_BEGIN)


def private_key_info(data: bytes) -> PrivateKeyInfo:
    """The clear-text header of an OpenSSH private key file (PROTOCOL.key); KeyFormatError
    if it is malformed or too large."""
    if len(data) > PRIVATE_KEY_LIMIT:
        raise KeyFormatError(f"SSH private key file is over {PRIVATE_KEY_LIMIT // 1024} KiB")
    text = data.strip()
    if not (text.startswith(PRIVATE_KEY_BEGIN) and text.endswith(PRIVATE_KEY_END)):
        raise KeyFormatError("malformed OpenSSH private key (no BEGIN/END lines)")
    body = text[len(PRIVATE_KEY_BEGIN):-len(PRIVATE_KEY_END)]
    try:
        raw = base64.b64decode(b"".join(body.split()), validate=True)
    except (binascii.Error, ValueError):
        raise KeyFormatError("malformed OpenSSH private key (bad base64)") from None
    reader = _Reader(raw)
    if reader.take(len(_MAGIC)) != _MAGIC:
        raise KeyFormatError("malformed OpenSSH private key (not openssh-key-v1)")
    cipher = reader.text()
    kdf = reader.text()
    options = _Reader(reader.string())
    rounds = 0
    if kdf == "bcrypt":
        options.string()  # salt
        rounds = options.uint32()
    elif kdf != "none":
        raise KeyFormatError(f"unsupported SSH private key KDF {kdf[:32]!r}")
    if reader.uint32() < 1:
        raise KeyFormatError("malformed OpenSSH private key (no key)")
    return PrivateKeyInfo(cipher, kdf, rounds, reader.string())


def is_encrypted(data: bytes) -> bool:
    """True if the OpenSSH private key in ``data`` needs a passphrase."""
    return private_key_info(data).encrypted


def public_key_of(data: bytes) -> PublicKey:
    """The public key an OpenSSH private key file carries in the clear (no passphrase)."""
    blob = private_key_info(data).public_blob
    key_type = _Reader(blob).text()
    return parse_public_key(f"{key_type} {base64.b64encode(blob).decode('ascii')}")


def load_private_key(data: bytes, passphrase: bytes | None = None) -> PrivateKey:
    """An ``ssh-ed25519`` / ``ssh-rsa`` private key from an OpenSSH private key file.

    PassphraseRequiredError if it is encrypted and no passphrase is given (a passphrase for
    an unencrypted key is ignored), WrongKeyPassphraseError if the passphrase is wrong."""
    info = private_key_info(data)
    key_type = _Reader(info.public_blob).text()
    if key_type not in SUPPORTED:
        shown = f" {key_type}" if _KEY_TYPE.fullmatch(key_type) else ""
        raise WrongKeyTypeError(f"age has no identity type for SSH{shown} keys (only "
                                "ssh-ed25519 and ssh-rsa)")
    if info.encrypted and passphrase is None:
        raise PassphraseRequiredError("SSH private key is passphrase-protected; a passphrase "
                                      "is required")
    if info.rounds > MAX_KDF_ROUNDS:
        raise KeyFormatError(f"SSH private key asks {info.rounds} bcrypt-pbkdf rounds, over "
                             f"the limit {MAX_KDF_ROUNDS}")
    if key_type == "ssh-rsa":
        public = _Reader(info.public_blob)
        public.text(), public.string()  # type, e
        bits = int.from_bytes(public.string(), "big").bit_length()
        if bits > MAX_RSA_BITS:
            raise KeyFormatError(f"SSH private key is a {bits}-bit RSA key, over the limit "
                                 f"{MAX_RSA_BITS}")
    from pqml.primitives import ssh

    try:
        return ssh.load_private_key(data, passphrase if info.encrypted else None)
    except KeyFormatError as exc:
        if info.encrypted and "wrong passphrase" in str(exc):
            raise WrongKeyPassphraseError("wrong passphrase for this SSH private key (or "
                                          "the key file is damaged)") from None
        raise


class _Reader:
    """SSH wire fields (RFC 4251 §5): uint32 and length-prefixed strings, bounds-checked."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._pos = 0

    def take(self, n: int) -> bytes:
        if n > len(self._data) - self._pos:
            raise KeyFormatError("malformed OpenSSH private key (truncated)")
        out = self._data[self._pos:self._pos + n]
        self._pos += n
        return out

    def uint32(self) -> int:
        value: int = struct.unpack(">I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.uint32())

    def text(self) -> str:
        value: Any = self.string()
        try:
            return str(value.decode("ascii"))
        except UnicodeDecodeError:
            raise KeyFormatError("malformed OpenSSH private key (non-ASCII name)") from None

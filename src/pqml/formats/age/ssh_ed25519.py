"""The age ``ssh-ed25519`` recipient stanza (age's agessh; classical, quantum-vulnerable).

An X25519 stanza to the Ed25519 key used as an X25519 key (:mod:`pqml.primitives.ssh`
converts both halves), with the shared secret tweaked by the SSH key::

    -> ssh-ed25519 base64(tag) base64(ephemeral share)
    base64(ChaCha20-Poly1305(wrap key, nonce = 0^12, file key))

    tag      = SHA-256(SSH wire encoding of the public key)[:4]
    tweak    = HKDF-SHA-256(ikm = "", salt = SSH wire key, info = INFO), 32 bytes
    shared   = X25519(tweak, X25519(ephemeral, recipient))      (X25519 clamps the tweak)
    wrap key = HKDF-SHA-256(ikm = shared, salt = ephemeral share || recipient, info = INFO)
    INFO     = "age-encryption.org/v1/ssh-ed25519"

where "recipient" is the X25519 form of the Ed25519 public key. The identity skips stanzas
whose tag is not its own; a stanza of this type with the wrong number of arguments, a share
that is not 32 bytes of canonical base64, a body that is not exactly 32 bytes or a
low-order share is a header error; a matching tag whose body does not open (another key
with the same 32-bit tag) is "not ours".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pqml.formats.age.errors import HeaderError, RecipientError
from pqml.formats.age.header import Stanza, b64decode_exact, b64encode, stanzas_of
from pqml.formats.age.ssh_rsa import tag
from pqml.formats.age.stream import FILE_KEY_SIZE
from pqml.primitives import symmetric
from pqml.primitives.errors import DecryptionError, KeyFormatError, WrongKeyTypeError

STANZA_TYPE = "ssh-ed25519"
ALGORITHM = "ssh-ed25519"
INFO = b"age-encryption.org/v1/ssh-ed25519"
_ZERO_NONCE = bytes(12)
_BODY_SIZE = FILE_KEY_SIZE + symmetric.ChaCha20Poly1305Key.tag_size


def _check(key: Any, role: str) -> None:
    if getattr(key, "algorithm", None) != ALGORITHM:
        raise WrongKeyTypeError(f"ssh-ed25519 age {role} needs an ssh-ed25519 key, got "
                                f"{getattr(key, 'algorithm', type(key).__name__)}")


def _tweak(ssh_public_key: Any) -> Any:
    """The tweak as an X25519 private key, so multiplying by it is an X25519 exchange."""
    from pqml.primitives.kem.x25519 import SCHEME

    scalar = symmetric.hkdf_sha256(b"", ssh_public_key.public_bytes(), INFO)
    return SCHEME.private_from_bytes(scalar)


def _wrap_key(shared: bytes, tweak: Any, share: bytes, recipient: bytes
              ) -> symmetric.ChaCha20Poly1305Key:
    tweaked = tweak.decapsulate(shared)
    return symmetric.ChaCha20Poly1305Key(symmetric.hkdf_sha256(tweaked, share + recipient,
                                                               INFO))


class SSHEd25519Recipient:
    """Wraps file keys to one ``ssh-ed25519`` public key."""

    post_quantum = False

    def __init__(self, public_key: Any) -> None:
        _check(public_key, "recipient")
        try:
            self._x25519 = public_key.x25519_key()  # needs PyNaCl: fail before any output
        except KeyFormatError as exc:
            raise RecipientError(str(exc)) from None
        self.public_key = public_key
        self._tag = tag(public_key)
        self._tweak = _tweak(public_key)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        try:
            shared, share = self._x25519.encapsulate()
            key = _wrap_key(shared, self._tweak, share, self._x25519.public_bytes())
        except (KeyFormatError, DecryptionError):  # a low-order point gives all zeros
            raise RecipientError("ssh-ed25519 recipient is a low-order point") from None
        body = key.seal(_ZERO_NONCE, file_key)
        return [Stanza(STANZA_TYPE, (self._tag, b64encode(share)), body)]

    def __repr__(self) -> str:
        return f"<age ssh-ed25519 recipient {self._tag}>"


class SSHEd25519Identity:
    """Unwraps ``ssh-ed25519`` stanzas with one ``ssh-ed25519`` private key."""

    def __init__(self, private_key: Any) -> None:
        _check(private_key, "identity")
        self.private_key = private_key
        self._x25519 = private_key.x25519_key()
        self._recipient = self._x25519.public_key().public_bytes()
        self._tag = tag(private_key.public_key())
        self._tweak = _tweak(private_key.public_key())

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key from the first stanza with our tag that opens, None if none does."""
        for stanza in stanzas_of(stanzas, STANZA_TYPE, 2, "ssh-ed25519"):
            share = b64decode_exact(stanza.args[1], 32, "ssh-ed25519 stanza share")
            if stanza.args[0] != self._tag:
                continue
            if len(stanza.body) != _BODY_SIZE:
                raise HeaderError(f"ssh-ed25519 stanza body must be {_BODY_SIZE} bytes")
            try:
                key = _wrap_key(self._x25519.decapsulate(share), self._tweak, share,
                                self._recipient)
            except DecryptionError:
                raise HeaderError("ssh-ed25519 stanza share is a low-order point") from None
            try:
                return key.open(_ZERO_NONCE, stanza.body)
            except DecryptionError:
                continue
        return None

    def __repr__(self) -> str:
        return f"<age ssh-ed25519 identity {self._tag}>"

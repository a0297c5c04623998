"""The age ``X25519`` recipient stanza (classical; quantum-vulnerable).

::

    -> X25519 base64(ephemeral share)
    base64(ChaCha20-Poly1305(wrap key, nonce = 0^12, file key))

    wrap key = HKDF-SHA-256(ikm = X25519(eph, recipient),
                            salt = ephemeral share || recipient,
                            info = "age-encryption.org/v1/X25519")

The identity ignores stanzas of other types; a stanza of this type with the wrong number
of arguments, a non-canonical or non-32-byte share, a body that is not exactly 32 bytes,
or a share giving the all-zero shared secret is a header error, not a "no match".
"""

from __future__ import annotations

from collections.abc import Sequence

from pqml.formats.age.errors import HeaderError, RecipientError
from pqml.formats.age.header import Stanza, b64decode_exact, b64encode, stanzas_of
from pqml.formats.age.stream import FILE_KEY_SIZE
from pqml.primitives import symmetric
from pqml.primitives.base import KEMPrivateKey, KEMPublicKey
from pqml.primitives.errors import DecryptionError, WrongKeyTypeError

STANZA_TYPE = "X25519"
INFO = b"age-encryption.org/v1/X25519"
ALGORITHM = "X25519"
_ZERO_NONCE = bytes(12)
_BODY_SIZE = FILE_KEY_SIZE + symmetric.ChaCha20Poly1305Key.tag_size


def _wrap_key(shared: bytes, share: bytes, recipient: bytes) -> symmetric.ChaCha20Poly1305Key:
    return symmetric.ChaCha20Poly1305Key(symmetric.hkdf_sha256(shared, share + recipient, INFO))


class X25519Recipient:
    """Wraps file keys to one X25519 public key (an ``age1…`` recipient)."""

    post_quantum = False

    def __init__(self, public_key: KEMPublicKey) -> None:
        if public_key.algorithm != ALGORITHM:
            raise WrongKeyTypeError(f"X25519 age recipient needs an X25519 key, got "
                                    f"{public_key.algorithm}")
        self.public_key = public_key

    def wrap(self, file_key: bytes) -> list[Stanza]:
        try:
            shared, share = self.public_key.encapsulate()
        except ValueError:  # pyca refuses an all-zero result: the recipient is low order
            raise RecipientError("X25519 recipient is a low-order point") from None
        body = _wrap_key(shared, share, self.public_key.public_bytes()).seal(_ZERO_NONCE, file_key)
        return [Stanza(STANZA_TYPE, (b64encode(share),), body)]

    def __repr__(self) -> str:
        return "<age X25519 recipient>"


class X25519Identity:
    """Unwraps ``X25519`` stanzas with one X25519 private key (``AGE-SECRET-KEY-1…``)."""

    def __init__(self, private_key: KEMPrivateKey) -> None:
        if private_key.algorithm != ALGORITHM:
            raise WrongKeyTypeError(f"X25519 age identity needs an X25519 key, got "
                                    f"{private_key.algorithm}")
        self.private_key = private_key
        self._recipient = private_key.public_key().public_bytes()

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key from the first stanza that opens, None if none is ours."""
        for stanza in stanzas_of(stanzas, STANZA_TYPE, 1, "X25519"):
            share = b64decode_exact(stanza.args[0], 32, "X25519 stanza share")
            if len(stanza.body) != _BODY_SIZE:
                raise HeaderError(f"X25519 stanza body must be {_BODY_SIZE} bytes")
            try:
                shared = self.private_key.decapsulate(share)
            except DecryptionError:
                raise HeaderError("X25519 stanza share is a low-order point") from None
            try:
                return _wrap_key(shared, share, self._recipient).open(_ZERO_NONCE, stanza.body)
            except DecryptionError:
                continue
        return None

    def __repr__(self) -> str:
        return "<age X25519 identity>"

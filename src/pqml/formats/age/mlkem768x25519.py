"""The age ``mlkem768x25519`` recipient stanza (age >= 1.3; hybrid post-quantum).

The file key is sealed with RFC 9180 HPKE SealBase, suite (MLKEM768-X25519 i.e. X-Wing,
KEM 0x647a; HKDF-SHA256; ChaCha20Poly1305), ``info = "age-encryption.org/mlkem768x25519"``
and empty aad::

    -> mlkem768x25519 base64(enc, 1120 bytes)
    base64(HPKE ciphertext, 32 bytes)

The identity ignores other stanza types; one of this type with other than one argument,
an ``enc`` that is not canonical base64 of 1120 bytes, or a body that is not 32 bytes is a
header error. So is an ``enc`` whose X25519 share gives the all-zero shared secret: age
requires a header failure there, while HPKE alone would only report a failed open ("no
match"), so the share is checked explicitly before opening.
"""

from __future__ import annotations

from collections.abc import Sequence

from pqml.formats.age.errors import HeaderError
from pqml.formats.age.header import Stanza, b64decode_exact, b64encode, stanzas_of
from pqml.formats.age.stream import FILE_KEY_SIZE
from pqml.primitives import hpke
from pqml.primitives.errors import DecryptionError, WrongKeyTypeError
from pqml.primitives.kem import x25519, xwing

STANZA_TYPE = "mlkem768x25519"
INFO = b"age-encryption.org/mlkem768x25519"
ALGORITHM = xwing.ALGORITHM
ENC_SIZE = xwing.CIPHERTEXT_SIZE  # 1120: ML-KEM-768 ciphertext || X25519 share
_SUITE = hpke.Suite(
    hpke.KEMId.MLKEM768_X25519, hpke.KDFId.HKDF_SHA256, hpke.AEADId.CHACHA20_POLY1305
)
_BODY_SIZE = FILE_KEY_SIZE + _SUITE.aead.nt


class MLKEM768X25519Recipient:
    """Wraps file keys to one X-Wing public key (an ``age1pq1…`` recipient)."""

    post_quantum = True

    def __init__(self, public_key: xwing.XWingPublicKey) -> None:
        if public_key.algorithm != ALGORITHM:
            raise WrongKeyTypeError(f"mlkem768x25519 age recipient needs an X-Wing key, got "
                                    f"{public_key.algorithm}")
        self.public_key = public_key

    def wrap(self, file_key: bytes) -> list[Stanza]:
        sealed = _SUITE.seal(self.public_key, file_key, info=INFO)
        enc, body = sealed[:ENC_SIZE], sealed[ENC_SIZE:]
        return [Stanza(STANZA_TYPE, (b64encode(enc),), body)]

    def __repr__(self) -> str:
        return "<age mlkem768x25519 recipient>"


class MLKEM768X25519Identity:
    """Unwraps ``mlkem768x25519`` stanzas with one X-Wing seed (``AGE-SECRET-KEY-PQ-1…``)."""

    def __init__(self, private_key: xwing.XWingPrivateKey) -> None:
        if private_key.algorithm != ALGORITHM:
            raise WrongKeyTypeError(f"mlkem768x25519 age identity needs an X-Wing key, got "
                                    f"{private_key.algorithm}")
        self.private_key = private_key
        self._x25519 = x25519.SCHEME.wrap_private(private_key.components[1])

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        for stanza in stanzas_of(stanzas, STANZA_TYPE, 1, "mlkem768x25519"):
            enc = b64decode_exact(stanza.args[0], ENC_SIZE, "mlkem768x25519 stanza enc")
            if len(stanza.body) != _BODY_SIZE:
                raise HeaderError(f"mlkem768x25519 stanza body must be {_BODY_SIZE} bytes")
            try:
                self._x25519.decapsulate(enc[-32:])
            except DecryptionError:
                raise HeaderError("mlkem768x25519 stanza has a low-order X25519 share") from None
            try:
                return _SUITE.open(self.private_key, enc + stanza.body, info=INFO)
            except DecryptionError:
                continue
        return None

    def __repr__(self) -> str:
        return "<age mlkem768x25519 identity>"

"""The age ``ssh-rsa`` recipient stanza (age's agessh; classical, quantum-vulnerable).

::

    -> ssh-rsa base64(tag)
    base64(RSA-OAEP(SHA-256, MGF1-SHA-256, label = "age-encryption.org/v1/ssh-rsa", file key))

    tag = SHA-256(SSH wire encoding of the public key)[:4]

The tag names the key (these stanzas are not anonymous), so an identity skips stanzas whose
tag is not its own. As age, a recipient key under 2048 bits is refused; so is one over
16384 bits, which OpenSSL cannot encrypt to (age would). A stanza of this
type with the wrong number of arguments is a header error; a tag that matches but a body
that does not decrypt (another key with the same 32-bit tag) is "not ours".
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pqml.formats.age.errors import RecipientError
from pqml.formats.age.header import Stanza, b64encode, stanzas_of
from pqml.primitives import hashes
from pqml.primitives.errors import DecryptionError, WrongKeyTypeError

STANZA_TYPE = "ssh-rsa"
ALGORITHM = "ssh-rsa"
LABEL = b"age-encryption.org/v1/ssh-rsa"
MIN_BITS = 2048
MAX_BITS = 16384  # OpenSSL's largest RSA modulus (OPENSSL_RSA_MAX_MODULUS_BITS)


def tag(public_key: Any) -> str:
    """age's short key name: base64 of the first 4 bytes of SHA-256(SSH wire key)."""
    return b64encode(hashes.digest("SHA-256", public_key.public_bytes())[:4])


def _check(key: Any, role: str) -> None:
    if getattr(key, "algorithm", None) != ALGORITHM:
        raise WrongKeyTypeError(f"ssh-rsa age {role} needs an ssh-rsa key, got "
                                f"{getattr(key, 'algorithm', type(key).__name__)}")


class SSHRSARecipient:
    """Wraps file keys to one ``ssh-rsa`` public key."""

    post_quantum = False

    def __init__(self, public_key: Any) -> None:
        _check(public_key, "recipient")
        if public_key.key_size < MIN_BITS:
            raise RecipientError(f"ssh-rsa recipient is a {public_key.key_size}-bit key; age "
                                 f"refuses RSA keys under {MIN_BITS} bits")
        if public_key.key_size > MAX_BITS:
            raise RecipientError(f"ssh-rsa recipient is a {public_key.key_size}-bit key; RSA "
                                 f"keys over {MAX_BITS} bits are not supported")
        self.public_key = public_key
        self._tag = tag(public_key)

    def wrap(self, file_key: bytes) -> list[Stanza]:
        body = self.public_key.oaep_encrypt(file_key, LABEL)
        return [Stanza(STANZA_TYPE, (self._tag,), body)]

    def __repr__(self) -> str:
        return f"<age ssh-rsa recipient {self._tag}>"


class SSHRSAIdentity:
    """Unwraps ``ssh-rsa`` stanzas with one ``ssh-rsa`` private key."""

    def __init__(self, private_key: Any) -> None:
        _check(private_key, "identity")
        self.private_key = private_key
        self._tag = tag(private_key.public_key())

    def unwrap(self, stanzas: Sequence[Stanza]) -> bytes | None:
        """The file key from the first stanza with our tag that opens, None if none does."""
        for stanza in stanzas_of(stanzas, STANZA_TYPE, 1, "ssh-rsa"):
            if stanza.args[0] != self._tag:
                continue
            try:
                file_key: bytes = self.private_key.oaep_decrypt(stanza.body, LABEL)
            except DecryptionError:
                continue
            return file_key
        return None

    def __repr__(self) -> str:
        return f"<age ssh-rsa identity {self._tag}>"

"""OpenSSH keys (``ssh-ed25519``, ``ssh-rsa``) as age's SSH recipient types use them.

Classical, quantum-vulnerable; kept because people already have these keys (age's agessh
package). What the age stanzas need from a key, and nothing else:

- an ``ssh-rsa`` key wraps with RSA-OAEP, SHA-256 and MGF1-SHA-256, under a label;
- an ``ssh-ed25519`` key is used as an X25519 key: the public half through the birational
  map from the twisted Edwards curve to the Montgomery curve, the private half as the first
  32 bytes of SHA-512(seed) (the Ed25519 secret scalar before clamping; X25519 clamps).

pyca loads and encodes the keys (the OpenSSH formats; an encrypted private key's
bcrypt-pbkdf through the optional ``bcrypt`` package) and does RSA and X25519. pyca has no
Edwards-to-Montgomery map, so it comes from libsodium's
``crypto_sign_ed25519_pk_to_curve25519`` through the optional PyNaCl
(``pip install 'pqml[ssh]'``), needed only to encrypt to an ssh-ed25519 key. libsodium
refuses small-order and mixed-order Edwards points (Go's edwards25519, which age uses,
would map them), so such a degenerate key is refused here rather than encrypted to.
``public_bytes`` is the SSH wire encoding (RFC 4253 §6.6), which age hashes into its tag.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cached_property
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa

from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, PrivateKey, PublicKey
from pqml.primitives.errors import (
    DecryptionError,
    KeyFormatError,
    UnavailableAlgorithmError,
    WrongKeyTypeError,
)

ED25519 = "ssh-ed25519"
RSA = "ssh-rsa"


def _oaep(label: bytes) -> padding.OAEP:
    return padding.OAEP(mgf=padding.MGF1(hashes.SHA256()), algorithm=hashes.SHA256(),
                        label=label)


def _x25519_scheme() -> Any:
    from pqml.primitives.kem.ecdh import X25519

    return X25519


class SSHPublicKey(PublicKey):
    """An ``ssh-ed25519`` or ``ssh-rsa`` public key."""

    def __init__(self, key: ed25519.Ed25519PublicKey | rsa.RSAPublicKey) -> None:
        if isinstance(key, ed25519.Ed25519PublicKey):
            self.algorithm = ED25519
        elif isinstance(key, rsa.RSAPublicKey):
            self.algorithm = RSA
        else:
            raise WrongKeyTypeError(f"not an ssh-ed25519 or ssh-rsa key: {type(key).__name__}")
        self._key = key
        self._line = key.public_bytes(serialization.Encoding.OpenSSH,
                                      serialization.PublicFormat.OpenSSH)
        self._wire = base64.b64decode(self._line.split(b" ")[1])

    def public_bytes(self) -> bytes:
        """The SSH wire encoding (string type, then the key's fields)."""
        return self._wire

    def authorized_key(self) -> str:
        """``ssh-ed25519 AAAA…`` without a comment, as in a ``.pub`` file."""
        return self._line.decode("ascii")

    @property
    def key_size(self) -> int:
        """Bits of an RSA modulus; 256 for Ed25519."""
        return self._key.key_size if isinstance(self._key, rsa.RSAPublicKey) else 256

    def oaep_encrypt(self, message: bytes, label: bytes) -> bytes:
        """RSA-OAEP-SHA-256 (MGF1-SHA-256) of ``message`` under ``label`` (ssh-rsa)."""
        if not isinstance(self._key, rsa.RSAPublicKey):
            raise WrongKeyTypeError(f"RSA-OAEP needs an ssh-rsa key, not {self.algorithm}")
        return self._key.encrypt(message, _oaep(label))

    @cached_property
    def _x25519(self) -> KEMPublicKey:
        if not isinstance(self._key, ed25519.Ed25519PublicKey):
            raise WrongKeyTypeError(f"only an ssh-ed25519 key converts to X25519, not "
                                    f"{self.algorithm}")
        try:
            from nacl import bindings, exceptions
        except ImportError:
            raise UnavailableAlgorithmError(
                "encrypting to an ssh-ed25519 key needs the 'pynacl' package, not installed "
                "here (pip install 'pqml[ssh]')"
            ) from None
        raw = self._key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        try:
            montgomery = bindings.crypto_sign_ed25519_pk_to_curve25519(raw)
        except exceptions.CryptoError:
            raise KeyFormatError("ssh-ed25519 key is not a point of the prime-order group "
                                 "(small or mixed order): refusing to encrypt to it") from None
        key: KEMPublicKey = _x25519_scheme().public_from_bytes(montgomery)
        return key

    def x25519_key(self) -> KEMPublicKey:
        """The X25519 public key of an ssh-ed25519 key (the Edwards-to-Montgomery map)."""
        return self._x25519


class SSHPrivateKey(PrivateKey):
    """An ``ssh-ed25519`` or ``ssh-rsa`` private key."""

    def __init__(self, key: ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey) -> None:
        self._key = key
        self._public = SSHPublicKey(key.public_key())
        self.algorithm = self._public.algorithm

    def public_key(self) -> SSHPublicKey:
        return self._public

    def private_bytes(self) -> bytes:
        """The unencrypted OpenSSH private key file."""
        return self._key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.OpenSSH,
                                       serialization.NoEncryption())

    def oaep_decrypt(self, ciphertext: bytes, label: bytes) -> bytes:
        """Undo :meth:`SSHPublicKey.oaep_encrypt`; DecryptionError on any failure."""
        if not isinstance(self._key, rsa.RSAPrivateKey):
            raise WrongKeyTypeError(f"RSA-OAEP needs an ssh-rsa key, not {self.algorithm}")
        try:
            return self._key.decrypt(ciphertext, _oaep(label))
        except ValueError:  # one opaque error for every OAEP failure, wrong length included
            raise DecryptionError("RSA-OAEP decryption failed") from None

    @cached_property
    def _x25519(self) -> KEMPrivateKey:
        if not isinstance(self._key, ed25519.Ed25519PrivateKey):
            raise WrongKeyTypeError(f"only an ssh-ed25519 key converts to X25519, not "
                                    f"{self.algorithm}")
        seed = self._key.private_bytes(serialization.Encoding.Raw,
                                       serialization.PrivateFormat.Raw,
                                       serialization.NoEncryption())
        key: KEMPrivateKey = _x25519_scheme().private_from_bytes(
            hashlib.sha512(seed).digest()[:32])
        return key

    def x25519_key(self) -> KEMPrivateKey:
        """The X25519 private key of an ssh-ed25519 key: SHA-512(seed)[:32]."""
        return self._x25519


def load_public_key(line: bytes) -> SSHPublicKey:
    """An ``ssh-ed25519 AAAA… [comment]`` or ``ssh-rsa …`` line; KeyFormatError otherwise."""
    try:
        key = serialization.load_ssh_public_key(line)
    except (ValueError, UnsupportedAlgorithm):
        raise KeyFormatError("malformed SSH public key") from None
    if not isinstance(key, (ed25519.Ed25519PublicKey, rsa.RSAPublicKey)):
        raise WrongKeyTypeError("age supports only ssh-ed25519 and ssh-rsa SSH keys")
    return SSHPublicKey(key)


def load_private_key(data: bytes, password: bytes | None) -> SSHPrivateKey:
    """An OpenSSH private key file (``-----BEGIN OPENSSH PRIVATE KEY-----``), decrypted with
    ``password`` if it is encrypted. The caller bounds the size and the KDF rounds."""
    try:
        key = serialization.load_ssh_private_key(data, password)
    except TypeError:  # pyca: password missing, or given for an unencrypted key
        raise KeyFormatError("SSH private key is encrypted: a passphrase is needed"
                             if password is None else
                             "SSH private key is not encrypted: no passphrase expected") from None
    except UnsupportedAlgorithm as exc:
        if "bcrypt" in str(exc):
            raise UnavailableAlgorithmError(
                "an encrypted SSH private key needs the 'bcrypt' package, not installed here "
                "(pip install 'pqml[ssh]')"
            ) from None
        raise KeyFormatError(f"unsupported SSH private key: {exc}") from None
    except ValueError as exc:
        if password is not None and "checksum" in str(exc):
            raise KeyFormatError("wrong passphrase for the SSH private key") from None
        raise KeyFormatError(f"malformed SSH private key: {exc}") from None
    if not isinstance(key, (ed25519.Ed25519PrivateKey, rsa.RSAPrivateKey)):
        raise WrongKeyTypeError("age supports only ssh-ed25519 and ssh-rsa SSH keys")
    return SSHPrivateKey(key)

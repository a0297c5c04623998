"""Keys of update protection: the node's ML-DSA signing key, the server's KEM key pair and
the server's registry of node public keys.

Every key can come from a file (PEM, age) or from the pqml keyring (a key id, id prefix or
label, as on the command line: an existing file always wins). Keyring keys bring their
state: a node cannot sign with a key that is not active and unexpired, and the registry
accepts a keyring node key only while it is active: an update is a new signature, so a
retired, revoked or expired node key registers nothing (the next round sees the change).

Only post-quantum algorithms are accepted: signatures of the registry's "signature" family
that are not quantum-vulnerable (ML-DSA, SLH-DSA, …), and KEMs with an HPKE id that are
not quantum-vulnerable (X-Wing by default, ML-KEM-1024 for CNSA 2.0).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from pathlib import Path

from pqml.fl.errors import FLKeyError
from pqml.primitives import registry
from pqml.primitives.base import (
    KEMPrivateKey,
    KEMPublicKey,
    PrivateKey,
    PublicKey,
    SigningKey,
    VerifyingKey,
)
from pqml.primitives.errors import PqmlError

log = logging.getLogger("pqml.fl")

KeySource = str | os.PathLike[str]
KEY_SUFFIXES = (".pem", ".pub", ".key", ".txt", ".age")
MAX_REGISTRY_FILE = 64 * 1024


def key_id(key: PublicKey | PrivateKey) -> str:
    """The id the keyring and ``pqml inspect`` show for ``key`` (carried in headers)."""
    from pqml.keys.keyring import key_id_of

    return key_id_of(key)


def _check_signature(key: PublicKey | PrivateKey, where: str) -> None:
    entry = registry.get(key.algorithm)
    if entry.family != "signature" or entry.quantum_vulnerable:
        raise FLKeyError(f"{where}: {key.algorithm} is not a post-quantum signature key "
                         f"(use ML-DSA-65 or ML-DSA-87)")


def _check_kem(key: PublicKey | PrivateKey, where: str) -> None:
    entry = registry.get(key.algorithm)
    if entry.family != "kem" or entry.quantum_vulnerable or entry.hpke_kem_id is None:
        raise FLKeyError(f"{where}: {key.algorithm} is not a post-quantum HPKE KEM key "
                         f"(use X-Wing or ML-KEM-1024)")


def _load(source: KeySource | PublicKey | PrivateKey, *, private: bool,
          use: str) -> PublicKey | PrivateKey:
    """A key object from an object, a file, or a keyring reference (state checked)."""
    if isinstance(source, (PublicKey, PrivateKey)):
        return source
    from pqml.keys import key_files, key_refs

    text = os.fspath(source)
    try:
        found = key_refs.resolve(text)
        if isinstance(found, Path):
            if not found.is_file():
                raise FLKeyError(f"{text}: no such key file or keyring key")
            return key_files.load_private(found) if private else key_files.load_public(found)
        from pqml.keys.keyring import Keyring, check_key_use

        with Keyring() as keyring:
            if private:
                return keyring.private_key(found.id, use=use,
                                           passphrase=key_refs.env_passphrase())
            check_key_use(found, use)
            return keyring.public_key(found.id)
    except FLKeyError:
        raise
    except PqmlError as exc:
        raise FLKeyError(f"{text}: {exc}") from None


def load_signing_key(source: KeySource | SigningKey) -> SigningKey:
    """A node's signing key (file or keyring; an active, unexpired keyring key)."""
    key = _load(source, private=True, use="sign")
    if not isinstance(key, SigningKey):
        raise FLKeyError(f"{_name(source)}: not a signing private key")
    _check_signature(key, _name(source))
    return key


def load_server_public_key(source: KeySource | KEMPublicKey | KEMPrivateKey) -> KEMPublicKey:
    """The server key a node seals to (file or keyring, a private key gives its public half)."""
    key = _load(source, private=False, use="encrypt")
    if isinstance(key, KEMPrivateKey):
        key = key.public_key()
    if not isinstance(key, KEMPublicKey):
        raise FLKeyError(f"{_name(source)}: not a KEM public key")
    _check_kem(key, _name(source))
    return key


def load_server_private_key(source: KeySource | KEMPrivateKey) -> KEMPrivateKey:
    """The server's decryption key (file or keyring key in a decrypting state)."""
    key = _load(source, private=True, use="decrypt")
    if not isinstance(key, KEMPrivateKey):
        raise FLKeyError(f"{_name(source)}: not a KEM private key")
    _check_kem(key, _name(source))
    return key


def _name(source: object) -> str:
    if isinstance(source, (PublicKey, PrivateKey)):
        return f"{source.algorithm} key {key_id(source)}"
    return os.fspath(source)  # type: ignore[arg-type]


class NodeRegistry:
    """The node public keys the server accepts updates from, by key id.

    Built from key objects, a directory of key files (every ``*.pem``/``*.pub``/… file;
    re-read when the directory changes, see :meth:`refresh`), or keyring references.
    """

    def __init__(self, keys: Iterable[VerifyingKey | PublicKey], *,
                 directory: Path | None = None, keyring_refs: tuple[str, ...] = ()) -> None:
        self._keys: dict[str, VerifyingKey] = {}
        for key in keys:
            _check_signature(key, f"registered node key {key_id(key)}")
            if not isinstance(key, VerifyingKey):
                raise FLKeyError(f"registered node key {key_id(key)} cannot verify")
            self._keys[key_id(key)] = key
        self._directory = directory
        self._keyring_refs = keyring_refs
        self._stamp = _directory_stamp(directory) if directory is not None else None

    @classmethod
    def from_directory(cls, directory: KeySource) -> NodeRegistry:
        """Every key file in ``directory`` (private key files give their public half)."""
        path = Path(directory)
        return cls(_directory_keys(path), directory=path)

    @classmethod
    def from_keyring(cls, refs: Iterable[str]) -> NodeRegistry:
        """Keyring signing keys by id, prefix or label; each must allow verification."""
        refs = tuple(refs)
        return cls(_keyring_keys(refs), keyring_refs=refs)

    @classmethod
    def of(cls, nodes: NodeRegistry | KeySource | Iterable[VerifyingKey | KeySource]
           ) -> NodeRegistry:
        """A registry from whatever the caller has: a registry, a directory, key objects,
        key files or keyring references."""
        if isinstance(nodes, NodeRegistry):
            return nodes
        if isinstance(nodes, (str, os.PathLike)):
            if Path(nodes).is_dir():
                return cls.from_directory(nodes)
            nodes = [nodes]
        items = list(nodes)
        from pqml.keys.key_refs import could_be_keyring_ref

        if items and all(isinstance(n, str) and could_be_keyring_ref(n) for n in items):
            return cls.from_keyring(items)  # type: ignore[arg-type]
        keys = [_load(n, private=False, use="sign") for n in items]
        return cls(keys)  # type: ignore[arg-type]

    def refresh(self) -> bool:
        """Re-read the directory (if it changed) or the keyring refs; True if reloaded.
        A directory or keyring that became unreadable or holds a bad key keeps the last
        good set, and says so in the log: a typo must not stop a running federation."""
        try:
            if self._directory is not None:
                stamp = _directory_stamp(self._directory)
                if stamp == self._stamp:
                    return False
                keys = _directory_keys(self._directory)
                self._stamp = stamp
            elif self._keyring_refs:
                keys = _keyring_keys(self._keyring_refs)
            else:
                return False
            fresh = {}
            for key in keys:
                _check_signature(key, f"registered node key {key_id(key)}")
                fresh[key_id(key)] = key
        except FLKeyError as exc:
            log.warning("pqml: node registry not reloaded, keeping %d keys: %s",
                        len(self._keys), exc)
            return False
        self._keys = fresh  # type: ignore[assignment]
        return True

    def get(self, signer_id: str) -> VerifyingKey | None:
        return self._keys.get(signer_id)

    def __contains__(self, signer_id: object) -> bool:
        return signer_id in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def ids(self) -> list[str]:
        return sorted(self._keys)


def _directory_stamp(directory: Path) -> tuple[tuple[str, int, int], ...]:
    try:
        return tuple(sorted((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                            for p in directory.iterdir() if p.suffix in KEY_SUFFIXES))
    except OSError as exc:
        raise FLKeyError(f"{directory}: cannot read the node key directory "
                         f"({exc.strerror})") from None


def _directory_keys(directory: Path) -> list[PublicKey]:
    from pqml.keys import key_files

    if not directory.is_dir():
        raise FLKeyError(f"{directory}: not a directory of node keys")
    keys: list[PublicKey] = []
    for path in sorted(directory.iterdir()):
        if path.suffix not in KEY_SUFFIXES or not path.is_file():
            continue
        if path.stat().st_size > MAX_REGISTRY_FILE:
            raise FLKeyError(f"{path}: larger than {MAX_REGISTRY_FILE} bytes, not a key file")
        try:
            key = key_files.load_public(path)
        except PqmlError as exc:
            raise FLKeyError(f"{path}: not a node key ({exc})") from None
        _check_signature(key, str(path))
        keys.append(key)
    return keys


def _keyring_keys(refs: tuple[str, ...]) -> list[PublicKey]:
    """The keyring's node keys that may sign now; a key that may not (revoked, retired,
    expired, destroyed) is left out and logged, an unknown reference is an error."""
    from pqml.keys.errors import KeyStateError
    from pqml.keys.keyring import Keyring, check_key_use

    keys: list[PublicKey] = []
    try:
        with Keyring() as keyring:
            for ref in refs:
                record = keyring.get(ref)
                try:
                    check_key_use(record, "sign")
                except KeyStateError as exc:
                    log.warning("pqml: node key %s is not registered: %s", ref, exc)
                    continue
                keys.append(keyring.public_key(record.id))
    except PqmlError as exc:
        raise FLKeyError(f"node registry: {exc}") from None
    return keys

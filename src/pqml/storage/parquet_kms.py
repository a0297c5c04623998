"""Post-quantum keys for Parquet modular encryption: a PyArrow ``KmsClient`` whose
``wrap_key`` / ``unwrap_key`` seal Parquet data keys (or, with double wrapping, the key
encryption keys that wrap them) to master keys held by pqml, with HPKE (RFC 9180) over
X-Wing, or ML-KEM-1024 / MLKEM1024-P384 with HKDF-SHA-384 under CNSA 2.0.

A master key identifier in PyArrow's configuration (``footer_key``, ``column_keys``)
names a pqml key: a key file (PEM or age) or a keyring reference (id, prefix, label),
mapped in :class:`MasterKeys`. Wrapping needs only the public key; unwrapping the private
one (a keyring key must be in a state that may decrypt).

The wrapped form is text (PyArrow stores it in JSON key material)::

    pqml-parquet-v1:<HPKE KEM id, 4 hex digits>:<base64 of enc || AES-256-GCM ct>

with HPKE ``info`` = ``b"pqml parquet key v1\\0" + master key id``, so a wrapped key
moved under another master key identifier fails to open. Data keys are 256-bit
(:func:`encryption_configuration`). Key material is kept outside the data files by
default (PyArrow's external key material: small JSON files beside them), so
:func:`rotate_master_keys` re-wraps keys to new master-key versions without rewriting
any data file.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pqml.primitives.errors import DecryptionError, KeyFormatError, PqmlError

WRAP_PREFIX = "pqml-parquet-v1"
INFO = b"pqml parquet key v1\x00"
DATA_KEY_BITS = 256
CNSA_KEMS = {0x0042, 0x0051}  # ML-KEM-1024, MLKEM1024-P384: HKDF-SHA-384 under CNSA 2.0


class ParquetKeyError(PqmlError):
    """A Parquet key cannot be wrapped or unwrapped: unknown master key identifier, a
    master key that is not a post-quantum KEM key, or a wrapped key that does not open."""


def _suite(kem_id: int) -> Any:
    from pqml.primitives import hpke

    kdf = hpke.KDFId.HKDF_SHA384 if kem_id in CNSA_KEMS else hpke.KDFId.HKDF_SHA256
    return hpke.Suite(kem_id, kdf, hpke.AEADId.AES_256_GCM)


def _kem_id(key: Any, master_id: str) -> int:
    from pqml.primitives import registry

    entry = registry.get(key.algorithm)
    kem_id = getattr(entry, "hpke_kem_id", None)
    if kem_id is None or getattr(entry, "quantum_vulnerable", False):
        raise ParquetKeyError(f"master key {master_id!r}: {key.algorithm} is not a "
                              "post-quantum HPKE KEM (use X-Wing or ML-KEM-1024)")
    return int(kem_id)


@dataclass
class MasterKeys:
    """Master key identifiers -> pqml key references (key file paths or keyring refs, or
    key objects). ``previous``: for each identifier, the keys it had before a rotation,
    which still unwrap (so :func:`rotate_master_keys` can re-wrap to the current one).

    ``passphrase``: for passphrase-protected private keys (else ``$PQML_KEY_PASSPHRASE``).
    Keys are loaded on first use and cached for the life of this object."""

    refs: Mapping[str, str | os.PathLike[str] | Any]
    previous: Mapping[str, Sequence[Any]] = field(default_factory=dict)
    passphrase: bytes | None = None
    _public: dict[str, Any] = field(default_factory=dict, repr=False)
    _private: dict[str, Any] = field(default_factory=dict, repr=False)

    def _ref(self, master_id: str) -> Any:
        try:
            return self.refs[master_id]
        except KeyError:
            raise ParquetKeyError(f"master key {master_id!r}: not configured (known: "
                                  f"{', '.join(sorted(self.refs)) or 'none'})") from None

    def public(self, master_id: str) -> Any:
        if master_id not in self._public:
            ref = self._ref(master_id)
            if hasattr(ref, "algorithm"):  # a key object
                key = ref.public_key() if hasattr(ref, "public_key") else ref
            else:
                key = self._load(master_id, ref, private=False)
            self._public[master_id] = key
        return self._public[master_id]

    def privates(self, master_id: str) -> list[Any]:
        """The current private key, then the previous ones."""
        keys = [self.private(master_id)]
        for index, ref in enumerate(self.previous.get(master_id, ())):
            slot = f"{master_id}\0{index}"
            if slot not in self._private:
                self._private[slot] = self._from_ref(master_id, ref)
            keys.append(self._private[slot])
        return keys

    def private(self, master_id: str) -> Any:
        if master_id not in self._private:
            self._private[master_id] = self._from_ref(master_id, self._ref(master_id))
        return self._private[master_id]

    def _from_ref(self, master_id: str, ref: Any) -> Any:
        if hasattr(ref, "algorithm"):
            if not hasattr(ref, "public_key"):
                raise ParquetKeyError(f"master key {master_id!r}: only its public key "
                                      "is configured; unwrapping needs the private key")
            return ref
        return self._load(master_id, ref, private=True)

    def _load(self, master_id: str, ref: Any, *, private: bool) -> Any:
        from pqml.keys import key_files
        from pqml.keys.key_refs import env_passphrase, resolve

        passphrase = self.passphrase or env_passphrase()
        found = resolve(os.fspath(ref))
        try:
            if hasattr(found, "state"):  # a keyring record
                from pqml.keys.keyring import Keyring

                ring = Keyring()
                if private:
                    return ring.private_key(found.id, use="decrypt", passphrase=passphrase)
                return ring.public_key(found.id)
            key = key_files.load(found, passphrase=passphrase)
        except OSError as exc:
            raise ParquetKeyError(f"master key {master_id!r}: cannot read {ref}: "
                                  f"{exc.strerror or exc}") from None
        if private:
            if not hasattr(key, "public_key"):
                raise ParquetKeyError(f"master key {master_id!r}: {ref} holds a public key; "
                                      "unwrapping needs the private key")
            return key
        return key.public_key() if hasattr(key, "public_key") else key


def wrap(master_keys: MasterKeys, data_key: bytes, master_id: str) -> str:
    """Seal ``data_key`` to the master key ``master_id``; text for PyArrow's key material."""
    if len(data_key) < 16:
        raise ParquetKeyError(f"master key {master_id!r}: refusing to wrap a "
                              f"{len(data_key) * 8}-bit key")
    public = master_keys.public(master_id)
    kem_id = _kem_id(public, master_id)
    sealed = _suite(kem_id).seal(public, bytes(data_key), INFO + master_id.encode("utf-8"))
    return f"{WRAP_PREFIX}:{kem_id:04x}:{base64.b64encode(sealed).decode('ascii')}"


def unwrap(master_keys: MasterKeys, wrapped: str, master_id: str) -> bytes:
    """Open a key sealed by :func:`wrap` to ``master_id`` (ParquetKeyError otherwise)."""
    try:
        prefix, kem_hex, body = wrapped.split(":")
        if prefix != WRAP_PREFIX:
            raise ValueError
        kem_id = int(kem_hex, 16)
        sealed = base64.b64decode(body, validate=True)
    except (ValueError, binascii.Error):
        raise ParquetKeyError(f"master key {master_id!r}: the wrapped key is not a "
                              f"{WRAP_PREFIX} key") from None
    for private in master_keys.privates(master_id):
        if _kem_id(private, master_id) != kem_id:
            continue
        try:
            return _suite(kem_id).open(private, sealed, INFO + master_id.encode("utf-8"))
        except (DecryptionError, KeyFormatError):
            continue
    raise ParquetKeyError(f"master key {master_id!r}: the wrapped key does not open with "
                          "the configured key (wrong master key, or tampered key "
                          "material)")


def kms_client_factory(master_keys: MasterKeys) -> Any:
    """The ``kms_client_factory`` for ``pyarrow.parquet.encryption.CryptoFactory``."""
    pe = _pe()

    class PqmlKmsClient(pe.KmsClient):  # type: ignore[misc, name-defined]
        """PyArrow KMS client backed by pqml master keys (HPKE, post-quantum)."""

        def __init__(self, config: Any) -> None:
            pe.KmsClient.__init__(self)
            self.config = config

        def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
            return wrap(master_keys, key_bytes, master_key_identifier)

        def unwrap_key(self, wrapped_key: str, master_key_identifier: str) -> bytes:
            return unwrap(master_keys, wrapped_key, master_key_identifier)

    def factory(config: Any) -> Any:
        return PqmlKmsClient(config)

    return factory


def _pe() -> Any:
    try:
        import pyarrow.parquet.encryption as pe
    except ImportError:
        from pqml.storage.errors import MissingExtraError

        raise MissingExtraError("pqml.parquet needs pyarrow; install the 'parquet' extra: "
                                "pip install 'pqml[parquet]'") from None
    return pe


def crypto_factory(master_keys: MasterKeys) -> Any:
    """A ``pyarrow.parquet.encryption.CryptoFactory`` using pqml master keys."""
    return _pe().CryptoFactory(kms_client_factory(master_keys))


def kms_connection_config() -> Any:
    return _pe().KmsConnectionConfig(kms_instance_id="pqml", kms_instance_url="local")


def encryption_configuration(footer_key: str, column_keys: Mapping[str, list[str]]
                             | None = None, *, plaintext_footer: bool = False,
                             external_key_material: bool = True, double_wrapping: bool = True
                             ) -> Any:
    """PyArrow's EncryptionConfiguration with 256-bit data keys, AES-GCM, and (default)
    key material outside the file, which :func:`rotate_master_keys` needs."""
    columns = dict(column_keys or {})
    uniform = {} if columns else {"uniform_encryption": True}  # no column keys: all columns
    return _pe().EncryptionConfiguration(
        footer_key=footer_key, column_keys=columns, **uniform,
        encryption_algorithm="AES_GCM_V1", plaintext_footer=plaintext_footer,
        double_wrapping=double_wrapping, data_key_length_bits=DATA_KEY_BITS,
        internal_key_material=not external_key_material,
        cache_lifetime=datetime.timedelta(0))


def _filesystem(path: str) -> tuple[Any, str]:
    """A pyarrow filesystem and the path in it, for a local path or an fsspec URL."""
    import pyarrow.fs as pafs

    from pqml.storage.urls import is_url, local_path, locate

    if is_url(path):
        loc = locate(path)
        return pafs.PyFileSystem(pafs.FSSpecHandler(loc.fs)), loc.path
    return pafs.LocalFileSystem(), os.path.abspath(local_path(path))


def write_table(table: Any, path: str | os.PathLike[str], master_keys: MasterKeys, *,
                footer_key: str, column_keys: Mapping[str, list[str]] | None = None,
                external_key_material: bool = True, **write_options: Any) -> None:
    """Write ``table`` as an encrypted Parquet file (path or URL). With external key
    material (default) a ``_KEY_MATERIAL_FOR_<name>.json`` appears beside it."""
    import pyarrow.parquet as pq

    fs, where = _filesystem(os.fspath(path))
    props = crypto_factory(master_keys).file_encryption_properties(
        kms_connection_config(),
        encryption_configuration(footer_key, column_keys,
                                 external_key_material=external_key_material),
        where, fs)
    with pq.ParquetWriter(where, table.schema, filesystem=fs, encryption_properties=props,
                          **write_options) as writer:
        writer.write_table(table)


def read_table(path: str | os.PathLike[str], master_keys: MasterKeys, **read_options: Any
               ) -> Any:
    """Read an encrypted Parquet file written with pqml master keys."""
    import pyarrow.parquet as pq

    fs, where = _filesystem(os.fspath(path))
    props = crypto_factory(master_keys).file_decryption_properties(
        kms_connection_config(),
        _pe().DecryptionConfiguration(cache_lifetime=datetime.timedelta(0)), where, fs)
    try:
        return pq.read_table(where, filesystem=fs, decryption_properties=props,
                             **read_options)
    except OSError as exc:
        raise ParquetKeyError(f"{os.fspath(path)}: cannot read: "
                              f"{str(exc).splitlines()[0]}") from None


def rotate_master_keys(path: str | os.PathLike[str], master_keys: MasterKeys, *,
                       double_wrapping: bool = True) -> None:
    """Re-wrap the file's keys to the current master keys (the same identifiers, now
    mapped to new keys in ``master_keys``; the old ones must still open them). Only the
    external key material changes; the data file is untouched."""
    fs, where = _filesystem(os.fspath(path))
    crypto_factory(master_keys).rotate_master_keys(kms_connection_config(), where, fs,
                                                   double_wrapping=double_wrapping,
                                                   cache_lifetime_seconds=0)

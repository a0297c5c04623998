"""HPKE (RFC 9180) with the secret export interface, composed from pyca/cryptography.

pyca's ``hpke.Suite`` is single-shot Base mode only and has no ``Export``; Oblivious HTTP
(RFC 9458) and multi-message uses need both, so the key schedule is rebuilt here from HKDF,
AESGCM / ChaCha20Poly1305, ECDH and hashlib SHAKE, following the RFC text step by step.

Covered: all four modes (Base, PSK, Auth, AuthPSK; Auth only with DHKEMs), DHKEM over
X25519, X448, P-256, P-384 and P-521; the post-quantum KEMs of draft-ietf-hpke-pq
(ML-KEM-768/1024, X-Wing, MLKEM1024-P384, MLKEM768-P256); HKDF-SHA256/384/512 and the
one-stage SHAKE128/SHAKE256 KDFs of draft-ietf-hpke-hpke; AES-128/256-GCM,
ChaCha20-Poly1305 and Export-only. TurboSHAKE KDFs and ML-KEM-512 are known but have no
backend here. Single-shot output is ``enc ‖ ct``, the layout of pyca's ``Suite.encrypt``.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, KEMScheme, require_size
from pqml.primitives.errors import (
    DecryptionError,
    HPKEError,
    KeyFormatError,
    MessageLimitReachedError,
    UnavailableAlgorithmError,
    UnknownAlgorithmError,
    WrongKeyTypeError,
)
from pqml.primitives.kem import ecdh

_VERSION = b"HPKE-v1"
_CONTEXT_CACHE = 64  # (mode, psk_id, info) key-schedule contexts kept per suite


class Mode(IntEnum):
    BASE = 0x00
    PSK = 0x01
    AUTH = 0x02
    AUTH_PSK = 0x03


_MODES = frozenset(int(mode) for mode in Mode)


class KEMId(IntEnum):
    DHKEM_P256_HKDF_SHA256 = 0x0010
    DHKEM_P384_HKDF_SHA384 = 0x0011
    DHKEM_P521_HKDF_SHA512 = 0x0012
    DHKEM_X25519_HKDF_SHA256 = 0x0020
    DHKEM_X448_HKDF_SHA512 = 0x0021
    ML_KEM_512 = 0x0040
    ML_KEM_768 = 0x0041
    ML_KEM_1024 = 0x0042
    MLKEM768_P256 = 0x0050
    MLKEM1024_P384 = 0x0051
    MLKEM768_X25519 = 0x647A  # X-Wing


class KDFId(IntEnum):
    HKDF_SHA256 = 0x0001
    HKDF_SHA384 = 0x0002
    HKDF_SHA512 = 0x0003
    SHAKE128 = 0x0010
    SHAKE256 = 0x0011
    TURBOSHAKE128 = 0x0012
    TURBOSHAKE256 = 0x0013


class AEADId(IntEnum):
    AES_128_GCM = 0x0001
    AES_256_GCM = 0x0002
    CHACHA20_POLY1305 = 0x0003
    EXPORT_ONLY = 0xFFFF


def _i2osp(value: int, length: int) -> bytes:
    return value.to_bytes(length, "big")


def _u16(value: int, what: str) -> bytes:
    if not 0 <= value <= 0xFFFF:
        raise HPKEError(f"HPKE {what} is limited to 65535 bytes, got {value}")
    return _i2osp(value, 2)


# ---- KDFs (RFC 9180 §4, draft-ietf-hpke-hpke one-stage KDFs) ----------------------------


class KDF(ABC):
    kdf_id: int
    name: str
    nh: int
    one_stage: bool

    def labeled_extract(self, suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
        raise HPKEError(f"{self.name} is a one-stage KDF; it has no Extract")

    def labeled_expand(
        self, suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int
    ) -> bytes:
        raise HPKEError(f"{self.name} is a one-stage KDF; it has no Expand")

    def labeled_derive(
        self, suite_id: bytes, ikm: bytes, label: bytes, context: bytes, length: int
    ) -> bytes:
        raise HPKEError(f"{self.name} is a two-stage KDF; it has no Derive")

    @abstractmethod
    def max_export(self) -> int: ...


class _HKDF(KDF):
    one_stage = False

    def __init__(self, kdf_id: int, name: str, algorithm: hashes.HashAlgorithm) -> None:
        self.kdf_id = kdf_id
        self.name = name
        self._hash = algorithm
        self.nh = algorithm.digest_size

    def labeled_extract(self, suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
        return HKDF.extract(self._hash, salt, _VERSION + suite_id + label + ikm)

    def labeled_expand(
        self, suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int
    ) -> bytes:
        if length > self.max_export():
            raise HPKEError(f"{self.name} can expand at most {self.max_export()} bytes")
        if length == 0:
            return b""
        labeled_info = _i2osp(length, 2) + _VERSION + suite_id + label + info
        return HKDFExpand(self._hash, length, labeled_info).derive(prk)

    def max_export(self) -> int:
        return 255 * self.nh


class _SHAKE(KDF):
    one_stage = True

    def __init__(self, kdf_id: int, name: str, xof: Any, nh: int) -> None:
        self.kdf_id = kdf_id
        self.name = name
        self._xof = xof
        self.nh = nh

    def labeled_derive(
        self, suite_id: bytes, ikm: bytes, label: bytes, context: bytes, length: int
    ) -> bytes:
        labeled_ikm = (
            ikm
            + _VERSION
            + suite_id
            + _u16(len(label), "label")
            + label
            + _u16(length, "output length")
            + context
        )
        return bytes(self._xof(labeled_ikm).digest(length))

    def max_export(self) -> int:
        return 0xFFFF


_HKDF_SHA256 = _HKDF(KDFId.HKDF_SHA256, "HKDF-SHA256", hashes.SHA256())
_HKDF_SHA384 = _HKDF(KDFId.HKDF_SHA384, "HKDF-SHA384", hashes.SHA384())
_HKDF_SHA512 = _HKDF(KDFId.HKDF_SHA512, "HKDF-SHA512", hashes.SHA512())
_KDFS: dict[int, KDF] = {
    KDFId.HKDF_SHA256: _HKDF_SHA256,
    KDFId.HKDF_SHA384: _HKDF_SHA384,
    KDFId.HKDF_SHA512: _HKDF_SHA512,
    KDFId.SHAKE128: _SHAKE(KDFId.SHAKE128, "SHAKE128", hashlib.shake_128, 32),
    KDFId.SHAKE256: _SHAKE(KDFId.SHAKE256, "SHAKE256", hashlib.shake_256, 64),
}
_NO_BACKEND = {
    KDFId.TURBOSHAKE128: "TurboSHAKE128 KDF (neither hashlib nor cryptography provides it)",
    KDFId.TURBOSHAKE256: "TurboSHAKE256 KDF (neither hashlib nor cryptography provides it)",
    KEMId.ML_KEM_512: "ML-KEM-512 KEM (cryptography 50 implements only ML-KEM-768/1024)",
}


def get_kdf(kdf_id: int) -> KDF:
    if kdf_id in _KDFS:
        return _KDFS[kdf_id]
    if kdf_id in (KDFId.TURBOSHAKE128, KDFId.TURBOSHAKE256):
        raise UnavailableAlgorithmError(f"HPKE {_NO_BACKEND[kdf_id]} is not available")
    raise UnknownAlgorithmError(f"unknown HPKE KDF id 0x{kdf_id:04x}")


# ---- AEADs (RFC 9180 §7.3) ---------------------------------------------------------------


@dataclass(frozen=True)
class AEAD:
    aead_id: int
    name: str
    nk: int
    nn: int
    nt: int
    cipher: Any  # AESGCM / ChaCha20Poly1305 class, None for Export-only

    @property
    def export_only(self) -> bool:
        return self.cipher is None


_AEADS: dict[int, AEAD] = {
    AEADId.AES_128_GCM: AEAD(AEADId.AES_128_GCM, "AES-128-GCM", 16, 12, 16, AESGCM),
    AEADId.AES_256_GCM: AEAD(AEADId.AES_256_GCM, "AES-256-GCM", 32, 12, 16, AESGCM),
    AEADId.CHACHA20_POLY1305: AEAD(
        AEADId.CHACHA20_POLY1305, "ChaCha20-Poly1305", 32, 12, 16, ChaCha20Poly1305
    ),
    AEADId.EXPORT_ONLY: AEAD(AEADId.EXPORT_ONLY, "Export-only", 0, 0, 0, None),
}


def get_aead(aead_id: int) -> AEAD:
    try:
        return _AEADS[aead_id]
    except KeyError:
        raise UnknownAlgorithmError(f"unknown HPKE AEAD id 0x{aead_id:04x}") from None


# ---- KEMs (RFC 9180 §4.1, draft-ietf-hpke-pq) ---------------------------------------------


class KEM(ABC):
    """An HPKE KEM over pqml key objects: Encap/Decap, DeriveKeyPair, (de)serialization."""

    kem_id: int
    name: str
    n_secret: int
    n_enc: int
    n_pk: int
    n_sk: int
    supports_auth = False

    @property
    def suite_id(self) -> bytes:
        return b"KEM" + _i2osp(self.kem_id, 2)

    @property
    @abstractmethod
    def scheme(self) -> KEMScheme: ...

    def generate_key_pair(self) -> KEMPrivateKey:
        return self.scheme.generate()

    @abstractmethod
    def derive_key_pair(self, ikm: bytes) -> KEMPrivateKey: ...

    def public_from_bytes(self, data: bytes) -> KEMPublicKey:
        return self.scheme.public_from_bytes(data)

    def private_from_bytes(self, data: bytes) -> KEMPrivateKey:
        return self.scheme.private_from_bytes(data)

    def check_key(self, key: KEMPublicKey | KEMPrivateKey, role: str) -> None:
        if key.algorithm != self.scheme.algorithm:
            raise WrongKeyTypeError(
                f"HPKE suite with KEM {self.name} needs a {role} key for "
                f"{self.scheme.algorithm}, got {key.algorithm}"
            )

    @abstractmethod
    def encap(self, pk: KEMPublicKey, ikm_e: bytes | None = None) -> tuple[bytes, bytes]:
        """Return (shared_secret, enc); ``ikm_e`` fixes the ephemeral (test vectors only)."""

    @abstractmethod
    def decap(self, enc: bytes, sk: KEMPrivateKey) -> bytes: ...

    def auth_encap(
        self, pk: KEMPublicKey, sks: KEMPrivateKey, ikm_e: bytes | None = None
    ) -> tuple[bytes, bytes]:
        raise HPKEError(f"HPKE KEM {self.name} has no authenticated mode")

    def auth_decap(self, enc: bytes, sk: KEMPrivateKey, pks: KEMPublicKey) -> bytes:
        raise HPKEError(f"HPKE KEM {self.name} has no authenticated mode")


class _DHKEM(KEM):
    """DHKEM(Group, HKDF) of RFC 9180 §4.1 over the ECDH key classes of kem/ecdh.py."""

    supports_auth = True

    def __init__(
        self,
        kem_id: int,
        name: str,
        kdf: KDF,
        n_secret: int,
        group: ecdh.ECDHScheme,
        bitmask: int | None = None,
    ) -> None:
        self.kem_id = kem_id
        self.name = name
        self._kdf = kdf
        self.n_secret = n_secret
        self._group = group
        self.n_enc = self.n_pk = group.public_key_size
        self.n_sk = group.private_key_size
        self._bitmask = bitmask  # DeriveKeyPair's, NIST curves only (RFC 9180 §7.1.3)

    @property
    def scheme(self) -> ecdh.ECDHScheme:
        return self._group

    def derive_key_pair(self, ikm: bytes) -> KEMPrivateKey:
        """RFC 9180 §7.1.3: clamp-free bytes for X25519/X448, rejection sampling for NIST."""
        sid = self.suite_id
        dkp_prk = self._kdf.labeled_extract(sid, b"", b"dkp_prk", ikm)
        group = self._group
        if not isinstance(group, ecdh.NISTScheme):
            sk = self._kdf.labeled_expand(sid, dkp_prk, b"sk", b"", self.n_sk)
            return group.private_from_bytes(sk)
        assert self._bitmask is not None
        for counter in range(256):
            candidate = bytearray(
                self._kdf.labeled_expand(sid, dkp_prk, b"candidate", bytes([counter]), self.n_sk)
            )
            candidate[0] &= self._bitmask
            value = int.from_bytes(candidate, "big")
            if 0 < value < group.order:
                return group.from_scalar(value)
        raise HPKEError("DeriveKeyPairError: no valid scalar in 256 candidates")

    def _extract_and_expand(self, dh: bytes, kem_context: bytes) -> bytes:
        sid = self.suite_id
        eae_prk = self._kdf.labeled_extract(sid, b"", b"eae_prk", dh)
        return self._kdf.labeled_expand(sid, eae_prk, b"shared_secret", kem_context, self.n_secret)

    def _ephemeral(self, ikm_e: bytes | None) -> KEMPrivateKey:
        return self.generate_key_pair() if ikm_e is None else self.derive_key_pair(ikm_e)

    @staticmethod
    def _dh_to(sk: KEMPrivateKey, pk: KEMPublicKey) -> bytes:
        # For a raw-DH KEM, "decapsulating" a peer public key is DH(sk, pk).
        try:
            return sk.decapsulate(pk.public_bytes())
        except DecryptionError as exc:
            raise KeyFormatError(f"HPKE recipient public key is unusable: {exc}") from None

    def encap(self, pk: KEMPublicKey, ikm_e: bytes | None = None) -> tuple[bytes, bytes]:
        sk_e = self._ephemeral(ikm_e)
        dh = self._dh_to(sk_e, pk)
        enc = sk_e.public_key().public_bytes()
        return self._extract_and_expand(dh, enc + pk.public_bytes()), enc

    def decap(self, enc: bytes, sk: KEMPrivateKey) -> bytes:
        dh = sk.decapsulate(enc)
        return self._extract_and_expand(dh, bytes(enc) + sk.public_key().public_bytes())

    def auth_encap(
        self, pk: KEMPublicKey, sks: KEMPrivateKey, ikm_e: bytes | None = None
    ) -> tuple[bytes, bytes]:
        self.check_key(sks, "sender private")
        sk_e = self._ephemeral(ikm_e)
        dh = self._dh_to(sk_e, pk) + self._dh_to(sks, pk)
        enc = sk_e.public_key().public_bytes()
        kem_context = enc + pk.public_bytes() + sks.public_key().public_bytes()
        return self._extract_and_expand(dh, kem_context), enc

    def auth_decap(self, enc: bytes, sk: KEMPrivateKey, pks: KEMPublicKey) -> bytes:
        self.check_key(pks, "sender public")
        try:
            dh = sk.decapsulate(enc) + sk.decapsulate(pks.public_bytes())
        except DecryptionError as exc:
            raise DecryptionError(f"HPKE authenticated decapsulation failed: {exc}") from None
        kem_context = bytes(enc) + sk.public_key().public_bytes() + pks.public_bytes()
        return self._extract_and_expand(dh, kem_context)


class _PQKEM(KEM):
    """ML-KEM and hybrid KEMs: Encap/Decap are the scheme's, DeriveKeyPair is SHAKE256."""

    n_secret = 32

    def __init__(self, kem_id: int, name: str, n_pk: int, n_enc: int, n_sk: int) -> None:
        self.kem_id = kem_id
        self.name = name
        self.n_pk = n_pk
        self.n_enc = n_enc
        self.n_sk = n_sk  # the seed
        self._scheme: Any = None

    @property
    def scheme(self) -> KEMScheme:
        if self._scheme is None:
            from pqml.primitives import registry

            alg = registry.by_hpke_kem_id(self.kem_id)
            if alg is not None:
                self._scheme = alg.scheme()
            elif self.kem_id == KEMId.MLKEM768_P256:  # no registry entry (yet)
                from pqml.primitives.kem.mlkem1024_p384 import MLKEM768_P256

                self._scheme = MLKEM768_P256
            else:  # pragma: no cover - table and registry disagree
                raise UnknownAlgorithmError(f"no scheme for HPKE KEM 0x{self.kem_id:04x}")
        return self._scheme

    def derive_key_pair(self, ikm: bytes) -> KEMPrivateKey:
        seed = _KDFS[KDFId.SHAKE256].labeled_derive(
            self.suite_id, ikm, b"DeriveKeyPair", b"", self.n_sk
        )
        return self.scheme.private_from_bytes(seed)

    def encap(self, pk: KEMPublicKey, ikm_e: bytes | None = None) -> tuple[bytes, bytes]:
        if ikm_e is not None:
            raise HPKEError(
                f"{self.name}: the backend cannot encapsulate deterministically; "
                "use Suite._sender_from_secret with an oracle's (shared_secret, enc)"
            )
        return pk.encapsulate()

    def decap(self, enc: bytes, sk: KEMPrivateKey) -> bytes:
        return sk.decapsulate(enc)


_KEMS: dict[int, KEM] = {
    kem.kem_id: kem
    for kem in (
        # DHKEM: id, name, its own KDF, Nsecret, group (its sizes are Npk = Nenc and Nsk),
        # DeriveKeyPair's bitmask (NIST curves)
        _DHKEM(0x0010, "DHKEM(P-256, HKDF-SHA256)", _HKDF_SHA256, 32, ecdh.ECDH_P256, 0xFF),
        _DHKEM(0x0011, "DHKEM(P-384, HKDF-SHA384)", _HKDF_SHA384, 48, ecdh.ECDH_P384, 0xFF),
        _DHKEM(0x0012, "DHKEM(P-521, HKDF-SHA512)", _HKDF_SHA512, 64, ecdh.ECDH_P521, 0x01),
        _DHKEM(0x0020, "DHKEM(X25519, HKDF-SHA256)", _HKDF_SHA256, 32, ecdh.X25519),
        _DHKEM(0x0021, "DHKEM(X448, HKDF-SHA512)", _HKDF_SHA512, 64, ecdh.X448),
        # draft-ietf-hpke-pq: id, name, Npk, Nenc, Nsk (seed)
        _PQKEM(0x0041, "ML-KEM-768", 1184, 1088, 64),
        _PQKEM(0x0042, "ML-KEM-1024", 1568, 1568, 64),
        _PQKEM(0x0050, "MLKEM768-P256", 1249, 1153, 32),
        _PQKEM(0x0051, "MLKEM1024-P384", 1665, 1665, 32),
        _PQKEM(0x647A, "MLKEM768-X25519 (X-Wing)", 1216, 1120, 32),
    )
}


def get_kem(kem_id: int) -> KEM:
    if kem_id in _KEMS:
        return _KEMS[kem_id]
    if kem_id == KEMId.ML_KEM_512:
        raise UnavailableAlgorithmError(f"HPKE {_NO_BACKEND[kem_id]} is not available")
    raise UnknownAlgorithmError(f"unknown HPKE KEM id 0x{kem_id:04x}")


# ---- contexts (RFC 9180 §5.2, §5.3) ------------------------------------------------------


class Context:
    """Shared state of one HPKE context: AEAD key, base nonce, sequence number, exporter."""

    def __init__(self, suite: Suite, key: bytes, base_nonce: bytes, exporter_secret: bytes) -> None:
        self.suite = suite
        aead = suite.aead
        self._aead = None if aead.export_only else aead.cipher(key)
        self._key = key
        self._base_nonce = base_nonce
        self._exporter_secret = exporter_secret
        self._seq = 0
        # fixed per context: worked out once, not per message
        self._nn = aead.nn
        self._nonce_base = int.from_bytes(base_nonce, "big")
        self._seq_limit = (1 << (8 * aead.nn)) - 1

    @property
    def seq(self) -> int:
        return self._seq

    def _cipher(self) -> Any:
        if self._aead is None:
            raise HPKEError("this HPKE suite is Export-only: it cannot seal or open")
        if self._seq >= self._seq_limit:
            raise MessageLimitReachedError("HPKE context sequence number exhausted")
        return self._aead

    def _nonce(self) -> bytes:
        return (self._seq ^ self._nonce_base).to_bytes(self._nn, "big")

    def export(self, exporter_context: bytes, length: int) -> bytes:
        """Secret export (RFC 9180 §5.3): a secret bound to this context and the label."""
        kdf, sid = self.suite.kdf, self.suite.suite_id
        if not 0 <= length <= kdf.max_export():
            raise HPKEError(f"HPKE export length must be 0..{kdf.max_export()}, got {length}")
        if kdf.one_stage:
            return kdf.labeled_derive(sid, self._exporter_secret, b"sec", exporter_context, length)
        return kdf.labeled_expand(sid, self._exporter_secret, b"sec", exporter_context, length)


class SenderContext(Context):
    def seal(self, plaintext: bytes, aad: bytes = b"") -> bytes:
        ct = self._cipher().encrypt(self._nonce(), plaintext, aad)
        self._seq += 1
        return bytes(ct)


class RecipientContext(Context):
    def open(self, ciphertext: bytes, aad: bytes = b"") -> bytes:
        """Decrypt the next message; the sequence number advances only on success."""
        try:
            pt = self._cipher().decrypt(self._nonce(), ciphertext, aad)
        except InvalidTag:
            raise DecryptionError(
                "HPKE decryption failed: wrong key, wrong info/aad, out-of-order message "
                "or tampered ciphertext"
            ) from None
        self._seq += 1
        return bytes(pt)


# ---- the suite -----------------------------------------------------------------------------


class Suite:
    """An HPKE ciphersuite (KEM, KDF, AEAD), RFC 9180 §5 plus the one-stage KDF schedule."""

    def __init__(
        self,
        kem: int | str,
        kdf_id: int = KDFId.HKDF_SHA256,
        aead_id: int = AEADId.AES_256_GCM,
    ) -> None:
        """``kem``: an HPKE KEM id, or a registry algorithm name (e.g. a key's .algorithm)."""
        kem_id = kem if isinstance(kem, int) else _kem_id_of(kem)
        self.kem = get_kem(kem_id)
        self.kdf = get_kdf(kdf_id)
        self.aead = get_aead(aead_id)
        self.suite_id = b"HPKE" + _i2osp(kem_id, 2) + _i2osp(kdf_id, 2) + _i2osp(aead_id, 2)
        self._contexts: dict[tuple[int, bytes, bytes], bytes] = {}

    @classmethod
    def for_algorithm(cls, algorithm: str, *ids: int, **named_ids: int) -> Suite:
        """``Suite(algorithm, kdf_id, aead_id)``: the suite for a registry algorithm name."""
        return cls(algorithm, *ids, **named_ids)

    def __repr__(self) -> str:
        return f"<HPKE suite {self.kem.name}, {self.kdf.name}, {self.aead.name}>"

    # ---- key schedule ----------------------------------------------------------------------

    def key_schedule(
        self, mode: int, shared_secret: bytes, info: bytes, psk: bytes, psk_id: bytes
    ) -> tuple[bytes, bytes, bytes]:
        """Return (key, base_nonce, exporter_secret) — RFC 9180 §5.1 or the one-stage form."""
        _verify_psk_inputs(mode, psk, psk_id)
        return self._key_schedule(mode, shared_secret, info, psk, psk_id)

    def _key_schedule(
        self, mode: int, shared_secret: bytes, info: bytes, psk: bytes, psk_id: bytes
    ) -> tuple[bytes, bytes, bytes]:
        """:meth:`key_schedule` for inputs already through ``_verify_psk_inputs``."""
        kdf, sid, aead = self.kdf, self.suite_id, self.aead
        if kdf.one_stage:
            secrets = _u16(len(psk), "psk") + psk + _u16(len(shared_secret), "secret")
            secrets += shared_secret
            context = bytes([mode]) + _u16(len(psk_id), "psk_id") + psk_id
            context += _u16(len(info), "info") + info
            out = kdf.labeled_derive(sid, secrets, b"secret", context, aead.nk + aead.nn + kdf.nh)
            return out[: aead.nk], out[aead.nk : aead.nk + aead.nn], out[aead.nk + aead.nn :]
        context = self._schedule_context(mode, psk_id, info)
        secret = kdf.labeled_extract(sid, shared_secret, b"secret", psk)
        key = kdf.labeled_expand(sid, secret, b"key", context, aead.nk)
        base_nonce = kdf.labeled_expand(sid, secret, b"base_nonce", context, aead.nn)
        exporter_secret = kdf.labeled_expand(sid, secret, b"exp", context, kdf.nh)
        return key, base_nonce, exporter_secret

    def _schedule_context(self, mode: int, psk_id: bytes, info: bytes) -> bytes:
        """``mode ‖ psk_id_hash ‖ info_hash`` of the two-stage schedule. It depends on no
        secret (public psk_id and info), and a client or gateway repeats the same few
        (mode, psk_id, info) for every message, so the last ones are kept per suite."""
        cache_key = (mode, psk_id, info)
        context = self._contexts.get(cache_key)
        if context is None:
            kdf, sid = self.kdf, self.suite_id
            psk_id_hash = kdf.labeled_extract(sid, b"", b"psk_id_hash", psk_id)
            info_hash = kdf.labeled_extract(sid, b"", b"info_hash", info)
            context = bytes([mode]) + psk_id_hash + info_hash
            if len(self._contexts) >= _CONTEXT_CACHE:
                self._contexts.clear()  # bounded: many distinct infos just stop hitting
            self._contexts[cache_key] = context
        return context

    def _sender_from_secret(
        self, mode: int, shared_secret: bytes, info: bytes, psk: bytes = b"", psk_id: bytes = b""
    ) -> SenderContext:
        """Sender context from a known KEM shared secret (test vectors, oracle encapsulation)."""
        return SenderContext(self, *self.key_schedule(mode, shared_secret, info, psk, psk_id))

    def _setup_s(
        self,
        mode: int,
        pk: KEMPublicKey,
        info: bytes,
        psk: bytes = b"",
        psk_id: bytes = b"",
        sks: KEMPrivateKey | None = None,
        ikm_e: bytes | None = None,
    ) -> tuple[bytes, SenderContext]:
        """Every SetupS; ``ikm_e`` derives the ephemeral (DHKEM only: test vectors)."""
        self.kem.check_key(pk, "recipient public")
        _verify_psk_inputs(mode, psk, psk_id)  # before spending an encapsulation
        if mode in (Mode.AUTH, Mode.AUTH_PSK):
            if sks is None:
                raise HPKEError("HPKE Auth modes need the sender's private key")
            shared_secret, enc = self.kem.auth_encap(pk, sks, ikm_e)
        else:
            shared_secret, enc = self.kem.encap(pk, ikm_e)
        schedule = self._key_schedule(mode, shared_secret, info, psk, psk_id)  # inputs checked
        return enc, SenderContext(self, *schedule)

    def _setup_r(
        self,
        mode: int,
        enc: bytes,
        sk: KEMPrivateKey,
        info: bytes,
        psk: bytes = b"",
        psk_id: bytes = b"",
        pks: KEMPublicKey | None = None,
    ) -> RecipientContext:
        self.kem.check_key(sk, "recipient private")
        _verify_psk_inputs(mode, psk, psk_id)
        what = f"HPKE encapsulated key for {self.kem.name}"
        enc = require_size(enc, self.kem.n_enc, what, DecryptionError)
        if mode in (Mode.AUTH, Mode.AUTH_PSK):
            if pks is None:
                raise HPKEError("HPKE Auth modes need the sender's public key")
            shared_secret = self.kem.auth_decap(enc, sk, pks)
        else:
            shared_secret = self.kem.decap(enc, sk)
        schedule = self._key_schedule(mode, shared_secret, info, psk, psk_id)  # inputs checked
        return RecipientContext(self, *schedule)

    # ---- RFC 9180 §5.1 setup functions ------------------------------------------------------

    def setup_base_s(self, pk: KEMPublicKey, info: bytes = b"") -> tuple[bytes, SenderContext]:
        return self._setup_s(Mode.BASE, pk, info)

    def setup_base_r(self, enc: bytes, sk: KEMPrivateKey, info: bytes = b"") -> RecipientContext:
        return self._setup_r(Mode.BASE, enc, sk, info)

    def setup_psk_s(
        self, pk: KEMPublicKey, info: bytes, psk: bytes, psk_id: bytes
    ) -> tuple[bytes, SenderContext]:
        return self._setup_s(Mode.PSK, pk, info, psk, psk_id)

    def setup_psk_r(
        self, enc: bytes, sk: KEMPrivateKey, info: bytes, psk: bytes, psk_id: bytes
    ) -> RecipientContext:
        return self._setup_r(Mode.PSK, enc, sk, info, psk, psk_id)

    def setup_auth_s(
        self, pk: KEMPublicKey, info: bytes, sks: KEMPrivateKey
    ) -> tuple[bytes, SenderContext]:
        return self._setup_s(Mode.AUTH, pk, info, sks=sks)

    def setup_auth_r(
        self, enc: bytes, sk: KEMPrivateKey, info: bytes, pks: KEMPublicKey
    ) -> RecipientContext:
        return self._setup_r(Mode.AUTH, enc, sk, info, pks=pks)

    def setup_auth_psk_s(
        self, pk: KEMPublicKey, info: bytes, psk: bytes, psk_id: bytes, sks: KEMPrivateKey
    ) -> tuple[bytes, SenderContext]:
        return self._setup_s(Mode.AUTH_PSK, pk, info, psk, psk_id, sks)

    def setup_auth_psk_r(
        self,
        enc: bytes,
        sk: KEMPrivateKey,
        info: bytes,
        psk: bytes,
        psk_id: bytes,
        pks: KEMPublicKey,
    ) -> RecipientContext:
        return self._setup_r(Mode.AUTH_PSK, enc, sk, info, psk, psk_id, pks)

    # ---- single-shot APIs (RFC 9180 §6), Base mode -------------------------------------------

    def seal(
        self, pk: KEMPublicKey, plaintext: bytes, info: bytes = b"", aad: bytes = b""
    ) -> bytes:
        """Encrypt one message to ``pk``; returns ``enc ‖ ct`` (pyca ``Suite.encrypt`` layout)."""
        enc, ctx = self.setup_base_s(pk, info)
        return enc + ctx.seal(plaintext, aad)

    def open(self, sk: KEMPrivateKey, data: bytes, info: bytes = b"", aad: bytes = b"") -> bytes:
        """Decrypt ``enc ‖ ct`` made by :meth:`seal` (or by pyca's ``Suite.encrypt``)."""
        n_enc = self.kem.n_enc
        if len(data) < n_enc + self.aead.nt:
            raise DecryptionError(
                f"HPKE message too short: {len(data)} bytes, needs at least "
                f"{n_enc + self.aead.nt} for {self.kem.name} and {self.aead.name}"
            )
        data = bytes(data)
        return self.setup_base_r(data[:n_enc], sk, info).open(data[n_enc:], aad)

    def send_export(
        self, pk: KEMPublicKey, info: bytes, exporter_context: bytes, length: int
    ) -> tuple[bytes, bytes]:
        """Return (enc, secret): a fresh secret only the holder of ``pk``'s key can derive."""
        enc, ctx = self.setup_base_s(pk, info)
        return enc, ctx.export(exporter_context, length)

    def receive_export(
        self, enc: bytes, sk: KEMPrivateKey, info: bytes, exporter_context: bytes, length: int
    ) -> bytes:
        return self.setup_base_r(enc, sk, info).export(exporter_context, length)


def _kem_id_of(algorithm: str) -> int:
    from pqml.primitives import registry

    kem_id = registry.get(algorithm).hpke_kem_id
    if kem_id is None:
        raise UnknownAlgorithmError(f"{algorithm} has no HPKE KEM id")
    return kem_id


def _verify_psk_inputs(mode: int, psk: bytes, psk_id: bytes) -> None:
    """RFC 9180 §5.1 VerifyPSKInputs, plus §9.5's 32-byte minimum PSK length."""
    if mode not in _MODES:
        raise HPKEError(f"unknown HPKE mode {mode}")
    got_psk, got_psk_id = bool(psk), bool(psk_id)
    if got_psk != got_psk_id:
        raise HPKEError("HPKE PSK and PSK id must be given together")
    if got_psk and mode in (Mode.BASE, Mode.AUTH):
        raise HPKEError("HPKE PSK given in a mode without a PSK")
    if not got_psk and mode in (Mode.PSK, Mode.AUTH_PSK):
        raise HPKEError("HPKE PSK mode needs a PSK and a PSK id")
    if got_psk and len(psk) < 32:
        raise HPKEError(f"HPKE PSK must be at least 32 bytes, got {len(psk)}")

"""Oblivious HTTP (RFC 9458) encapsulation composed on :mod:`pqml.primitives.hpke`.

Request (RFC 9458 §4.3)::

    hdr = key_id ‖ kem_id ‖ kdf_id ‖ aead_id
    enc, sctxt = SetupBaseS(pkR, "message/bhttp request" ‖ 0x00 ‖ hdr)
    enc_request = hdr ‖ enc ‖ sctxt.Seal("", bhttp_request)

Response (§4.4): a secret exported from that same HPKE context, so only the client that
made the request can read the answer::

    secret = context.Export("message/bhttp response", max(Nn, Nk))
    response_nonce = random(max(Nn, Nk)); salt = enc ‖ response_nonce
    prk = Extract(salt, secret)
    key = Expand(prk, "key", Nk); nonce = Expand(prk, "nonce", Nn)
    enc_response = response_nonce ‖ Seal(key, nonce, "", bhttp_response)

The response AEAD runs as an HPKE context keyed with (key, nonce): its nonce for message
``i`` is ``nonce XOR i``, which is exactly the per-chunk nonce of chunked OHTTP (and, at
``i = 0``, the single nonce above), so :mod:`pqml.gateway.chunked` reuses it.

Suites: X-Wing / HKDF-SHA256 / AES-256-GCM by default; ML-KEM-768 and ML-KEM-1024; X25519
only as a flagged legacy suite a caller must opt into (``allow_legacy=True``), since a
recording of its traffic is readable by a future quantum computer. The response key
schedule runs on the suite's own KDF (RFC 9458 §4.4): HKDF-SHA256, or HKDF-SHA384 for the
CNSA 2.0 suite ML-KEM-1024 / HKDF-SHA384 / AES-256-GCM.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache

from pqml.formats.ohttp import (
    HEADER_SIZE,
    RESPONSE_LABEL,
    KeyConfig,
    OHTTPFormatError,
    RequestHeader,
    SymmetricSuite,
    encapsulated_key_size,
)
from pqml.gateway.errors import KeyConfigMismatchError, OHTTPError, UnsupportedSuiteError
from pqml.primitives import hpke
from pqml.primitives.base import KEMPrivateKey, KEMPublicKey
from pqml.primitives.errors import PolicyError
from pqml.primitives.symmetric import hkdf_outputs, hkdf_sha256, hkdf_sha384

HKDF_SHA256 = int(hpke.KDFId.HKDF_SHA256)
HKDF_SHA384 = int(hpke.KDFId.HKDF_SHA384)
AES_128_GCM = int(hpke.AEADId.AES_128_GCM)
AES_256_GCM = int(hpke.AEADId.AES_256_GCM)
CHACHA20_POLY1305 = int(hpke.AEADId.CHACHA20_POLY1305)

# The response key schedule (RFC 9458 §4.4) runs the suite's own KDF as bare HKDF (Extract
# then Expand, RFC 5869). Each entry is ``hkdf(ikm, salt, info, length)``; in the order a
# client prefers them when a config offers several.
RESPONSE_KDFS: dict[int, Callable[[bytes, bytes, bytes, int], bytes]] = {
    HKDF_SHA256: hkdf_sha256,
    HKDF_SHA384: hkdf_sha384,
}
_RESPONSE_HASHES = {HKDF_SHA256: "SHA-256", HKDF_SHA384: "SHA-384"}
# What this build can run, in the order a client prefers them when a config offers several.
SUPPORTED_AEADS = (AES_256_GCM, CHACHA20_POLY1305, AES_128_GCM)
# Every DHKEM is quantum-vulnerable: usable only as an explicitly flagged legacy suite.
LEGACY_KEMS = frozenset({
    int(hpke.KEMId.DHKEM_X25519_HKDF_SHA256), int(hpke.KEMId.DHKEM_X448_HKDF_SHA512),
    int(hpke.KEMId.DHKEM_P256_HKDF_SHA256), int(hpke.KEMId.DHKEM_P384_HKDF_SHA384),
    int(hpke.KEMId.DHKEM_P521_HKDF_SHA512),
})
MAX_ENCAPSULATED_REQUEST = 16 << 20  # default bound on a whole (non-chunked) request


@dataclass(frozen=True)
class OHTTPSuite:
    """A named (KEM, KDF, AEAD) choice for a gateway key."""

    name: str
    kem_id: int
    kdf_id: int = HKDF_SHA256
    aead_id: int = AES_256_GCM

    @property
    def legacy(self) -> bool:
        """Quantum-vulnerable: usable only with an explicit opt-in."""
        return self.kem_id in LEGACY_KEMS

    @property
    def symmetric(self) -> SymmetricSuite:
        return SymmetricSuite(self.kdf_id, self.aead_id)


XWING = OHTTPSuite("X-Wing", int(hpke.KEMId.MLKEM768_X25519))
MLKEM768 = OHTTPSuite("ML-KEM-768", int(hpke.KEMId.ML_KEM_768))
# The CNSA 2.0 profile: ML-KEM-1024 with SHA-384 and AES-256 throughout.
MLKEM1024 = OHTTPSuite("ML-KEM-1024", int(hpke.KEMId.ML_KEM_1024), HKDF_SHA384, AES_256_GCM)
CNSA_SUITE = MLKEM1024
X25519_LEGACY = OHTTPSuite("X25519", int(hpke.KEMId.DHKEM_X25519_HKDF_SHA256))
DEFAULT_SUITE = XWING
SUITES: dict[str, OHTTPSuite] = {
    s.name.lower(): s for s in (XWING, MLKEM768, MLKEM1024, X25519_LEGACY)
}


def suite_by_name(name: str) -> OHTTPSuite:
    """``x-wing``, ``ml-kem-768``, ``ml-kem-1024`` or ``x25519`` (case-insensitive)."""
    try:
        return SUITES[name.lower()]
    except KeyError:
        raise UnsupportedSuiteError(
            f"unknown OHTTP suite {name!r}; choose one of: {', '.join(SUITES)}"
        ) from None


def kem_name(kem_id: int) -> str:
    try:
        return hpke.get_kem(kem_id).name
    except Exception:
        return f"KEM 0x{kem_id:04x}"


def check_legacy(kem_id: int, allow_legacy: bool, what: str) -> None:
    """Refuse a quantum-vulnerable KEM unless the caller opted in by name."""
    if kem_id in LEGACY_KEMS and not allow_legacy:
        raise PolicyError(
            f"{what} uses {kem_name(kem_id)}, a quantum-vulnerable legacy OHTTP suite; "
            "pass allow_legacy=True (--allow-legacy) to use it anyway"
        )


def check_symmetric(suite: SymmetricSuite, what: str) -> None:
    if suite.kdf_id not in RESPONSE_KDFS:
        raise UnsupportedSuiteError(
            f"{what}: HPKE KDF 0x{suite.kdf_id:04x} is not supported for OHTTP here "
            "(HKDF-SHA256 and HKDF-SHA384 are)"
        )
    if suite.aead_id not in SUPPORTED_AEADS:
        raise UnsupportedSuiteError(
            f"{what}: HPKE AEAD 0x{suite.aead_id:04x} is not supported for OHTTP"
        )


def choose_suite(config: KeyConfig) -> SymmetricSuite:
    """The (KDF, AEAD) pair a client uses with ``config``: the first of this build's
    preferences that the config offers."""
    offered = set(config.suites)
    for aead in SUPPORTED_AEADS:
        for kdf in RESPONSE_KDFS:
            if SymmetricSuite(kdf, aead) in offered:
                return SymmetricSuite(kdf, aead)
    raise UnsupportedSuiteError(
        f"key config {config.key_id} offers no (KDF, AEAD) pair this client supports"
    )


# ---- response key schedule (RFC 9458 §4.4, chunked OHTTP §6.2) ------------------------------


def response_context(
    hpke_suite: hpke.Suite, secret: bytes, enc: bytes, response_nonce: bytes
) -> tuple[bytes, bytes]:
    """(aead_key, aead_nonce) from the exported secret, ``enc`` and the response nonce."""
    salt = bytes(enc) + bytes(response_nonce)
    aead = hpke_suite.aead
    kdf_id = hpke_suite.kdf.kdf_id
    algorithm = _RESPONSE_HASHES.get(kdf_id)
    if algorithm is None:  # a KDF lent through RESPONSE_KDFS only: HKDF twice
        hkdf = RESPONSE_KDFS[kdf_id]
        return hkdf(secret, salt, b"key", aead.nk), hkdf(secret, salt, b"nonce", aead.nn)
    # RFC 5869: HKDF(secret, salt, info) = Expand(Extract(salt, secret), info), and both
    # derivations share that prk: extract it once
    key, nonce = hkdf_outputs(algorithm, secret, salt, [(b"key", aead.nk), (b"nonce", aead.nn)])
    return key, nonce


def response_nonce_size(hpke_suite: hpke.Suite) -> int:
    return max(hpke_suite.aead.nn, hpke_suite.aead.nk)


def hpke_suite_of(header: RequestHeader) -> hpke.Suite:
    return _hpke_suite(header.kem_id, header.kdf_id, header.aead_id)


@lru_cache(maxsize=64)
def _hpke_suite(kem_id: int, kdf_id: int, aead_id: int) -> hpke.Suite:
    # Suites hold no state beyond their ids: one object per (KEM, KDF, AEAD) will do.
    return hpke.Suite(kem_id, kdf_id, aead_id)


@lru_cache(maxsize=32)
def _public_key(kem_id: int, public_key: bytes) -> KEMPublicKey:
    # A client sends every request to the same few configs: parse each key once (an
    # X-Wing key takes as long to parse as a quarter of an encapsulation).
    return hpke.get_kem(kem_id).public_from_bytes(public_key)


def aead_sender(hpke_suite: hpke.Suite, key: bytes, nonce: bytes) -> hpke.SenderContext:
    # An HPKE context keyed directly: message i is sealed under nonce XOR i (see above).
    return hpke.SenderContext(hpke_suite, key, nonce, b"")


def aead_recipient(hpke_suite: hpke.Suite, key: bytes, nonce: bytes) -> hpke.RecipientContext:
    return hpke.RecipientContext(hpke_suite, key, nonce, b"")


# ---- client side ---------------------------------------------------------------------------


class ClientContext:
    """What a client keeps after sending one request, to read the one response."""

    def __init__(self, header: RequestHeader, enc: bytes, context: hpke.SenderContext,
                 *, label: bytes = RESPONSE_LABEL) -> None:
        self.header = header
        self.enc = enc
        self._context = context
        self._suite = context.suite
        self._label = label
        self._used = False

    def _response_keys(self, response_nonce: bytes) -> tuple[bytes, bytes]:
        secret = self._context.export(self._label, response_nonce_size(self._suite))
        return response_context(self._suite, secret, self.enc, response_nonce)

    def decapsulate_response(self, enc_response: bytes) -> bytes:
        """The Binary HTTP response inside ``enc_response``; :class:`DecryptionError` if it
        was not made for this request or was altered, :class:`OHTTPFormatError` if short."""
        if self._used:
            raise OHTTPError("this OHTTP request context already read its response")
        n = response_nonce_size(self._suite)
        if len(enc_response) < n + self._suite.aead.nt:
            raise OHTTPFormatError(
                f"encapsulated response is {len(enc_response)} bytes, shorter than its "
                f"{n}-byte nonce and {self._suite.aead.nt}-byte tag"
            )
        data = bytes(enc_response)
        key, nonce = self._response_keys(data[:n])
        plaintext = aead_recipient(self._suite, key, nonce).open(data[n:])
        self._used = True
        return plaintext


def request_sender(
    config: KeyConfig,
    suite: SymmetricSuite | None,
    allow_legacy: bool,
    chunked: bool,
    kem_output: tuple[bytes, bytes] | None,
) -> tuple[RequestHeader, bytes, hpke.SenderContext]:
    check_legacy(config.kem_id, allow_legacy, f"key config {config.key_id}")
    chosen = choose_suite(config) if suite is None else suite
    if chosen not in config.suites:
        raise UnsupportedSuiteError(
            f"key config {config.key_id} does not offer KDF 0x{chosen.kdf_id:04x} / "
            f"AEAD 0x{chosen.aead_id:04x}"
        )
    check_symmetric(chosen, f"key config {config.key_id}")
    header = RequestHeader(config.key_id, config.kem_id, chosen.kdf_id, chosen.aead_id)
    hpke_suite = hpke_suite_of(header)
    info = header.info(chunked=chunked)
    if kem_output is not None:  # test vectors only: a fixed (shared_secret, enc)
        shared_secret, enc = kem_output
        context = hpke_suite._sender_from_secret(hpke.Mode.BASE, shared_secret, info)
    else:
        public_key = _public_key(config.kem_id, bytes(config.public_key))
        enc, context = hpke_suite.setup_base_s(public_key, info)
    return header, bytes(enc), context


def encapsulate_request(
    config: KeyConfig,
    bhttp_request: bytes,
    *,
    suite: SymmetricSuite | None = None,
    allow_legacy: bool = False,
    _kem_output: tuple[bytes, bytes] | None = None,
) -> tuple[bytes, ClientContext]:
    """Encrypt a Binary HTTP request to the gateway key ``config`` (RFC 9458 §4.3).

    Returns the ``message/ohttp-req`` body and the context that reads the response. The
    (KDF, AEAD) pair is ``suite`` or the best the config offers. ``_kem_output`` fixes the
    KEM's (shared secret, enc) and exists only so tests can reproduce published vectors.
    """
    header, enc, context = request_sender(config, suite, allow_legacy, False, _kem_output)
    ciphertext = context.seal(bytes(bhttp_request))
    return header.encode() + enc + ciphertext, ClientContext(header, enc, context)


# ---- gateway side --------------------------------------------------------------------------


class ServerContext:
    """What the gateway keeps after decapsulating one request, to answer it once."""

    def __init__(self, key: ServerKey, header: RequestHeader, enc: bytes,
                 context: hpke.RecipientContext, *, label: bytes = RESPONSE_LABEL) -> None:
        self.key_id = key.key_id
        self.header = header
        self.enc = enc  # the replay nonce of RFC 9458 §6.5
        self._context = context
        self._suite = context.suite
        self._label = label
        self._used = False

    def _response_keys(self, response_nonce: bytes) -> tuple[bytes, bytes]:
        secret = self._context.export(self._label, response_nonce_size(self._suite))
        return response_context(self._suite, secret, self.enc, response_nonce)

    def _claim(self) -> None:
        if self._used:
            raise OHTTPError(f"OHTTP request under key {self.key_id} was already answered")
        self._used = True

    def encapsulate_response(
        self, bhttp_response: bytes, *, _response_nonce: bytes | None = None
    ) -> bytes:
        """The ``message/ohttp-res`` body for a Binary HTTP response (RFC 9458 §4.4).

        ``_response_nonce`` fixes the random nonce; it exists only for published vectors.
        """
        self._claim()
        n = response_nonce_size(self._suite)
        nonce = os.urandom(n) if _response_nonce is None else bytes(_response_nonce)
        if len(nonce) != n:
            raise OHTTPError(f"response nonce must be {n} bytes")
        key, aead_nonce = self._response_keys(nonce)
        return nonce + aead_sender(self._suite, key, aead_nonce).seal(bytes(bhttp_response))


class ServerKey:
    """A gateway's private key for one key id, and the suites it accepts with it."""

    def __init__(
        self,
        key_id: int,
        private_key: KEMPrivateKey,
        suites: Iterable[SymmetricSuite] = (DEFAULT_SUITE.symmetric,),
        *,
        kem_id: int | None = None,
        allow_legacy: bool = False,
    ) -> None:
        """``kem_id`` names the HPKE KEM when the key's algorithm alone does not (a NIST
        curve's ECDH key serves several DHKEMs); otherwise the registry gives it."""
        if not 0 <= key_id <= 0xFF:
            raise OHTTPError(f"OHTTP key id must be 0..255, got {key_id}")
        kem = hpke.get_kem(kem_id) if kem_id is not None else hpke.Suite(private_key.algorithm).kem
        kem.check_key(private_key, "gateway private")
        check_legacy(kem.kem_id, allow_legacy, f"gateway key {key_id}")
        suites = tuple(suites)
        for suite in suites:
            check_symmetric(suite, f"gateway key {key_id}")
        self.key_id = key_id
        self.kem_id = kem.kem_id
        self.private_key = private_key
        self.suites = suites
        self.allow_legacy = allow_legacy
        self.config = KeyConfig(
            key_id, kem.kem_id, private_key.public_key().public_bytes(), suites
        )

    @property
    def legacy(self) -> bool:
        return self.kem_id in LEGACY_KEMS

    @classmethod
    def generate(
        cls,
        key_id: int,
        suite: OHTTPSuite = DEFAULT_SUITE,
        *,
        extra_suites: Iterable[SymmetricSuite] = (),
        allow_legacy: bool = False,
    ) -> ServerKey:
        """A fresh key pair for ``suite``'s KEM, accepting its (KDF, AEAD) and any extras."""
        check_legacy(suite.kem_id, allow_legacy, f"new gateway key {key_id}")
        private_key = hpke.get_kem(suite.kem_id).generate_key_pair()
        suites = (suite.symmetric, *(s for s in extra_suites if s != suite.symmetric))
        return cls(key_id, private_key, suites, kem_id=suite.kem_id, allow_legacy=allow_legacy)

    @classmethod
    def from_private_bytes(
        cls,
        key_id: int,
        kem_id: int,
        data: bytes,
        suites: Iterable[SymmetricSuite] = (DEFAULT_SUITE.symmetric,),
        *,
        allow_legacy: bool = False,
    ) -> ServerKey:
        """Load a key stored with :meth:`private_bytes` (the KEM's seed or scalar)."""
        private_key = hpke.get_kem(kem_id).private_from_bytes(bytes(data))
        return cls(key_id, private_key, suites, kem_id=kem_id, allow_legacy=allow_legacy)

    def private_bytes(self) -> bytes:
        return self.private_key.private_bytes()

    def __repr__(self) -> str:  # never show key material
        return f"<OHTTP gateway key {self.key_id} {kem_name(self.kem_id)}>"

    def check_header(self, header: RequestHeader) -> hpke.Suite:
        """The HPKE suite for a request header addressed to this key, or
        :class:`KeyConfigMismatchError` (422 ``ohttp-key``)."""
        if header.key_id != self.key_id:
            raise KeyConfigMismatchError(f"no OHTTP key config with key id {header.key_id}")
        if header.kem_id != self.kem_id:
            raise KeyConfigMismatchError(
                f"OHTTP key {self.key_id} is {kem_name(self.kem_id)}, the request names "
                f"KEM 0x{header.kem_id:04x}"
            )
        if SymmetricSuite(header.kdf_id, header.aead_id) not in self.suites:
            raise KeyConfigMismatchError(
                f"OHTTP key {self.key_id} does not accept KDF 0x{header.kdf_id:04x} / "
                f"AEAD 0x{header.aead_id:04x}"
            )
        return hpke_suite_of(header)

    def open_header(
        self, header: RequestHeader, enc: bytes, *, chunked: bool = False
    ) -> hpke.RecipientContext:
        hpke_suite = self.check_header(header)
        return hpke_suite.setup_base_r(enc, self.private_key, header.info(chunked=chunked))

    def decapsulate_request(
        self, enc_request: bytes, *, max_size: int = MAX_ENCAPSULATED_REQUEST
    ) -> tuple[bytes, ServerContext]:
        """The Binary HTTP request inside a ``message/ohttp-req`` body, and its context.

        Errors: :class:`OHTTPFormatError` (truncated, oversized), :class:`KeyConfigMismatchError`
        (another key id, KEM or suite: 422 ``ohttp-key``), :class:`DecryptionError`.
        """
        return decapsulate_request((self,), enc_request, max_size=max_size)


def find_key(keys: Iterable[ServerKey], header: RequestHeader) -> ServerKey:
    """The key among ``keys`` (several live during rotation) that ``header`` addresses."""
    for key in keys:
        if key.key_id == header.key_id:
            return key
    raise KeyConfigMismatchError(f"no OHTTP key config with key id {header.key_id}")


def split_request(
    enc_request: bytes, keys: Iterable[ServerKey], *, max_size: int = MAX_ENCAPSULATED_REQUEST
) -> tuple[ServerKey, RequestHeader, bytes, bytes]:
    """(key, header, enc, ciphertext) of an encapsulated request, checks done up front."""
    if len(enc_request) > max_size:
        raise OHTTPFormatError(
            f"encapsulated request is {len(enc_request)} bytes, over the {max_size}-byte limit"
        )
    data = bytes(enc_request)
    header = RequestHeader.decode(data)
    key = find_key(keys, header)
    key.check_header(header)
    n_enc = encapsulated_key_size(header.kem_id)
    tag = hpke.get_aead(header.aead_id).nt
    if len(data) < HEADER_SIZE + n_enc + tag:
        raise OHTTPFormatError(
            f"encapsulated request is {len(data)} bytes, too short for its "
            f"{n_enc}-byte encapsulated key and {tag}-byte tag"
        )
    return key, header, data[HEADER_SIZE : HEADER_SIZE + n_enc], data[HEADER_SIZE + n_enc :]


def decapsulate_request(
    keys: Iterable[ServerKey], enc_request: bytes, *, max_size: int = MAX_ENCAPSULATED_REQUEST
) -> tuple[bytes, ServerContext]:
    """:meth:`ServerKey.decapsulate_request` across several live keys (key rotation)."""
    key, header, enc, ciphertext = split_request(enc_request, keys, max_size=max_size)
    # split_request checked the header against the key: set up the context directly
    context = hpke_suite_of(header).setup_base_r(enc, key.private_key, header.info())
    plaintext = context.open(ciphertext)
    return plaintext, ServerContext(key, header, enc, context)

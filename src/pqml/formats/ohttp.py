"""Oblivious HTTP wire formats (RFC 9458; chunked OHTTP, draft-ietf-ohai-chunked-ohttp-08).

Pure: bytes in, objects out. The cryptography that fills these frames (HPKE setup, the
response key schedule) lives in :mod:`pqml.gateway.ohttp`; this module only knows sizes and
layouts:

- a key configuration (RFC 9458 §3): key id, HPKE KEM id, public key, and the list of
  (KDF, AEAD) pairs the gateway accepts with it; ``application/ohttp-keys`` is a sequence of
  them, each behind a 2-byte length (§3.2), so a client can skip KEMs it does not know;
- the 7-byte header that starts an encapsulated request (key id, KEM, KDF, AEAD ids) and the
  ``info`` string that binds it into the HPKE context (§4.3);
- chunk framing of chunked OHTTP: each non-final chunk behind a QUIC varint length, then a
  zero length and the final chunk, which runs to the end of the message.

Parsers are strict and bounded (counts, lengths and sizes are checked before any slicing)
and raise only :class:`OHTTPFormatError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pqml.formats.errors import OHTTPFormatError
from pqml.formats.quic_varint import VarintError, decode_varint, encode_varint
from pqml.primitives import hpke
from pqml.primitives.errors import PqmlError

# ---- media types (RFC 9458 §9, chunked OHTTP §8) and labels -------------------------------

KEYS_MEDIA_TYPE = "application/ohttp-keys"
REQUEST_MEDIA_TYPE = "message/ohttp-req"
RESPONSE_MEDIA_TYPE = "message/ohttp-res"
CHUNKED_REQUEST_MEDIA_TYPE = "message/ohttp-chunked-req"
CHUNKED_RESPONSE_MEDIA_TYPE = "message/ohttp-chunked-res"
BHTTP_MEDIA_TYPE = "message/bhttp"
# RFC 9458 §8 problem type for an outdated or unknown key configuration.
KEY_PROBLEM_TYPE = "https://iana.org/assignments/http-problem-types#ohttp-key"
DATE_PROBLEM_TYPE = "https://iana.org/assignments/http-problem-types#date"

REQUEST_LABEL = b"message/bhttp request"
RESPONSE_LABEL = b"message/bhttp response"
CHUNKED_REQUEST_LABEL = b"message/bhttp chunked request"
CHUNKED_RESPONSE_LABEL = b"message/bhttp chunked response"
FINAL_CHUNK_AAD = b"final"

HEADER_SIZE = 7  # key id (1) + KEM id (2) + KDF id (2) + AEAD id (2)
MAX_KEY_CONFIGS = 64  # a gateway rotating keys publishes a handful, never thousands
MAX_SUITES = 64
DEFAULT_MAX_CHUNK = 1 << 20  # sealed bytes per chunk; the draft requires 16 KiB plaintext


def _u16(data: bytes | memoryview, offset: int) -> int:
    return (data[offset] << 8) | data[offset + 1]


# ---- key configurations (RFC 9458 §3) -------------------------------------------------------


@dataclass(frozen=True)
class SymmetricSuite:
    """One HPKE (KDF, AEAD) pair a key configuration accepts."""

    kdf_id: int
    aead_id: int

    def encode(self) -> bytes:
        return self.kdf_id.to_bytes(2, "big") + self.aead_id.to_bytes(2, "big")


@dataclass(frozen=True)
class KeyConfig:
    """A gateway's public key configuration: what a client needs to encapsulate a request."""

    key_id: int
    kem_id: int
    public_key: bytes
    suites: tuple[SymmetricSuite, ...] = field(default=())

    def __post_init__(self) -> None:
        if not 0 <= self.key_id <= 0xFF:
            raise OHTTPFormatError(f"key config id must be 0..255, got {self.key_id}")
        if not 0 <= self.kem_id <= 0xFFFF:
            raise OHTTPFormatError(f"key config {self.key_id}: KEM id out of range")
        if not self.suites:
            raise OHTTPFormatError(f"key config {self.key_id} lists no (KDF, AEAD) suite")
        if len(self.suites) > MAX_SUITES:
            raise OHTTPFormatError(f"key config {self.key_id} lists over {MAX_SUITES} suites")

    def encode(self) -> bytes:
        """RFC 9458 §3.1 ``Key Config`` (without the length prefix of §3.2)."""
        suites = b"".join(s.encode() for s in self.suites)
        return (
            bytes([self.key_id])
            + self.kem_id.to_bytes(2, "big")
            + self.public_key
            + len(suites).to_bytes(2, "big")
            + suites
        )

    @classmethod
    def decode(cls, data: bytes, *, what: str = "key config") -> KeyConfig:
        """Parse exactly one ``Key Config``; the KEM id fixes the public key's size."""
        data = bytes(data)
        if len(data) < 3:
            raise OHTTPFormatError(f"{what} is truncated: {len(data)} bytes")
        key_id, kem_id = data[0], _u16(data, 1)
        n_pk = public_key_size(kem_id, what)
        end_pk = 3 + n_pk
        if len(data) < end_pk + 2:
            raise OHTTPFormatError(f"{what} is truncated inside its public key")
        suites_len = _u16(data, end_pk)
        if suites_len == 0 or suites_len % 4 or suites_len > 4 * MAX_SUITES:
            raise OHTTPFormatError(
                f"{what}: symmetric algorithms length {suites_len} is not 4..{4 * MAX_SUITES} "
                "in steps of 4"
            )
        if len(data) != end_pk + 2 + suites_len:
            raise OHTTPFormatError(
                f"{what} has {len(data)} bytes, its lengths say {end_pk + 2 + suites_len}"
            )
        base = end_pk + 2
        suites = tuple(
            SymmetricSuite(_u16(data, base + i), _u16(data, base + i + 2))
            for i in range(0, suites_len, 4)
        )
        return cls(key_id, kem_id, data[3:end_pk], suites)


def public_key_size(kem_id: int, what: str = "key config") -> int:
    """Npk of an HPKE KEM; :class:`OHTTPFormatError` for a KEM this build does not know."""
    try:
        return hpke.get_kem(kem_id).n_pk
    except PqmlError:
        raise OHTTPFormatError(f"{what}: unsupported HPKE KEM id 0x{kem_id:04x}") from None


def encapsulated_key_size(kem_id: int, what: str = "encapsulated request") -> int:
    """Nenc of an HPKE KEM; :class:`OHTTPFormatError` for an unknown KEM."""
    try:
        return hpke.get_kem(kem_id).n_enc
    except PqmlError:
        raise OHTTPFormatError(f"{what}: unsupported HPKE KEM id 0x{kem_id:04x}") from None


def encode_key_configs(configs: list[KeyConfig] | tuple[KeyConfig, ...]) -> bytes:
    """``application/ohttp-keys`` (RFC 9458 §3.2): each config behind a 2-byte length."""
    if not configs:
        raise OHTTPFormatError("application/ohttp-keys needs at least one key config")
    if len({c.key_id for c in configs}) != len(configs):
        raise OHTTPFormatError("application/ohttp-keys lists the same key id twice")
    out = bytearray()
    for config in configs:
        encoded = config.encode()
        if len(encoded) > 0xFFFF:
            raise OHTTPFormatError(f"key config {config.key_id} is over 65535 bytes")
        out += len(encoded).to_bytes(2, "big") + encoded
    return bytes(out)


def decode_key_configs(data: bytes) -> tuple[list[KeyConfig], int]:
    """Parse ``application/ohttp-keys``; return (configs, number skipped).

    Configs whose KEM this build does not know are skipped, as RFC 9458 §3.2 lets a client
    do; every other flaw (bad lengths, duplicate key ids, trailing bytes) rejects the
    whole list, since a client cannot know which part an attacker changed.
    """
    data = bytes(data)
    configs: list[KeyConfig] = []
    skipped, offset, index = 0, 0, 0
    while offset < len(data):
        if index >= MAX_KEY_CONFIGS:
            raise OHTTPFormatError(f"application/ohttp-keys has over {MAX_KEY_CONFIGS} configs")
        if offset + 2 > len(data):
            raise OHTTPFormatError(f"key config {index}: truncated length prefix")
        length = _u16(data, offset)
        start, offset = offset + 2, offset + 2 + length
        if offset > len(data):
            raise OHTTPFormatError(f"key config {index}: length {length} runs past the end")
        body = data[start:offset]
        if length >= 3 and not _kem_known(_u16(body, 1)):
            skipped += 1
        else:
            configs.append(KeyConfig.decode(body, what=f"key config {index}"))
        index += 1
    if index == 0:
        raise OHTTPFormatError("application/ohttp-keys is empty")
    if len({c.key_id for c in configs}) != len(configs):
        raise OHTTPFormatError("application/ohttp-keys lists the same key id twice")
    return configs, skipped


def _kem_known(kem_id: int) -> bool:
    try:
        hpke.get_kem(kem_id)
    except PqmlError:
        return False
    return True


# ---- encapsulated request header (RFC 9458 §4.3, chunked OHTTP §3) ---------------------------


@dataclass(frozen=True)
class RequestHeader:
    """The header of an encapsulated request: which key config and which HPKE suite."""

    key_id: int
    kem_id: int
    kdf_id: int
    aead_id: int

    def encode(self) -> bytes:
        return (
            bytes([self.key_id])
            + self.kem_id.to_bytes(2, "big")
            + self.kdf_id.to_bytes(2, "big")
            + self.aead_id.to_bytes(2, "big")
        )

    @classmethod
    def decode(cls, data: bytes | memoryview) -> RequestHeader:
        if len(data) < HEADER_SIZE:
            raise OHTTPFormatError(
                f"encapsulated request is {len(data)} bytes, shorter than its "
                f"{HEADER_SIZE}-byte header"
            )
        return cls(data[0], _u16(data, 1), _u16(data, 3), _u16(data, 5))

    def info(self, *, chunked: bool = False) -> bytes:
        """The HPKE ``info``: label, a zero byte, then this header (RFC 9458 §4.3)."""
        label = CHUNKED_REQUEST_LABEL if chunked else REQUEST_LABEL
        return label + b"\x00" + self.encode()


# ---- chunk framing (chunked OHTTP §3, §4) ---------------------------------------------------


def frame_chunk(sealed: bytes) -> bytes:
    """A non-final chunk: its varint length, then the sealed bytes (never empty)."""
    if not sealed:
        raise OHTTPFormatError("a non-final chunk cannot be empty")
    return encode_varint(len(sealed)) + sealed


def frame_final_chunk(sealed: bytes) -> bytes:
    """The final chunk: a zero length, then the sealed bytes up to the end of the message."""
    return b"\x00" + sealed


class ChunkDeframer:
    """Split a chunked OHTTP body (after its header or nonce) into sealed chunks as bytes
    arrive. :meth:`feed` returns the complete non-final chunks; :meth:`close`, at the end of
    the message, returns the final chunk, and fails if the final indicator never came (a
    truncated message must not look complete)."""

    def __init__(self, *, max_chunk: int = DEFAULT_MAX_CHUNK, what: str = "chunked message"):
        self._buffer = bytearray()
        self._max = max_chunk
        self._what = what
        self._final = False
        self._closed = False
        self.chunks = 0  # non-final chunks returned so far

    @property
    def final_seen(self) -> bool:
        return self._final

    def feed(self, data: bytes) -> list[bytes]:
        if self._closed:
            raise OHTTPFormatError(f"{self._what}: data after the end of the message")
        self._buffer += data
        if self._final:
            if len(self._buffer) > self._max:
                raise OHTTPFormatError(f"{self._what}: final chunk over {self._max} bytes")
            return []
        out: list[bytes] = []
        while self._buffer:
            try:
                length, start = decode_varint(self._buffer, 0)
            except VarintError:
                break  # the length itself is still incomplete
            if length == 0:
                self._final = True
                del self._buffer[:start]
                if len(self._buffer) > self._max:
                    raise OHTTPFormatError(f"{self._what}: final chunk over {self._max} bytes")
                break
            if length > self._max:
                raise OHTTPFormatError(
                    f"{self._what}: chunk {self.chunks} is {length} bytes, over {self._max}"
                )
            if len(self._buffer) < start + length:
                break
            out.append(bytes(self._buffer[start : start + length]))
            del self._buffer[: start + length]
            self.chunks += 1
        return out

    def close(self) -> bytes:
        """The final sealed chunk; :class:`OHTTPFormatError` if the message was truncated."""
        if self._closed:
            raise OHTTPFormatError(f"{self._what}: already closed")
        self._closed = True
        if not self._final:
            raise OHTTPFormatError(
                f"{self._what} is truncated: it ends without its final chunk"
            )
        final = bytes(self._buffer)
        self._buffer.clear()
        return final

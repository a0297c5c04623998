"""Model keys wrapped with RSA-OAEP + AES-GCM: the layouts ``pqml migrate`` accepts.

Before post-quantum KEMs, the usual way to protect a model for one holder of an RSA key
was hybrid encryption: a random AES-256 key encrypts the model with AES-GCM, and RSA-OAEP
encrypts ("wraps") that key. Each project writes the three values its own way; pqml reads
the layouts below, all with **RSA-OAEP-SHA-256** (MGF1-SHA-256, empty label) wrapping a
**32-byte** key and **AES-256-GCM** with a 12-byte nonce and a 16-byte tag, and refuses
everything else by name:

``jwe-compact``
    RFC 7516 §7.1 compact JWE, ``alg`` ``RSA-OAEP-256`` and ``enc`` ``A256GCM`` (RFC 7518
    §4.3, §5.3): ``b64u(header).b64u(wrapped key).b64u(iv).b64u(ciphertext).b64u(tag)``;
    the GCM associated data is the first part's ASCII. What jose libraries (jwcrypto,
    python-jose, Nimbus, jose4j) and key vaults (Azure Key Vault's ``RSA-OAEP-256`` wrap)
    produce, so the one layout here with a published specification.
``jwe-json``
    The same in RFC 7516 §7.2 JSON serialization, flattened or general (each recipient is
    tried); the associated data is ``protected`` (``.`` ``aad`` when present).
``json-envelope``
    ``{"wrapped_key": b64, "nonce": b64, "ciphertext": b64}`` (standard base64, the tag at
    the end of ``ciphertext``, no associated data, no other member): the in-house envelope
    scripts around pyca/cryptography's ``AESGCM`` write. An unknown member is refused: it
    could carry associated data or a different algorithm.
``lp16`` (binary, named with ``--layout lp16``)
    ``uint16 big-endian length L ‖ wrapped key (L bytes) ‖ nonce (12) ‖ ciphertext ‖ tag``.
``concat`` (binary, named with ``--layout concat``)
    ``wrapped key (the RSA modulus size) ‖ nonce (12) ‖ ciphertext ‖ tag``: Cosmian KMS's
    ``rsa_oaep_aes_gcm`` layout (``c|iv|ct|tag``). Note that it, PyCryptodome's
    ``PKCS1_OAEP`` and OpenSSL default to OAEP with SHA-1, which pqml does not provide:
    such blobs fail to unwrap (named as a possible cause in the error).

Binary layouts carry no marker, so pqml never guesses one: a binary file is read as a
blob only when ``--layout`` names its layout. Everything here is pure (bytes in, objects
out); the RSA and AES operations are :mod:`pqml.primitives`' (``RSA-OAEP`` KEM,
``AES256GCMKey``).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass, field
from typing import Any

from pqml.keys.errors import MigrationError

NONCE_SIZE = 12
TAG_SIZE = 16
KEY_SIZE = 32
JWE_ALG = "RSA-OAEP-256"
JWE_ENC = "A256GCM"
TEXT_LAYOUTS = ("jwe-compact", "jwe-json", "json-envelope")
BINARY_LAYOUTS = ("lp16", "concat")
LAYOUTS = TEXT_LAYOUTS + BINARY_LAYOUTS
ENVELOPE_MEMBERS = frozenset({"wrapped_key", "nonce", "ciphertext"})
# RSA moduli pqml unwraps: 2048 to 16384 bits (OpenSSL's largest).
MIN_WRAPPED, MAX_WRAPPED = 256, 2048



@dataclass(frozen=True)
class WrappedBlob:
    """One RSA-wrapped AES-GCM ciphertext: the candidates for the wrapped key (several
    only for a general JWE with several recipients), the nonce, the ciphertext with its
    tag at the end, and the associated data GCM authenticates."""

    layout: str
    wrapped_keys: tuple[bytes, ...]
    nonce: bytes
    sealed: bytes = field(repr=False)
    aad: bytes = b""

    @property
    def plaintext_size(self) -> int:
        return len(self.sealed) - TAG_SIZE


def _fail(problem: str) -> MigrationError:
    return MigrationError(problem)


def _b64url(value: Any, what: str) -> bytes:
    """Unpadded base64url (RFC 7515 §2), strictly: the standard alphabet's ``+`` and
    ``/`` are refused, then the C decoder validates the rest in one pass (a regular
    expression over an 85 MB JWE costs seconds)."""
    if not isinstance(value, str) or not value.isascii() or "+" in value or "/" in value \
            or "=" in value:
        raise _fail(f"{what} is not base64url text")
    try:
        return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_",
                                validate=True)
    except (binascii.Error, ValueError):
        raise _fail(f"{what} is not valid base64url") from None


def _b64(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise _fail(f"{what} is not a base64 string")
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise _fail(f"{what} is not valid base64") from None


def _check_sizes(wrapped: bytes, nonce: bytes, sealed: bytes) -> None:
    if not MIN_WRAPPED <= len(wrapped) <= MAX_WRAPPED:
        raise _fail(f"the wrapped key is {len(wrapped)} bytes, not an RSA-OAEP ciphertext "
                    f"of a 2048- to 16384-bit key")
    if len(nonce) != NONCE_SIZE:
        raise _fail(f"the AES-GCM nonce is {len(nonce)} bytes; only {NONCE_SIZE}-byte "
                    "nonces are accepted")
    if len(sealed) < TAG_SIZE:
        raise _fail("the ciphertext is shorter than its 16-byte AES-GCM tag (truncated)")


def _jwe_header(protected: dict[str, Any], *others: dict[str, Any]) -> dict[str, Any]:
    """The JOSE header (RFC 7516 §7.2.1: member names must not repeat across parts), and
    the checks that make it one pqml can open."""
    merged = dict(protected)
    for part in others:
        dup = set(merged) & set(part)
        if dup:
            raise _fail(f"JWE header member {sorted(dup)[0]!r} appears twice")
        merged.update(part)
    if merged.get("alg") != JWE_ALG:
        raise _fail(f"JWE alg {merged.get('alg')!r} is not supported: only {JWE_ALG} "
                    "(RSA-OAEP with SHA-256)")
    if merged.get("enc") != JWE_ENC:
        raise _fail(f"JWE enc {merged.get('enc')!r} is not supported: only {JWE_ENC}")
    if "zip" in merged:
        raise _fail("compressed JWE (zip) is not supported")
    if "crit" in merged:
        raise _fail("JWE with critical header parameters (crit) is not supported")
    return merged


def _json_object(data: bytes, what: str) -> dict[str, Any]:
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, ValueError):
        raise _fail(f"{what} is not JSON") from None
    if not isinstance(obj, dict):
        raise _fail(f"{what} is not a JSON object")
    return obj


def _compact(data: bytes) -> WrappedBlob:
    text = [p.decode("ascii", "replace") for p in data.strip().split(b".")]
    header_b64 = text[0]
    header = _json_object(_b64url(header_b64, "JWE protected header"), "JWE protected header")
    _jwe_header(header)
    wrapped = _b64url(text[1], "JWE encrypted key")
    nonce = _b64url(text[2], "JWE iv")
    sealed = _b64url(text[3], "JWE ciphertext") + _b64url(text[4], "JWE tag")
    _check_sizes(wrapped, nonce, sealed)
    return WrappedBlob("jwe-compact", (wrapped,), nonce, sealed, header_b64.encode("ascii"))


def _jwe_json(obj: dict[str, Any]) -> WrappedBlob:
    protected_b64 = obj.get("protected", "")
    protected = (_json_object(_b64url(protected_b64, "JWE protected header"),
                              "JWE protected header") if protected_b64 else {})
    shared = obj.get("unprotected", {})
    if not isinstance(shared, dict):
        raise _fail("JWE unprotected header is not an object")
    if "recipients" in obj:
        recipients = obj["recipients"]
        if not isinstance(recipients, list) or not recipients:
            raise _fail("JWE recipients is not a non-empty list")
    else:
        recipients = [{k: obj[k] for k in ("header", "encrypted_key") if k in obj}]
    wrapped_keys = []
    for i, rec in enumerate(recipients):
        if not isinstance(rec, dict):
            raise _fail(f"JWE recipient {i + 1} is not an object")
        header = rec.get("header", {})
        if not isinstance(header, dict):
            raise _fail(f"JWE recipient {i + 1} header is not an object")
        _jwe_header(protected, shared, header)
        wrapped_keys.append(_b64url(rec.get("encrypted_key"), "JWE encrypted_key"))
    nonce = _b64url(obj.get("iv"), "JWE iv")
    sealed = _b64url(obj.get("ciphertext"), "JWE ciphertext") + _b64url(obj.get("tag"),
                                                                        "JWE tag")
    for wrapped in wrapped_keys:
        _check_sizes(wrapped, nonce, sealed)
    aad = protected_b64.encode("ascii")
    if "aad" in obj:
        if not isinstance(obj["aad"], str):
            raise _fail("JWE aad is not base64url text")
        _b64url(obj["aad"], "JWE aad")
        aad += b"." + obj["aad"].encode("ascii")
    return WrappedBlob("jwe-json", tuple(wrapped_keys), nonce, sealed, aad)


def _envelope(obj: dict[str, Any]) -> WrappedBlob:
    extra = sorted(set(obj) - ENVELOPE_MEMBERS)
    if extra:
        raise _fail(f"JSON envelope member {extra[0]!r} is not part of the accepted layout "
                    "(wrapped_key, nonce, ciphertext)")
    missing = sorted(ENVELOPE_MEMBERS - set(obj))
    if missing:
        raise _fail(f"JSON envelope lacks {missing[0]!r}")
    wrapped = _b64(obj["wrapped_key"], "wrapped_key")
    nonce = _b64(obj["nonce"], "nonce")
    sealed = _b64(obj["ciphertext"], "ciphertext")
    _check_sizes(wrapped, nonce, sealed)
    return WrappedBlob("json-envelope", (wrapped,), nonce, sealed)


def looks_like_text_blob(head: bytes) -> bool:
    """Whether a file starting with ``head`` may be a JWE or JSON envelope (cheap; the
    parse decides)."""
    start = head.lstrip()[:1]
    return start == b"{" or bool(re.match(rb"eyJ[A-Za-z0-9_-]*\.", head.lstrip()))


def parse_text(data: bytes) -> WrappedBlob:
    """A JWE (compact or JSON) or JSON envelope; MigrationError naming the problem."""
    stripped = data.strip()
    if stripped.startswith(b"eyJ") and stripped.count(b".") == 4:  # '{"' in base64url
        return _compact(stripped)
    obj = _json_object(stripped, "the file")
    if "ciphertext" in obj and ("iv" in obj or "protected" in obj or "recipients" in obj):
        return _jwe_json(obj)
    if "wrapped_key" in obj:
        return _envelope(obj)
    raise _fail("JSON that is neither a JWE (RFC 7516) nor a wrapped-key envelope "
                "(wrapped_key, nonce, ciphertext)")


def parse_binary(data: bytes, layout: str, modulus_size: int | None = None) -> WrappedBlob:
    """A binary blob in ``layout`` (``lp16``, or ``concat`` with the RSA key's modulus
    size in bytes, which says where the wrapped key ends)."""
    if layout == "lp16":
        if len(data) < 2:
            raise _fail("shorter than its 2-byte length prefix")
        size = int.from_bytes(data[:2], "big")
        wrapped, rest = data[2:2 + size], data[2 + size:]
        if len(wrapped) != size:
            raise _fail(f"truncated: its length prefix announces a {size}-byte wrapped key")
    elif layout == "concat":
        if modulus_size is None:
            raise _fail("the concat layout needs the RSA key (-i) to know where the "
                        "wrapped key ends")
        wrapped, rest = data[:modulus_size], data[modulus_size:]
    else:
        raise _fail(f"unknown binary layout {layout!r} (accepted: {', '.join(BINARY_LAYOUTS)})")
    nonce, sealed = rest[:NONCE_SIZE], rest[NONCE_SIZE:]
    _check_sizes(wrapped, nonce, sealed)
    return WrappedBlob(layout, (wrapped,), nonce, sealed)

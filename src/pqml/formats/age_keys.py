"""age key strings and files (C2SP age spec; age >= 1.3 for the post-quantum type).

=====================  ========================  ==========================================
kind                   Bech32 HRP                payload
=====================  ========================  ==========================================
X25519 recipient       ``age``                   32-byte X25519 public key
X25519 identity        ``AGE-SECRET-KEY-``       32-byte X25519 scalar
X-Wing recipient       ``age1pq``                1216-byte X-Wing public key (ML-KEM ‖ X25519)
X-Wing identity        ``AGE-SECRET-KEY-PQ-``    32-byte X-Wing seed
=====================  ========================  ==========================================

age's MLKEM768-X25519 HPKE KEM is X-Wing, so these strings map one-to-one onto our
X-Wing keys. As in age, recipients are lower case and identities upper case; the other
case is rejected rather than silently accepted. Identity and recipients files follow
``age-keygen`` and ``age -R``: ``#`` comments and blank lines are skipped, anything else
must be a key, and errors name the line (never its content, which may be secret).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from pqml.formats import bech32
from pqml.primitives.base import PrivateKey, PublicKey
from pqml.primitives.errors import KeyFormatError, WrongKeyTypeError

X25519_RECIPIENT_HRP = "age"
X25519_IDENTITY_HRP = "AGE-SECRET-KEY-"
XWING_RECIPIENT_HRP = "age1pq"
XWING_IDENTITY_HRP = "AGE-SECRET-KEY-PQ-"

_RECIPIENT_HRPS = {X25519_RECIPIENT_HRP: "X25519", XWING_RECIPIENT_HRP: "X-Wing"}
_IDENTITY_HRPS = {X25519_IDENTITY_HRP: "X25519", XWING_IDENTITY_HRP: "X-Wing"}
_HRP_BY_ALG = {
    "X25519": (X25519_RECIPIENT_HRP, X25519_IDENTITY_HRP),
    "X-Wing": (XWING_RECIPIENT_HRP, XWING_IDENTITY_HRP),
}


def _scheme(name: str) -> Any:
    from pqml.primitives import registry

    return registry.get(name).scheme()


def _hrps(algorithm: str) -> tuple[str, str]:
    try:
        return _HRP_BY_ALG[algorithm]
    except KeyError:
        raise WrongKeyTypeError(
            f"age defines no encoding for {algorithm} keys (only X-Wing and X25519)"
        ) from None


def _decode(text: str, what: str, hrps: dict[str, str]) -> tuple[str | None, str, bytes]:
    """(algorithm for the HRP or None, HRP, payload) of one Bech32 key string."""
    try:
        hrp, payload = bech32.decode(text)
    except bech32.Bech32Error as exc:
        reason = str(exc).removeprefix("invalid Bech32: ")
        raise KeyFormatError(f"invalid age {what}: {reason}") from None
    return hrps.get(hrp), hrp, payload


# ---- single strings ------------------------------------------------------------------


def encode_recipient(public_key: PublicKey) -> str:
    """``age1…`` (X25519) or ``age1pq1…`` (X-Wing)."""
    if isinstance(public_key, PrivateKey):
        raise WrongKeyTypeError("expected a public key for an age recipient, got a private key")
    hrp, _ = _hrps(public_key.algorithm)
    return bech32.encode(hrp, public_key.public_bytes())


def encode_identity(private_key: PrivateKey) -> str:
    """``AGE-SECRET-KEY-1…`` (X25519) or ``AGE-SECRET-KEY-PQ-1…`` (X-Wing)."""
    if not isinstance(private_key, PrivateKey):
        raise WrongKeyTypeError("expected a private key for an age identity, got a public key")
    _, hrp = _hrps(private_key.algorithm)
    return bech32.encode(hrp, private_key.private_bytes())


def parse_recipient(text: str) -> PublicKey:
    """Parse one native age recipient string."""
    text = text.strip()
    if text.upper().startswith("AGE-SECRET-KEY-"):
        raise WrongKeyTypeError("expected an age recipient (age1…), got an age identity")
    alg, hrp, payload = _decode(text, "recipient", _RECIPIENT_HRPS)
    if alg is None:
        if hrp.lower() in _RECIPIENT_HRPS:
            raise KeyFormatError("invalid age recipient: recipients must be lower case")
        if hrp.lower().startswith("age1"):
            raise KeyFormatError(
                f"unsupported age recipient type {hrp.lower()!r} (plugin recipients are not "
                "supported; pqml reads age1… X25519 and age1pq1… X-Wing recipients)"
            )
        raise KeyFormatError(f"not an age recipient: unexpected Bech32 prefix {hrp!r}")
    return _scheme(alg).public_from_bytes(payload)


def parse_identity(text: str) -> PrivateKey:
    """Parse one native age identity string."""
    alg, hrp, payload = _decode(text.strip(), "identity", _IDENTITY_HRPS)
    if alg is None:
        if hrp.upper() in _IDENTITY_HRPS:
            raise KeyFormatError("invalid age identity: identities must be upper case")
        if hrp.lower() in _RECIPIENT_HRPS:
            raise WrongKeyTypeError("expected an age identity, got an age recipient (public key)")
        if hrp.upper().startswith("AGE-PLUGIN-"):
            raise KeyFormatError("age plugin identities are not supported")
        raise KeyFormatError("not an age identity: unexpected Bech32 prefix")
    return _scheme(alg).private_from_bytes(payload)


# ---- files ---------------------------------------------------------------------------


def _lines(data: bytes | str) -> Iterator[tuple[int, str]]:
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise KeyFormatError("age key file is not UTF-8 text") from None
    if data.startswith("\ufeff"):
        data = data[1:]
    for number, raw in enumerate(data.split("\n"), start=1):
        line = raw.removesuffix("\r")
        if line.strip() == "" or line.startswith("#"):
            continue
        yield number, line


_Key = TypeVar("_Key", PrivateKey, PublicKey)


def _parse_file(data: bytes | str, parse: Callable[[str], _Key], kind: str,
                what: str) -> list[_Key]:
    keys = []
    for number, line in _lines(data):
        try:
            keys.append(parse(line))
        except KeyFormatError as exc:
            raise type(exc)(f"{kind} file line {number}: {exc}") from None
    if not keys:
        raise KeyFormatError(f"{kind} file contains no {what}")
    return keys


def parse_identity_file(data: bytes | str) -> list[PrivateKey]:
    """All identities in an ``age-keygen`` style file (comments and blank lines allowed)."""
    return _parse_file(data, parse_identity, "identity", "identities")


def parse_recipients_file(data: bytes | str) -> list[PublicKey]:
    """All recipients in an ``age -R`` recipients file, one per line."""
    return _parse_file(data, parse_recipient, "recipients", "recipients")


def format_identity_file(private_key: PrivateKey, created: datetime | None = None) -> str:
    """An identity file as ``age-keygen`` writes it (``created`` is passed in: formats are pure)."""
    lines = []
    if created is not None:
        stamp = created.replace(microsecond=0).isoformat().replace("+00:00", "Z")
        lines.append(f"# created: {stamp}")
    lines.append(f"# public key: {encode_recipient(private_key.public_key())}")
    lines.append(encode_identity(private_key))
    return "\n".join(lines) + "\n"


def looks_like_identity_file(text: str) -> bool:
    """True if any non-comment line is an age identity (for format sniffing; a garbage
    line elsewhere then gets a line-numbered error from :func:`parse_identity_file`)."""
    return any(line.strip().upper().startswith("AGE-SECRET-KEY-") for _, line in _lines(text))


def looks_like_recipient(text: str) -> bool:
    """True if any non-comment line is an age recipient (for format sniffing)."""
    return any(line.strip().lower().startswith("age1") for _, line in _lines(text))

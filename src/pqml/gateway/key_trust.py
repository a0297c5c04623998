"""Trust in a gateway's key configurations: the ML-DSA signature over the exact
``application/ohttp-keys`` bytes, and which configuration a client encrypts to.

TLS only says which server answered; a pinned ML-DSA key says the configuration is the one
the gateway's operator published, so a TLS-terminating proxy, a compromised CDN or a relay
cannot hand the client a key of its own. And it says until when: the signature covers a
not-after time, so an old configuration (naming a key the gateway has since retired, maybe
one that leaked) cannot be replayed to clients for ever. The signature blob is::

    not_after (8 bytes, big-endian Unix seconds) ‖ ML-DSA(not_after ‖ config bytes)

with the context string ``pqml ohttp-keys v2`` (FIPS 204 domain separation), base64-encoded
in the ``pqml-key-config-signature`` response header. A client refuses a configuration
past its not-after (:class:`KeyConfigExpiredError`) and refetches. v1 signatures (over the
bytes alone, no expiry) are not accepted: accepting them would let anyone strip the expiry.
This module has no HTTP dependency: the gateway signs with it, the client verifies with it.
"""

from __future__ import annotations

import time

from pqml.formats.ohttp import KeyConfig, decode_key_configs
from pqml.gateway.errors import (
    KeyConfigExpiredError,
    KeyConfigSignatureError,
    UnsupportedSuiteError,
)
from pqml.gateway.ohttp import LEGACY_KEMS, choose_suite
from pqml.primitives import registry
from pqml.primitives.base import SigningKey, VerifyingKey
from pqml.primitives.errors import InvalidSignatureError, PolicyError, PqmlError

SIGNATURE_HEADER = "pqml-key-config-signature"
SIGNATURE_CONTEXT = b"pqml ohttp-keys v2"
DEFAULT_SIGNATURE_VALIDITY = 24 * 3600.0  # a gateway re-signs at half of it
_NOT_AFTER_BYTES = 8


def check_signature_key(key: SigningKey | VerifyingKey) -> None:
    try:
        algorithm = registry.get(key.algorithm)
    except PqmlError:
        raise PolicyError(f"{key.algorithm} is not a known signature algorithm") from None
    if algorithm.family != "signature" or algorithm.quantum_vulnerable:
        raise PolicyError(
            f"key configurations must be signed with a post-quantum signature (ML-DSA), "
            f"not {key.algorithm}"
        )


def sign_key_config(config_bytes: bytes, signer: SigningKey, *,
                    not_after: float | None = None) -> bytes:
    """The signature blob a gateway publishes beside its ``application/ohttp-keys``:
    valid until ``not_after`` (Unix seconds; default a day from now)."""
    check_signature_key(signer)
    if not_after is None:
        not_after = time.time() + DEFAULT_SIGNATURE_VALIDITY
    if not 0 <= not_after < 1 << 63:
        raise KeyConfigSignatureError("key configuration not-after is out of range")
    stamp = int(not_after).to_bytes(_NOT_AFTER_BYTES, "big")
    message = stamp + bytes(config_bytes)
    if signer.supports_context:
        return stamp + signer.sign(message, SIGNATURE_CONTEXT)
    return stamp + signer.sign(message)


def signature_not_after(signature: bytes) -> int:
    """The not-after a signature blob claims (unverified: for scheduling only)."""
    if len(signature) <= _NOT_AFTER_BYTES:
        raise KeyConfigSignatureError("gateway key configurations: signature is too short")
    return int.from_bytes(signature[:_NOT_AFTER_BYTES], "big")


def verify_key_config(config_bytes: bytes, signature: bytes, pinned_key: VerifyingKey, *,
                      now: float | None = None) -> list[KeyConfig]:
    """Verify ``signature`` over the exact ``application/ohttp-keys`` bytes and its
    not-after with the pinned key, then parse them; :class:`KeyConfigSignatureError`
    unless both succeed, :class:`KeyConfigExpiredError` if ``now`` is past the not-after."""
    check_signature_key(pinned_key)
    signature = bytes(signature)
    not_after = signature_not_after(signature)
    message = signature[:_NOT_AFTER_BYTES] + bytes(config_bytes)
    try:
        if pinned_key.supports_context:
            pinned_key.verify(signature[_NOT_AFTER_BYTES:], message, SIGNATURE_CONTEXT)
        else:
            pinned_key.verify(signature[_NOT_AFTER_BYTES:], message)
    except InvalidSignatureError:
        raise KeyConfigSignatureError(
            f"gateway key configurations: signature does not verify with the pinned "
            f"{pinned_key.algorithm} key"
        ) from None
    now = time.time() if now is None else now
    if now >= not_after:
        raise KeyConfigExpiredError(
            f"gateway key configurations: signed until {int(not_after)}, "
            f"{int(now - not_after)} s ago; the gateway should have re-signed them",
            not_after=not_after)
    configs, _ = decode_key_configs(config_bytes)
    return configs


def select_config(configs: list[KeyConfig], *, allow_legacy: bool = False) -> KeyConfig:
    """The config to encrypt to: the gateway's first post-quantum one this client can use
    (gateways list the newest first); a legacy X25519 one only with ``allow_legacy``."""
    usable = []
    for config in configs:
        try:
            choose_suite(config)
        except UnsupportedSuiteError:
            continue
        usable.append(config)
    for config in usable:
        if config.kem_id not in LEGACY_KEMS:
            return config
    if usable and allow_legacy:
        return usable[0]
    if usable:
        raise PolicyError(
            "the gateway offers only quantum-vulnerable X25519 key configurations; "
            "pass allow_legacy=True to use them anyway"
        )
    raise UnsupportedSuiteError("the gateway offers no key configuration this client supports")

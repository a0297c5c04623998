"""Trust in a gateway's key configurations: the ML-DSA signature over the exact
``application/ohttp-keys`` bytes, and which configuration a client encrypts to.

TLS only says which server answered; a pinned ML-DSA key says the configuration is the one
the gateway's operator published, so a TLS-terminating proxy, a compromised CDN or a relay
cannot hand the client a key of its own. The signature is detached, over the document's
exact bytes, with the context string ``pqml ohttp-keys v1`` (FIPS 204 domain separation),
and travels base64-encoded in the ``pqml-key-config-signature`` response header. This module
has no HTTP dependency: the gateway signs with it, the client verifies with it.
"""

from __future__ import annotations

from pqml.formats.ohttp import KeyConfig, decode_key_configs
from pqml.gateway.errors import KeyConfigSignatureError, UnsupportedSuiteError
from pqml.gateway.ohttp import LEGACY_KEMS, choose_suite
from pqml.primitives import registry
from pqml.primitives.base import SigningKey, VerifyingKey
from pqml.primitives.errors import InvalidSignatureError, PolicyError, PqmlError

SIGNATURE_HEADER = "pqml-key-config-signature"
SIGNATURE_CONTEXT = b"pqml ohttp-keys v1"


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


def sign_key_config(config_bytes: bytes, signer: SigningKey) -> bytes:
    """The detached signature a gateway publishes beside its ``application/ohttp-keys``."""
    check_signature_key(signer)
    if signer.supports_context:
        return signer.sign(bytes(config_bytes), SIGNATURE_CONTEXT)
    return signer.sign(bytes(config_bytes))


def verify_key_config(config_bytes: bytes, signature: bytes,
                      pinned_key: VerifyingKey) -> list[KeyConfig]:
    """Verify ``signature`` over the exact ``application/ohttp-keys`` bytes with the pinned
    key, then parse them; :class:`KeyConfigSignatureError` unless both succeed."""
    check_signature_key(pinned_key)
    try:
        if pinned_key.supports_context:
            pinned_key.verify(bytes(signature), bytes(config_bytes), SIGNATURE_CONTEXT)
        else:
            pinned_key.verify(bytes(signature), bytes(config_bytes))
    except InvalidSignatureError:
        raise KeyConfigSignatureError(
            f"gateway key configurations: signature does not verify with the pinned "
            f"{pinned_key.algorithm} key"
        ) from None
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

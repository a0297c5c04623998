"""pqml: post-quantum protection for machine-learning assets.

The public Python API. Heavy submodules load on first use so ``import pqml`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "registry": "pqml.primitives.registry",
    "errors": "pqml.errors",
    "generate_key": "pqml.features.keys:generate",
    "load_key": "pqml.features.keys:load",
    "load_private_key": "pqml.features.keys:load_private",
    "load_public_key": "pqml.features.keys:load_public",
    "save_private_key": "pqml.features.keys:save_private",
    "save_public_key": "pqml.features.keys:save_public",
    "open": "pqml.features.random_access:open",
    "encrypt_file": "pqml.features.encrypt:encrypt_file",
    "decrypt_file": "pqml.features.encrypt:decrypt_file",
    "encrypt_tree": "pqml.features.encrypt:encrypt_tree",
    "decrypt_tree": "pqml.features.encrypt:decrypt_tree",
    "rekey": "pqml.features.rekey:rekey",
    "inspect": "pqml.features.inspect:inspect",
    "Passphrase": "pqml.features.encryption_keys:Passphrase",
    "load": "pqml.features.verified_load:load",
    "verify_for_load": "pqml.features.verified_load:verify_for_load",
    "sign_model": "pqml.features.signing:sign_model",
    "verify_model": "pqml.features.signing:verify_model",
    "digest_model": "pqml.features.manifest:digest_model",
    "load_policy": "pqml.features.policy:load_policy",
    "scan": "pqml.features.scan:scan",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'pqml' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = import_module(module)
    return getattr(value, attr) if attr else value

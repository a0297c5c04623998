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
    "generate_key": "pqml.keys.key_files:generate",
    "load_key": "pqml.keys.key_files:load",
    "load_private_key": "pqml.keys.key_files:load_private",
    "load_public_key": "pqml.keys.key_files:load_public",
    "save_private_key": "pqml.keys.key_files:save_private",
    "save_public_key": "pqml.keys.key_files:save_public",
    "open": "pqml.encryption.random_access:open",
    "encrypt_file": "pqml.encryption.encrypt:encrypt_file",
    "decrypt_file": "pqml.encryption.encrypt:decrypt_file",
    "encrypt_tree": "pqml.encryption.encrypt:encrypt_tree",
    "decrypt_tree": "pqml.encryption.encrypt:decrypt_tree",
    "rekey": "pqml.encryption.rekey:rekey",
    "rekey_many": "pqml.encryption.rekey:rekey_many",
    "inspect": "pqml.encryption.inspect:inspect",
    "Passphrase": "pqml.encryption.encryption_keys:Passphrase",
    "IdentityFile": "pqml.encryption.encryption_keys:IdentityFile",
    "load": "pqml.signing.verified_load:load",
    "verify_for_load": "pqml.signing.verified_load:verify_for_load",
    "VerifyOptions": "pqml.signing.verify_options:VerifyOptions",
    "sign_model": "pqml.signing.signing:sign_model",
    "verify_model": "pqml.signing.signing:verify_model",
    "digest_model": "pqml.signing.manifest:digest_model",
    "load_policy": "pqml.signing.policy:load_policy",
    "scan": "pqml.scan:scan",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'pqml' has no attribute {name!r}")
    module, _, attr = target.partition(":")
    value = import_module(module)
    return getattr(value, attr) if attr else value


# ``pqml.scan`` names both the public function and the scanner package. Importing any
# ``pqml.scan.*`` module would set the package as this attribute and hide the function, so
# the function is bound here once (the package's ``__init__`` is cheap: it loads nothing).
from pqml.scan import scan  # noqa: E402, F401

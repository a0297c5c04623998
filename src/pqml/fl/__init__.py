"""Post-quantum protection for Flower federated learning — services layer (extra ``fl``).

Update protection, without forking Flower, through its two plug-in points::

    node (ClientApp)                                   server (ServerApp)
    ClientApp(mods=[ProtectUpdatesMod()])              ProtectedStrategy(FedAvg(), ...)
      reply content ─▶ HPKE seal to the server's         offer (round, server key id)
      X-Wing / ML-KEM-1024 key, ML-DSA signature          on every instruction ─▶ node
      over header (context + ciphertext digest)        reply ─▶ UpdateVerifier: sealed?
      ─▶ "pqml.sealed" + "pqml.protect" records          registered signer? signature?
         (Flower transports them unchanged)              digest? server key? context?
                                                         round/time/nonce fresh? decrypt
                                                         ─▶ wrapped strategy aggregates

Modules: ``protect_records`` (the wire form inside Flower records and the signed header),
``protect_keys`` (key loading from files or the keyring, the node registry),
``protect_mod`` (the client Mod), ``protect_strategy`` (the verifier and the strategy
wrapper), ``errors``. Importing this package does not import Flower; the names below load
their module on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "ProtectUpdatesMod": "pqml.fl.protect_mod",
    "seal_update": "pqml.fl.protect_mod",
    "ProtectedStrategy": "pqml.fl.protect_strategy",
    "UpdateVerifier": "pqml.fl.protect_strategy",
    "Rejection": "pqml.fl.protect_strategy",
    "RoundReport": "pqml.fl.protect_strategy",
    "NodeRegistry": "pqml.fl.protect_keys",
    "load_signing_key": "pqml.fl.protect_keys",
    "load_server_public_key": "pqml.fl.protect_keys",
    "load_server_private_key": "pqml.fl.protect_keys",
    "FLProtectionError": "pqml.fl.errors",
    "FLKeyError": "pqml.fl.errors",
    "UpdateRejectedError": "pqml.fl.errors",
    "PQSecAggWorkflow": "pqml.fl.secagg_flower",
    "pq_secagg_mod": "pqml.fl.secagg_flower",
    "SecAggError": "pqml.fl.errors",
    "SecAggThresholdError": "pqml.fl.errors",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pqml.fl' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

"""What each Python crypto API means: callee -> (algorithm, usage, where the size/curve is).

The analyzer (:mod:`pqml.scan.code.python_ast`) resolves names; these modules know the
libraries, one module per family: :mod:`.pyca` (pyca ``cryptography``, pyOpenSSL),
:mod:`.pycryptodome`, :mod:`.libraries` (``rsa``, ``ecdsa``, PyNaCl, paramiko, asyncssh),
:mod:`.jose` (PyJWT, python-jose, authlib, jwcrypto), :mod:`.stdlib_web` (``hashlib``,
``hmac``, ``ssl``, gRPC, uvicorn, itsdangerous, Django) and :mod:`.methods` (method calls
typed by argument shape or receiver). Adding a library is adding a module here.

Conventions (the corpus labels in bench/scan_corpus/LABELING.md follow the same ones):

* asymmetric keys: creating or loading a key is one use, each sign / verify / encrypt /
  decrypt / exchange on it is another; loading a key whose algorithm only the data decides
  (``load_pem_private_key``) is not reported -- the key file itself is scanned;
* symmetric ciphers, hashes, MACs and KDFs are reported where the object is created; calls
  on the object (``update``, ``encrypt``, ``finalize``) are not reported again;
* hash, padding and curve objects passed to another call are parameters of that call.
"""

from __future__ import annotations

# Importing the library modules registers their rules in base.RULES.
from pqml.scan.code.rules import jose, libraries, pyca, pycryptodome, stdlib_web  # noqa: F401
from pqml.scan.code.rules.base import REF_ATTRS, RULES, SAME_TYPE_ATTRS, SAME_TYPE_METHODS
from pqml.scan.code.rules.methods import (
    analyze_attr_store,
    analyze_call,
    analyze_dict,
    analyze_ref,
    call_hits,
    type_from_annotation,
)

__all__ = [
    "REF_ATTRS", "RULES", "SAME_TYPE_ATTRS", "SAME_TYPE_METHODS", "analyze_attr_store",
    "analyze_call", "analyze_dict", "analyze_ref", "call_hits", "type_from_annotation",
]

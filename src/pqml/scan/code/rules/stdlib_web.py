"""The standard library (``hashlib``, ``hmac``, ``ssl``) and the web/serving stack that
configures cryptography for you: gRPC and uvicorn TLS, itsdangerous signers, Django
password hashers."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from pqml.scan.algorithm_names import hash_name
from pqml.scan.code.python_ast import Hit
from pqml.scan.code.rules.base import (
    HASH_CTORS,
    Rule,
    add,
    arg,
    cipher_hits,
    prefixed,
    simple,
    tls_param,
)

if TYPE_CHECKING:
    from pqml.scan.code.python_ast import Analyzer


# -- hashlib / hmac
def _hashlib_ctor(name: str) -> Rule:
    canonical = hash_name(name) or name

    def rule(a: Analyzer, call: ast.Call) -> list[Hit]:
        details = {}
        if a.const(arg(call, None, "usedforsecurity")) is False:
            details["usedforsecurity"] = False
        return [Hit(canonical, "digest", library="hashlib", details=details)]
    return rule


for _h in HASH_CTORS:
    add(f"hashlib.{_h}", _hashlib_ctor(_h))


def _hashlib_new(a: Analyzer, call: ast.Call) -> list[Hit]:
    h = a.hash_of(arg(call, 0, "name"))
    details = {}
    if a.const(arg(call, None, "usedforsecurity")) is False:
        details["usedforsecurity"] = False
    return [Hit(h, "digest", library="hashlib", details=details)] if h else []


add("hashlib.new", _hashlib_new)
add("hashlib.file_digest", lambda a, call: [
    Hit(h, "digest", library="hashlib") for h in [a.hash_of(arg(call, 1, "digest"))] if h])
add("hashlib.pbkdf2_hmac", prefixed("PBKDF2", "kdf", 0, "hash_name", "hashlib"))
add("hashlib.scrypt", simple("scrypt", "kdf", lib="hashlib"))
add(("hmac.new", "hmac.HMAC"), prefixed("HMAC", "mac", 2, "digestmod", "hmac", "MD5"))
add("hmac.digest", prefixed("HMAC", "mac", 2, "digest", "hmac"))


def _ssl_context(a: Analyzer, call: ast.Call) -> list[Hit]:
    return [Hit("TLS", "protocol", tls_param(a, arg(call, 0, "protocol")), library="ssl",
                details={"produces": True})]


def _wrap_socket(a: Analyzer, call: ast.Call) -> list[Hit]:
    hits = [Hit("TLS", "protocol", tls_param(a, arg(call, None, "ssl_version")), library="ssl")]
    ciphers = a.const(arg(call, None, "ciphers"))
    if isinstance(ciphers, str):
        hits += cipher_hits(ciphers, "ssl")
    return hits


add(("ssl.create_default_context", "ssl._create_unverified_context",
      "ssl._create_default_https_context"),
     lambda a, call: [Hit("TLS", "protocol", None, library="ssl", details={"produces": True})])
add("ssl.SSLContext", _ssl_context)
add("ssl.wrap_socket", _wrap_socket)
add(("grpc.ssl_channel_credentials", "grpc.ssl_server_credentials"),
     simple("TLS", "protocol", lib="grpc", confidence="medium"))


def _server_tls(a: Analyzer, call: ast.Call) -> list[Hit]:
    """ASGI servers terminating TLS themselves: uvicorn.run(app, ssl_certfile=...)."""
    if arg(call, None, "ssl_certfile") is None and arg(call, None, "ssl_keyfile") is None:
        return []
    return [Hit("TLS", "protocol", tls_param(a, arg(call, None, "ssl_version")),
                "medium", "uvicorn")]


add(("uvicorn.run", "uvicorn.Config"), _server_tls)


# -- web frameworks: itsdangerous signers (Flask), Django password hashing
def _itsdangerous(a: Analyzer, call: ast.Call) -> list[Hit]:
    """itsdangerous signs with HMAC-SHA1 unless ``digest_method`` (or signer_kwargs) says."""
    h = a.hash_of(arg(call, None, "digest_method"))
    kwargs = a.deref(arg(call, None, "signer_kwargs"))
    if h is None and isinstance(kwargs, ast.Dict):
        for k, v in zip(kwargs.keys, kwargs.values, strict=True):
            if isinstance(k, ast.Constant) and k.value == "digest_method":
                h = a.hash_of(v)
    return [Hit(f"HMAC-{h or 'SHA-1'}", "mac", library="itsdangerous",
                details={} if h else {"default": True})]


for _cls in ("Signer", "TimestampSigner", "Serializer", "URLSafeSerializer",
             "TimedSerializer", "URLSafeTimedSerializer", "JSONWebSignatureSerializer"):
    add(f"itsdangerous.{_cls}", _itsdangerous)

_DJANGO_HASHERS = {"default": "PBKDF2-SHA-256", "pbkdf2_sha256": "PBKDF2-SHA-256",
                   "pbkdf2_sha1": "PBKDF2-SHA-1", "argon2": "Argon2id", "scrypt": "scrypt",
                   "bcrypt_sha256": "bcrypt", "bcrypt": "bcrypt", "md5": "MD5",
                   "unsalted_md5": "MD5", "unsalted_sha1": "SHA-1", "sha1": "SHA-1"}


def _django_password(a: Analyzer, call: ast.Call) -> list[Hit]:
    name = a.const(arg(call, 2, "hasher"))
    algorithm = _DJANGO_HASHERS.get(name if isinstance(name, str) else "default")
    return [Hit(algorithm, "kdf", library="django")] if algorithm else []


add("django.contrib.auth.hashers.make_password", _django_password)

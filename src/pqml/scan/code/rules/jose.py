"""JOSE libraries: PyJWT, python-jose, authlib and jwcrypto -- algorithm names (``"RS256"``)
in encode / decode calls and headers, library defaults (HS256), and JWK generation."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from pqml.scan.algorithm_names import JOSE_ALGS
from pqml.scan.code.python_ast import Hit
from pqml.scan.code.rules.base import (
    Rule,
    add,
    arg,
    kty_hits,
)

if TYPE_CHECKING:
    from pqml.scan.code.python_ast import Analyzer


# -- JOSE: PyJWT, python-jose, authlib, jwcrypto
def _jose_hits(a: Analyzer, expr: ast.expr | None, usage: str, lib: str) -> list[Hit]:
    value = a.const(expr)
    names = value if isinstance(value, list) else [value]
    hits = []
    for name in names:
        if isinstance(name, str) and name in JOSE_ALGS:
            algorithm, param, kind = JOSE_ALGS[name]
            u = usage if kind in ("sign", "mac") and usage in ("sign", "verify") else kind
            if kind == "mac":
                u = "mac"
            hits.append(Hit(algorithm, u, param, library=lib, details={"jose_alg": name}))
    return hits


def _jwt(usage: str, kw: str, lib: str, default: str | None = None) -> Rule:
    def rule(a: Analyzer, call: ast.Call) -> list[Hit]:
        expr = arg(call, None, kw)
        if expr is None and lib == "authlib":  # authlib: jwt.encode({"alg": ...}, payload, key)
            header = a.deref(arg(call, 0, "header"))
            if isinstance(header, ast.Dict):
                a.touched.add(id(header))
                for k, v in zip(header.keys, header.values, strict=True):
                    if isinstance(k, ast.Constant) and k.value == "alg":
                        expr = v
        if expr is None and default is not None:
            algorithm, param, _ = JOSE_ALGS[default]
            return [Hit(algorithm, "mac" if algorithm.startswith("HMAC") else usage, param,
                        "medium", lib, {"jose_alg": default, "default": True})]
        return _jose_hits(a, expr, usage, lib)
    return rule


add(("jwt.encode", "jwt.PyJWT.encode", "jwt.PyJWS.encode"),
     _jwt("sign", "algorithm", "pyjwt", "HS256"))
add(("jwt.decode", "jwt.PyJWT.decode", "jwt.PyJWS.decode", "jwt.decode_complete"),
     _jwt("verify", "algorithms", "pyjwt"))
add(("jose.jwt.encode",), _jwt("sign", "algorithm", "python-jose", "HS256"))
add(("jose.jwt.decode",), _jwt("verify", "algorithms", "python-jose"))
add(("jose.jws.sign",), _jwt("sign", "algorithm", "python-jose", "HS256"))
add(("jose.jws.verify",), _jwt("verify", "algorithms", "python-jose"))
add(("authlib.jose.jwt.encode",), _jwt("sign", "alg", "authlib"))


def _jwe(a: Analyzer, call: ast.Call) -> list[Hit]:
    hits = []
    for kw, default in (("algorithm", "dir"), ("encryption", "A256GCM")):
        expr = arg(call, 2 if kw == "algorithm" else 3, kw)
        value = a.const(expr) if expr is not None else default
        if isinstance(value, str) and value in JOSE_ALGS:
            algorithm, param, _usage = JOSE_ALGS[value]
            hits.append(Hit(algorithm, "encrypt", param, library="python-jose",
                            details={"jose_alg": value}))
    return hits


add(("jose.jwe.encrypt",), _jwe)


def _jwk_generate(a: Analyzer, call: ast.Call) -> list[Hit]:
    kty = a.const(arg(call, 0, "kty"))
    size_or_crv = a.const(arg(call, 1, "crv_or_size"))
    if size_or_crv is None:
        size_or_crv = a.const(arg(call, None, "size")) or a.const(arg(call, None, "crv"))
    lib = "jwcrypto" if "jwcrypto" in (a.qual(call.func) or "") else "authlib"
    return kty_hits(kty, size_or_crv, "keygen", lib)


add(("authlib.jose.JsonWebKey.generate_key", "jwcrypto.jwk.JWK.generate"), _jwk_generate)
for _cls, _kty in (("RSAKey", "RSA"), ("ECKey", "EC"), ("OKPKey", "OKP")):
    add(f"authlib.jose.{_cls}.generate_key",
         lambda a, call, _kty=_kty: kty_hits(_kty, a.const(arg(call, 0, "crv_or_size")),
                                              "keygen", "authlib"))


# PyJWT's algorithm objects, used directly by other libraries (oauthlib's RSA-SHA1 signer)
for _cls, (_alg, _usage) in {"RSAAlgorithm": ("RSA", "sign"),
                             "RSAPSSAlgorithm": ("RSA-PSS", "sign"),
                             "ECAlgorithm": ("ECDSA", "sign"), "OKPAlgorithm": ("Ed25519", "sign"),
                             "HMACAlgorithm": ("HMAC", "mac")}.items():
    add(f"jwt.algorithms.{_cls}",
        lambda a, call, _alg=_alg, _usage=_usage: [
            Hit(_alg if _alg != "HMAC" else f"HMAC-{h}" if (h := a.hash_of(arg(call, 0, None)))
                else "HMAC", _usage, library="pyjwt")])

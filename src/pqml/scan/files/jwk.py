"""JSON Web Keys and Key Sets (RFC 7517), including ML-DSA ``AKP`` keys.

A JWKS endpoint dump or a ``jwks.json`` checked into a service repository tells which
signature algorithm every token verifier accepts. Each key object (``"kty"``) is one
finding; its line is found by locating the n-th ``"kty"`` in the text, since JSON parsers
do not report positions.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterator
from typing import Any

from pqml.scan.algorithm_names import JOSE_ALGS, curve_name
from pqml.scan.model import Finding

_MAX_JSON = 8 << 20


def b64url_bits(value: str) -> int | None:
    """Bit length of a base64url big-endian integer (an RSA modulus ``n``)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        return None
    return int.from_bytes(raw, "big").bit_length() or None


def _key_objects(obj: Any) -> Iterator[dict]:
    if isinstance(obj, dict):
        if isinstance(obj.get("kty"), str):
            yield obj
        for v in obj.values():
            if isinstance(v, dict | list):
                yield from _key_objects(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _key_objects(v)


def describe(jwk: dict) -> tuple[str, str | None] | None:
    kty = jwk.get("kty")
    alg = jwk.get("alg")
    if kty == "RSA":
        n = jwk.get("n")
        bits = b64url_bits(n) if isinstance(n, str) else None
        name = "RSA-PSS" if isinstance(alg, str) and alg.startswith("PS") else (
            "RSA-OAEP" if isinstance(alg, str) and alg.startswith("RSA-OAEP") else "RSA")
        return name, str(bits) if bits else None
    if kty == "EC":
        crv = jwk.get("crv")
        algorithm = "ECDH" if isinstance(alg, str) and alg.startswith("ECDH") else "ECDSA"
        return algorithm, curve_name(crv) if isinstance(crv, str) else None
    if kty == "OKP":
        crv = jwk.get("crv")
        if crv in ("Ed25519", "Ed448", "X25519", "X448"):
            return crv, None
        return None
    if kty in ("oct", "AKP") and isinstance(alg, str) and alg in JOSE_ALGS:
        algorithm, param, _ = JOSE_ALGS[alg]
        return algorithm, param
    return None


def findings(text: str, path: str) -> list[Finding]:
    from pqml.scan.files.pem import key_finding

    if '"kty"' not in text or len(text) > _MAX_JSON:
        return []
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return []
    out: list[Finding] = []
    pos = 0
    for jwk in _key_objects(doc):
        found = text.find('"kty"', pos)
        pos = found + 5 if found >= 0 else pos
        line = text.count("\n", 0, found) + 1 if found >= 0 else 1
        described = describe(jwk)
        if described is None:
            continue
        algorithm, param = described
        private = "d" in jwk or (jwk.get("kty") == "oct" and "k" in jwk) or "priv" in jwk
        details = {k: jwk[k] for k in ("kid", "alg", "use", "kty", "crv") if k in jwk}
        evidence = f'JWK kty={jwk.get("kty")}' + (f' alg={jwk["alg"]}' if "alg" in jwk else "")
        out.append(key_finding(algorithm, param, private, path, line, evidence, "jwk", details))
    return out

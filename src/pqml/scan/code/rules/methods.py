"""Method calls, where the callee alone says nothing (``key.sign(...)``): the argument shapes
of pyca (``padding.PSS`` means RSA-PSS), x509 builders, and receivers typed by the call
that created them or by a parameter annotation; plus the entry points the analyzer calls
(:func:`analyze_call`, :func:`analyze_ref`, :func:`analyze_attr_store`, :func:`analyze_dict`)."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from pqml.scan.algorithm_names import hash_name
from pqml.scan.code.python_ast import Hit, KeyType
from pqml.scan.code.rules.base import (
    ASYM,
    EC_CURVES,
    HASH_CTORS,
    PYCA,
    PYCA_HASHES,
    RSA_PADDINGS,
    RULES,
    TLS_CONSTANTS,
    arg,
    cipher_hits,
    kty_hits,
)
from pqml.scan.files.cipher_suites import parse_groups

if TYPE_CHECKING:
    from pqml.scan.code.python_ast import Analyzer

# ---- method calls: argument shapes and receiver types ----------------------------------------

_KEY_CLASSES = {
    f"{ASYM}.rsa.RSAPrivateKey": "RSA", f"{ASYM}.rsa.RSAPublicKey": "RSA",
    f"{ASYM}.ec.EllipticCurvePrivateKey": "ECDSA", f"{ASYM}.ec.EllipticCurvePublicKey": "ECDSA",
    f"{ASYM}.dsa.DSAPrivateKey": "DSA", f"{ASYM}.dsa.DSAPublicKey": "DSA",
    f"{ASYM}.dh.DHPrivateKey": "DH", f"{ASYM}.dh.DHPublicKey": "DH",
    "nacl.signing.SigningKey": "Ed25519", "nacl.signing.VerifyKey": "Ed25519",
    "nacl.public.PrivateKey": "X25519", "nacl.public.PublicKey": "X25519",
    "paramiko.RSAKey": "RSA", "paramiko.ECDSAKey": "ECDSA", "paramiko.Ed25519Key": "Ed25519",
    "paramiko.DSSKey": "DSA", "ecdsa.SigningKey": "ECDSA", "ecdsa.VerifyingKey": "ECDSA",
    "rsa.PrivateKey": "RSA", "rsa.PublicKey": "RSA", "ssl.SSLContext": "TLS",
}
for _mod, _alg in (("ed25519", "Ed25519"), ("ed448", "Ed448"), ("x25519", "X25519"),
                   ("x448", "X448")):
    _KEY_CLASSES[f"{ASYM}.{_mod}.{_alg}PrivateKey"] = _alg
    _KEY_CLASSES[f"{ASYM}.{_mod}.{_alg}PublicKey"] = _alg
for _n in ("44", "65", "87"):
    _KEY_CLASSES[f"{ASYM}.mldsa.MLDSA{_n}PrivateKey"] = f"ML-DSA-{_n}"
    _KEY_CLASSES[f"{ASYM}.mldsa.MLDSA{_n}PublicKey"] = f"ML-DSA-{_n}"
for _n in ("768", "1024"):
    _KEY_CLASSES[f"{ASYM}.mlkem.MLKEM{_n}PrivateKey"] = f"ML-KEM-{_n}"
    _KEY_CLASSES[f"{ASYM}.mlkem.MLKEM{_n}PublicKey"] = f"ML-KEM-{_n}"


def type_from_annotation(a: Analyzer, ann: ast.expr) -> KeyType | None:
    if isinstance(ann, ast.Constant) and isinstance(ann.value, str):  # "rsa.RSAPrivateKey"
        try:
            ann = ast.parse(ann.value, mode="eval").body
        except SyntaxError:
            return None
    if isinstance(ann, ast.BinOp):  # X | None
        return type_from_annotation(a, ann.left) or type_from_annotation(a, ann.right)
    if isinstance(ann, ast.Subscript):  # Optional[X]
        return type_from_annotation(a, ann.slice)
    q = a.qual(ann)
    if q and q in _KEY_CLASSES:
        top = q.split(".")[0]
        library = {"nacl": "pynacl", "cryptography": "cryptography"}.get(top, top)
        return KeyType(_KEY_CLASSES[q], None, library, None)
    return None


# Receiver-typed methods: algorithm family -> {method: usage}
_SIGNERS = {"sign": "sign", "verify": "verify"}
_TYPED_METHODS: dict[str, dict[str, str]] = {
    "Ed25519": _SIGNERS, "Ed448": _SIGNERS,
    "ML-DSA-44": _SIGNERS, "ML-DSA-65": _SIGNERS, "ML-DSA-87": _SIGNERS,
    "X25519": {"exchange": "key-exchange"}, "X448": {"exchange": "key-exchange"},
    "DH": {"exchange": "key-exchange"}, "DSA": _SIGNERS,
    "ML-KEM-768": {"encapsulate": "encapsulate", "decapsulate": "decapsulate"},
    "ML-KEM-1024": {"encapsulate": "encapsulate", "decapsulate": "decapsulate"},
}
_ECDSA_LIB_METHODS = {"sign": "sign", "sign_deterministic": "sign", "sign_digest": "sign",
                      "sign_digest_deterministic": "sign", "sign_number": "sign",
                      "verify": "verify", "verify_digest": "verify"}
_PARAMIKO_METHODS = {"sign_ssh_data": "sign", "verify_ssh_sig": "verify"}
# python-rsa key objects: the private operation with blinding (sign = "encrypt" with d)
_RSA_LIB_METHODS = {"blinded_decrypt": "decrypt", "blinded_encrypt": "sign"}


def _padding_kind(a: Analyzer, expr: ast.expr | None) -> str | None:
    """'PSS', 'PKCS1v15', 'OAEP', 'ECDSA' or 'ECDH' for a padding / scheme object."""
    if expr is None:
        return None
    a.touched.add(id(expr))
    target = a.deref(expr)
    node = target.func if isinstance(target, ast.Call) else target
    q = a.qual(node) if node is not None else None
    if not q:
        return None
    last = q.rsplit(".", 1)[-1]
    if q.startswith(f"{ASYM}.padding.") and last in ("PSS", "PKCS1v15", "OAEP"):
        return last
    if q.startswith(f"{ASYM}.ec.") and last in ("ECDSA", "ECDH"):
        return last
    if q.startswith(f"{ASYM}.utils.") and last == "Prehashed":
        return None
    return None


def _method_hits(a: Analyzer, call: ast.Call, method: str, receiver: ast.expr) -> list[Hit]:
    """Method calls: by argument shape (pyca paddings), builder, or receiver type."""
    # 1. pyca argument shapes: the padding / scheme object names the algorithm
    if method in ("sign", "verify", "encrypt", "decrypt", "exchange",
                  "recover_data_from_signature"):
        kinds = [(i, _padding_kind(a, x)) for i, x in enumerate(call.args)]
        kinds += [(-1, _padding_kind(a, k.value)) for k in call.keywords
                  if k.arg in ("padding", "signature_algorithm", "algorithm")]
        kind = next((k for _i, k in kinds if k), None)
        if kind is not None:
            t = a.key_type(receiver)
            if kind == "ECDH":
                a.mark_ecdh(receiver)
                if len(call.args) > 1:  # the peer's key is an ECDH key too
                    a.mark_ecdh(call.args[1], peer=True)
                param = t.parameter if t and t.algorithm in ("ECDSA", "ECDH") else None
                return [Hit("ECDH", "key-exchange", param, library="cryptography")]
            if kind == "ECDSA":
                param = t.parameter if t and t.algorithm in ("ECDSA",) else None
                h = None
                scheme = a.deref(next((x for x in call.args if _padding_kind(a, x)), None))
                if isinstance(scheme, ast.Call):
                    h = a.hash_of(arg(scheme, 0, "algorithm"))
                usage = "verify" if method == "verify" else "sign"
                return [Hit("ECDSA", usage, param, library="cryptography",
                            details={"hash": h} if h else {})]
            param = t.parameter if t and t.algorithm.startswith("RSA") else None
            algorithm = {"PSS": "RSA-PSS", "OAEP": "RSA-OAEP"}.get(kind, "RSA")
            usage = {"recover_data_from_signature": "verify"}.get(method, method)
            return [Hit(algorithm, usage, param, library="cryptography")]
    # 2. x509 / CSR / CRL builders: .sign(private_key, hash)
    if method == "sign" and _is_x509_builder(a, receiver):
        key = arg(call, 0, "private_key")
        t = a.key_type(key)
        if t is None:
            return []
        h = a.hash_of(arg(call, 1, "algorithm"))
        algorithm = "RSA" if t.algorithm.startswith("RSA") else t.algorithm
        return [Hit(algorithm, "sign", t.parameter, library="cryptography",
                    details={"x509": True, **({"hash": h} if h else {})})]
    # 3. pyOpenSSL PKey().generate_key(TYPE_RSA, 2048)
    if method == "generate_key" and len(call.args) >= 2:
        tq = a.qual(call.args[0]) or ""
        kind = {"TYPE_RSA": "RSA", "TYPE_DSA": "DSA"}.get(tq.rsplit(".", 1)[-1])
        if kind and tq.startswith("OpenSSL."):
            a.touched.add(id(call.args[0]))
            size = a.const(call.args[1])
            return [Hit(kind, "keygen", str(size) if isinstance(size, int) else None,
                        library="pyOpenSSL")]
    # 4. typed receivers
    if method not in _RECEIVER_METHODS:  # no receiver type makes it a use: skip typing it
        return []
    t = a.key_type(receiver)
    if t is None:
        return []
    if t.algorithm == "TLS":
        if method in _CIPHER_METHODS:
            text = a.const(arg(call, 0, None))
            if isinstance(text, bytes):
                text = text.decode("ascii", "replace")
            return cipher_hits(text, t.library or "ssl") if isinstance(text, str) else []
        if method in _GROUP_METHODS:
            text = a.const(arg(call, 0, None))
            if isinstance(text, bytes):
                text = text.decode("ascii", "replace")
            if isinstance(text, str):
                return [Hit(s.algorithm, s.usage, s.parameter, library=t.library)
                        for s in parse_groups(text)]
        return []
    table = _TYPED_METHODS.get(t.algorithm)
    if t.library == "ecdsa":
        table = _ECDSA_LIB_METHODS
    elif t.library == "paramiko":
        table = _PARAMIKO_METHODS
    elif t.library == "pynacl" and t.algorithm == "Ed25519":
        table = _SIGNERS
    elif t.library == "rsa":
        table = _RSA_LIB_METHODS
    if table and method in table:
        return [Hit(t.algorithm, table[method], t.parameter, library=t.library)]
    return []


# Every method step 4 of _method_hits can report, whatever the receiver's type: a method
# step 4 looks up must come from one of these tables, or it is never reached.
_CIPHER_METHODS = frozenset({"set_ciphers", "set_cipher_list"})
_GROUP_METHODS = frozenset({"set_ecdh_curve", "set1_groups_list"})
_RECEIVER_METHODS = (_CIPHER_METHODS | _GROUP_METHODS).union(
    *_TYPED_METHODS.values(), _SIGNERS, _ECDSA_LIB_METHODS, _PARAMIKO_METHODS, _RSA_LIB_METHODS)

_BUILDERS = frozenset({
    "cryptography.x509.CertificateBuilder", "cryptography.x509.CertificateSigningRequestBuilder",
    "cryptography.x509.CertificateRevocationListBuilder",
    "cryptography.x509.ocsp.OCSPResponseBuilder",
})


def _is_x509_builder(a: Analyzer, expr: ast.expr, depth: int = 0) -> bool:
    while depth < 40:
        depth += 1
        if isinstance(expr, ast.Call):
            func = expr.func
            q = a.qual(func)
            if q in _BUILDERS:
                return True
            if isinstance(func, ast.Attribute):
                expr = func.value
                continue
            return False
        if isinstance(expr, ast.Name):
            target = a.deref(expr)
            if target is None or target is expr:
                return False
            expr = target
            continue
        return False
    return False


def call_hits(a: Analyzer, qual: str, call: ast.Call) -> list[Hit]:
    rule = RULES.get(qual)
    return rule(a, call) if rule is not None else []


def _modpow(a: Analyzer, call: ast.Call) -> list[Hit]:
    """``pow(g, x, p)`` with ``p`` a MODP / FFDHE group prime: Diffie-Hellman by hand."""
    from pqml.scan.code.identifiers import BIG_INT, dh_group_bits

    if len(call.args) != 3 or call.keywords:
        return []
    p = a.const(call.args[2])
    if type(p) is not int or p < BIG_INT:
        return []
    bits = dh_group_bits(p)
    if bits is None:
        return []
    return [Hit("DH", "key-exchange", str(bits), library=None, details={"modpow": True})]


def _cast(a: Analyzer, call: ast.Call) -> list[Hit]:
    """``cast(RSAPublicKey, load_pem_public_key(data))``: a generic loader whose result the
    code declares to be of one key family."""
    if len(call.args) != 2 or not isinstance(call.args[1], ast.Call):
        return []
    t = type_from_annotation(a, call.args[0])
    if t is None or t.algorithm == "TLS":
        return []
    return [Hit(t.algorithm, "key-load", None, "medium", t.library, {"cast": True})]


def analyze_call(a: Analyzer, call: ast.Call) -> list[Hit]:
    q = a.qual(call.func)
    if q is not None:
        rule = RULES.get(q)
        if rule is not None:
            return rule(a, call)
        if q == "typing.cast":
            return _cast(a, call)
    func = call.func
    if isinstance(func, ast.Name) and q is None:
        if func.id == "pow" and a._lookup(func.id, a._scope, func.lineno) is None:
            return _modpow(a, call)
        if func.id == "cast" and a._lookup(func.id, a._scope, func.lineno) is None:
            return []
    if isinstance(func, ast.Attribute):
        return _method_hits(a, call, func.attr, func.value)
    return []


def analyze_attr_store(a: Analyzer, target: ast.Attribute, value: ast.expr) -> list[Hit]:
    """``ctx.minimum_version = ssl.TLSVersion.TLSv1_2`` and similar."""
    if target.attr in ("minimum_version", "maximum_version"):
        q = a.qual(value) or ""
        last = q.rsplit(".", 1)[-1]
        if q.startswith("ssl.") and last in TLS_CONSTANTS:
            a.touched.add(id(value))
            return [Hit("TLS", "protocol", TLS_CONSTANTS[last], library="ssl",
                        details={"setting": target.attr})]
    return []


def analyze_ref(a: Analyzer, node: ast.expr) -> Hit | None:
    """A hash constructor or TLS constant used as a value, not consumed by any call."""
    q = a.qual(node)
    if not q:
        return None
    last = q.rsplit(".", 1)[-1]
    if q.startswith("hashlib.") and last in HASH_CTORS:
        h = hash_name(last)
        return Hit(h, "digest", library="hashlib", details={"as_value": True}) if h else None
    if q.startswith(f"{PYCA}.hashes.") and last in PYCA_HASHES:
        h = hash_name(last)
        return Hit(h, "digest", library="cryptography", details={"as_value": True}) if h else None
    if q.startswith(f"{ASYM}.padding.") and last in RSA_PADDINGS:
        algorithm, usage = RSA_PADDINGS[last]
        return Hit(algorithm, usage, library="cryptography", details={"as_value": True})
    if q.startswith(f"{ASYM}.ec.") and last in EC_CURVES:
        from pqml.scan.algorithm_names import curve_name

        # a curve as a value: ECDH where the module exchanges keys, else a signature curve
        return Hit("ECDH" if a.module_ecdh else "ECDSA",
                   "key-exchange" if a.module_ecdh else "sign", curve_name(last),
                   "medium", "cryptography", {"as_value": True})
    if (q.startswith("ssl.") or q.startswith("OpenSSL.SSL.")) and TLS_CONSTANTS.get(last):
        # only constants that pin a version; PROTOCOL_TLS (negotiate) alone says nothing
        return Hit("TLS", "protocol", TLS_CONSTANTS[last], library="ssl")
    return None


def analyze_dict(a: Analyzer, d: ast.Dict) -> Hit | None:
    """A JWK written as a dict literal: ``{"kty": "RSA", "n": ..., "e": ...}``."""
    fields: dict[str, Any] = {}
    kty_line = d.lineno
    for k, v in zip(d.keys, d.values, strict=True):
        if isinstance(k, ast.Constant) and isinstance(k.value, str):
            fields[k.value] = v
            if k.value == "kty":
                kty_line = k.lineno
    if "kty" not in fields:
        return None
    kty = a.const(fields["kty"])
    usage = "private-key" if "d" in fields else "public-key"
    size_or_crv: Any = None
    if kty == "RSA":
        n = a.const(fields.get("n"))
        if isinstance(n, str):
            from pqml.scan.files.jwk import b64url_bits

            size_or_crv = b64url_bits(n)
    elif kty in ("EC", "OKP"):
        size_or_crv = a.const(fields.get("crv"))
    hits = kty_hits(kty, size_or_crv, usage, "jwk")
    for h in hits:
        h.details["line"] = kty_line
    if hits:
        for value in fields.values():  # "alg", "crv", ...: fields of this key, not settings
            if isinstance(value, ast.Constant):
                a.consumed.add(id(value))
        return hits[0]
    return None

"""Shared vocabulary of the Python rules: argument access, constant folding helpers, the
rule table and the rule builders every library module uses.

A rule maps a qualified callee (``cryptography.hazmat.primitives.asymmetric.rsa.
generate_private_key``) to a function returning :class:`Hit` s; library modules register
theirs with :func:`add`. Conventions are in :mod:`pqml.scan.code.rules`.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from pqml.scan.algorithm_names import curve_name, hash_name
from pqml.scan.code.python_ast import Hit
from pqml.scan.files.cipher_suites import parse_cipher_string

if TYPE_CHECKING:
    from pqml.scan.code.python_ast import Analyzer


PYCA = "cryptography.hazmat.primitives"
ASYM = PYCA + ".asymmetric"

HASH_CTORS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512", "sha512_224",
              "sha512_256", "sha3_224", "sha3_256", "sha3_384", "sha3_512", "shake_128",
              "shake_256", "blake2b", "blake2s")
TLS_CONSTANTS = {
    "PROTOCOL_SSLv2": "SSLv2", "PROTOCOL_SSLv3": "SSLv3", "PROTOCOL_TLSv1": "TLSv1.0",
    "PROTOCOL_TLSv1_1": "TLSv1.1", "PROTOCOL_TLSv1_2": "TLSv1.2", "PROTOCOL_SSLv23": None,
    "PROTOCOL_TLS": None, "PROTOCOL_TLS_CLIENT": None, "PROTOCOL_TLS_SERVER": None,
    "TLSv1": "TLSv1.0", "TLSv1_1": "TLSv1.1", "TLSv1_2": "TLSv1.2", "TLSv1_3": "TLSv1.3",
    "SSLv3": "SSLv3",
    "TLSv1_METHOD": "TLSv1.0", "TLSv1_1_METHOD": "TLSv1.1", "TLSv1_2_METHOD": "TLSv1.2",
    "SSLv3_METHOD": "SSLv3", "SSLv23_METHOD": None, "TLS_METHOD": None,
    "TLS_CLIENT_METHOD": None, "TLS_SERVER_METHOD": None,
}
#: pyca hash classes, RSA paddings and curve classes: used as values (``SHA256 =
#: hashes.SHA256``, ``RSA1_5 = padding.PKCS1v15()``, ``curve = ec.SECP384R1()``) they name
#: the algorithm of whatever consumes them later.
PYCA_HASHES = frozenset({"MD5", "SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "SHA512_224",
                         "SHA512_256", "SHA3_224", "SHA3_256", "SHA3_384", "SHA3_512",
                         "SHAKE128", "SHAKE256", "BLAKE2b", "BLAKE2s", "SM3"})
RSA_PADDINGS = {"PKCS1v15": ("RSA", "sign"), "PSS": ("RSA-PSS", "sign"),
                "OAEP": ("RSA-OAEP", "encrypt")}
EC_CURVES = frozenset({"SECP192R1", "SECP224R1", "SECP256R1", "SECP384R1", "SECP521R1",
                       "SECP256K1", "BrainpoolP256R1", "BrainpoolP384R1", "BrainpoolP512R1",
                       "SECT163K1", "SECT233R1", "SECT283K1", "SECT283R1", "SECT409K1",
                       "SECT409R1", "SECT571K1", "SECT571R1"})
#: Attribute names the analyzer keeps as possible value references.
REF_ATTRS = (frozenset(HASH_CTORS) | frozenset(TLS_CONSTANTS) | PYCA_HASHES
             | frozenset(RSA_PADDINGS) | EC_CURVES)
#: Methods returning an object of the same key family (``key.public_key()``).
SAME_TYPE_METHODS = frozenset({"public_key", "private_key", "get_verifying_key", "publickey",
                               "get_public_key", "public_numbers", "private_numbers",
                               "get_signing_key", "to_cryptography_key"})
SAME_TYPE_ATTRS = frozenset({"verifying_key", "verify_key", "public_key", "pubkey"})


# ---- argument helpers ----------------------------------------------------------------------


def arg(call: ast.Call, pos: int | None, kw: str | None = None) -> ast.expr | None:
    if kw is not None:
        for k in call.keywords:
            if k.arg == kw:
                return k.value
    if pos is not None and pos < len(call.args) and not any(
        isinstance(a, ast.Starred) for a in call.args[: pos + 1]
    ):
        return call.args[pos]
    return None


def int_arg(a: Analyzer, call: ast.Call, pos: int | None, kw: str | None) -> str | None:
    v = a.const(arg(call, pos, kw))
    return str(v) if isinstance(v, int) and not isinstance(v, bool) else None


def key_param(a: Analyzer, expr: ast.expr | None, family: tuple[str, ...]) -> str | None:
    t = a.key_type(expr)
    return t.parameter if t is not None and t.algorithm in family else None


def aes_bits(a: Analyzer, expr: ast.expr | None, depth: int = 0) -> int | None:
    """Key size of an AES key expression: os.urandom(32), generate_key(bit_length=128) ..."""
    if expr is None or depth > 6:
        return None
    target = a.deref(expr)
    if isinstance(target, ast.Constant) and isinstance(target.value, bytes | str):
        n = len(target.value)
        return n * 8 if n in (16, 24, 32) else None
    if isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Slice):
        upper = a.const(target.slice.upper)
        lower = a.const(target.slice.lower) or 0
        if isinstance(upper, int) and isinstance(lower, int) and upper - lower in (16, 24, 32):
            return (upper - lower) * 8
        return None
    if not isinstance(target, ast.Call):
        return None
    func = target.func
    q = a.qual(func) or ""
    last = q.rsplit(".", 1)[-1] if q else (func.attr if isinstance(func, ast.Attribute) else "")
    if last in ("urandom", "token_bytes", "get_random_bytes", "randbytes"):
        n = a.const(arg(target, 0, "n"))
        return n * 8 if isinstance(n, int) and n in (16, 24, 32) else None
    if last == "generate_key":
        bits = a.const(arg(target, 0, "bit_length"))
        if isinstance(bits, int):
            return bits
        return 256 if "ChaCha20" in q else (128 if "Fernet" in q else None)
    if last == "pbkdf2_hmac":
        n = a.const(arg(target, 4, "dklen"))
        return n * 8 if isinstance(n, int) else None
    if last in ("PBKDF2", "scrypt", "HKDF") and q.startswith("Crypto."):
        n = a.const(arg(target, 2 if last == "PBKDF2" else 1, "dkLen" if last != "HKDF"
                        else "key_len"))
        return n * 8 if isinstance(n, int) else None
    if isinstance(func, ast.Attribute) and func.attr in ("digest", "derive", "read"):
        inner = func.value
        if isinstance(inner, ast.Call):
            iq = a.qual(inner.func) or ""
            h = hash_name(iq.rsplit(".", 1)[-1]) if iq.startswith(("hashlib.", "Crypto.Hash"))\
                else None
            if h in ("SHA-256", "SHA3-256", "BLAKE2s"):
                return 256
            n = a.const(arg(inner, 1, "length")) if "kdf" in iq else None
            if isinstance(n, int) and n in (16, 24, 32):
                return n * 8
        elif func.attr == "derive":
            t = a.deref(inner)
            if isinstance(t, ast.Call):
                tq = a.qual(t.func) or ""
                n = a.const(arg(t, 1 if "kdf" in tq else None, "length"))
                if isinstance(n, int) and n in (16, 24, 32):
                    return n * 8
    return None


def aes_name(bits: int | None, mode: str) -> str:
    return f"AES-{bits}-{mode}" if bits else f"AES-{mode}"


def aes_mode_bits(bits: int | None, mode: str | None) -> int | None:
    """AES size of a key for ``mode``: an XTS or SIV key is two AES keys of half its size."""
    return bits // 2 if bits and mode in ("XTS", "SIV") else bits


# ---- rule table ------------------------------------------------------------------------------

Rule = Callable[["Analyzer", ast.Call], list[Hit]]
RULES: dict[str, Rule] = {}


def simple(algorithm: str, usage: str, *, size: tuple[int | None, str | None] | None = None,
           curve: tuple[int | None, str | None] | None = None, lib: str = "cryptography",
           ec_generic: bool = False, produces: bool = False,
           confidence: str = "high") -> Rule:
    def rule(a: Analyzer, call: ast.Call) -> list[Hit]:
        param = None
        if size is not None:
            param = int_arg(a, call, *size)
        if curve is not None:
            param = a.curve_of(arg(call, *curve))
        details: dict[str, Any] = {"produces": True} if produces else {}
        return [Hit(algorithm, usage, param, confidence, lib, details, ec_generic)]
    return rule


def add(names: str | tuple[str, ...], rule: Rule) -> None:
    for name in (names,) if isinstance(names, str) else names:
        RULES[name] = rule


def prefixed(prefix: str, usage: str, pos: int | None, kw: str | None, lib: str,
              default: str | None = None) -> Rule:
    def rule(a: Analyzer, call: ast.Call) -> list[Hit]:
        expr = arg(call, pos, kw)
        # the library default applies only when no hash is passed (an unresolved one is not it)
        h = a.hash_of(expr) if expr is not None else default
        return [Hit(f"{prefix}-{h}" if h else prefix, usage, library=lib)]
    return rule



def kty_hits(kty: Any, size_or_crv: Any, usage: str, lib: str) -> list[Hit]:
    if kty == "RSA":
        return [Hit("RSA", usage, str(size_or_crv) if isinstance(size_or_crv, int) else None,
                    library=lib)]
    if kty == "EC":
        return [Hit("ECDSA", usage, curve_name(str(size_or_crv)) if size_or_crv else None,
                    library=lib)]
    if kty == "OKP" and isinstance(size_or_crv, str) and size_or_crv in (
            "Ed25519", "Ed448", "X25519", "X448"):
        return [Hit(size_or_crv, usage, library=lib)]
    return []



def tls_param(a: Analyzer, expr: ast.expr | None) -> str | None:
    if expr is None:
        return None
    a.touched.add(id(expr))
    q = a.qual(a.deref(expr)) or ""
    return TLS_CONSTANTS.get(q.rsplit(".", 1)[-1])



def cipher_hits(text: str, lib: str) -> list[Hit]:
    return [Hit(s.algorithm, s.usage, s.parameter, "high", lib, {"cipher_token": s.source})
            for s in parse_cipher_string(text)]



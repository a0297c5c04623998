"""Python source, read as an AST: which cryptography a module actually calls.

Why an AST and not regular expressions: the question is not whether "rsa" appears in a file
but whether ``r.generate_private_key`` resolves, through ``from cryptography.hazmat...
import rsa as r``, to pyca's RSA key generation, and with which key size once ``KEY_BITS``
is followed to ``3072``. So the analyzer

1. records imports (``import a.b as c``, ``from a import b as c``) into an alias map,
2. records assignments per scope (module, class, function), with line numbers, so a name is
   resolved to the assignment that precedes its use in the same scope or an enclosing one,
   plus ``self.x = ...`` / class attributes by attribute name,
3. resolves every call's callee to a qualified name and hands it to the rule table in
   :mod:`pqml.scan.code.rules`; method calls are matched by the shape of their
   arguments (``padding.PSS(...)``, ``ec.ECDSA(...)``) or by the type of their receiver,
   inferred from the call that created it (``key = ec.generate_private_key(...)``) or from
   a parameter annotation (``key: rsa.RSAPrivateKey``),
4. reports what is left unconsumed: hash constructors, pyca hash classes, RSA paddings and
   curves passed or stored as values (``digestmod=hashlib.sha1``, ``SHA256 =
   hashes.SHA256``, a class attribute even when a call also uses it), TLS version
   constants, and JOSE algorithm names in settings (``{"ALGORITHM": "RS256"}``);
5. classifies constants in the positions that bind or pass a setting -- assignments, dict
   keys and values, defaults, call arguments, returns, ``for`` tables and ``in [...]``
   allow-lists -- against the JOSE, SSH, COSE, TLS and hash-name registries
   (:mod:`pqml.scan.code.identifiers`), and integers shaped like MODP / FFDHE primes;
6. adds facts from context: ``cast(RSAPublicKey, load_...())`` and ``isinstance`` tests
   after a generic loader, ``pow(g, x, p)`` with a group prime, and a module's own helper
   or class called with a hash (``_sign_hmac("SHA-1", ...)``, ``HMACAlgorithm(256)``),
   which stands for the algorithm the helper's body uses. Relative imports resolve within
   the scanned package (``from ..constants import ALGORITHMS``).

Comments never reach the AST, docstrings are plain constants nobody consumes, and names
that merely *contain* "rsa" or "hashlib" resolve to nothing -- the decoys a grep reports.
Registry names count only as exact strings in those positions (never in messages, log or
exception calls, or ``==`` tests), and not at all in test modules (``tests/``,
``test_*.py``), where "RS256" is a fixture; calls in tests are still reported.
The scanner never imports or executes the code it reads.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pqml.scan.algorithm_names import JOSE_ALGS, JWS_NAMES, curve_name, hash_name
from pqml.scan.code import identifiers
from pqml.scan.facts import lookup
from pqml.scan.model import Finding

# A module is parsed only if it imports a crypto library or contains a JOSE name or a JWK.
_MODULES = (r"hashlib|hmac|ssl|cryptography|Crypto|Cryptodome|rsa|ecdsa|nacl|paramiko|jwt|"
            r"jose|authlib|jwcrypto|OpenSSL|M2Crypto|asyncssh|grpc|_hashlib|itsdangerous|"
            r"uvicorn|django\.contrib\.auth")
HINT = re.compile(
    rf"^[ \t]*(?:from[ \t]+(?:{_MODULES})\b|import[ \t][^\n]*\b(?:{_MODULES})\b)"
    r"|['\"](?:[RPE]S(?:256|384|512)|HS(?:256|384|512)|ES256K|EdDSA)['\"]|['\"]kty['\"]"
    r"|['\"](?:RSAES_OAEP|RSASSA_|ECDSA_SHA_|EC_SIGN_|RSA_SIGN_|RSA_DECRYPT_|SYMMETRIC_DEF)",
    re.M,
)
# Modules without crypto imports that still name algorithms: SSH negotiation tables and
# MODP / FFDHE group primes. Plain substring tests (a regex alternative would double the
# cost of the filter every module pays).
# (The primes are hinted by their published leading digits -- pi for MODP, e for FFDHE --
# so 64-bit masks, common in ordinary code, do not get a file parsed.)
_EXTRA_HINTS = ("ssh-rsa", "ssh-ed25519", "ssh-dss", "ecdsa-sha2-", "diffie-hellman-",
                "curve25519-sha", "FFFFFFFFFFFFFFFFC90FDAA2", "ffffffffffffffffc90fdaa2",
                "FFFFFFFFFFFFFFFFADF85458", "ffffffffffffffffadf85458")


def _hinted(text: str) -> bool:
    return HINT.search(text) is not None or any(h in text for h in _EXTRA_HINTS)

_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)
_SCOPE_TYPES = frozenset(_SCOPES)

# Fields that never hold child nodes (names, flags, contexts, operators): skipping them makes
# the walk about twice as fast as ast.iter_child_nodes, which inspects every field.
_SCALAR_FIELDS = frozenset({
    "ctx", "op", "id", "arg", "attr", "name", "module", "asname", "level", "kind",
    "conversion", "simple", "is_async", "type_comment", "type_ignores", "names",
    "kwd_attrs", "rest", "tag",
})
_CHILD_FIELDS: dict[type, tuple[str, ...]] = {}


def _push_children(node: ast.AST, stack: list[ast.AST]) -> None:
    """Push the child nodes so that popping yields them in source order."""
    t = type(node)
    fields = _CHILD_FIELDS.get(t)
    if fields is None:
        fields = tuple(f for f in getattr(t, "_fields", ()) if f not in _SCALAR_FIELDS)
        _CHILD_FIELDS[t] = fields
    for name in reversed(fields):
        value = getattr(node, name, None)
        if value is None:
            continue
        if type(value) is list:
            for item in reversed(value):
                if item is not None and isinstance(item, ast.AST):
                    stack.append(item)
        elif isinstance(value, ast.AST):
            stack.append(value)
_MAX_DEPTH = 12


@dataclass(slots=True)
class KeyType:
    """What a variable holds, as far as the scanner can tell."""

    algorithm: str
    parameter: str | None = None
    library: str | None = None
    origin: int | None = None      # id() of the expression that created it (EC relabelling)


@dataclass(slots=True)
class Hit:
    """A rule's verdict on one call: one algorithm used one way."""

    algorithm: str
    usage: str
    parameter: str | None = None
    confidence: str = "high"
    library: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    ec_generic: bool = False       # an EC key whose use (ECDSA or ECDH) is decided later


class _Scope:
    __slots__ = ("annotations", "assigns", "is_module", "parent")

    def __init__(self, parent: _Scope | None, is_module: bool = False) -> None:
        self.parent = parent
        self.is_module = is_module
        self.assigns: dict[str, list[tuple[int, ast.expr]]] = {}
        self.annotations: dict[str, ast.expr] = {}


@lru_cache(maxsize=16384)
def _normalize(qual: str) -> str:
    if qual.startswith("Cryptodome."):
        return "Crypto." + qual[len("Cryptodome."):]
    for mod, cls in (("rsakey", "RSAKey"), ("ecdsakey", "ECDSAKey"), ("dsskey", "DSSKey"),
                     ("ed25519key", "Ed25519Key"), ("client", "SSHClient"),
                     ("transport", "Transport")):
        prefix = f"paramiko.{mod}.{cls}"
        if qual.startswith(prefix):
            return f"paramiko.{cls}" + qual[len(prefix):]
    if qual.startswith(("ecdsa.keys.", "ecdsa.curves.", "ecdsa.ecdh.")):
        return "ecdsa." + qual.split(".", 2)[2]
    if qual.startswith("jwt.api_jwt."):
        return "jwt." + qual[len("jwt.api_jwt."):]
    if qual.startswith(("rsa.key.", "rsa.pkcs1.")):  # python-rsa re-exports both
        return "rsa." + qual.split(".", 2)[2]
    return qual


# Attribute names that may be algorithm identifiers by themselves (``ALGORITHMS.RS256``).
_IDENT_ATTRS = frozenset(identifiers.JOSE_NAMES) | frozenset(
    q.rsplit(".", 1)[1] for q in identifiers.LIBRARY_CONSTANTS)
# Calls whose string arguments are messages, not settings.
_MESSAGE_SINKS = frozenset({"warn", "debug", "info", "warning", "error", "exception",
                            "critical", "log", "print", "format", "join", "startswith",
                            "endswith", "split", "replace", "encode", "decode"})
_TEST_DIRS = frozenset({"tests", "test", "testing", "testdata", "fixtures"})


def is_test_module(path: str) -> bool:
    """Test code: algorithm names there are fixtures, not settings (calls still count)."""
    parts = path.replace("\\", "/").split("/")
    name = parts[-1]
    return (name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py"
            or any(p in _TEST_DIRS for p in parts[:-1]))


def package_of(path: str) -> list[str]:
    """Dotted package of a module from its path (``src/`` and ``lib/`` roots dropped), for
    relative imports: ``jose/backends/x.py`` is in ``jose.backends``."""
    parts = [p for p in path.replace("\\", "/").split("/")[:-1] if p not in (".", "")]
    while parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    return parts if all(p.isidentifier() for p in parts) else []


class Analyzer:
    """One module's analysis; :func:`scan_python` is the entry point."""

    def __init__(self, tree: ast.Module, lines: list[str], path: str) -> None:
        from pqml.scan.code import rules

        self.rules = rules
        self.tree = tree
        self.lines = lines
        self.path = path
        self.imports: dict[str, str] = {}
        self.attr_assigns: dict[str, list[tuple[int, ast.expr]]] = {}
        self.calls: list[tuple[ast.Call, _Scope]] = []
        self.refs: list[tuple[ast.expr, _Scope]] = []
        self.config_candidates: list[tuple[ast.Constant, str, int]] = []
        self.dicts: list[tuple[ast.Dict, _Scope]] = []
        self.attr_stores: list[tuple[ast.Attribute, ast.expr, _Scope]] = []
        self.consumed: set[int] = set()
        self.touched: set[int] = set()
        self.chained: dict[int, str] = {}
        # values used as lookup keys or compared (OID tables keyed by hashlib.sha256)
        self.identity_refs: set[int] = set()
        # source spans of the arguments of calls that yielded findings: values inside them
        # (hashfunc=hashlib.sha256, a TLS constant) are parameters of those calls. Indexed
        # by each line a span covers, so a lookup reads only the spans on its line.
        self.hit_spans: dict[int, list[tuple[int, int, int, int]]] = {}
        self.findings: list[Finding] = []
        # algorithm names in code positions: (node, scope, role, may be a COSE integer)
        self.identifiers: list[tuple[ast.expr, _Scope, str, bool]] = []
        self.big_ints: list[ast.Constant] = []
        self.call_of_func: dict[int, ast.Call] = {}
        self.class_values: set[int] = set()   # values assigned in a class body
        self.module_ecdh = False
        self.type_tests: list[tuple[ast.Call, _Scope]] = []   # isinstance(name, KeyClass)
        self.local_defs: dict[str, ast.AST] = {}   # module-level functions and classes
        self.is_test = is_test_module(path)
        self.package = package_of(path)
        self.ec_findings: dict[int, Finding] = {}
        self.ecdh_origins: set[int] = set()
        self.ecdh_peer_origins: set[int] = set()
        self._scope: _Scope = _Scope(None, is_module=True)

    # ---- pass 1: imports, assignments, interesting nodes ---------------------------------

    def collect(self) -> None:
        module_scope = self._scope
        for stmt in self.tree.body:
            if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                self.local_defs[stmt.name] = stmt
        pending: list[tuple[ast.AST, _Scope]] = [(self.tree, module_scope)]
        while pending:
            node, scope = pending.pop()
            self._collect_scope(node, scope, pending)

    def _collect_scope(self, root: ast.AST, scope: _Scope,
                       pending: list[tuple[ast.AST, _Scope]]) -> None:
        if isinstance(root, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            args = root.args
            for a in (*args.posonlyargs, *args.args, *args.kwonlyargs):
                if a.annotation is not None:
                    scope.annotations[a.arg] = a.annotation
            # a parameter with a constant default: def digest(data, alg="sha256")
            positional = [*args.posonlyargs, *args.args]
            defaults = list(zip(positional[len(positional) - len(args.defaults):],
                                args.defaults, strict=True))
            defaults += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True)
                         if d is not None]
            for a, d in defaults:
                self._candidates(d, scope, f"default {a.arg}=", "alg" in a.arg.lower())
                if isinstance(d, ast.Constant | ast.Name | ast.Attribute) and not (
                        isinstance(d, ast.Constant) and d.value is None):
                    scope.assigns.setdefault(a.arg, []).append((root.lineno, d))
        stack: list[ast.AST] = []
        _push_children(root, stack)
        rules_ref_attrs = self.rules.REF_ATTRS
        imports = self.imports
        calls, refs = self.calls, self.refs
        while stack:
            node = stack.pop()
            t = type(node)
            if t is ast.Name:
                if node.id in imports and type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                    refs.append((node, scope))  # type: ignore[arg-type]
                continue
            if t is ast.Constant:
                if type(node.value) is int and node.value > identifiers.BIG_INT:  # type: ignore[attr-defined]
                    self.big_ints.append(node)  # type: ignore[arg-type]
                continue
            if t is ast.Attribute:
                if node.attr in rules_ref_attrs and type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                    refs.append((node, scope))  # type: ignore[arg-type]
            elif t is ast.Call:
                calls.append((node, scope))  # type: ignore[arg-type]
                func = node.func  # type: ignore[attr-defined]
                self.call_of_func[id(func)] = node  # type: ignore[assignment]
                self._call_candidates(node, scope)  # type: ignore[arg-type]
                if type(func) is ast.Attribute and type(func.value) is ast.Call:
                    # Cipher(...).decryptor(), PKCS1_OAEP.new(k).decrypt(...): the chained
                    # method says what the object created on the left is used for
                    self.chained[id(func.value)] = func.attr
                op_line = _op_line(node)  # type: ignore[arg-type]
                for kw in node.keywords:  # type: ignore[attr-defined]
                    # jwt_auth(..., algorithm="RS256") on calls no rule knows
                    if kw.arg and ("alg" in kw.arg.lower() or kw.arg.endswith("KeySpec")):
                        self._config_value(kw.value, f"{kw.arg}=", op_line)
            elif t in _SCOPE_TYPES:
                # classes share the module's view of names (methods skip class scope)
                child_parent = scope if not isinstance(scope, _ClassScope) else scope.parent
                child = (_ClassScope(child_parent) if t is ast.ClassDef
                         else _Scope(child_parent))
                pending.append((node, child))
                continue
            elif t is ast.Assign:
                for target in node.targets:  # type: ignore[attr-defined]
                    self._record_assign(target, node.value, scope, node.lineno)  # type: ignore[attr-defined]
                self._assign_candidates(node.targets, node.value, scope)  # type: ignore[attr-defined]
            elif t is ast.AnnAssign:
                if node.value is not None:  # type: ignore[attr-defined]
                    self._record_assign(node.target, node.value, scope,  # type: ignore[attr-defined]
                                        node.lineno)  # type: ignore[attr-defined]
                    self._assign_candidates([node.target], node.value, scope)  # type: ignore[attr-defined]
                elif type(node.target) is ast.Name:  # type: ignore[attr-defined]
                    scope.annotations[node.target.id] = node.annotation  # type: ignore[attr-defined]
            elif t is ast.Import:
                for alias in node.names:  # type: ignore[attr-defined]
                    if alias.asname:
                        imports[alias.asname] = alias.name
                    else:
                        top = alias.name.split(".")[0]
                        imports[top] = top
                continue
            elif t is ast.ImportFrom:
                module = self._absolute_module(node)  # type: ignore[arg-type]
                if module:
                    for alias in node.names:  # type: ignore[attr-defined]
                        if alias.name != "*":
                            imports[alias.asname or alias.name] = f"{module}.{alias.name}"
                continue
            elif t is ast.Compare:
                # hashlib.sha1 == fn, fn is hashlib.md5: identity tests, not uses
                self.identity_refs.add(id(node.left))  # type: ignore[attr-defined]
                self.identity_refs.update(id(c) for c in node.comparators)  # type: ignore[attr-defined]
                for op, c in zip(node.ops, node.comparators, strict=True):  # type: ignore[attr-defined]
                    if type(op) in (ast.In, ast.NotIn) and type(c) in (ast.List, ast.Tuple,
                                                                      ast.Set):
                        self._candidates(c, scope, "allow-list")  # crv in ["Ed25519", ...]
            elif t is ast.Return:
                if node.value is not None:  # type: ignore[attr-defined]
                    self._candidates(node.value, scope, "return")  # type: ignore[attr-defined]
            elif t is ast.For:
                self._candidates(node.iter, scope, "table")  # type: ignore[attr-defined]
            elif t is ast.Subscript:
                self.identity_refs.add(id(node.slice))  # type: ignore[attr-defined]
            elif t is ast.Dict:
                self.dicts.append((node, scope))  # type: ignore[arg-type]
                self.identity_refs.update(id(k) for k in node.keys)  # type: ignore[attr-defined]
                for k, v in zip(node.keys, node.values, strict=True):  # type: ignore[attr-defined]
                    if (type(k) is ast.Constant and isinstance(k.value, str)
                            and "alg" in k.value.lower()):
                        self._config_value(v, f"{k.value!r}:")
                    if k is not None:
                        self._candidates(k, scope, "table key")
                    self._candidates(v, scope, "table value")
            _push_children(node, stack)

    # ---- identifier candidates: values in the positions that bind or pass a setting ---------

    def _candidates(self, expr: ast.expr, scope: _Scope, role: str, cose: bool = False,
                    depth: int = 0) -> None:
        """Remember constants (and constant attributes) in ``expr`` that may name an
        algorithm; :meth:`run` classifies them. Lists and tuples are followed 3 deep."""
        t = type(expr)
        if t is ast.Constant:
            v = expr.value  # type: ignore[attr-defined]
            tv = type(v)
            if (tv is str or tv is bytes) and 2 < len(v) <= 80 and (
                    (" " not in v) if tv is str else (b" " not in v)):
                self.identifiers.append((expr, scope, role, False))
        elif t is ast.UnaryOp:
            if cose and type(expr.op) is ast.USub and type(expr.operand) is ast.Constant:  # type: ignore[attr-defined]
                self.identifiers.append((expr, scope, role, True))
        elif t is ast.Attribute:
            if expr.attr in _IDENT_ATTRS:  # type: ignore[attr-defined]
                self.identifiers.append((expr, scope, role, False))
        elif t is ast.Name:
            if expr.id in _IDENT_ATTRS:  # type: ignore[attr-defined]
                self.identifiers.append((expr, scope, role, False))
        elif (t is ast.List or t is ast.Tuple or t is ast.Set) and depth < 3:
            for e in expr.elts:  # type: ignore[attr-defined]
                self._candidates(e, scope, role, cose, depth + 1)
        elif t is ast.BinOp:  # "ecdsa-sha2-" + curve_id: a registry prefix completed later
            left = expr.left  # type: ignore[attr-defined]
            if type(expr.op) is ast.Add and type(left) is ast.Constant and isinstance(  # type: ignore[attr-defined]
                    left.value, str | bytes) and left.value[-1:] in ("-", b"-"):
                self.identifiers.append((left, scope, f"{role} prefix", False))

    def _assign_candidates(self, targets: list[ast.expr], value: ast.expr,
                           scope: _Scope) -> None:
        if type(value) not in _CANDIDATE_TYPES:
            return
        names = [t.id if isinstance(t, ast.Name) else t.attr if isinstance(t, ast.Attribute)
                 else "" for t in targets]
        cose = any("alg" in n.lower() for n in names)
        self._candidates(value, scope, f"{names[0] or 'value'} =", cose)

    def _call_candidates(self, call: ast.Call, scope: _Scope) -> None:
        func = call.func
        name = func.attr if isinstance(func, ast.Attribute) else (
            func.id if isinstance(func, ast.Name) else "")
        if name in ("isinstance", "issubclass") and len(call.args) == 2:
            types = call.args[1]  # isinstance(key, (hashes.SHA256, ...)): a test, not a use
            self.identity_refs.add(id(types))
            if name == "isinstance" and isinstance(call.args[0], ast.Name):
                self.type_tests.append((call, scope))
            if isinstance(types, ast.Tuple):
                self.identity_refs.update(id(e) for e in types.elts)
            return
        if name in _MESSAGE_SINKS or name.endswith(("Error", "Exception", "Warning")):
            return
        for a in call.args:
            if type(a) in _CANDIDATE_TYPES:
                self._candidates(a, scope, "argument")
        for kw in call.keywords:
            if type(kw.value) in _CANDIDATE_TYPES:
                self._candidates(kw.value, scope, f"{kw.arg}=",
                                 bool(kw.arg and "alg" in kw.arg.lower()))

    def _absolute_module(self, node: ast.ImportFrom) -> str | None:
        """``from ..constants import X`` inside ``jose/backends/``: ``jose.constants``."""
        if not node.level:
            return node.module
        if not self.package or node.level > len(self.package):
            return None
        base = self.package[:len(self.package) - node.level + 1]
        return ".".join([*base, node.module] if node.module else base) or None

    def _record_assign(self, target: ast.expr, value: ast.expr, scope: _Scope,
                       line: int) -> None:
        if isinstance(target, ast.Name):
            scope.assigns.setdefault(target.id, []).append((line, value))
            if isinstance(scope, _ClassScope):
                self.attr_assigns.setdefault(target.id, []).append((line, value))
                self.class_values.add(id(value))
            if "alg" in target.id.lower():
                self._config_value(value, f"{target.id} =")
        elif isinstance(target, ast.Attribute):
            self.attr_assigns.setdefault(target.attr, []).append((line, value))
            self.attr_stores.append((target, value, scope))
            self.class_values.add(id(value))  # self.padding = padding.PKCS1v15(): a setting
            if "alg" in target.attr.lower():
                self._config_value(value, f"{target.attr} =")
        elif isinstance(target, ast.Tuple | ast.List):
            if isinstance(value, ast.Tuple | ast.List) and len(value.elts) == len(target.elts):
                for t, v in zip(target.elts, value.elts, strict=True):
                    self._record_assign(t, v, scope, line)
            else:  # pub, priv = rsa.newkeys(2048): every name gets the producing call
                for t in target.elts:
                    self._record_assign(t, value, scope, line)

    def _config_value(self, value: ast.expr, context: str, line: int | None = None) -> None:
        """Remember algorithm names written as settings; reported if no rule consumes them."""
        from pqml.scan.files.cloud_kms import kms_algorithm

        for node in _string_elements(value):
            if node.value in JWS_NAMES or node.value in JOSE_ALGS or (
                    kms_algorithm(node.value) is not None):
                self.config_candidates.append((node, context, line or node.lineno))

    # ---- name resolution -------------------------------------------------------------------

    def _lookup(self, name: str, scope: _Scope | None, line: int) -> ast.expr | None:
        """The expression last assigned to ``name`` before ``line``, innermost scope first."""
        while scope is not None:
            entries = scope.assigns.get(name)
            if entries and not (scope.is_module and name in self.imports):
                return _latest(entries, line)
            scope = scope.parent
        return None

    def _attr_lookup(self, attr: str, line: int) -> ast.expr | None:
        entries = self.attr_assigns.get(attr)
        return _latest(entries, line) if entries else None

    def deref(self, expr: ast.expr | None, depth: int = 0) -> ast.expr | None:
        """Follow names (and self.attr) to the expression assigned to them."""
        while expr is not None and depth < _MAX_DEPTH:
            self.touched.add(id(expr))
            if isinstance(expr, ast.Name):
                target = self._lookup(expr.id, self._scope, expr.lineno)
                if target is None:
                    return expr
                expr = target
            elif (isinstance(expr, ast.Attribute) and self.qual(expr.value, depth + 1) is None
                  and not isinstance(expr.value, ast.Call)):
                target = self._attr_lookup(expr.attr, expr.lineno)
                if target is None:
                    return expr
                expr = target
            else:
                return expr
            depth += 1
        return expr

    def qual(self, expr: ast.expr | None, depth: int = 0) -> str | None:
        """Qualified dotted name an expression refers to (a module, class or function)."""
        if expr is None or depth > _MAX_DEPTH:
            return None
        if isinstance(expr, ast.Name):
            local = self._lookup(expr.id, self._scope, expr.lineno)
            if local is not None and isinstance(local, ast.Name | ast.Attribute):
                self.touched.add(id(local))
                return self.qual(local, depth + 1)
            if local is None or isinstance(local, ast.Constant):
                target = self.imports.get(expr.id)
                return _normalize(target) if target else None
            return None
        if isinstance(expr, ast.Attribute):
            base = self.qual(expr.value, depth + 1)
            if base is not None:
                return _normalize(f"{base}.{expr.attr}")
            if isinstance(expr.value, ast.Name) and expr.value.id in ("self", "cls"):
                target = self._attr_lookup(expr.attr, expr.lineno)
                if isinstance(target, ast.Name | ast.Attribute):
                    self.touched.add(id(target))
                    return self.qual(target, depth + 1)
        return None

    def const(self, expr: ast.expr | None, depth: int = 0) -> Any:
        """The constant value of an expression (following names), or None."""
        expr = self.deref(expr, depth)
        if expr is None:
            return None
        if isinstance(expr, ast.Constant):
            return expr.value
        if isinstance(expr, ast.List | ast.Tuple | ast.Set):
            values = [self.const(e, depth + 1) for e in expr.elts]
            return values if all(v is not None for v in values) else None
        if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mult | ast.Add | ast.Sub
                                                       | ast.FloorDiv | ast.LShift):
            left, right = self.const(expr.left, depth + 1), self.const(expr.right, depth + 1)
            if isinstance(left, int) and isinstance(right, int):
                op = expr.op
                if isinstance(op, ast.Mult):
                    return left * right
                if isinstance(op, ast.Add):
                    return left + right
                if isinstance(op, ast.Sub):
                    return left - right
                if isinstance(op, ast.FloorDiv) and right:
                    return left // right
                if isinstance(op, ast.LShift) and 0 <= right < 32:
                    return left << right
        if isinstance(expr, ast.Attribute):
            q = self.qual(expr, depth + 1)
            if q:
                last = q.rsplit(".", 1)[-1]
                if last in JOSE_ALGS:  # jose.constants.ALGORITHMS.RS256
                    return last
        return None

    def _named(self, expr: ast.expr) -> tuple[Any, str | None]:
        """An argument naming an algorithm, read: (its constant value or None, the qualified
        name of what it refers to or calls, or None)."""
        self.touched.add(id(expr))
        target = self.deref(expr)
        if isinstance(target, ast.Constant):
            return target.value, None
        return None, self.qual(target.func if isinstance(target, ast.Call) else target)

    def hash_of(self, expr: ast.expr | None) -> str | None:
        """Hash named by a string, hash object, hashlib constructor or PyCryptodome module."""
        if expr is None:
            return None
        value, q = self._named(expr)
        if isinstance(value, str | bytes):
            return hash_name(value.decode() if isinstance(value, bytes) else value)
        if q:
            last = q.rsplit(".", 1)[-1]
            if q.startswith(("hashlib.", "cryptography.hazmat.primitives.hashes.", "Crypto.Hash.",
                             "nacl.hash.")) or q.startswith("_hashlib.openssl_"):
                return hash_name(last.removeprefix("openssl_"))
            if q.startswith("Crypto.Hash.") and last == "new":
                return hash_name(q.split(".")[-2])
        return None

    def curve_of(self, expr: ast.expr | None) -> str | None:
        if expr is None:
            return None
        value, q = self._named(expr)
        if isinstance(value, str):
            return curve_name(value)
        return curve_name(q.rsplit(".", 1)[-1]) if q else None

    def key_type(self, expr: ast.expr | None, depth: int = 0) -> KeyType | None:
        """What kind of key (or crypto object) an expression holds."""
        if expr is None or depth > _MAX_DEPTH:
            return None
        if isinstance(expr, ast.Name):
            ann = self._annotation(expr.id)
            if ann is not None:
                return self.rules.type_from_annotation(self, ann)
        target = self.deref(expr)
        if target is None:
            return None
        if isinstance(target, ast.Call):
            func = target.func
            if isinstance(func, ast.Attribute) and func.attr in self.rules.SAME_TYPE_METHODS:
                return self.key_type(func.value, depth + 1)
            q = self.qual(func)
            if q:
                hits = self.rules.call_hits(self, q, target)
                produced = [h for h in hits if h.usage in ("keygen", "key-load", "protocol")
                            or h.details.get("produces")]
                if produced:
                    h = produced[0]
                    return KeyType(h.algorithm, h.parameter, h.library, id(target))
            return None
        if isinstance(target, ast.Attribute):
            if target.attr in self.rules.SAME_TYPE_ATTRS:
                return self.key_type(target.value, depth + 1)
            if isinstance(target.value, ast.Name) and target.value.id in ("self", "cls"):
                return None
        if isinstance(target, ast.Subscript):  # keys[0] of a (pub, priv) pair
            return self.key_type(target.value, depth + 1)
        if isinstance(target, ast.IfExp):  # key.public_key() if private else key
            return (self.key_type(target.body, depth + 1)
                    or self.key_type(target.orelse, depth + 1))
        return None

    def _annotation(self, name: str) -> ast.expr | None:
        scope: _Scope | None = self._scope
        while scope is not None:
            if name in scope.annotations and name not in scope.assigns:
                return scope.annotations[name]
            if name in scope.assigns:
                return None
            scope = scope.parent
        return None

    # ---- pass 2: rules -----------------------------------------------------------------------

    def run(self) -> list[Finding]:
        self.collect()
        self.calls.sort(key=lambda c: (c[0].lineno, c[0].col_offset))
        for call, scope in self.calls:
            self._scope = scope
            self.touched = set()
            hits = self.rules.analyze_call(self, call)
            if hits:
                self.consumed |= self.touched
                self.consumed.add(id(call))
                self.consumed.add(id(call.func))
                for arg_node in (*call.args, *(k.value for k in call.keywords)):
                    if type(arg_node) is not ast.Constant:
                        self._add_hit_span(arg_node)
                line = _op_line(call)
                then = self.chained.get(id(call))
                for hit in hits:
                    if then is not None:
                        hit.usage = _CHAINED_USAGE.get((hit.usage, then), hit.usage)
                    f = self._emit(hit, line, call)
                    if hit.ec_generic:
                        self.ec_findings[id(call)] = f
        for origin in (*self.ecdh_origins, *self.ecdh_peer_origins):
            f = self.ec_findings.get(origin)
            if origin not in self.ecdh_origins and (f is None or f.usage != "key-load"):
                continue
            if f is not None and f.algorithm == "ECDSA":
                f.algorithm = "ECDH"
                facts = lookup("ECDH", f.parameter, f.usage)
                f.primitive = facts.primitive
        for target, value, scope in self.attr_stores:
            self._scope = scope
            self.touched = set()
            for hit in self.rules.analyze_attr_store(self, target, value):
                self.consumed |= self.touched
                self._emit(hit, value.lineno, value)
        self._report_type_tests()
        self._report_local_calls()
        self.module_ecdh = any(f.algorithm == "ECDH" for f in self.findings)
        for node, scope in self.refs:
            # a value assigned in a class body is a setting even when a call consumed it
            # (hash_algo = sha1 ... self.hash_algo(data)): both places are uses
            if (id(node) in self.consumed and id(node) not in self.class_values) or (
                    id(node) in self.identity_refs or self._in_hit_args(node)):
                continue
            call = self.call_of_func.get(id(node))
            if call is not None and (
                    (id(call) in self.consumed and id(call) not in self.class_values)
                    or self._in_hit_args(call)):
                # what a consumed object was built from are its parameters
                for x in (*call.args, *(k.value for k in call.keywords)):
                    self._add_hit_span(x)
                continue
            self._scope = scope
            hit = self.rules.analyze_ref(self, node)
            if hit is not None:
                self.consumed.add(id(node))
                if call is not None:  # padding.PSS(mgf=padding.MGF1(hashes.SHA256())) as a
                    self.consumed.add(id(call))  # value: what it contains are parameters
                    for arg_node in (*call.args, *(k.value for k in call.keywords)):
                        self._add_hit_span(arg_node)
                self._emit(hit, node.end_lineno or node.lineno, node)
        for d, scope in self.dicts:
            if id(d) in self.consumed or self._in_hit_args(d):
                continue
            self._scope = scope
            hit = self.rules.analyze_dict(self, d)
            if hit is not None:
                self.consumed.add(id(d))
                self._emit(hit, hit.details.pop("line", d.lineno), d)
        from pqml.scan.files.cloud_kms import kms_algorithm

        for const, context, line in self.config_candidates:
            if id(const) in self.consumed or self._in_hit_args(const):
                continue
            self.consumed.add(id(const))
            if const.value in JOSE_ALGS:
                algorithm, parameter, usage = JOSE_ALGS[const.value]
                if usage == "sign" and "algorithms" in context.lower():
                    usage = "verify"  # an accepted-algorithms list belongs to a verifier
                details = {"jose_alg": const.value, "context": context.strip()}
                library = "jose"
            else:
                algorithm, parameter, usage = kms_algorithm(const.value)  # type: ignore[misc]
                details = {"kms_algorithm": const.value, "context": context.strip()}
                library = "kms"
            self._emit(Hit(algorithm, usage, parameter, "medium", library, details), line, const)
        self._report_identifiers()
        self._report_group_primes()
        return self.findings

    def _report_type_tests(self) -> None:
        """``key = load_pem_public_key(data)`` ... ``isinstance(key, Ed25519PublicKey)``: the
        generic loader's result is declared to be of one family; report the load as that."""
        for call, scope in self.type_tests:
            self._scope = scope
            name = call.args[0]
            assert isinstance(name, ast.Name)
            types = call.args[1]
            first = types.elts[0] if isinstance(types, ast.Tuple) and types.elts else types
            t = self.rules.type_from_annotation(self, first)
            if t is None or t.algorithm == "TLS":
                continue
            s: _Scope | None = scope
            while s is not None and name.id not in s.assigns:
                s = s.parent
            for _line, value in (s.assigns.get(name.id, []) if s is not None else []):
                if not isinstance(value, ast.Call) or id(value) in self.consumed:
                    continue
                q = self.qual(value.func) or ""
                if q.rsplit(".", 1)[-1] in _GENERIC_LOADERS and q.startswith("cryptography."):
                    self.consumed.add(id(value))
                    self._emit(Hit(t.algorithm, "key-load", None, "medium", t.library,
                                   {"isinstance": True}), _op_line(value), value)

    def _report_local_calls(self) -> None:
        """A module's own helper or class called with a hash or algorithm argument
        (``_sign_hmac("SHA-1", ...)``, ``HMACAlgorithm(256)``): the call selects the
        algorithm the helper's body uses, with that hash."""
        if not self.local_defs:
            return
        wanted = []
        for call, scope in self.calls:
            func = call.func
            if (type(func) is ast.Name and func.id in self.local_defs
                    and id(call) not in self.consumed):
                h = self._hash_argument(call)
                if h is not None:
                    wanted.append((call, scope, h))
        if not wanted:
            return
        families = self._local_families()
        for call, scope, (node, digest) in wanted:
            func = call.func
            assert isinstance(func, ast.Name)
            fams = families.get(func.id)
            if not fams or self._lookup(func.id, scope, func.lineno) is not None:
                continue
            keyed = sorted(f for f in fams if f[0] not in _HASH_FAMILIES)
            if len({k[0] for k in keyed}) != 1:
                continue
            algorithm, usage = keyed[0]
            if algorithm == "HMAC":
                algorithm = f"HMAC-{digest}"
            self.consumed.add(id(call))
            self.consumed.add(id(node))
            self._emit(Hit(algorithm, usage, None, "medium", None,
                           {"via": func.id, "hash": digest}), _op_line(call), call)

    def _hash_argument(self, call: ast.Call) -> tuple[ast.expr, str] | None:
        for a in (*call.args, *(k.value for k in call.keywords)):
            if not isinstance(a, ast.Constant):
                continue
            v = a.value
            if isinstance(v, str):
                named = identifiers.name_of(v)
                if named is not None and named.registry == "hash":
                    return a, named.algorithm
            elif type(v) is int and v in (1, 224, 256, 384, 512):
                return a, "SHA-1" if v == 1 else f"SHA-{v}"
        return None

    def _local_families(self) -> dict[str, set[tuple[str, str]]]:
        """(algorithm family, usage) of the findings inside each module-level function or
        class, following calls to other local helpers two levels deep."""
        spans = {name: (d.lineno, d.end_lineno or d.lineno)  # type: ignore[attr-defined]
                 for name, d in self.local_defs.items()}
        direct: dict[str, set[tuple[str, str]]] = {name: set() for name in spans}
        for f in self.findings:
            for name, (lo, hi) in spans.items():
                if lo <= f.line <= hi:
                    direct[name].add((_family(f.algorithm), f.usage))
        calls_in: dict[str, set[str]] = {name: set() for name in spans}
        for call, _scope in self.calls:
            if isinstance(call.func, ast.Name) and call.func.id in spans:
                for name, (lo, hi) in spans.items():
                    if lo <= call.lineno <= hi and name != call.func.id:
                        calls_in[name].add(call.func.id)
        out = {name: set(v) for name, v in direct.items()}
        for _ in range(2):
            for name, callees in calls_in.items():
                for c in callees:
                    out[name] |= direct[c]
            direct = {name: set(v) for name, v in out.items()}
        return out

    def _report_identifiers(self) -> None:
        """Registry names in tables, attributes, defaults, arguments and allow-lists that no
        recognised call consumed. Test modules are skipped: names there are fixtures."""
        if self.is_test or not self.identifiers:
            return
        seen = {(f.line, f.algorithm) for f in self.findings}
        for node, scope, role, cose in self.identifiers:
            if id(node) in self.consumed or self._in_hit_args(node):
                continue
            if role.endswith(" prefix"):
                raw = node.value  # type: ignore[attr-defined]
                text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else raw
                named = identifiers.prefix_of(text)
            else:
                named, raw = self._identifier(node, scope, cose)
            if named is None:
                continue
            line = node.lineno
            if (line, named.algorithm) in seen:
                continue
            seen.add((line, named.algorithm))
            self.consumed.add(id(node))
            details = {"identifier": raw, "registry": named.registry, "context": role}
            self._emit(Hit(named.algorithm, named.usage, named.parameter, "medium",
                           named.registry, details), line, node)

    def _identifier(self, node: ast.expr, scope: _Scope,
                    cose: bool) -> tuple[identifiers.Named | None, Any]:
        if isinstance(node, ast.Constant):
            v = node.value
            if isinstance(v, bytes):
                try:
                    v = v.decode("ascii")
                except UnicodeDecodeError:
                    return None, None
            return (identifiers.name_of(v) if isinstance(v, str) else None), v
        if isinstance(node, ast.UnaryOp) and isinstance(node.operand, ast.Constant):
            v = node.operand.value
            if cose and type(v) is int:
                return identifiers.cose_of(-v), -v
            return None, None
        self._scope = scope
        q = self.qual(node) or ""
        if q in identifiers.LIBRARY_CONSTANTS:
            return identifiers.Named(*identifiers.LIBRARY_CONSTANTS[q], "library"), q
        last = node.attr if isinstance(node, ast.Attribute) else ""
        if last in identifiers.JOSE_NAMES:  # ALGORITHMS.RS256, Algorithms.ES256
            return identifiers.Named(*identifiers.JOSE_NAMES[last], "jose"), last
        return None, None

    def _report_group_primes(self) -> None:
        """Integer literals with the shape of a MODP / FFDHE group prime: finite-field DH."""
        for const in self.big_ints:  # a prime that pow() also used is defined here too
            bits = identifiers.dh_group_bits(const.value)
            if bits is not None:
                self._emit(Hit("DH", "key-exchange", str(bits), "high", None,
                               {"group_prime": True}), const.lineno, const)

    def _add_hit_span(self, node: ast.AST) -> None:
        span = _span(node)
        by_line = self.hit_spans
        for line in range(span[0], span[2] + 1):
            by_line.setdefault(line, []).append(span)

    def _in_hit_args(self, node: ast.AST) -> bool:
        spans = self.hit_spans.get(node.lineno)  # type: ignore[attr-defined]
        if not spans:
            return False
        start = (node.lineno, node.col_offset)  # type: ignore[attr-defined]
        return any((s[0], s[1]) <= start <= (s[2], s[3]) for s in spans)

    def _emit(self, hit: Hit, line: int, node: ast.AST) -> Finding:
        facts = lookup(hit.algorithm, hit.parameter, hit.usage)
        evidence = self.lines[line - 1].strip() if 0 < line <= len(self.lines) else ""
        f = Finding(
            path=self.path, line=line, kind="code", algorithm=hit.algorithm,
            primitive=facts.primitive, usage=hit.usage, evidence=evidence[:240],
            confidence=hit.confidence,  # type: ignore[arg-type]
            parameter=hit.parameter, quantum_vulnerable=facts.quantum_vulnerable,
            asset_type="protocol" if hit.usage == "protocol" else "algorithm",
            library=hit.library, status=facts.status,
            details={k: v for k, v in hit.details.items() if k != "produces"},
        )
        self.findings.append(f)
        return f

    def mark_ecdh(self, receiver: ast.expr, peer: bool = False) -> None:
        """The key in ``receiver`` does ECDH. A peer's key counts only if it was loaded
        (decoded from the wire or a file), not generated here for signing as well."""
        t = self.key_type(receiver)
        if t is not None and t.origin is not None:
            (self.ecdh_peer_origins if peer else self.ecdh_origins).add(t.origin)


class _ClassScope(_Scope):
    __slots__ = ()


_CANDIDATE_TYPES = frozenset({ast.Constant, ast.UnaryOp, ast.Attribute, ast.Name, ast.List,
                              ast.Tuple, ast.Set, ast.BinOp})

# pyca loaders whose key family only the data decides
_GENERIC_LOADERS = frozenset({
    "load_pem_private_key", "load_pem_public_key", "load_der_private_key",
    "load_der_public_key", "load_ssh_public_key", "load_ssh_private_key"})
_HASH_FAMILIES = frozenset({"SHA-1", "SHA-2", "SHA-3", "MD5", "BLAKE2", "digest"})


def _family(algorithm: str) -> str:
    """The family a helper's finding stands for: HMAC-SHA-256 -> HMAC, SHA-384 -> SHA-2."""
    if algorithm.startswith("HMAC"):
        return "HMAC"
    if algorithm == "SHA-1":
        return "SHA-1"
    if algorithm.startswith(("SHA-", "SHA3", "SHAKE", "MD5", "BLAKE")):
        return "SHA-2" if algorithm.startswith("SHA-") else "digest"
    return algorithm


def _span(node: ast.AST) -> tuple[int, int, int, int]:
    return (node.lineno, node.col_offset,  # type: ignore[attr-defined]
            node.end_lineno or node.lineno, node.end_col_offset or 0)  # type: ignore[attr-defined]


def _latest(entries: list[tuple[int, ast.expr]], line: int) -> ast.expr:
    """The assignment made before ``line`` (``x = f(x)`` reads the previous ``x``)."""
    best: tuple[int, ast.expr] | None = None
    for entry in entries:  # scopes are visited in any order: pick by line, not position
        if entry[0] < line and (best is None or entry[0] >= best[0]):
            best = entry
    if best is None:
        best = min(entries, key=lambda e: e[0])
    return best[1]


_CHAINED_USAGE = {
    ("encrypt", "decrypt"): "decrypt", ("encrypt", "decryptor"): "decrypt",
    ("encrypt", "decrypt_and_verify"): "decrypt", ("encrypt", "unwrap"): "decrypt",
    ("sign", "verify"): "verify",
}


def _op_line(call: ast.Call) -> int:
    """The line naming the operation: ``.sign`` in a multi-line builder chain."""
    func = call.func
    if isinstance(func, ast.Attribute) and func.end_lineno is not None:
        return func.end_lineno
    return call.lineno


def _string_elements(value: ast.expr) -> Iterator[ast.Constant]:
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        yield value
    elif isinstance(value, ast.List | ast.Tuple | ast.Set):
        for e in value.elts:
            if isinstance(e, ast.Constant) and isinstance(e.value, str):
                yield e


def scan_python(text: str, path: str) -> tuple[list[Finding], str | None]:
    """Findings in one Python module, and a warning if it could not be parsed."""
    if not _hinted(text):
        return [], None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        detail = f"line {exc.lineno}" if isinstance(exc, SyntaxError) else type(exc).__name__
        return (_fallback(text, path),
                f"not valid Python 3 ({detail}); read with patterns (hashlib/hmac) only")
    analyzer = Analyzer(tree, text.splitlines(), path)
    return analyzer.run(), None



_FALLBACK_HASH = re.compile(
    r"\bhashlib\.(md5|sha1|sha224|sha256|sha384|sha512|sha3_256|sha3_512|blake2b|blake2s)\s*\("
    r"|\bhashlib\.new\(\s*['\"]([\w-]+)['\"]")


def _fallback(text: str, path: str) -> list[Finding]:
    """Python 2 and other unparseable files: direct ``hashlib`` calls, found by pattern.

    Only the unambiguous module-qualified spelling is matched, and only in files that
    import hashlib, so the fallback cannot invent uses the AST path would not report.
    """
    if "import hashlib" not in text:
        return []
    out = []
    for i, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("#") or "hashlib" not in line:
            continue
        for m in _FALLBACK_HASH.finditer(line):
            h = hash_name(m.group(1) or m.group(2))
            if h is None:
                continue
            facts = lookup(h, None, "digest")
            out.append(Finding(path=path, line=i, kind="code", algorithm=h,
                               primitive=facts.primitive, usage="digest",
                               evidence=line.strip()[:240], confidence="low",
                               status=facts.status, library="hashlib",
                               details={"fallback": "pattern"}))
    return out

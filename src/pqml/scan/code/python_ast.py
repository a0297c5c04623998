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
4. reports what is left unconsumed: hash constructors passed as values
   (``digestmod=hashlib.sha1``), TLS version constants, and JOSE algorithm names in
   settings (``{"ALGORITHM": "RS256"}``) that no recognised call consumed.

Comments never reach the AST, docstrings are plain constants nobody consumes, and names
that merely *contain* "rsa" or "hashlib" resolve to nothing -- the decoys a grep reports.
The scanner never imports or executes the code it reads.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pqml.scan.algorithm_names import JOSE_ALGS, JWS_NAMES, curve_name, hash_name
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


@cache
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
    return qual


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
        # (hashfunc=hashlib.sha256, a TLS constant) are parameters of those calls
        self.hit_spans: list[tuple[int, int, int, int]] = []
        self.findings: list[Finding] = []
        self.ec_findings: dict[int, Finding] = {}
        self.ecdh_origins: set[int] = set()
        self._scope: _Scope = _Scope(None, is_module=True)

    # ---- pass 1: imports, assignments, interesting nodes ---------------------------------

    def collect(self) -> None:
        module_scope = self._scope
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
                continue
            if t is ast.Attribute:
                if node.attr in rules_ref_attrs and type(node.ctx) is ast.Load:  # type: ignore[attr-defined]
                    refs.append((node, scope))  # type: ignore[arg-type]
            elif t is ast.Call:
                calls.append((node, scope))  # type: ignore[arg-type]
                func = node.func  # type: ignore[attr-defined]
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
            elif t is ast.AnnAssign:
                if node.value is not None:  # type: ignore[attr-defined]
                    self._record_assign(node.target, node.value, scope,  # type: ignore[attr-defined]
                                        node.lineno)  # type: ignore[attr-defined]
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
                if node.module and not node.level:  # type: ignore[attr-defined]
                    for alias in node.names:  # type: ignore[attr-defined]
                        if alias.name != "*":
                            imports[alias.asname or alias.name] = (
                                f"{node.module}.{alias.name}")  # type: ignore[attr-defined]
                continue
            elif t is ast.Compare:
                # hashlib.sha1 == fn, fn is hashlib.md5: identity tests, not uses
                self.identity_refs.add(id(node.left))  # type: ignore[attr-defined]
                self.identity_refs.update(id(c) for c in node.comparators)  # type: ignore[attr-defined]
            elif t is ast.Subscript:
                self.identity_refs.add(id(node.slice))  # type: ignore[attr-defined]
            elif t is ast.Dict:
                self.dicts.append((node, scope))  # type: ignore[arg-type]
                self.identity_refs.update(id(k) for k in node.keys)  # type: ignore[attr-defined]
                for k, v in zip(node.keys, node.values, strict=True):  # type: ignore[attr-defined]
                    if (type(k) is ast.Constant and isinstance(k.value, str)
                            and "alg" in k.value.lower()):
                        self._config_value(v, f"{k.value!r}:")
            _push_children(node, stack)

    def _record_assign(self, target: ast.expr, value: ast.expr, scope: _Scope,
                       line: int) -> None:
        if isinstance(target, ast.Name):
            scope.assigns.setdefault(target.id, []).append((line, value))
            if isinstance(scope, _ClassScope):
                self.attr_assigns.setdefault(target.id, []).append((line, value))
            if "alg" in target.id.lower():
                self._config_value(value, f"{target.id} =")
        elif isinstance(target, ast.Attribute):
            self.attr_assigns.setdefault(target.attr, []).append((line, value))
            self.attr_stores.append((target, value, scope))
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
                return f"{base}.{expr.attr}"
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
                        self.hit_spans.append(_span(arg_node))
                line = _op_line(call)
                then = self.chained.get(id(call))
                for hit in hits:
                    if then is not None:
                        hit.usage = _CHAINED_USAGE.get((hit.usage, then), hit.usage)
                    f = self._emit(hit, line, call)
                    if hit.ec_generic:
                        self.ec_findings[id(call)] = f
        for origin in self.ecdh_origins:
            f = self.ec_findings.get(origin)
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
        for node, scope in self.refs:
            if id(node) in self.consumed or id(node) in self.identity_refs or (
                    self._in_hit_args(node)):
                continue
            self._scope = scope
            hit = self.rules.analyze_ref(self, node)
            if hit is not None:
                self.consumed.add(id(node))
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
        return self.findings

    def _in_hit_args(self, node: ast.AST) -> bool:
        if not self.hit_spans:
            return False
        start = (node.lineno, node.col_offset)  # type: ignore[attr-defined]
        return any((s[0], s[1]) <= start <= (s[2], s[3]) for s in self.hit_spans)

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

    def mark_ecdh(self, receiver: ast.expr) -> None:
        t = self.key_type(receiver)
        if t is not None and t.origin is not None:
            self.ecdh_origins.add(t.origin)


class _ClassScope(_Scope):
    __slots__ = ()


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
    if HINT.search(text) is None:
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

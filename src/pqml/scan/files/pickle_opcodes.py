"""What a pickle would import when loaded -- read from its opcodes, never by loading it.

Unpickling runs code: ``GLOBAL`` / ``STACK_GLOBAL`` name any importable callable and
``REDUCE`` calls it. ``pickletools.genops`` walks the opcode stream without executing
anything, so the scanner can list every global a pickle (or a torch / joblib file's
``data.pkl``) references and flag the ones no model needs: ``os.system``,
``subprocess.*``, ``builtins.eval`` and friends. ``pickle.load`` is never called.

``STACK_GLOBAL`` takes module and name from the stack, so the walk emulates the loader's
stack (strings kept, everything else an opaque value; ``MARK`` / ``POP`` / ``POP_MARK``,
the memo and ``DUP`` as the loader does them): a decoy string pushed and popped cannot
rename the import. An operand that is not a known string (built by a call, say) cannot be
resolved and is reported as dangerous, as are extension-registry globals (``EXT1/2/4``).
Any failure (including ``MemoryError``) ends the walk with ``complete = False`` and keeps
what was found so far; the caller treats an incomplete walk as code execution.
"""

from __future__ import annotations

import pickletools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO

_DANGEROUS_MODULES = frozenset({
    "os", "posix", "nt", "subprocess", "sys", "shutil", "socket", "runpy", "pty", "commands",
    "webbrowser", "requests", "urllib", "urllib2", "http", "httplib", "ftplib", "telnetlib",
    "smtplib", "importlib", "ctypes", "code", "codeop", "pickle", "_pickle", "cPickle",
    "marshal", "types", "asyncio", "multiprocessing", "platform", "pdb", "bdb", "timeit",
    "tempfile", "glob", "pathlib", "io", "_io", "signal", "threading", "_thread",
    "sqlite3", "zipimport", "pkgutil", "distutils", "setuptools", "pip",
})
_DANGEROUS_BUILTINS = frozenset({
    "eval", "exec", "execfile", "compile", "open", "__import__", "getattr", "setattr",
    "delattr", "globals", "locals", "vars", "input", "breakpoint", "apply", "file",
    "reload", "memoryview",
})
_STRING_OPS = frozenset({"SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "UNICODE", "STRING",
                         "BINSTRING", "SHORT_BINSTRING"})
MAX_OPS = 2_000_000


@dataclass(slots=True)
class PickleReport:
    imports: list[str] = field(default_factory=list)
    dangerous: list[str] = field(default_factory=list)
    ops: int = 0
    complete: bool = True
    stopped: bool = False
    protocol: int | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return {"imports": self.imports[:50], "dangerous_imports": self.dangerous,
                "opcodes": self.ops, "complete": self.complete and self.stopped,
                "protocol": self.protocol, "error": self.error}


def is_dangerous(global_name: str) -> bool:
    module, _, name = global_name.partition(" ")
    top = module.split(".")[0]
    if top in ("builtins", "__builtin__", "__builtins__"):
        return name in _DANGEROUS_BUILTINS
    if module in ("operator",) and name in ("attrgetter", "methodcaller"):
        return False
    if module.startswith("numpy.testing") and name == "runstring":
        return True
    return top in _DANGEROUS_MODULES


class _Mark:
    """The loader's mark on the emulated stack."""


class _Opaque:
    """A value the walk does not track (a number, a list, a call's result...)."""


_MARK = _Mark()
_OPAQUE = _Opaque()
UNRESOLVED = "<unresolved> <unresolved>"


def scan(stream: IO[bytes], max_ops: int = MAX_OPS) -> PickleReport:
    """Walk one pickle's opcodes (up to STOP) and collect its globals."""
    report = PickleReport()
    seen: set[str] = set()
    stack: list[object] = []
    memo: dict[int, object] = {}

    def pop() -> object:
        if not stack:
            raise ValueError("stack underflow")
        return stack.pop()

    def pop_to_mark() -> None:
        while pop() is not _MARK:
            pass

    try:
        for opcode, arg, _pos in pickletools.genops(stream):
            report.ops += 1
            name = opcode.name
            if name == "PROTO":
                report.protocol = int(arg)  # type: ignore[arg-type]
            elif name in _STRING_OPS:
                stack.append(arg.decode("latin-1") if isinstance(arg, bytes) else str(arg))
            elif name == "MEMOIZE":
                if not stack:
                    raise ValueError("MEMOIZE on an empty stack")
                memo[len(memo)] = stack[-1]
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                if not stack:
                    raise ValueError(f"{name} on an empty stack")
                memo[int(arg)] = stack[-1]  # type: ignore[arg-type]
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                if int(arg) not in memo:  # type: ignore[arg-type]
                    raise ValueError(f"{name} of a memo entry never stored")
                stack.append(memo[int(arg)])  # type: ignore[arg-type]
            elif name == "DUP":
                value = pop()
                stack += [value, value]
            elif name in ("GLOBAL", "INST"):
                if name == "INST":
                    pop_to_mark()
                _record(report, seen, str(arg))
                stack.append(_OPAQUE)
            elif name == "STACK_GLOBAL":
                attr, module = pop(), pop()
                if isinstance(module, str) and isinstance(attr, str):
                    _record(report, seen, f"{module} {attr}")
                else:
                    _record(report, seen, UNRESOLVED)
                stack.append(_OPAQUE)
            elif name in ("EXT1", "EXT2", "EXT4"):
                _record(report, seen, f"copyreg.extension {int(arg)}")  # type: ignore[arg-type]
                stack.append(_OPAQUE)
            else:
                _generic(opcode, stack, pop, pop_to_mark)
            if name == "STOP":
                report.stopped = True
            if report.ops >= max_ops:
                report.complete = False
                break
    except Exception as exc:  # MemoryError too: keep what was found so far
        report.complete = False
        report.error = str(exc)[:200] or type(exc).__name__
    return report


def _generic(opcode: pickletools.OpcodeInfo, stack: list[object], pop: Callable[[], object],
             pop_to_mark: Callable[[], None]) -> None:
    """Apply an opcode's documented stack effect with opaque values."""
    before = [s.name for s in opcode.stack_before]
    if "stackslice" in before:
        pop_to_mark()
        for _ in range(before.index("mark")):
            pop()
    else:
        for _ in before:
            pop()
    for s in opcode.stack_after:
        stack.append(_MARK if s.name == "mark" else _OPAQUE)


def _record(report: PickleReport, seen: set[str], global_name: str) -> None:
    if global_name in seen:
        return
    seen.add(global_name)
    report.imports.append(global_name.replace(" ", "."))
    if global_name == UNRESOLVED or global_name.startswith("copyreg.extension ") or \
            is_dangerous(global_name):
        report.dangerous.append(global_name.replace(" ", "."))


def looks_like_pickle(head: bytes) -> bool:
    """Protocol 2+ (``\\x80`` + version) or a protocol-0/1 stream starting with a
    typical first opcode; the caller confirms with :func:`scan`."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    return bool(head[:1]) and head[:1] in (b"(", b"]", b"}", b"c", b"K", b"N", b")")

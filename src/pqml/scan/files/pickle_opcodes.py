"""What a pickle would import when loaded -- read from its opcodes, never by loading it.

Unpickling runs code: ``GLOBAL`` / ``STACK_GLOBAL`` name any importable callable and
``REDUCE`` calls it. ``pickletools.genops`` walks the opcode stream without executing
anything, so the scanner can list every global a pickle (or a torch / joblib file's
``data.pkl``) references and flag the ones no model needs: ``os.system``,
``subprocess.*``, ``builtins.eval`` and friends. ``pickle.load`` is never called.

``STACK_GLOBAL`` takes module and name from the stack; they are recovered from the most
recent string pushes, following the memo (``BINPUT`` / ``BINGET``) as the loader would.
"""

from __future__ import annotations

import pickletools
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
    protocol: int | None = None
    error: str | None = None

    def as_dict(self) -> dict:
        return {"imports": self.imports[:50], "dangerous_imports": self.dangerous,
                "opcodes": self.ops, "complete": self.complete, "protocol": self.protocol,
                "error": self.error}


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


def scan(stream: IO[bytes], max_ops: int = MAX_OPS) -> PickleReport:
    """Walk one pickle's opcodes (up to STOP) and collect its globals."""
    report = PickleReport()
    seen: set[str] = set()
    strings: list[str | None] = []
    memo: dict[int, str | None] = {}
    try:
        for opcode, arg, _pos in pickletools.genops(stream):
            report.ops += 1
            name = opcode.name
            if name == "PROTO":
                report.protocol = int(arg)  # type: ignore[arg-type]
            elif name in _STRING_OPS:
                value = arg.decode("latin-1") if isinstance(arg, bytes) else str(arg)
                strings.append(value)
            elif name == "MEMOIZE":
                memo[len(memo)] = strings[-1] if strings else None
            elif name in ("BINPUT", "LONG_BINPUT", "PUT"):
                memo[int(arg)] = strings[-1] if strings else None  # type: ignore[arg-type]
            elif name in ("BINGET", "LONG_BINGET", "GET"):
                strings.append(memo.get(int(arg)))  # type: ignore[arg-type]
            elif name in ("GLOBAL", "INST"):
                module_name = str(arg)
                _record(report, seen, module_name)
            elif name == "STACK_GLOBAL":
                module = strings[-2] if len(strings) >= 2 else None
                attr = strings[-1] if strings else None
                _record(report, seen, f"{module or '?'} {attr or '?'}")
            if report.ops >= max_ops:
                report.complete = False
                break
    except (ValueError, EOFError, UnicodeDecodeError, KeyError, IndexError) as exc:
        report.complete = False
        report.error = str(exc)[:200] or type(exc).__name__
    return report


def _record(report: PickleReport, seen: set[str], global_name: str) -> None:
    if global_name in seen:
        return
    seen.add(global_name)
    report.imports.append(global_name.replace(" ", "."))
    if is_dangerous(global_name):
        report.dangerous.append(global_name.replace(" ", "."))


def looks_like_pickle(head: bytes) -> bool:
    """Protocol 2+ (``\\x80`` + version) or a protocol-0/1 stream starting with a
    typical first opcode; the caller confirms with :func:`scan`."""
    if len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5:
        return True
    return bool(head[:1]) and head[:1] in (b"(", b"]", b"}", b"c", b"K", b"N", b")")

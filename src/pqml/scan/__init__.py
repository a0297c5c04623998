"""Crypto inventory, CBOM and migration risk for ML code and artifacts (``pqml scan``).

``scan(paths)`` walks the given files and directories and returns a :class:`ScanResult`
whose findings each name a path (relative to its root), line, algorithm, CycloneDX
primitive, parameter, usage, confidence, evidence and risk. Reports (JSON, CBOM, SARIF,
HTML, table) and the migration plan are built from that result by the modules named after
them; nothing here imports cyclonedx unless a CBOM is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pqml.scan.model import Finding, Risk, ScanWarning
    from pqml.scan.runner import Progress, ScanOptions, ScanResult

__all__ = ["Finding", "Risk", "ScanOptions", "ScanResult", "ScanWarning", "scan"]

# Loaded on first use: ``pqml.errors`` imports ``pqml.scan.errors``, which must not pull the
# scanner in with it.
_LAZY = {"Finding": "pqml.scan.model", "Risk": "pqml.scan.model",
         "ScanWarning": "pqml.scan.model", "ScanOptions": "pqml.scan.runner",
         "ScanResult": "pqml.scan.runner"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'pqml.scan' has no attribute {name!r}")
    return getattr(import_module(module), name)


def scan(paths: Sequence[str], options: ScanOptions | None = None,
         progress: Progress | None = None) -> ScanResult:
    """Scan files and directories; see :mod:`pqml.scan.runner`."""
    from pqml.scan.runner import run

    return run(paths, options, progress)

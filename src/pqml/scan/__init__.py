"""Crypto inventory, CBOM and migration risk for ML code and artifacts (``pqml scan``).

``scan(paths)`` walks the given files and directories and returns a :class:`ScanResult`
whose findings each name a path (relative to its root), line, algorithm, CycloneDX
primitive, parameter, usage, confidence, evidence and risk. Reports (JSON, CBOM, SARIF,
HTML, table) and the migration plan are built from that result by the modules named after
them; nothing here imports cyclonedx unless a CBOM is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence

from pqml.features.scan.model import Finding, Risk, ScanWarning
from pqml.features.scan.runner import Progress, ScanOptions, ScanResult

__all__ = ["Finding", "Risk", "ScanOptions", "ScanResult", "ScanWarning", "scan"]


def scan(paths: Sequence[str], options: ScanOptions | None = None,
         progress: Progress | None = None) -> ScanResult:
    """Scan files and directories; see :mod:`pqml.features.scan.runner`."""
    from pqml.features.scan.runner import run

    return run(paths, options, progress)

"""Jupyter notebooks: the code cells, analysed as one Python module, reported at JSON lines.

ML code lives in notebooks as much as in modules, and a notebook's cells share one
namespace (a constant set in cell 1 is used in cell 5), so all code cells are joined into
one module -- IPython ``%magic`` and ``!shell`` lines blanked -- and analysed like any
other. Each finding's line is mapped back to the line of the ``.ipynb`` file holding that
source line (nbformat writes one source line per JSON line), so a reader or a
code-scanning UI lands on it.
"""

from __future__ import annotations

import json

from pqml.scan.code.python_ast import scan_python
from pqml.scan.model import Finding


def _source_lines(text: str) -> list[int]:
    """JSON line numbers of each ``"source"`` key, in document order."""
    return [i for i, line in enumerate(text.splitlines(), 1) if '"source":' in line]


def findings(text: str, path: str) -> tuple[list[Finding], list[str]]:
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError):
        return [], []
    cells = doc.get("cells") if isinstance(doc, dict) else None
    if not isinstance(cells, list):
        return [], []
    starts = _source_lines(text)
    code_lines: list[str] = []
    json_line: list[int] = []   # JSON line of each line of the joined module
    cell_of: list[int] = []
    source_index = 0
    for n, cell in enumerate(cells):
        if not isinstance(cell, dict) or "source" not in cell:
            continue
        start = starts[source_index] if source_index < len(starts) else 1
        source_index += 1
        if cell.get("cell_type") != "code":
            continue
        source = cell["source"]
        single = not isinstance(source, list)
        lines = str(source).splitlines() if single else [
            ln.rstrip("\n") for ln in source if isinstance(ln, str)]
        for i, ln in enumerate(lines):
            code_lines.append("" if ln.lstrip().startswith(("%", "!")) else ln)
            # list sources start on the line after '"source": [' (nbformat layout)
            json_line.append(start if single else start + 1 + i)
            cell_of.append(n + 1)
        code_lines.append("")
        json_line.append(start)
        cell_of.append(n + 1)
    if not code_lines:
        return [], []
    found, warning = scan_python("\n".join(code_lines) + "\n", path)
    for f in found:
        idx = f.line - 1
        if 0 <= idx < len(json_line):
            f.details["notebook_cell"] = cell_of[idx]
            f.line = json_line[idx]
    return found, [warning] if warning else []

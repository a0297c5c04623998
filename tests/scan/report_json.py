"""What two ``pqml scan --json`` reports of the same tree share wherever it lies (a local
directory, a bucket prefix, a Ray run): imported by the tests that compare them."""

from __future__ import annotations

import copy
from typing import Any


def normal_json(doc: dict[str, Any], base: str) -> dict[str, Any]:
    """``doc`` without what differs between two runs of the same tree anywhere: the
    roots, timings, and each location's prefix (checked to be ``base``)."""
    doc = copy.deepcopy(doc)
    for key in ("generated", "roots"):
        doc.pop(key)
    for key in ("seconds", "jobs"):
        doc["summary"].pop(key)
    for f in doc["findings"]:
        assert f.pop("location") == f"{base}{f['path']}:{f['line']}"
        f.pop("root")
    return doc

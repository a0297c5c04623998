"""Shared fixtures: paths to the vectors in ../shared and in cryptography-vectors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED_VECTORS = REPO.parent / "shared" / "vectors"


def shared_vector(*parts: str) -> Path:
    path = SHARED_VECTORS.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared test vector missing: {path} (clone with ../shared beside the repo)")
    return path


def load_json(path: Path):
    with path.open() as f:
        return json.load(f)


def pyca_vector(*parts: str) -> Path:
    import cryptography_vectors

    return Path(cryptography_vectors.__file__).parent.joinpath(*parts)

"""Errors of the transparency log (re-exported by :mod:`pqml.errors`)."""

from __future__ import annotations

from pqml.primitives.errors import PqmlError


class MerkleProofError(PqmlError, ValueError):
    """An inclusion or consistency proof does not verify, or is malformed or out of bounds.

    The message names the check that failed (wrong length, index beyond the tree, root
    mismatch, …); a proof that fails any check proves nothing, so callers never get a
    partial answer.
    """

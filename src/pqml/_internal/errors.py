"""Errors of the shared plumbing (re-exported by :mod:`pqml.errors`)."""

from __future__ import annotations

from pqml.primitives.errors import PqmlError


class OutputPathError(PqmlError):
    """An output cannot be written as asked: it would replace an input or land inside the
    input tree, or writing failed (disk full); nothing is left behind."""

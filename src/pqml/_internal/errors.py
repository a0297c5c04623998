"""Errors of the shared plumbing (re-exported by :mod:`pqml.errors`)."""

from __future__ import annotations

from pqml.primitives.errors import PqmlError


class OutputPathError(PqmlError):
    """An output cannot be written as asked: it would replace an input or land inside the
    input tree, or writing failed (disk full); nothing is left behind."""


class OutputExistsError(OutputPathError, FileExistsError):
    """The output already exists and the caller did not ask to replace it (``--force``,
    ``force=True``): pqml never overwrites silently. Raised up front, and again if the
    output appeared while pqml worked (the final link/rename does not clobber it)."""

"""Errors of the transparency log (re-exported by :mod:`pqml.errors`)."""

from __future__ import annotations

from pqml.primitives.errors import PqmlError


class MerkleProofError(PqmlError, ValueError):
    """An inclusion or consistency proof does not verify, or is malformed or out of bounds.

    The message names the check that failed (wrong length, index beyond the tree, root
    mismatch, …); a proof that fails any check proves nothing, so callers never get a
    partial answer.
    """


class LogEntryError(PqmlError, ValueError):
    """A log entry is malformed, not canonical, too long or names an unknown operation."""


class LogError(PqmlError):
    """The log on disk cannot be read or appended to (names the file and the problem)."""


class LogTamperedError(LogError):
    """The log's entries disagree with its tree or its checkpoints; names the first index
    that does not verify (edited, deleted, inserted or reordered entry, truncation)."""


class MonitorConfigError(PqmlError, ValueError):
    """A monitor rule in pqml.toml is malformed (names the rule and the setting)."""


class ComplianceError(PqmlError):
    """A compliance report cannot be made from the inputs given (names which)."""

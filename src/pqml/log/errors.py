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
    that does not verify (edited, deleted, inserted or reordered entry, truncation).
    Carries ``.index`` and ``.problem`` (:class:`pqml.log.verify.Problem`: ``index``,
    ``kind``, ``message``)."""


class MonitorConfigError(PqmlError, ValueError):
    """A monitor rule in pqml.toml is malformed (names the rule and the setting)."""

    exit_code = 2  # a malformed settings file is a usage error, as for every command


class AlertDeliveryError(PqmlError):
    """A monitor alert could not be delivered to its webhook (names the URL and why):
    an alert nobody receives must not pass silently."""


class ComplianceError(PqmlError):
    """A compliance report cannot be made from the inputs given: a malformed [compliance]
    table or history file (names the file and the setting)."""

    exit_code = 2  # exit 1 is kept for "a required control failed"

"""Errors of ``pqml scan`` (re-exported by :mod:`pqml.errors`)."""

from __future__ import annotations

from pqml.primitives.errors import PqmlError


class ScanError(PqmlError):
    """``pqml scan`` could not run as asked: a missing path, a malformed ``pqml.toml`` or
    baseline file, an unknown option value, or a report that cannot be written.

    Exit code 2 keeps these apart from exit code 1, which ``--fail-on`` reserves for
    "findings matched the policy", so CI can tell a broken job from a failing one.
    """

    exit_code = 2

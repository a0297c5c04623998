"""Errors of distributed runs (re-exported by :mod:`pqml.errors`)."""

from __future__ import annotations

from pqml.primitives.errors import PqmlError


class EngineError(PqmlError):
    """An engine could not run the work: Ray is not installed (the message names the
    ``ray`` extra), the cluster at ``--address`` does not answer, a worker died more
    times than tasks are retried, or the job asks for what the engine cannot do (an
    armored or age file on Ray). A job that fails this way leaves no output."""

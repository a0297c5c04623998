"""Errors of federated-learning protection (re-exported by :mod:`pqml.errors`).

Messages name the node (Flower node id), the round, the key id or the record at fault and
why; they never carry key material or any part of a model update, since they reach logs
on both sides and the server's round metrics.
"""

from __future__ import annotations

from pqml.primitives.errors import PqmlError


class FLProtectionError(PqmlError):
    """Federated-learning update protection cannot proceed; subclasses say why."""


class FLKeyError(FLProtectionError):
    """A node or server key is missing, of the wrong kind, or not the one the other side
    expects (e.g. the client pins a server key other than the one the server offers)."""


class UpdateRejectedError(FLProtectionError):
    """A protected reply failed a check before aggregation; ``reason`` is a short machine
    name (``unsigned``, ``malformed``, ``unregistered``, ``bad-signature``, ``tampered``,
    ``wrong-server-key``, ``stale``, ``replayed``, ``context-mismatch``, ``undecryptable``,
    ``client-error``) used as the metric name in the round's report."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SecAggError(PqmlError):
    """Secure aggregation could not run or was aborted; subclasses say why."""


class SecAggConfigError(SecAggError, ValueError):
    """The protocol parameters are inconsistent (threshold, share count, quantisation
    ranges, KEM) or the sampled clients cannot satisfy them."""


class SecAggMessageError(SecAggError):
    """A protocol message was refused: malformed, out of order, for another round or node,
    replayed, or failing AES-256-GCM authentication. The message's content is not used."""


class SecAggThresholdError(SecAggError):
    """Too few clients are left to unmask the sum (more dropped out than the threshold
    allows): the round's aggregate is not produced. ``round``, ``survivors``,
    ``threshold`` and ``sampled`` say by how much."""

    def __init__(self, message: str, *, round: int, survivors: int, threshold: int,
                 sampled: int) -> None:
        super().__init__(message)
        self.round = round
        self.survivors = survivors
        self.threshold = threshold
        self.sampled = sampled


class SecAggReconstructionError(SecAggError):
    """Shares of a node's secret combined into a value that does not match the node's
    commitment (a tampered or wrong share): no mask is removed with it."""

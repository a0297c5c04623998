"""The server side of update protection: verify, then decrypt, before any aggregation.

:class:`ProtectedStrategy` wraps any message-based Flower strategy the way Flower's DP
wrappers do::

    strategy = ProtectedStrategy(FedAvg(), server_key="server.pem", nodes="nodes/")

Wrap last (outermost) — ``ProtectedStrategy(DifferentialPrivacy…(FedAvg()))`` — so every
other wrapper sees the decrypted replies, as the client mod goes first in ``mods``.

It adds the offer (round, server key id) to every instruction the inner strategy
configures and, before the inner strategy aggregates, opens each reply with
:class:`UpdateVerifier`. Checks, cheapest and key-free first: the reply is sealed
(``unsigned``) and well formed (``malformed``); the signer is registered
(``unregistered``); the ML-DSA signature over the header verifies (``bad-signature``); the
ciphertext matches the signed digest (``tampered``); it is sealed to this server's key
(``wrong-server-key``); the signed run, node, message type and reply-to match Flower's
metadata of the reply (``context-mismatch``); the round is this round and the timestamp is
within the window (``stale``); the nonce and the instruction it answers were not seen
before (``replayed``); it decrypts (``undecryptable``) to a Flower RecordDict
(``malformed``). A reply that fails is dropped, logged with its node and reason, and
counted in the round's metrics (``pqml-accepted``, ``pqml-rejected``,
``pqml-rejected-<reason>``); the round goes on with the others. The inner strategy sees the
decrypted replies exactly as the ClientApp produced them, so its aggregate equals the one it
computes without protection, bit for bit.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pqml.fl import protect_records as records
from pqml.fl.errors import UpdateRejectedError
from pqml.fl.protect_keys import (
    KeySource,
    NodeRegistry,
    key_id,
    load_server_private_key,
)
from pqml.primitives import hashes, hpke
from pqml.primitives.base import KEMPrivateKey
from pqml.primitives.errors import InvalidSignatureError, PqmlError

if TYPE_CHECKING:
    from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
    from flwr.serverapp import Grid
    from flwr.serverapp.strategy import Strategy

log = logging.getLogger("pqml.fl")

DEFAULT_MAX_AGE = 3600.0  # Flower's reply timeout: a fast node's update waits for the slowest
DEFAULT_MAX_SKEW = 30.0
MAX_REPLAY_ENTRIES = 1_000_000
MAX_LOGGED_SIGNERS = 64  # node key ids named in one fl.round log entry (it stays small)


@dataclass(frozen=True)
class Rejection:
    """One reply that was not aggregated, and why."""

    round: int
    message_type: str
    node_id: int
    reason: str
    detail: str


@dataclass
class RoundReport:
    """What happened to one round's replies of one message type."""

    round: int
    message_type: str
    accepted: int = 0
    rejected: list[Rejection] = field(default_factory=list)

    def metrics(self) -> dict[str, int]:
        out = {"pqml-accepted": self.accepted, "pqml-rejected": len(self.rejected)}
        for rejection in self.rejected:
            name = f"pqml-rejected-{rejection.reason}"
            out[name] = out.get(name, 0) + 1
        return out


class ReplayCache:
    """(signer, nonce) and (signer, reply-to) pairs seen within the freshness window."""

    def __init__(self, window: float) -> None:
        self.window = window
        self._seen: dict[tuple[str, str], float] = {}

    def check_and_add(self, keys: Iterable[tuple[str, str]], now: float) -> None:
        keys = list(keys)
        if any(k in self._seen for k in keys):
            raise UpdateRejectedError("replayed", "update (nonce or answered instruction) "
                                                  "was already accepted: replay")
        if len(self._seen) >= MAX_REPLAY_ENTRIES:
            self.prune(now)
            if len(self._seen) >= MAX_REPLAY_ENTRIES:
                raise UpdateRejectedError("replayed", "replay cache is full: refusing "
                                                      "updates until entries expire")
        for k in keys:
            self._seen[k] = now

    def prune(self, now: float) -> None:
        cutoff = now - self.window
        self._seen = {k: t for k, t in self._seen.items() if t >= cutoff}

    def __len__(self) -> int:
        return len(self._seen)


class UpdateVerifier:
    """Opens protected replies: every check of the module docstring, then HPKE open."""

    def __init__(self, server_key: KeySource | KEMPrivateKey,
                 nodes: NodeRegistry | KeySource | Iterable[Any], *,
                 max_age: float = DEFAULT_MAX_AGE, max_skew: float = DEFAULT_MAX_SKEW,
                 clock: Callable[[], float] = time.time) -> None:
        self.server_key = load_server_private_key(server_key)
        self.server_key_id = key_id(self.server_key)
        self.nodes = NodeRegistry.of(nodes)
        self.max_age = max_age
        self.max_skew = max_skew
        self.clock = clock
        self.replays = ReplayCache(max_age + max_skew)
        self._suite = hpke.Suite(self.server_key.algorithm)

    def offer(self, server_round: int) -> records.Offer:
        return records.Offer(server_round, self.server_key_id, self.server_key.algorithm)

    def open(self, reply: Message, server_round: int) -> RecordDict:
        """The reply's original content, or :class:`UpdateRejectedError` naming why not."""
        if reply.has_error():
            raise UpdateRejectedError("client-error", f"node reported an error: "
                                                      f"{reply.error.reason}")
        sealed = records.split_sealed(reply.content)
        header = records.UpdateHeader.decode(sealed.header)
        ctx = header.context
        if ctx.v != records.VERSION or ctx.kem != self.server_key.algorithm:
            raise UpdateRejectedError("malformed", f"update is version {ctx.v} sealed with "
                                                   f"{ctx.kem}, expected version "
                                                   f"{records.VERSION} with "
                                                   f"{self.server_key.algorithm}")
        signer = self.nodes.get(ctx.signer)
        if signer is None:
            raise UpdateRejectedError("unregistered", f"signer key {ctx.signer[:16]} is not "
                                                      f"in the node registry")
        if ctx.sig != signer.algorithm:
            raise UpdateRejectedError("malformed", f"header names {ctx.sig}, the registered "
                                                   f"key is {signer.algorithm}")
        try:
            signer.verify(sealed.signature, sealed.header, records.SIGNATURE_CONTEXT)
        except (InvalidSignatureError, PqmlError):
            raise UpdateRejectedError("bad-signature", f"signature of key {ctx.signer[:16]} "
                                                       f"does not verify over the update "
                                                       f"header") from None
        if len(sealed.ciphertext) != header.ct_len or not hmac.compare_digest(
                hashes.digest("SHA-256", sealed.ciphertext), header.ct_sha256):
            raise UpdateRejectedError("tampered", "sealed update does not match the digest "
                                                  "its node signed")
        if ctx.server_key != self.server_key_id:
            raise UpdateRejectedError("wrong-server-key", f"update is sealed to key "
                                                          f"{ctx.server_key[:16]}, this "
                                                          f"server's key is "
                                                          f"{self.server_key_id[:16]}")
        meta = reply.metadata
        for name, signed, actual in (("run id", ctx.run, meta.run_id),
                                     ("node id", ctx.node, meta.src_node_id),
                                     ("message type", ctx.type, meta.message_type),
                                     ("reply-to", ctx.reply_to, meta.reply_to_message_id)):
            if signed != actual:
                raise UpdateRejectedError("context-mismatch", f"signed {name} {signed!r} "
                                                              f"is not the reply's {actual!r}")
        if ctx.round != server_round:
            raise UpdateRejectedError("stale", f"update is for round {ctx.round}, this is "
                                               f"round {server_round}")
        now = self.clock()
        age = now - ctx.time_ms / 1000
        if age > self.max_age or age < -self.max_skew:
            raise UpdateRejectedError("stale", f"update timestamp is {age:.0f} s old, outside "
                                               f"the window [-{self.max_skew:.0f}, "
                                               f"{self.max_age:.0f}] s")
        self.replays.check_and_add([(ctx.signer, "nonce:" + ctx.nonce),
                                    (ctx.signer, "reply:" + ctx.reply_to)], now)
        try:
            receiver = self._suite.setup_base_r(header.enc, self.server_key, records.HPKE_INFO)
            plaintext = receiver.open(sealed.ciphertext, ctx.aad())
        except PqmlError:
            raise UpdateRejectedError("undecryptable", "sealed update does not decrypt with "
                                                       "this server's key") from None
        return records.decode_content(plaintext)


def signer_of(reply: Message) -> str | None:
    """The key id a sealed reply names as its signer (unverified: meaningful only once
    :meth:`UpdateVerifier.open` has accepted the reply), or None if it names none."""
    try:
        sealed = records.split_sealed(reply.content)
        return records.UpdateHeader.decode(sealed.header).context.signer
    except (PqmlError, ValueError, KeyError, TypeError):
        return None


def log_round(server_round: int, outcome: str, key_ids: Iterable[str],
              details: dict[str, Any]) -> None:
    """Record an ``fl.round`` entry in the transparency log; a failure to log is a
    warning, never an error (the round has happened)."""
    from pqml.log.entry import LogEntry
    from pqml.log.recorder import record_or_warn

    ids = tuple(key_ids)
    record_or_warn(lambda: LogEntry("fl.round", outcome, key_ids=ids,
                                    details={"round": server_round, **details}))


def _strategy_base() -> type:
    from flwr.serverapp.strategy import Strategy

    return Strategy


class ProtectedStrategy(_strategy_base()):  # type: ignore[misc]
    """Wrap a message-based Flower strategy: offer protection on every instruction, verify
    and decrypt every reply before the wrapped strategy aggregates it.

    ``server_key``: the server's KEM private key (file, keyring reference or key object).
    ``nodes``: a :class:`NodeRegistry`, a directory of node key files, or key files /
    keyring references / key objects. ``protect_evaluate``: also require sealed evaluate
    replies (their metrics feed the aggregate too). ``rejections`` and ``reports`` keep
    what happened, per round, for the caller.
    """

    def __init__(self, strategy: Strategy, *, server_key: KeySource | KEMPrivateKey,
                 nodes: NodeRegistry | KeySource | Iterable[Any],
                 protect_evaluate: bool = True, max_age: float = DEFAULT_MAX_AGE,
                 max_skew: float = DEFAULT_MAX_SKEW,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__()
        self.strategy = strategy
        self.verifier = UpdateVerifier(server_key, nodes, max_age=max_age,
                                       max_skew=max_skew, clock=clock)
        self.protect_evaluate = protect_evaluate
        self.rejections: list[Rejection] = []
        self.reports: list[RoundReport] = []
        self.last_signers: list[str] = []  # key ids of the last opened, accepted replies

    def __repr__(self) -> str:
        return f"pqml ProtectedStrategy({self.strategy!r})"

    def summary(self) -> None:
        log.info("pqml update protection: %s server key %s, %d registered node keys",
                 self.verifier.server_key.algorithm, self.verifier.server_key_id,
                 len(self.verifier.nodes))
        self.strategy.summary()

    # -- configure: add the offer -----------------------------------------------------------

    def _with_offer(self, messages: Iterable[Message], server_round: int) -> list[Message]:
        self.verifier.nodes.refresh()
        offer = self.verifier.offer(server_round).record()
        out = list(messages)
        for message in out:
            if message.has_content():
                message.content[records.PROTECT_RECORD] = offer
        return out

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        return self._with_offer(
            self.strategy.configure_train(server_round, arrays, config, grid), server_round)

    def configure_evaluate(self, server_round: int, arrays: ArrayRecord,
                           config: ConfigRecord, grid: Grid) -> Iterable[Message]:
        messages = self.strategy.configure_evaluate(server_round, arrays, config, grid)
        return self._with_offer(messages, server_round) if self.protect_evaluate \
            else messages

    # -- aggregate: open first ----------------------------------------------------------------

    def open_replies(self, server_round: int, replies: Iterable[Message],
                     message_type: str) -> tuple[list[Message], RoundReport]:
        """The replies that pass every check, with their original content restored."""
        report = RoundReport(server_round, message_type)
        self.verifier.replays.prune(self.verifier.clock())
        accepted: list[Message] = []
        self.last_signers = []
        for reply in replies:
            signer = signer_of(reply)
            try:
                content = self.verifier.open(reply, server_round)
            except UpdateRejectedError as exc:
                rejection = Rejection(server_round, message_type, reply.metadata.src_node_id,
                                      exc.reason, str(exc))
                report.rejected.append(rejection)
                self.rejections.append(rejection)
                log.warning("pqml: round %d %s: rejected update from node %d (%s): %s",
                            server_round, message_type, rejection.node_id, exc.reason, exc)
                continue
            reply.content = content
            accepted.append(reply)
            if signer is not None:
                self.last_signers.append(signer)
        report.accepted = len(accepted)
        self.reports.append(report)
        log.info("pqml: round %d %s: %d updates accepted, %d rejected", server_round,
                 message_type, report.accepted, len(report.rejected))
        return accepted, report

    @staticmethod
    def _report(metrics: MetricRecord | None, report: RoundReport) -> MetricRecord:
        from flwr.app import MetricRecord

        out = MetricRecord() if metrics is None else metrics
        for name, value in report.metrics().items():
            out[name] = value
        return out

    def aggregate_train(self, server_round: int, replies: Iterable[Message]
                        ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        accepted, report = self.open_replies(server_round, replies, "train")
        arrays, metrics = self.strategy.aggregate_train(server_round, accepted)
        reasons = report.metrics()
        log_round(server_round, "ok" if arrays is not None else "failed",
                  (self.verifier.server_key_id,
                   *sorted(set(self.last_signers))[:MAX_LOGGED_SIGNERS]),
                  {"protocol": "protect", "kem": self.verifier.server_key.algorithm,
                   "accepted": report.accepted, "rejected": len(report.rejected),
                   **{k.removeprefix("pqml-"): v for k, v in reasons.items()
                      if k.startswith("pqml-rejected-")}})
        return arrays, self._report(metrics, report)

    def aggregate_evaluate(self, server_round: int, replies: Iterable[Message]
                           ) -> MetricRecord | None:
        if not self.protect_evaluate:
            return self.strategy.aggregate_evaluate(server_round, replies)
        accepted, report = self.open_replies(server_round, replies, "evaluate")
        return self._report(self.strategy.aggregate_evaluate(server_round, accepted), report)

"""Post-quantum secure aggregation in Flower: a fit workflow for the ServerApp and a client
mod for the ClientApp, plugged in where Flower's own SecAgg+ plugs in, without forking it::

    # ServerApp main(grid, context):
    context = LegacyContext(context, config=ServerConfig(num_rounds=3), strategy=FedAvg())
    DefaultWorkflow(fit_workflow=PQSecAggWorkflow(num_shares=5, reconstruction_threshold=3)
                    )(grid, context)
    # ClientApp:
    app = ClientApp(client_fn=client_fn, mods=[pq_secagg_mod])

The protocol is :mod:`pqml.fl.secagg_protocol`; this module carries its messages in Flower
``ConfigRecord``s (record ``pqml.secagg``), keeps each client's state in its Flower context
between messages, and quantises and weights the update exactly as Flower's SecAgg+ does
(``[w, w * params]`` with ``w = num_examples / max_weight``), so the strategy receives the
same weighted average. Clients that fail or time out in a stage count as dropouts; a
round that loses more clients than the threshold allows raises SecAggThresholdError (or,
with ``abort_on_failure=False``, is skipped with the model unchanged).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from logging import ERROR, INFO
from typing import Any, cast

import numpy as np
from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.app.message_type import MessageType
from flwr.clientapp.typing import ClientAppCallable
from flwr.common import FitRes, ndarrays_to_parameters, parameters_to_ndarrays
from flwr.common.logger import log
from flwr.compat.common import recorddict_compat as compat
from flwr.server.compat.legacy_context import LegacyContext
from flwr.server.workflow.constant import MAIN_CONFIGS_RECORD, MAIN_PARAMS_RECORD
from flwr.server.workflow.constant import Key as WorkflowKey
from flwr.serverapp.grid import Grid

from pqml.fl.errors import SecAggConfigError, SecAggError, SecAggMessageError
from pqml.fl.protect_strategy import MAX_LOGGED_SIGNERS, log_round, signer_of
from pqml.fl.secagg_masks import dequantize, quantize
from pqml.fl.secagg_protocol import (
    DEFAULT_KEM,
    Envelope,
    SecAggClient,
    SecAggParams,
    SecAggServer,
    SetupReply,
    UnmaskReply,
)
from pqml.primitives.errors import PqmlError

RECORD = "pqml.secagg"
STATE_RECORD = "pqml.secagg.state"
LAST_ROUND_RECORD = "pqml.secagg.last_round"
SETUP, SHARE_KEYS, MASKED_INPUT, UNMASK = "setup", "share_keys", "masked_input", "unmask"
# Envelope field -> the record's column of them, one entry per envelope.
_ENVELOPE_FIELDS = {"share_ct": "share_cts", "share_box": "share_boxs", "pair_ct": "pair_cts",
                    "pair_box": "pair_boxs", "share_digests": "share_digest_pairs"}


# ---- server -------------------------------------------------------------------------------


@dataclass
class _RoundState:
    server: SecAggServer
    fit_ins: dict[int, RecordDict]
    proxies: dict[int, Any]
    template: list[np.ndarray]
    forwards: dict[int, list[Envelope]] = field(default_factory=dict)
    results: list[tuple[Any, FitRes]] = field(default_factory=list)
    failures: list[BaseException] = field(default_factory=list)
    rejected: set[int] = field(default_factory=set)  # nodes whose reply protection refused
    signers: dict[int, str] = field(default_factory=dict)  # node -> its verified key id


class PQSecAggWorkflow:
    """Flower fit workflow running post-quantum secure aggregation each round.

    Parameters follow Flower's ``SecAggPlusWorkflow``: ``num_shares`` (an int, or a float
    fraction of the sampled clients) nodes hold shares of each node's secrets, any
    ``reconstruction_threshold`` (int, or fraction of ``num_shares``) of them rebuild them;
    ``clipping_range``, ``quantization_range``, ``modulus_range`` and ``max_weight``
    quantise as SecAgg+ does. ``kem`` is X-Wing (default), ML-KEM-768, ML-KEM-1024 or
    MLKEM1024-P384. ``timeout`` bounds each stage's wait, in seconds.

    ``protect`` composes update protection: an ``UpdateVerifier``
    (:mod:`pqml.fl.protect_strategy`) whose offer goes out with every stage's message and
    which opens every reply — clients then run ``ProtectUpdatesMod`` outside
    ``pq_secagg_mod`` (``mods=[ProtectUpdatesMod(...), pq_secagg_mod]``), so each reply is
    also sealed to the server's key and signed by the node's ML-DSA key; a reply that fails
    its checks counts as a dropout.
    """

    def __init__(self, num_shares: int | float, reconstruction_threshold: int | float, *,
                 max_weight: float = 1000.0, clipping_range: float = 8.0,
                 quantization_range: int = 1 << 22, modulus_range: int = 1 << 32,
                 kem: str = DEFAULT_KEM, timeout: float | None = None,
                 abort_on_failure: bool = True, protect: Any = None) -> None:
        if isinstance(num_shares, bool) or num_shares <= 0:
            raise SecAggConfigError(f"num_shares must be positive, got {num_shares}")
        if isinstance(reconstruction_threshold, bool) or reconstruction_threshold <= 0:
            raise SecAggConfigError("reconstruction_threshold must be positive, got "
                                    f"{reconstruction_threshold}")
        if max_weight <= 0 or clipping_range <= 0 or quantization_range <= 0:
            raise SecAggConfigError("max_weight, clipping_range and quantization_range "
                                    "must be positive")
        if modulus_range <= quantization_range:
            raise SecAggConfigError(f"modulus_range {modulus_range} must exceed "
                                    f"quantization_range {quantization_range}")
        self.num_shares = num_shares
        self.reconstruction_threshold = reconstruction_threshold
        self.max_weight = float(max_weight)
        self.clipping_range = float(clipping_range)
        self.quantization_range = int(quantization_range)
        self.modulus_range = int(modulus_range)
        self.kem = kem
        self.timeout = timeout
        self.abort_on_failure = abort_on_failure
        self.protect = protect
        self.last_server: SecAggServer | None = None
        self.rounds: list[dict[str, Any]] = []  # each round's facts, as logged
        SecAggParams(0, 3, 3, 2, self.modulus_range, kem)  # check modulus and KEM now

    def params_for(self, round: int, sampled: int) -> SecAggParams:
        """The round's protocol parameters for ``sampled`` clients."""
        if isinstance(self.num_shares, float):
            share_count = max(3, round_half(self.num_shares * sampled))
        else:
            share_count = self.num_shares
        share_count = min(share_count, sampled)
        if share_count < sampled and share_count % 2 == 0:
            share_count += 1  # a ring neighbourhood is odd: itself and k on each side
        if isinstance(self.reconstruction_threshold, float):
            threshold = max(2, round_half(self.reconstruction_threshold * share_count))
        else:
            threshold = self.reconstruction_threshold
        if sampled * self.quantization_range >= self.modulus_range:
            raise SecAggConfigError(
                f"{sampled} clients x quantization_range {self.quantization_range} would "
                f"overflow modulus_range {self.modulus_range}")
        return SecAggParams(round, sampled, share_count, threshold, self.modulus_range,
                            self.kem)  # a threshold above the share count is refused

    def __call__(self, grid: Grid, context: Context) -> None:
        if not isinstance(context, LegacyContext):
            raise TypeError(f"PQSecAggWorkflow needs a LegacyContext, got "
                            f"{type(context).__name__}")
        current_round = cast(int, context.state.config_records[MAIN_CONFIGS_RECORD][
            WorkflowKey.CURRENT_ROUND])
        state = None
        try:
            state = self._setup(grid, context, current_round)
            if state is None:
                return
            self._share_keys(grid, state)
            self._masked_input(grid, state)
            self._unmask(grid, context, state)
            self._log_round(state, "ok")
        except SecAggError as error:
            log(ERROR, "pqml secure aggregation: %s", error)
            if state is not None:
                self._log_round(state, "failed", error)
            if self.abort_on_failure:
                raise
            log(INFO, "pqml secure aggregation: round %s skipped", current_round)

    def _send(self, grid: Grid, state: _RoundState, stage: str,
              contents: dict[int, RecordDict]) -> dict[int, Message]:
        round_ = state.server.params.round
        if self.protect is not None:
            from pqml.fl.protect_records import PROTECT_RECORD

            offer = self.protect.offer(round_).record()
            for content in contents.values():
                content[PROTECT_RECORD] = offer
        messages = [Message(content=content, dst_node_id=node,
                            message_type=MessageType.TRAIN, group_id=str(round_))
                    for node, content in contents.items()]
        replies: dict[int, Message] = {}
        for reply in grid.send_and_receive(messages, timeout=self.timeout):
            node = reply.metadata.src_node_id
            if reply.has_error():
                state.failures.append(SecAggMessageError(
                    f"secure aggregation round {round_}: node {node} failed {stage}: "
                    f"{reply.error.reason}"))
                continue
            if self.protect is not None:
                signer = signer_of(reply)
                try:
                    reply.content = self.protect.open(reply, round_)
                    if signer is not None:
                        state.signers[node] = signer
                except PqmlError as error:
                    state.failures.append(error)
                    state.rejected.add(node)
                    continue
            if node in contents and RECORD in reply.content.config_records:
                replies[node] = reply
        return replies

    @staticmethod
    def _template(context: LegacyContext) -> list[np.ndarray]:
        return parameters_to_ndarrays(compat.arrayrecord_to_parameters(
            context.state.array_records[MAIN_PARAMS_RECORD], keep_input=True))

    def _expected_length(self, state: _RoundState) -> int:
        """The weight plus one entry per model parameter."""
        return 1 + sum(int(array.size) for array in state.template)

    def _setup(self, grid: Grid, context: LegacyContext, round_: int) -> _RoundState | None:
        parameters = compat.arrayrecord_to_parameters(
            context.state.array_records[MAIN_PARAMS_RECORD], keep_input=True)
        sampled = context.strategy.configure_fit(round_, parameters, context.client_manager)
        if not sampled:
            log(INFO, "configure_fit: no clients selected, cancel")
            return None
        params = self.params_for(round_, len(sampled))
        server = SecAggServer(params, [proxy.node_id for proxy, _ in sampled],
                              random.SystemRandom())
        self.last_server = server
        state = _RoundState(
            server, {p.node_id: compat.fitins_to_recorddict(ins, True) for p, ins in sampled},
            {proxy.node_id: proxy for proxy, _ in sampled}, self._template(context))
        config = {"stage": SETUP, **params.as_record(), "clipping_range": self.clipping_range,
                  "quantization_range": self.quantization_range,
                  "max_weight": self.max_weight}
        replies = self._send(grid, state, SETUP, {
            node: RecordDict({RECORD: ConfigRecord(dict(config))}) for node in state.fit_ins})
        setup = {}
        for node, reply in replies.items():
            record = reply.content.config_records[RECORD]
            try:
                setup[node] = SetupReply(_bytes(record, "share_key"), _bytes(record, "mask_key"),
                                         _bytes(record, "commitment"))
            except SecAggMessageError as error:
                state.failures.append(error)
        server.collect_setup(setup)
        return state

    def _share_keys(self, grid: Grid, state: _RoundState) -> None:
        server = state.server
        contents = {}
        for node, keys in server.share_keys_requests().items():
            peers = sorted(keys)
            contents[node] = RecordDict({RECORD: ConfigRecord({
                "stage": SHARE_KEYS, "round": server.params.round, "nodes": peers,
                "share_keys": [keys[p][0] for p in peers],
                "mask_keys": [keys[p][1] for p in peers]})})
        replies = self._send(grid, state, SHARE_KEYS, contents)
        envelopes = {}
        for node, reply in replies.items():
            try:
                envelopes[node] = _envelopes_from(reply.content.config_records[RECORD],
                                                  "dsts", src=node)
            except SecAggMessageError as error:
                state.failures.append(error)
        state.forwards = server.collect_envelopes(envelopes)

    def _masked_input(self, grid: Grid, state: _RoundState) -> None:
        server = state.server
        contents = {}
        for node, envelopes in state.forwards.items():
            content = state.fit_ins[node]
            content.config_records[RECORD] = ConfigRecord({
                "stage": MASKED_INPUT, "round": server.params.round,
                **_envelopes_record(envelopes, "srcs")})
            contents[node] = content
        replies = self._send(grid, state, MASKED_INPUT, contents)
        state.forwards = {}
        vectors, dtype = {}, server.params.field.dtype
        for node, reply in replies.items():
            record = reply.content.config_records[RECORD]
            try:
                data = _bytes(record, "masked")
                if len(data) % np.dtype(dtype).itemsize:
                    raise SecAggMessageError(f"node {node}'s masked input is truncated")
                vectors[node] = np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<"))
                fitres = compat.recorddict_to_fitres(reply.content, keep_input=True)
            except (SecAggMessageError, KeyError, TypeError, ValueError) as error:
                state.failures.append(error)
                continue
            state.results.append((state.proxies[node], fitres))
        server.collect_masked(vectors, self._expected_length(state))
        state.results = [(p, r) for p, r in state.results if p.node_id in server.survivors]

    def _unmask(self, grid: Grid, context: LegacyContext, state: _RoundState) -> None:
        server = state.server
        replies = self._send(grid, state, UNMASK, {
            node: RecordDict({RECORD: ConfigRecord({
                "stage": UNMASK, "round": server.params.round, "alive": alive,
                "dropped": dropped})})
            for node, (alive, dropped) in server.unmask_requests().items()})
        unmask = {}
        for node, reply in replies.items():
            record = reply.content.config_records[RECORD]
            try:
                unmask[node] = UnmaskReply(
                    _owned(record, "seed_owners", "seed_shares"),
                    _owned(record, "master_owners", "master_shares"))
            except SecAggMessageError as error:
                state.failures.append(error)
        total = server.collect_unmask(unmask)
        self._aggregate(context, state, total)

    def _aggregate(self, context: LegacyContext, state: _RoundState, total: np.ndarray) -> None:
        """Dequantise the unmasked sum exactly as SecAgg+ does and hand the weighted mean
        to the strategy in every survivor's FitRes."""
        round_ = state.server.params.round
        template = state.template
        weight_total = int(total[0])
        if weight_total == 0:
            raise SecAggConfigError(f"secure aggregation round {round_}: the client weights "
                                    f"quantise to zero; lower max_weight")
        mean = dequantize(total[1:], self.clipping_range, self.quantization_range,
                          summands=len(state.server.survivors))
        mean *= self.quantization_range / weight_total
        arrays, offset = [], 0
        for array in template:
            arrays.append(mean[offset: offset + array.size].reshape(array.shape).astype(
                array.dtype))
            offset += array.size
        parameters = ndarrays_to_parameters(arrays)
        for _, fitres in state.results:
            fitres.parameters = parameters
        log(INFO, "aggregate_fit: %s masked results, %s dropouts, %s failures",
            len(state.results), len(state.server.dropped), len(state.failures))
        aggregated, metrics = context.strategy.aggregate_fit(
            round_, state.results, state.failures)  # type: ignore[arg-type]
        if aggregated:
            context.state.array_records[MAIN_PARAMS_RECORD] = (
                compat.parameters_to_arrayrecord(aggregated, True))
            context.history.add_metrics_distributed_fit(server_round=round_,
                                                        metrics=metrics)


    def _log_round(self, state: _RoundState, outcome: str,
                   error: BaseException | None = None) -> None:
        """Keep the round's facts in ``rounds`` and record an ``fl.round`` entry in the
        transparency log (a failure to log warns; the round's result stands)."""
        server = state.server
        details: dict[str, Any] = {
            "round": server.params.round, "protocol": "secagg", "kem": server.params.kem,
            "sampled": len(state.fit_ins), "survivors": len(server.survivors),
            "dropped": len(state.fit_ins) - len(server.survivors),
            "threshold": server.params.threshold,
            "protected": self.protect is not None,
            "accepted": len(server.survivors) if self.protect is not None else 0,
            "rejected": len(state.rejected)}
        if error is not None:
            details["reason"] = type(error).__name__
        self.rounds.append(details)
        key_ids: tuple[str, ...] = ()
        if self.protect is not None:
            signers = sorted({state.signers[n] for n in server.survivors if n in state.signers})
            key_ids = (self.protect.server_key_id, *signers[:MAX_LOGGED_SIGNERS])
        log_round(server.params.round, outcome, key_ids, details)


def round_half(value: float) -> int:
    return int(value + 0.5)


# ---- client -------------------------------------------------------------------------------


def pq_secagg_mod(msg: Message, ctxt: Context, call_next: ClientAppCallable) -> Message:
    """Flower client mod: answers :class:`PQSecAggWorkflow`'s four stages and masks the
    ClientApp's training result; every other message passes through untouched."""
    if (msg.metadata.message_type != MessageType.TRAIN
            or RECORD not in msg.content.config_records):
        return call_next(msg, ctxt)
    config = msg.content.config_records[RECORD]
    stage = config.get("stage")
    node = msg.metadata.dst_node_id
    out = RecordDict()
    if stage == SETUP:
        quant = {k: config.get(k) for k in ("clipping_range", "quantization_range",
                                           "max_weight")}
        params = SecAggParams.from_record(config)
        last = ctxt.state.config_records.get(LAST_ROUND_RECORD, {}).get("round", -1)
        if params.round <= cast(int, last):
            raise SecAggMessageError(
                f"secure aggregation: node {node} got a setup for round {params.round} "
                f"after round {last} began (a replayed or stale setup)")
        ctxt.state.config_records[LAST_ROUND_RECORD] = ConfigRecord({"round": params.round})
        client = SecAggClient(node, params)
        setup = client.setup()
        reply: dict[str, Any] = {"share_key": setup.share_key, "mask_key": setup.mask_key,
                                 "commitment": setup.commitment}
    else:
        client, quant = _load_client(ctxt, node)
        if config.get("round") != client.params.round or msg.metadata.group_id != str(
                client.params.round):
            raise SecAggMessageError(
                f"secure aggregation: node {node} got a {stage} message for round "
                f"{config.get('round')} during round {client.params.round}")
        if stage == SHARE_KEYS:
            nodes = _int_list(config, "nodes")
            share_keys, mask_keys = _bytes_list(config, "share_keys"), _bytes_list(
                config, "mask_keys")
            if not len(nodes) == len(share_keys) == len(mask_keys):
                raise SecAggMessageError(f"node {node}: share_keys lists differ in length")
            envelopes = client.share_keys(
                {n: (s, m) for n, s, m in zip(nodes, share_keys, mask_keys, strict=True)})
            reply = _envelopes_record(envelopes, "dsts")
        elif stage == MASKED_INPUT:
            envelopes = _envelopes_from(config, "srcs", dst=node)
            result = call_next(msg, ctxt)
            out = result.content
            fitres = compat.recorddict_to_fitres(out, keep_input=True)
            vector = _weighted_quantised(fitres, quant, node)
            masked = client.masked_input(envelopes, vector)
            for array_record in out.array_records.values():
                array_record.clear()
            reply = {"masked": masked.astype(masked.dtype.newbyteorder("<")).tobytes()}
        elif stage == UNMASK:
            answer = client.unmask(_int_list(config, "alive"), _int_list(config, "dropped"))
            reply = {"seed_owners": list(answer.self_seed_shares),
                     "seed_shares": list(answer.self_seed_shares.values()),
                     "master_owners": list(answer.master_shares),
                     "master_shares": list(answer.master_shares.values())}
        else:
            raise SecAggMessageError(f"secure aggregation: node {node} got an unknown "
                                     f"stage {stage!r}")
    if client.stage == "done":
        ctxt.state.config_records.pop(STATE_RECORD, None)
    else:
        ctxt.state.config_records[STATE_RECORD] = ConfigRecord(
            {**client.to_record(), **{f"quant_{k}": v for k, v in quant.items()}})
    out.config_records[RECORD] = ConfigRecord(reply)
    return Message(out, reply_to=msg)


def _load_client(ctxt: Context, node: int) -> tuple[SecAggClient, dict[str, Any]]:
    record = ctxt.state.config_records.get(STATE_RECORD)
    if record is None:
        raise SecAggMessageError(f"secure aggregation: node {node} has no round in progress "
                                 f"(a message out of order or replayed)")
    client = SecAggClient.from_record(record)
    quant = {k[len("quant_"):]: v for k, v in record.items() if k.startswith("quant_")}
    return client, quant


def _weighted_quantised(fitres: FitRes, quant: dict[str, Any], node: int) -> np.ndarray:
    """``[q_w] + quantise(w * params)`` with ``w = num_examples / max_weight``, as SecAgg+."""
    clipping, target = float(quant["clipping_range"]), int(quant["quantization_range"])
    ratio = fitres.num_examples / float(quant["max_weight"])
    if not 0 <= ratio <= 1:
        raise SecAggConfigError(f"secure aggregation: node {node}'s num_examples "
                                f"{fitres.num_examples} exceeds max_weight {quant['max_weight']}")
    q_ratio = round(ratio * target)
    arrays = parameters_to_ndarrays(fitres.parameters)
    flat = (np.concatenate([a.ravel() for a in arrays]) if arrays
            else np.zeros(0)).astype(np.float64)
    quantised = quantize(flat * (q_ratio / target), clipping, target)
    return np.concatenate([np.array([q_ratio], dtype=np.int64), quantised])


# ---- record helpers -----------------------------------------------------------------------


def _bytes(record: ConfigRecord, key: str) -> bytes:
    value = record.get(key)
    if not isinstance(value, bytes):
        raise SecAggMessageError(f"secure aggregation record lacks bytes {key!r}")
    return value


def _bytes_list(record: ConfigRecord, key: str) -> list[bytes]:
    value = record.get(key)
    if not isinstance(value, list) or not all(isinstance(v, bytes) for v in value):
        raise SecAggMessageError(f"secure aggregation record lacks a bytes list {key!r}")
    return value


def _int_list(record: ConfigRecord, key: str) -> list[int]:
    value = record.get(key)
    if not isinstance(value, list) or not all(type(v) is int for v in value):
        raise SecAggMessageError(f"secure aggregation record lacks an int list {key!r}")
    return value


def _owned(record: ConfigRecord, owners: str, shares: str) -> dict[int, bytes]:
    ids, values = _int_list(record, owners), _bytes_list(record, shares)
    if len(ids) != len(values) or len(set(ids)) != len(ids):
        raise SecAggMessageError(f"secure aggregation record: {owners} and {shares} differ")
    return dict(zip(ids, values, strict=True))


def _envelopes_record(envelopes: list[Envelope], ids: str) -> dict[str, Any]:
    key = "dst" if ids == "dsts" else "src"
    return {ids: [getattr(e, key) for e in envelopes],
            **{column: [getattr(e, name) for e in envelopes]
               for name, column in _ENVELOPE_FIELDS.items()}}


def _envelopes_from(record: ConfigRecord, ids: str, *, src: int | None = None,
                    dst: int | None = None) -> list[Envelope]:
    others = _int_list(record, ids)
    columns = [_bytes_list(record, column) for column in _ENVELOPE_FIELDS.values()]
    if any(len(column) != len(others) for column in columns):
        raise SecAggMessageError(f"secure aggregation record: envelope lists differ "
                                 f"in length ({ids})")
    envelopes = []
    for other, *parts in zip(others, *columns, strict=True):
        pair = (src, other) if src is not None else (other, cast(int, dst))
        envelopes.append(Envelope(pair[0], pair[1], *parts))
    return envelopes

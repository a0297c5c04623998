"""Post-quantum secure aggregation: the protocol, as two state machines without Flower.

SecAgg+ (Bell et al., CCS 2020; Flower's ``SecAggPlusWorkflow``) with its classical pieces
replaced: pairwise secrets travel inside ML-KEM / X-Wing encapsulations instead of coming
from P-384 ECDH, shares are sealed with AES-256-GCM bound to round and node ids instead of
Fernet, and masks are an AES-256-CTR keystream over the full 256-bit seed
(:mod:`pqml.fl.secagg_masks`) instead of a 32-bit-seeded Mersenne Twister.

A KEM is not Diffie-Hellman: an encapsulation can be redone only by the holder of the
decapsulation key, not by the sender. So each pair of neighbours has a *dealer* (the lower
node id) that derives the pair's seed from its own 32-byte masking master and sends it to the
other node sealed to that node's masking KEM key. Whichever side drops out, the server can
rebuild the pair's seed from the dropped node's master alone: a dealer's seeds are derived
from it, and a receiver's masking decapsulation key is derived from it too (the sealed seed
travelled through the server). Shamir shares of that master — never of the share-transport
key — are what the server rebuilds for dropped nodes, so it never reads shares sent to them.

Message flow for one round (server S, clients i; each arrow one Flower message)::

    0 setup        S -> i  parameters (round, threshold, share count, modulus, KEM)
                   i -> S  share KEM key ek_c, masking KEM key ek_m = KEM(HKDF(M_i)),
                           commitment SHA-256(ctx || b_i) to the self-mask seed b_i
    1 share keys   S -> i  (ek_c, ek_m) of i's neighbours
                   i -> S  for each neighbour j: Enc(ek_c_j; Shamir shares of b_i and M_i)
                           with a SHA-256 digest of each share (context-bound), and if
                           i < j: Enc(ek_m_j; pair seed s_ij = HKDF(M_i, i, j))
    2 masked input S -> i  the sealed boxes addressed to i (plus the training instructions)
                   i -> S  y_i = x_i + PRG(b_i) + sum_{j>i} PRG(s_ij) - sum_{j<i} PRG(s_ji)
    3 unmask       S -> i  which neighbours are alive, which dropped
                   i -> S  its shares of b_j for alive j, of M_d for dropped d

Enc(ek; m) is one KEM encapsulation to ek, HKDF-SHA-256 of the shared secret with a context
naming protocol, purpose, KEM, round, sender and receiver, then AES-256-GCM with that context
and the KEM ciphertext as associated data: a box opens only for its receiver, in its round,
from its sender. The server sees public keys, KEM ciphertexts, sealed boxes, masked vectors
y_i (uniform modulo 2**k to it) and, at the end, shares of b_i for survivors (which cancel
the self masks, leaving the sum) and of M_d for dropped nodes (which cancel their pair
masks); an honest client never reveals both for one node.

The share digests let the server drop a wrong share a lying holder returns at unmask, and
name the liar, instead of searching subsets of shares for a consistent one: a digest is
checked by the share's receiver when it opens the box (so a dealer cannot publish digests
that disagree with what it sealed) and by the server against what comes back. A digest
hides its share as the seed commitment hides its seed: with fewer than ``threshold`` shares
known, each other share is fixed only by the 256-bit secret behind it.
"""

from __future__ import annotations

import hmac
import itertools
import os
import random
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pqml.fl import secagg_shamir as shamir
from pqml.fl.errors import (
    SecAggConfigError,
    SecAggMessageError,
    SecAggReconstructionError,
    SecAggThresholdError,
)
from pqml.fl.secagg_masks import Field
from pqml.primitives import hashes, registry
from pqml.primitives.errors import DecryptionError, KeyFormatError
from pqml.primitives.symmetric import AES256GCMKey, hkdf_sha256

if TYPE_CHECKING:
    import numpy as np

    from pqml.primitives.base import KEMPrivateKey, KEMPublicKey, KEMScheme

PROTOCOL = b"pqml-fl-secagg/v1"
SEED_SIZE = 32
COMMITMENT_SIZE = 32
SHARE_DIGEST_SIZE = 32
DEFAULT_KEM = "X-Wing"
_ZERO_NONCE = bytes(12)
_MAX_ID = (1 << 64) - 1
_MAX_SUBSETS = 256  # bound on share subsets tried when a reconstruction fails its check


# ---- parameters ---------------------------------------------------------------------------


@dataclass(frozen=True)
class SecAggParams:
    """One round's protocol parameters, the same on the server and every client.

    ``share_count`` nodes (a node and its neighbours) hold shares of each node's secrets;
    any ``threshold`` of them rebuild them. ``modulus`` (a power of two) is the field the
    masked integer vectors live in; ``kem`` a post-quantum KEM from the registry.
    """

    round: int
    sampled: int
    share_count: int
    threshold: int
    modulus: int = 1 << 32
    kem: str = DEFAULT_KEM

    def __post_init__(self) -> None:
        if not 0 <= self.round <= _MAX_ID:
            raise SecAggConfigError(f"round must be 0..2**64-1, got {self.round}")
        if self.sampled < 2:
            raise SecAggConfigError(f"secure aggregation needs at least 2 clients, "
                                    f"got {self.sampled}")
        if not 2 <= self.share_count <= self.sampled:
            raise SecAggConfigError(f"share count must be 2..{self.sampled} (the sampled "
                                    f"clients), got {self.share_count}")
        if not 2 <= self.threshold <= self.share_count:
            raise SecAggConfigError(f"threshold must be 2..{self.share_count} (the share "
                                    f"count), got {self.threshold}")
        if 2 * self.threshold <= self.share_count:
            # A server that tells some holders "X is alive" and others "X dropped" could
            # collect a threshold of both X's self-mask and master shares and unmask X's
            # input; with more than half needed, two disjoint sets cannot both reach it.
            raise SecAggConfigError(f"threshold {self.threshold} must be more than half the "
                                    f"share count {self.share_count} (a smaller one lets a "
                                    "server that lies about dropouts unmask a client)")
        Field(self.modulus)
        algorithm = registry.get(self.kem)
        if algorithm.family != "kem" or algorithm.quantum_vulnerable:
            raise SecAggConfigError(f"{algorithm.name} is not a post-quantum KEM; use X-Wing, "
                                    f"ML-KEM-768, ML-KEM-1024 or MLKEM1024-P384")
        algorithm.require_available()
        object.__setattr__(self, "kem", algorithm.name)

    @property
    def field(self) -> Field:
        return Field(self.modulus)

    def as_record(self) -> dict[str, int | str]:
        return {"round": self.round, "sampled": self.sampled, "share_count": self.share_count,
                "threshold": self.threshold, "modulus": self.modulus, "kem": self.kem}

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SecAggParams:
        try:
            return cls(int(record["round"]), int(record["sampled"]),
                       int(record["share_count"]), int(record["threshold"]),
                       int(record["modulus"]), str(record["kem"]))
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SecAggConfigError):
                raise
            raise SecAggMessageError(f"secure aggregation parameters are malformed: "
                                     f"{type(exc).__name__} {exc}") from None


# ---- messages -----------------------------------------------------------------------------


@dataclass(frozen=True)
class SetupReply:
    """Stage 0, client to server: the two KEM public keys and the self-seed commitment."""

    share_key: bytes
    mask_key: bytes
    commitment: bytes


@dataclass(frozen=True)
class Envelope:
    """Stage 1, from ``src`` to ``dst`` through the server: the Shamir shares sealed to
    ``dst``'s share key and, when ``src < dst``, the pair seed sealed to its masking key."""

    src: int
    dst: int
    share_ct: bytes
    share_box: bytes
    pair_ct: bytes = b""
    pair_box: bytes = b""
    share_digests: bytes = b""  # digest of the self-seed share, then of the master share


@dataclass(frozen=True)
class UnmaskReply:
    """Stage 3, client to server: shares of survivors' self seeds and of dropped nodes'
    masking masters, by owner."""

    self_seed_shares: dict[int, bytes]
    master_shares: dict[int, bytes]


# ---- the construction's pieces ------------------------------------------------------------


def _u64(value: int) -> bytes:
    if not 0 <= value <= _MAX_ID:
        raise SecAggMessageError(f"node id or round {value} is outside 0..2**64-1")
    return value.to_bytes(8, "big")


def context(params: SecAggParams, purpose: bytes, *ids: int) -> bytes:
    """The label every key, box and mask of this protocol is derived under: protocol,
    purpose, KEM, round and node ids, all fixed length after the purpose."""
    return b"".join([PROTOCOL, b"\0", purpose, b"\0", params.kem.encode(), b"\0",
                     _u64(params.round), *(_u64(i) for i in ids)])


def _scheme(params: SecAggParams) -> KEMScheme:
    return registry.get(params.kem).scheme()  # type: ignore[no-any-return]


def mask_private_key(params: SecAggParams, node: int, master: bytes) -> KEMPrivateKey:
    """Node's masking decapsulation key, derived from its masking master so that Shamir
    shares of the 32-byte master stand for the key."""
    size = registry.get(params.kem).private_key_size or SEED_SIZE
    seed = hkdf_sha256(master, PROTOCOL, context(params, b"masking KEM seed", node), size)
    return _scheme(params).private_from_bytes(seed)


def pair_seed(params: SecAggParams, master: bytes, dealer: int, receiver: int) -> bytes:
    """The pair's mask seed, chosen by the dealer (the lower id) from its masking master."""
    return hkdf_sha256(master, PROTOCOL, context(params, b"pair seed", dealer, receiver))


def commitment(params: SecAggParams, node: int, self_seed: bytes) -> bytes:
    """SHA-256 commitment to a self-mask seed (256 random bits: hiding as it stands)."""
    return hashes.digest("SHA-256", context(params, b"self seed commitment", node) + self_seed)


def share_digest(params: SecAggParams, which: bytes, owner: int, holder: int,
                 share: bytes) -> bytes:
    """The published digest of ``owner``'s ``which`` share held by ``holder``."""
    return hashes.digest("SHA-256", context(params, b"share digest " + which, owner, holder)
                         + share)


def _share_digests(params: SecAggParams, owner: int, holder: int, seed_share: bytes,
                   master_share: bytes) -> bytes:
    return (share_digest(params, b"self seed", owner, holder, seed_share)
            + share_digest(params, b"master", owner, holder, master_share))


def self_mask(params: SecAggParams, node: int, self_seed: bytes, length: int) -> np.ndarray:
    return params.field.mask(self_seed, context(params, b"self mask", node), length)


def pair_mask(params: SecAggParams, seed: bytes, dealer: int, receiver: int,
              length: int) -> np.ndarray:
    return params.field.mask(seed, context(params, b"pair mask", dealer, receiver), length)


def seal(params: SecAggParams, purpose: bytes, src: int, dst: int, key: KEMPublicKey,
         plaintext: bytes) -> tuple[bytes, bytes]:
    """(KEM ciphertext, AES-256-GCM box) of ``plaintext`` for ``dst``'s ``key``."""
    shared, ciphertext = key.encapsulate()
    label = context(params, purpose, src, dst)
    aead = AES256GCMKey(hkdf_sha256(shared, PROTOCOL, label))
    return ciphertext, aead.seal(_ZERO_NONCE, plaintext, label + ciphertext)


def open_box(params: SecAggParams, purpose: bytes, src: int, dst: int, key: KEMPrivateKey,
             ciphertext: bytes, box: bytes) -> bytes:
    """The plaintext of a box :func:`seal` made; SecAggMessageError naming the box when
    it was tampered with, replayed from another round or addressed to another node."""
    label = context(params, purpose, src, dst)
    try:
        shared = key.decapsulate(ciphertext)
        return AES256GCMKey(hkdf_sha256(shared, PROTOCOL, label)).open(
            _ZERO_NONCE, box, label + ciphertext)
    except DecryptionError:
        raise SecAggMessageError(
            f"secure aggregation round {params.round}: {purpose.decode()} box from node "
            f"{src} to node {dst} fails authentication (tampered, replayed or misaddressed)"
        ) from None


def _public_key(params: SecAggParams, data: bytes, node: int, which: str) -> KEMPublicKey:
    try:
        return _scheme(params).public_from_bytes(bytes(data))
    except KeyFormatError:
        raise SecAggMessageError(f"secure aggregation round {params.round}: node {node}'s "
                                 f"{which} key is not a {params.kem} public key") from None


def _check_vector(params: SecAggParams, vector: np.ndarray, what: str) -> np.ndarray:
    import numpy as np

    array = np.asarray(vector)
    if array.ndim != 1 or array.dtype.kind not in "iu":
        raise SecAggMessageError(f"secure aggregation round {params.round}: {what} must be "
                                 f"a flat integer vector, got {array.dtype} {array.shape}")
    if array.size and (int(array.min()) < 0 or int(array.max()) >= params.modulus):
        raise SecAggMessageError(f"secure aggregation round {params.round}: {what} has "
                                 f"values outside [0, {params.modulus})")
    return array.astype(params.field.dtype)


# ---- client -------------------------------------------------------------------------------

_STAGES = ("new", "setup", "share_keys", "masked", "done")


@dataclass
class SecAggClient:
    """One client's side of one round. Each method is one stage and may run only after
    the previous one; a message for another round, node or stage is refused. The state is
    plain data (:meth:`to_record`) so that a Flower client mod can keep it between
    messages."""

    node: int
    params: SecAggParams
    stage: str = "new"
    master: bytes = b""
    self_seed: bytes = b""
    share_key_seed: bytes = b""
    neighbours: list[int] = field(default_factory=list)
    peers: list[int] = field(default_factory=list)
    self_seed_shares: dict[int, bytes] = field(default_factory=dict)
    master_shares: dict[int, bytes] = field(default_factory=dict)
    received_seeds: dict[int, bytes] = field(default_factory=dict)

    def _expect(self, stage: str, doing: str) -> None:
        if self.stage != stage:
            raise SecAggMessageError(
                f"secure aggregation round {self.params.round}: node {self.node} cannot "
                f"{doing} in stage {self.stage!r} (a message out of order or replayed)")
        self.stage = _STAGES[_STAGES.index(stage) + 1]

    def setup(self) -> SetupReply:
        """Stage 0: draw the round's secrets and publish the public half."""
        self._expect("new", "set up")
        self.master, self.self_seed = os.urandom(SEED_SIZE), os.urandom(SEED_SIZE)
        share_key = _scheme(self.params).generate()
        self.share_key_seed = share_key.private_bytes()
        mask_key = mask_private_key(self.params, self.node, self.master)
        return SetupReply(share_key.public_key().public_bytes(),
                          mask_key.public_key().public_bytes(),
                          commitment(self.params, self.node, self.self_seed))

    def share_keys(self, keys: Mapping[int, tuple[bytes, bytes]]) -> list[Envelope]:
        """Stage 1: given the (share key, masking key) of every neighbour (this node
        included), seal Shamir shares to each and pair seeds to those above this node."""
        params = self.params
        self._expect("setup", "share keys")
        own = keys.get(self.node)
        if own is None or tuple(own) != self._own_public_keys():
            raise SecAggMessageError(f"secure aggregation round {params.round}: the server "
                                     f"relayed wrong public keys for node {self.node} itself")
        if len(keys) < params.threshold:
            raise SecAggThresholdError(
                f"secure aggregation round {params.round}: node {self.node} has "
                f"{len(keys)} neighbours left, threshold {params.threshold}",
                round=params.round, survivors=len(keys), threshold=params.threshold,
                sampled=params.sampled)
        if len(keys) > params.share_count:
            raise SecAggMessageError(
                f"secure aggregation round {params.round}: node {self.node} was sent "
                f"{len(keys)} neighbours' keys, more than the share count "
                f"{params.share_count} (shares must not spread wider than agreed)")
        flat = [key for pair in keys.values() for key in pair]
        if len(set(flat)) != len(flat):
            raise SecAggMessageError(f"secure aggregation round {params.round}: relayed "
                                     f"public keys repeat (a replayed key)")
        self.neighbours = sorted(keys)
        count = len(self.neighbours)
        seed_shares = shamir.split(self.self_seed, params.threshold, count)
        master_shares = shamir.split(self.master, params.threshold, count)
        envelopes = []
        for index, peer in enumerate(self.neighbours):
            shares = seed_shares[index] + master_shares[index]
            if peer == self.node:
                self.self_seed_shares[peer] = seed_shares[index]
                self.master_shares[peer] = master_shares[index]
                continue
            share_key, mask_key = keys[peer]
            share_ct, share_box = seal(params, b"shares", self.node, peer,
                                       _public_key(params, share_key, peer, "share"), shares)
            pair_ct = pair_box = b""
            if self.node < peer:
                seed = pair_seed(params, self.master, self.node, peer)
                pair_ct, pair_box = seal(params, b"pair seed", self.node, peer,
                                         _public_key(params, mask_key, peer, "masking"), seed)
            digests = _share_digests(params, self.node, peer, seed_shares[index],
                                     master_shares[index])
            envelopes.append(Envelope(self.node, peer, share_ct, share_box, pair_ct, pair_box,
                                      digests))
        return envelopes

    def masked_input(self, envelopes: Iterable[Envelope], vector: np.ndarray) -> np.ndarray:
        """Stage 2: open the boxes addressed to this node, then mask ``vector`` (integers
        in [0, modulus)) with the self mask and one pair mask per neighbour heard from."""
        params = self.params
        self._expect("share_keys", "mask its input")
        values = _check_vector(params, vector, f"node {self.node}'s input")
        scheme = _scheme(params)
        share_key = scheme.private_from_bytes(self.share_key_seed)
        mask_key = mask_private_key(params, self.node, self.master)
        for envelope in envelopes:
            src = envelope.src
            if envelope.dst != self.node or src == self.node or src not in self.neighbours:
                raise SecAggMessageError(
                    f"secure aggregation round {params.round}: node {self.node} was sent a "
                    f"box from node {src} to node {envelope.dst}, not a neighbour's to it")
            if src in self.peers:
                raise SecAggMessageError(f"secure aggregation round {params.round}: node "
                                         f"{self.node} got a second box from node {src}")
            shares = open_box(params, b"shares", src, self.node, share_key,
                              envelope.share_ct, envelope.share_box)
            if len(shares) != 2 * shamir.SHARE_SIZE:
                raise SecAggMessageError(f"secure aggregation round {params.round}: shares "
                                         f"from node {src} have the wrong size")
            seed_share, master_share = shares[: shamir.SHARE_SIZE], shares[shamir.SHARE_SIZE :]
            if not hmac.compare_digest(envelope.share_digests, _share_digests(
                    params, src, self.node, seed_share, master_share)):
                raise SecAggMessageError(
                    f"secure aggregation round {params.round}: shares from node {src} to "
                    f"node {self.node} do not match their published digests")
            if src < self.node:
                self.received_seeds[src] = open_box(params, b"pair seed", src, self.node,
                                                    mask_key, envelope.pair_ct,
                                                    envelope.pair_box)
            elif envelope.pair_ct or envelope.pair_box:
                raise SecAggMessageError(f"secure aggregation round {params.round}: node "
                                         f"{src} may not deal node {self.node} a pair seed")
            self.self_seed_shares[src] = seed_share
            self.master_shares[src] = master_share
            self.peers.append(src)
        if len(self.peers) + 1 < params.threshold:
            raise SecAggThresholdError(
                f"secure aggregation round {params.round}: node {self.node} heard from "
                f"{len(self.peers)} neighbours, threshold {params.threshold}",
                round=params.round, survivors=len(self.peers) + 1,
                threshold=params.threshold, sampled=params.sampled)
        length = values.size
        masked = values + self_mask(params, self.node, self.self_seed, length)
        for peer in self.peers:
            if self.node < peer:
                masked += pair_mask(params, pair_seed(params, self.master, self.node, peer),
                                    self.node, peer, length)
            else:
                masked -= pair_mask(params, self.received_seeds[peer], peer, self.node,
                                    length)
        return params.field.reduce(masked)

    def unmask(self, alive: Sequence[int], dropped: Sequence[int]) -> UnmaskReply:
        """Stage 3: shares of the self seeds of ``alive`` neighbours and of the masking
        masters of ``dropped`` ones — never both for one node, and only for nodes whose
        shares this node holds."""
        params = self.params
        self._expect("masked", "unmask")
        alive_set, dropped_set = set(alive), set(dropped)
        held = set(self.self_seed_shares)
        problem = ""
        if len(alive_set) != len(alive) or len(dropped_set) != len(dropped):
            problem = "lists a node twice"
        elif alive_set & dropped_set:
            problem = "lists a node both alive and dropped"
        elif self.node not in alive_set:
            problem = "lists this node as dropped"
        elif not (alive_set | dropped_set) <= held:
            problem = "names nodes this node holds no shares of"
        if problem:
            raise SecAggMessageError(f"secure aggregation round {params.round}: the unmask "
                                     f"request to node {self.node} {problem}")
        if len(alive_set) < params.threshold:
            raise SecAggThresholdError(
                f"secure aggregation round {params.round}: node {self.node} was told "
                f"{len(alive_set)} neighbours are alive, threshold {params.threshold}",
                round=params.round, survivors=len(alive_set), threshold=params.threshold,
                sampled=params.sampled)
        reply = UnmaskReply({n: self.self_seed_shares[n] for n in sorted(alive_set)},
                            {n: self.master_shares[n] for n in sorted(dropped_set)})
        self.master = self.self_seed = self.share_key_seed = b""
        self.self_seed_shares, self.master_shares, self.received_seeds = {}, {}, {}
        return reply

    def _own_public_keys(self) -> tuple[bytes, bytes]:
        scheme = _scheme(self.params)
        share = scheme.private_from_bytes(self.share_key_seed).public_key().public_bytes()
        mask = mask_private_key(self.params, self.node, self.master).public_key()
        return share, mask.public_bytes()

    # -- persistence between Flower messages --

    def to_record(self) -> dict[str, Any]:
        """Plain values (ints, str, bytes, lists of them) a Flower ConfigRecord can hold."""
        owners = sorted(self.self_seed_shares)
        seeds = sorted(self.received_seeds)
        return {
            **{f"param_{k}": v for k, v in self.params.as_record().items()},
            "node": self.node, "stage": self.stage, "master": self.master,
            "self_seed": self.self_seed, "share_key_seed": self.share_key_seed,
            "neighbours": list(self.neighbours), "peers": list(self.peers),
            "share_owners": owners,
            "self_seed_shares": [self.self_seed_shares[n] for n in owners],
            "master_shares": [self.master_shares[n] for n in owners],
            "seed_dealers": seeds, "received_seeds": [self.received_seeds[n] for n in seeds],
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> SecAggClient:
        params = SecAggParams.from_record(
            {k[len("param_"):]: v for k, v in record.items() if k.startswith("param_")})
        owners = list(record["share_owners"])
        dealers = list(record["seed_dealers"])
        return cls(
            int(record["node"]), params, str(record["stage"]), bytes(record["master"]),
            bytes(record["self_seed"]), bytes(record["share_key_seed"]),
            list(record["neighbours"]), list(record["peers"]),
            dict(zip(owners, record["self_seed_shares"], strict=True)),
            dict(zip(owners, record["master_shares"], strict=True)),
            dict(zip(dealers, record["received_seeds"], strict=True)))


# ---- server -------------------------------------------------------------------------------


def ring_neighbours(nodes: Sequence[int], share_count: int,
                    rng: random.Random | None = None) -> dict[int, frozenset[int]]:
    """SecAgg+'s neighbourhoods: nodes shuffled onto a ring, each with the ``share_count``
    nearest (itself in the middle); everyone when ``share_count`` covers the ring."""
    order = list(nodes)
    (rng or random.SystemRandom()).shuffle(order)
    if share_count >= len(order):
        everyone = frozenset(order)
        return {node: everyone for node in order}
    half = share_count // 2  # exactly share_count nodes, odd or even counts alike
    return {node: frozenset(order[(index + offset) % len(order)]
                            for offset in range(-half, share_count - half))
            for index, node in enumerate(order)}


@dataclass
class SecAggServer:
    """The server's side of one round: it relays, sums and unmasks, and learns the sum of
    the survivors' inputs and nothing else. Each ``collect_*`` takes the replies that came
    back (a missing node has dropped out) and raises SecAggThresholdError when too few are
    left; a malformed reply counts as a dropout and is listed in ``rejected``."""

    params: SecAggParams
    nodes: Sequence[int]
    rng: random.Random | None = None
    neighbours: dict[int, frozenset[int]] = field(init=False)
    rejected: dict[int, str] = field(default_factory=dict, init=False)
    keys: dict[int, SetupReply] = field(default_factory=dict, init=False)
    maskers: set[int] = field(default_factory=set, init=False)
    peers_of: dict[int, set[int]] = field(default_factory=dict, init=False)
    pair_envelopes: dict[tuple[int, int], Envelope] = field(default_factory=dict, init=False)
    share_digests: dict[tuple[int, int], bytes] = field(default_factory=dict, init=False)
    survivors: set[int] = field(default_factory=set, init=False)
    length: int = field(default=0, init=False)
    total: Any = field(default=None, init=False)

    def __post_init__(self) -> None:
        if len(set(self.nodes)) != len(self.nodes) or len(self.nodes) != self.params.sampled:
            raise SecAggConfigError(f"secure aggregation round {self.params.round}: "
                                    f"{self.params.sampled} distinct node ids expected, got "
                                    f"{len(self.nodes)} ({len(set(self.nodes))} distinct)")
        for node in self.nodes:
            _u64(node)
        self.neighbours = ring_neighbours(self.nodes, self.params.share_count, self.rng)

    def _reject(self, node: int, why: str) -> None:
        self.rejected.setdefault(node, why)

    def _require(self, live: set[int], holders: Iterable[int], stage: str) -> None:
        """Every node in ``holders`` must keep ``threshold`` share holders in ``live``."""
        params = self.params
        for node in sorted(holders):
            left = len(self.neighbours[node] & live)
            if left < params.threshold:
                raise SecAggThresholdError(
                    f"secure aggregation round {params.round} failed after {stage}: "
                    f"{len(live)} of {params.sampled} clients left, node {node} has "
                    f"{left} share holders, threshold {params.threshold}",
                    round=params.round, survivors=len(live), threshold=params.threshold,
                    sampled=params.sampled)

    def collect_setup(self, replies: Mapping[int, SetupReply]) -> None:
        for node, reply in replies.items():
            if node not in self.neighbours:
                self._reject(node, "not sampled")
                continue
            try:
                _public_key(self.params, reply.share_key, node, "share")
                _public_key(self.params, reply.mask_key, node, "masking")
            except SecAggMessageError as error:
                self._reject(node, str(error))
                continue
            if len(reply.commitment) != COMMITMENT_SIZE:
                self._reject(node, "malformed commitment")
                continue
            self.keys[node] = reply
        self._require(set(self.keys), self.keys, "setup")

    def share_keys_requests(self) -> dict[int, dict[int, tuple[bytes, bytes]]]:
        return {node: {peer: (self.keys[peer].share_key, self.keys[peer].mask_key)
                       for peer in self.neighbours[node] if peer in self.keys}
                for node in self.keys}

    def collect_envelopes(self, replies: Mapping[int, Sequence[Envelope]]
                          ) -> dict[int, list[Envelope]]:
        """Check each node's envelopes cover exactly its neighbours, then route them."""
        accepted: dict[int, Sequence[Envelope]] = {}
        for node, envelopes in replies.items():
            expected = (self.neighbours.get(node, frozenset()) & set(self.keys)) - {node}
            dsts = [envelope.dst for envelope in envelopes]
            if node not in self.keys:
                self._reject(node, "no keys published")
            elif any(envelope.src != node for envelope in envelopes):
                self._reject(node, "envelopes name another sender")
            elif len(dsts) != len(set(dsts)) or set(dsts) != expected:
                self._reject(node, "envelopes do not cover its neighbours exactly once")
            elif any(bool(e.pair_ct) != (node < e.dst) for e in envelopes):
                self._reject(node, "pair seeds dealt the wrong way")
            elif any(len(e.share_digests) != 2 * SHARE_DIGEST_SIZE for e in envelopes):
                self._reject(node, "share digests missing or malformed")
            else:
                accepted[node] = envelopes
        self.maskers = set(accepted)
        self._require(self.maskers, self.maskers, "share keys")
        forwards: dict[int, list[Envelope]] = {node: [] for node in self.maskers}
        for src, envelopes in accepted.items():
            for envelope in envelopes:
                if envelope.dst in self.maskers:
                    forwards[envelope.dst].append(envelope)
                    self.share_digests[(src, envelope.dst)] = envelope.share_digests
                    if src < envelope.dst:
                        self.pair_envelopes[(src, envelope.dst)] = envelope
        self.peers_of = {node: {e.src for e in forwards[node]} for node in self.maskers}
        return forwards

    def collect_masked(self, replies: Mapping[int, np.ndarray], length: int | None = None
                       ) -> None:
        """Sum the masked inputs of length ``length`` (by default the length most of them
        have); any other reply is rejected."""
        import numpy as np

        checked: dict[int, np.ndarray] = {}
        for node, vector in sorted(replies.items()):
            if node not in self.maskers:
                self._reject(node, "masked input without shares")
                continue
            try:
                checked[node] = _check_vector(self.params, vector,
                                              f"node {node}'s masked input")
            except SecAggMessageError as error:
                self._reject(node, str(error))
        if length is None and checked:
            sizes = Counter(values.size for values in checked.values())
            length = sizes.most_common(1)[0][0]
        self.length = length or 0
        self.total = np.zeros(self.length, dtype=self.params.field.dtype)
        for node, values in checked.items():
            if values.size != self.length:
                self._reject(node, f"masked input of length {values.size}, not {self.length}")
                continue
            self.total += values
            self.survivors.add(node)
        self._require(self.survivors, self.maskers, "masked input")

    @property
    def dropped(self) -> set[int]:
        return self.maskers - self.survivors

    def unmask_requests(self) -> dict[int, tuple[list[int], list[int]]]:
        return {node: (sorted((self.peers_of[node] | {node}) & self.survivors),
                       sorted(self.peers_of[node] & self.dropped))
                for node in self.survivors}

    def collect_unmask(self, replies: Mapping[int, UnmaskReply]) -> np.ndarray:
        """Rebuild the survivors' self seeds and the dropped nodes' masking masters from
        the shares, remove their masks and return the sum modulo ``modulus``."""
        params, requests = self.params, self.unmask_requests()
        seed_shares: dict[int, list[bytes]] = {node: [] for node in self.survivors}
        master_shares: dict[int, list[bytes]] = {node: [] for node in self.dropped}
        for holder, reply in replies.items():
            alive, dropped = requests.get(holder, (None, None))
            if alive is None or (sorted(reply.self_seed_shares), sorted(reply.master_shares)
                                 ) != (alive, dropped):
                self._reject(holder, "unmask reply does not answer its request")
                continue
            if not self._shares_match(holder, reply):
                self._reject(holder, "returned a share that does not match its digest")
                continue
            for owner, share in reply.self_seed_shares.items():
                seed_shares[owner].append(share)
            for owner, share in reply.master_shares.items():
                master_shares[owner].append(share)
        self._require(set(replies) - set(self.rejected), self.maskers, "unmask")
        total = self.total
        for node, shares in sorted(seed_shares.items()):
            seed = self._rebuild(node, shares, "self seed", self._is_self_seed)
            total -= self_mask(params, node, seed, self.length)
        for node, shares in sorted(master_shares.items()):
            master = self._rebuild(node, shares, "masking master", self._is_master)
            total = self._remove_pair_masks(node, master, total)
        return params.field.reduce(total)

    def _shares_match(self, holder: int, reply: UnmaskReply) -> bool:
        """Every returned share against the digest its dealer published (a holder's share
        of its own secrets has none: it never left the holder, and lying about it only
        spoils the holder's own reconstruction, which the commitment check catches)."""
        half = SHARE_DIGEST_SIZE
        for which, shares, offset in ((b"self seed", reply.self_seed_shares, 0),
                                      (b"master", reply.master_shares, half)):
            for owner, share in shares.items():
                published = self.share_digests.get((owner, holder))
                if published is None:
                    continue
                expected = published[offset:offset + half]
                if not hmac.compare_digest(
                        share_digest(self.params, which, owner, holder, share), expected):
                    return False
        return True

    def _remove_pair_masks(self, dropped: int, master: bytes, total: np.ndarray) -> np.ndarray:
        params = self.params
        mask_key = mask_private_key(params, dropped, master)
        for peer in sorted(self.survivors):
            if dropped not in self.peers_of[peer]:
                continue  # the peer never paired with it
            if dropped < peer:  # the dropped node dealt; the peer subtracted the mask
                total += pair_mask(params, pair_seed(params, master, dropped, peer),
                                   dropped, peer, self.length)
            else:  # the peer dealt the seed to the dropped node's masking key
                envelope = self.pair_envelopes[(peer, dropped)]
                seed = open_box(params, b"pair seed", peer, dropped, mask_key,
                                envelope.pair_ct, envelope.pair_box)
                total -= pair_mask(params, seed, peer, dropped, self.length)
        return total

    def _is_self_seed(self, node: int, seed: bytes) -> bool:
        expected = self.keys[node].commitment
        return hmac.compare_digest(commitment(self.params, node, seed), expected)

    def _is_master(self, node: int, master: bytes) -> bool:
        derived = mask_private_key(self.params, node, master).public_key().public_bytes()
        return hmac.compare_digest(derived, self.keys[node].mask_key)

    def _rebuild(self, node: int, shares: list[bytes], what: str,
                 check: Callable[[int, bytes], bool]) -> bytes:
        """Combine ``threshold`` of ``shares`` into a secret that passes ``check``; with
        more shares than needed, other subsets are tried (bounded) around a wrong one."""
        params = self.params
        if len(shares) < params.threshold:
            raise SecAggThresholdError(
                f"secure aggregation round {params.round}: {len(shares)} shares of node "
                f"{node}'s {what} came back, threshold {params.threshold}",
                round=params.round, survivors=len(self.survivors), threshold=params.threshold,
                sampled=params.sampled)
        subsets = itertools.islice(itertools.combinations(shares, params.threshold),
                                   _MAX_SUBSETS)
        for subset in subsets:
            try:
                secret = shamir.combine(subset, params.threshold, SEED_SIZE)
            except SecAggMessageError:
                continue
            if check(node, secret):
                return secret
        raise SecAggReconstructionError(
            f"secure aggregation round {params.round}: the {len(shares)} shares of node "
            f"{node}'s {what} do not rebuild its committed value (a share is wrong)")

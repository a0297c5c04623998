"""The post-quantum secure-aggregation protocol without Flower: sums, dropouts, refusals."""

from __future__ import annotations

import contextlib
import dataclasses
import random

import numpy as np
import pytest

from pqml.fl import secagg_shamir as shamir
from pqml.fl.errors import (
    SecAggConfigError,
    SecAggMessageError,
    SecAggReconstructionError,
    SecAggThresholdError,
)
from pqml.fl.secagg_masks import Field, dequantize, quantize
from pqml.fl.secagg_protocol import (
    Envelope,
    SecAggClient,
    SecAggParams,
    SecAggServer,
    UnmaskReply,
    ring_neighbours,
)

MOD = 1 << 32


def params(n: int = 5, threshold: int = 3, share_count: int | None = None, round: int = 1,
           kem: str = "ML-KEM-768", modulus: int = MOD) -> SecAggParams:
    return SecAggParams(round, n, share_count or n, threshold, modulus, kem)


def inputs(nodes, length=64, modulus=MOD, seed=0):
    rng = np.random.default_rng(seed)
    return {n: rng.integers(0, modulus // 16, length, dtype=np.uint64) for n in nodes}


class Round:
    """Drives one round between real clients and a real server, stage by stage, with the
    dropouts and interference a test asks for."""

    def __init__(self, p: SecAggParams, nodes=None):
        self.p = p
        self.nodes = nodes or [101 + 7 * i for i in range(p.sampled)]
        self.server = SecAggServer(p, self.nodes, random.Random(4))
        self.clients = {n: SecAggClient(n, p) for n in self.nodes}

    def setup(self, drop=()):
        self.server.collect_setup({n: c.setup() for n, c in self.clients.items()
                                   if n not in drop})

    def share_keys(self, drop=()):
        requests = self.server.share_keys_requests()
        self.envelopes = {n: self.clients[n].share_keys(keys) for n, keys in requests.items()
                          if n not in drop}
        self.forwards = self.server.collect_envelopes(self.envelopes)

    def masked(self, x, drop=()):
        self.masked_vectors = {n: self.clients[n].masked_input(self.forwards[n], x[n])
                               for n in self.forwards if n not in drop}
        self.server.collect_masked(self.masked_vectors)

    def unmask(self, drop=()):
        replies = {n: self.clients[n].unmask(*req)
                   for n, req in self.server.unmask_requests().items() if n not in drop}
        return self.server.collect_unmask(replies)

    def run(self, x, drop_setup=(), drop_share=(), drop_masked=(), drop_unmask=()):
        self.setup(drop_setup)
        self.share_keys(drop_share)
        self.masked(x, drop_masked)
        return self.unmask(drop_unmask)


def plain_sum(x, nodes, modulus=MOD):
    return sum(0 + x[n].astype(object) for n in nodes) % modulus


# ---- Shamir ------------------------------------------------------------------------------


def test_shamir_any_threshold_subset_rebuilds_the_secret():
    secret = bytes(range(32))
    shares = shamir.split(secret, 3, 6)
    for subset in ([0, 1, 2], [5, 3, 1], [2, 4, 5, 0]):
        assert shamir.combine([shares[i] for i in subset], 3, 32) == secret


def test_shamir_fewer_shares_are_refused_and_wrong_ones_give_another_secret():
    secret = b"\xff" * 64
    shares = shamir.split(secret, 4, 5)
    with pytest.raises(SecAggConfigError):
        shamir.combine(shares[:3], 4, 64)
    bad = bytearray(shares[0])
    bad[-1] ^= 1
    # A wrong point interpolates to some other field element: not the secret.
    with contextlib.suppress(SecAggMessageError):  # or falls outside 64 bytes
        assert shamir.combine([bytes(bad), *shares[1:4]], 4, 64) != secret
    with pytest.raises(SecAggMessageError, match="repeat"):
        shamir.combine([shares[0], shares[0], shares[1], shares[2]], 4, 64)
    with pytest.raises(SecAggMessageError, match="68 bytes"):
        shamir.combine([shares[0][:-1], *shares[1:4]], 4, 64)


def test_shamir_threshold_minus_one_shares_fit_every_secret():
    """Perfect secrecy, checked directly: two shares of a 3-of-n sharing lie on a
    polynomial through (0, c) for every candidate c, so a third share exists that makes
    them combine to c: they pin nothing down."""
    p = shamir.PRIME
    shares = shamir.split(b"A" * 32, 3, 5)
    points = [(shamir.share_index(s), int.from_bytes(s[2:], "big")) for s in shares[:2]]
    for candidate in (b"B" * 32, bytes(32)):
        known = [(0, int.from_bytes(candidate, "big")), *points]
        y3 = 0
        for i, (xi, yi) in enumerate(known):  # Lagrange: the polynomial's value at x = 3
            num = den = 1
            for j, (xj, _) in enumerate(known):
                if i != j:
                    num, den = num * (3 - xj) % p, den * (xi - xj) % p
            y3 = (y3 + yi * num * pow(den, -1, p)) % p
        third = (3).to_bytes(2, "big") + y3.to_bytes(66, "big")
        assert shamir.combine([*shares[:2], third], 3, 32) == candidate


# ---- masks and quantisation --------------------------------------------------------------


def test_mask_is_deterministic_per_seed_and_context_and_uses_the_whole_seed():
    field = Field(MOD)
    a = field.mask(bytes(32), b"ctx", 1000)
    assert np.array_equal(a, field.mask(bytes(32), b"ctx", 1000))
    assert not np.array_equal(a, field.mask(bytes(32), b"ctx2", 1000))
    # Two seeds SecAgg+ folds to the same 32-bit value give it the same mask; not here.
    from flwr.common.secure_aggregation.secaggplus_utils import pseudo_rand_gen

    one, other = b"\x01" + bytes(31), bytes(28) + b"\x01" + bytes(3)
    assert np.array_equal(pseudo_rand_gen(one, MOD, [(10,)])[0],
                          pseudo_rand_gen(other, MOD, [(10,)])[0])
    assert not np.array_equal(field.mask(one, b"ctx", 10), field.mask(other, b"ctx", 10))


def test_mask_values_are_uniform_in_the_field():
    small = Field(1 << 8)
    words = small.mask(b"s" * 32, b"u", 200_000)
    assert words.max() < 256 and words.min() >= 0
    counts = np.bincount(words.astype(np.int64), minlength=256)
    chi2 = ((counts - counts.mean()) ** 2 / counts.mean()).sum()
    assert chi2 < 400  # 255 degrees of freedom: mean 255, sd 22.6
    big = Field(1 << 64).mask(b"t" * 32, b"u", 4)
    assert big.dtype == np.uint64


def test_field_rejects_a_modulus_that_is_not_a_power_of_two():
    for bad in (0, 1, 3, 1000, (1 << 64) + 1, 1 << 65):
        with pytest.raises(SecAggConfigError):
            Field(bad)


def test_quantize_is_exact_on_the_grid_and_unbiased_off_it():
    c, q = 8.0, 1 << 22
    grid = np.array([-8.0, -1.0, 0.0, 0.5, 7.999996185302734])
    assert np.array_equal(dequantize(quantize(grid, c, q), c, q), grid)
    x = np.full(200_000, 0.1234567)
    mean = dequantize(quantize(x, c, q, np.random.default_rng(1)), c, q).mean()
    assert abs(mean - 0.1234567) < 2 * c / q / 100
    assert quantize(np.array([100.0, -100.0]), c, q).tolist() == [q, 0]


# ---- the protocol ------------------------------------------------------------------------


@pytest.mark.parametrize("kem", ["ML-KEM-768", "X-Wing", "ML-KEM-1024"])
def test_no_dropout_the_unmasked_sum_equals_the_plain_sum(kem):
    r = Round(params(kem=kem))
    x = inputs(r.nodes)
    total = r.run(x)
    assert total.tolist() == plain_sum(x, r.nodes).tolist()


def test_sparse_neighbourhoods_sum_exactly():
    r = Round(params(n=9, share_count=5, threshold=3))
    assert all(len(v) == 5 for v in r.server.neighbours.values())
    x = inputs(r.nodes)
    assert r.run(x).tolist() == plain_sum(x, r.nodes).tolist()


def test_the_server_sees_only_masked_vectors():
    r = Round(params())
    x = {n: np.zeros(4096, dtype=np.uint64) for n in r.nodes}  # worst case: all zero
    x[r.nodes[0]][:] = 7
    total = r.run(x)
    for node, masked in r.masked_vectors.items():
        plain = x[node].astype(np.float64)
        values = masked.astype(np.float64)
        # Statistically unlike the input: uniform over [0, 2**32) (mean 2**31, sd 2**32/√12)
        assert abs(values.mean() - 2**31) < 0.05 * 2**32
        assert abs(values.std() - 2**32 / 12**0.5) < 0.05 * 2**32
        assert np.count_nonzero(masked.astype(np.uint64) == x[node]) < 5
        assert abs(np.corrcoef(values, plain + np.arange(4096))[0, 1]) < 0.1
    # No single client's input is recoverable from what the server holds: each masked
    # vector minus the input is still a uniform mask, and any proper subset of the masked
    # vectors sums to something uniform too; only the full set unmasks to the sum.
    subset = sum(r.masked_vectors[n].astype(np.uint64) for n in r.nodes[:-1]) % MOD
    assert abs(subset.astype(np.float64).mean() - 2**31) < 0.05 * 2**32
    assert total.tolist() == plain_sum(x, r.nodes).tolist()


def test_what_the_server_holds_omits_the_secrets_that_would_unmask_one_client():
    """A survivor's pair seeds stay with the clients: the server rebuilds self seeds of
    survivors and masters of dropped nodes only, and those two never cover one node."""
    r = Round(params(n=5, threshold=3))
    x = inputs(r.nodes)
    r.setup()
    r.share_keys()
    r.masked(x, drop=[r.nodes[2]])
    requests = r.server.unmask_requests()
    for alive, dropped in requests.values():
        assert r.nodes[2] not in alive and set(dropped) <= {r.nodes[2]}
    replies = {n: r.clients[n].unmask(*req) for n, req in requests.items()}
    for reply in replies.values():
        assert not set(reply.self_seed_shares) & set(reply.master_shares)
    total = r.server.collect_unmask(replies)
    survivors = [n for n in r.nodes if n != r.nodes[2]]
    assert total.tolist() == plain_sum(x, survivors).tolist()


@pytest.mark.parametrize("stage", ["masked", "unmask", "share"])
def test_dropouts_below_threshold_recover(stage):
    r = Round(params(n=7, threshold=4))
    x = inputs(r.nodes)
    drop = r.nodes[1:4]  # 3 of 7 drop; 4 left: exactly the threshold
    total = r.run(x, **{f"drop_{stage}": drop})
    survivors = r.nodes if stage == "unmask" else [n for n in r.nodes if n not in drop]
    assert total.tolist() == plain_sum(x, survivors).tolist()


def test_a_threshold_of_half_or_less_is_refused():
    """Half or fewer would let a server that lies about who dropped collect both a
    client's self-mask shares and its master shares, and unmask its input."""
    with pytest.raises(SecAggConfigError, match="more than half the share count 6"):
        params(n=6, threshold=3)
    params(n=6, threshold=4)


def test_even_share_counts_give_exactly_that_many_neighbours():
    neighbours = ring_neighbours(list(range(1, 9)), 4)
    assert {len(v) for v in neighbours.values()} == {4}
    assert all(node in around for node, around in neighbours.items())


def test_dropouts_in_every_stage_together_recover():
    r = Round(params(n=10, threshold=6))
    x = inputs(r.nodes)
    total = r.run(x, drop_setup=[r.nodes[0]], drop_share=[r.nodes[1]],
                  drop_masked=[r.nodes[2]], drop_unmask=[r.nodes[3]])
    survivors = r.nodes[3:]  # a node lost at unmask had sent its masked input
    assert total.tolist() == plain_sum(x, survivors).tolist()


def test_dropouts_above_threshold_fail_with_the_round_and_counts():
    r = Round(params(n=6, threshold=4, round=9))
    x = inputs(r.nodes)
    with pytest.raises(SecAggThresholdError, match="round 9 failed after masked input: "
                       "3 of 6 clients left") as caught:
        r.run(x, drop_masked=r.nodes[:3])
    assert (caught.value.round, caught.value.survivors, caught.value.threshold,
            caught.value.sampled) == (9, 3, 4, 6)


def test_dropouts_at_unmask_above_threshold_fail_cleanly():
    r = Round(params(n=5, threshold=4))
    with pytest.raises(SecAggThresholdError, match="after unmask: 3 of 5"):
        r.run(inputs(r.nodes), drop_unmask=r.nodes[:2])


def test_too_many_setup_dropouts_fail_before_any_secret_is_shared():
    r = Round(params(n=4, threshold=3))
    with pytest.raises(SecAggThresholdError, match="after setup: 2 of 4"):
        r.setup(drop=r.nodes[:2])


def _tamper(envelope: Envelope, name: str) -> Envelope:
    data = bytearray(getattr(envelope, name))
    data[len(data) // 2] ^= 0x40
    return dataclasses.replace(envelope, **{name: bytes(data)})


@pytest.mark.parametrize("part", ["share_box", "share_ct", "pair_box", "pair_ct"])
def test_a_tampered_box_is_rejected(part):
    r = Round(params())
    r.setup()
    r.share_keys()
    dst = r.nodes[-1]  # highest id: every box to it carries a pair seed
    forwards = list(r.forwards[dst])
    forwards[0] = _tamper(forwards[0], part)
    with pytest.raises(SecAggMessageError, match="fails authentication"):
        r.clients[dst].masked_input(forwards, np.zeros(8, dtype=np.uint32))


def test_a_box_from_another_round_is_rejected():
    from pqml.fl.secagg_protocol import seal
    from pqml.primitives import registry

    r = Round(params(round=2))
    r.setup()
    r.share_keys()
    dst = r.nodes[-1]
    share_key = r.server.share_keys_requests()[dst][dst][0]
    key = registry.get("ML-KEM-768").scheme().public_from_bytes(share_key)
    # A genuine box from the same sender to the same key, sealed for round 1:
    ct, box = seal(params(round=1), b"shares", r.nodes[0], dst, key,
                   bytes(2 * shamir.SHARE_SIZE))
    replayed = list(r.forwards[dst])
    replayed[0] = dataclasses.replace(replayed[0], share_ct=ct, share_box=box)
    with pytest.raises(SecAggMessageError, match=r"round 2: shares box .* fails"):
        r.clients[dst].masked_input(replayed, np.zeros(8, dtype=np.uint32))


def test_a_box_for_another_node_or_replayed_twice_is_rejected():
    r = Round(params())
    r.setup()
    r.share_keys()
    a, b = r.nodes[-1], r.nodes[-2]
    misaddressed = dataclasses.replace(r.forwards[b][0], dst=a)
    with pytest.raises(SecAggMessageError, match="fails authentication"):
        r.clients[a].masked_input([misaddressed], np.zeros(8, dtype=np.uint32))
    twice = [r.forwards[b][0], r.forwards[b][0]]
    with pytest.raises(SecAggMessageError, match="second box"):
        r.clients[b].masked_input(twice, np.zeros(8, dtype=np.uint32))


def test_stage_messages_out_of_order_or_replayed_are_rejected():
    r = Round(params())
    client = r.clients[r.nodes[0]]
    with pytest.raises(SecAggMessageError, match="stage 'new'"):
        client.masked_input([], np.zeros(4, dtype=np.uint32))
    r.setup()
    with pytest.raises(SecAggMessageError, match="cannot set up in stage 'setup'"):
        client.setup()  # a replayed setup
    r.share_keys()
    r.masked(inputs(r.nodes))
    requests = r.server.unmask_requests()
    client.unmask(*requests[r.nodes[0]])
    with pytest.raises(SecAggMessageError, match="cannot unmask"):
        client.unmask(*requests[r.nodes[0]])  # a second unmask request


@pytest.mark.parametrize("alive,dropped,message", [
    (lambda n: n[:3], lambda n: n[2:4], "both alive and dropped"),
    (lambda n: n[1:4], lambda n: [n[0]], "this node as dropped"),
    (lambda n: [*n[:3], 999], lambda n: [], "holds no shares"),
    (lambda n: n[:1], lambda n: n[1:], "threshold"),
])
def test_a_client_refuses_an_unmask_request_that_could_expose_it(alive, dropped, message):
    r = Round(params())
    r.setup()
    r.share_keys()
    r.masked(inputs(r.nodes))
    with pytest.raises((SecAggMessageError, SecAggThresholdError), match=message):
        r.clients[r.nodes[0]].unmask(alive(r.nodes), dropped(r.nodes))


def test_a_client_refuses_to_share_with_more_neighbours_than_agreed():
    r = Round(params(n=7, share_count=3, threshold=2))
    r.setup()
    requests = r.server.share_keys_requests()
    node = r.nodes[0]
    assert len(requests[node]) == 3
    widened = dict(requests[node])
    widened.update({n: keys[n] for n, keys in requests.items() if n not in widened})
    with pytest.raises(SecAggMessageError, match="more than the share count 3"):
        r.clients[node].share_keys(widened)


def test_a_wrong_share_is_detected_and_routed_around():
    r = Round(params(n=6, threshold=4))
    x = inputs(r.nodes)
    r.setup()
    r.share_keys()
    r.masked(x)
    requests = r.server.unmask_requests()
    replies = {n: r.clients[n].unmask(*req) for n, req in requests.items()}
    liar = r.nodes[0]
    forged = {o: s[:2] + bytes(66) for o, s in replies[liar].self_seed_shares.items()}
    good = dict(replies)
    good[liar] = UnmaskReply(forged, replies[liar].master_shares)
    assert r.server.collect_unmask(good).tolist() == plain_sum(x, r.nodes).tolist()
    assert "does not match its digest" in r.server.rejected[liar]


def test_lies_that_leave_too_few_honest_holders_fail_with_the_round_and_counts():
    r = Round(params(n=3, threshold=3))
    r.setup()
    r.share_keys()
    r.masked(inputs(r.nodes))
    requests = r.server.unmask_requests()
    replies = {n: r.clients[n].unmask(*req) for n, req in requests.items()}
    liar = r.nodes[1]
    replies[liar] = UnmaskReply({o: s[:2] + (5).to_bytes(66, "big")
                                 for o, s in replies[liar].self_seed_shares.items()}, {})
    with pytest.raises(SecAggThresholdError, match="round 1 failed after unmask"):
        r.server.collect_unmask(replies)
    assert "digest" in r.server.rejected[liar]


def test_a_wrong_share_of_a_holders_own_secret_fails_with_a_reconstruction_error():
    # A holder's share of its own seed never left it, so no digest covers it: a lie there
    # is caught only by the seed commitment, and with no spare shares it cannot be repaired.
    r = Round(params(n=3, threshold=3))
    r.setup()
    r.share_keys()
    r.masked(inputs(r.nodes))
    requests = r.server.unmask_requests()
    replies = {n: r.clients[n].unmask(*req) for n, req in requests.items()}
    liar = r.nodes[1]
    seeds = dict(replies[liar].self_seed_shares)
    seeds[liar] = seeds[liar][:2] + (5).to_bytes(66, "big")
    replies[liar] = UnmaskReply(seeds, {})
    with pytest.raises(SecAggReconstructionError, match="do not rebuild"):
        r.server.collect_unmask(replies)


def test_many_lying_holders_are_named_and_the_round_still_sums():
    # 20 nodes, threshold 11, the first four holders lie about every share they return: a
    # search over share subsets in order would try thousands of subsets that contain a lie;
    # the published digests drop the lies at once.
    r = Round(params(n=20, threshold=11))
    x = inputs(r.nodes, length=8)
    r.setup()
    r.share_keys()
    r.masked(x, drop=(r.nodes[-1],))
    replies = {n: r.clients[n].unmask(*req) for n, req in r.server.unmask_requests().items()}
    liars = sorted(replies)[:4]
    for liar in liars:
        reply = replies[liar]
        replies[liar] = UnmaskReply(
            {o: s[:2] + (7).to_bytes(66, "big") for o, s in reply.self_seed_shares.items()},
            {o: s[:2] + (9).to_bytes(66, "big") for o, s in reply.master_shares.items()})
    survivors = [n for n in r.nodes if n != r.nodes[-1]]
    assert r.server.collect_unmask(replies).tolist() == plain_sum(x, survivors).tolist()
    assert sorted(n for n, why in r.server.rejected.items() if "digest" in why) == liars


def test_a_dealer_whose_digests_disagree_with_its_sealed_shares_is_caught_by_the_receiver():
    r = Round(params(n=4, threshold=3))
    r.setup()
    requests = r.server.share_keys_requests()
    envelopes = {n: r.clients[n].share_keys(k) for n, k in requests.items()}
    dealer = r.nodes[0]
    first = envelopes[dealer][0]
    envelopes[dealer][0] = dataclasses.replace(first, share_digests=bytes(64))
    forwards = r.server.collect_envelopes(envelopes)
    receiver = first.dst
    with pytest.raises(SecAggMessageError, match=f"from node {dealer} to node {receiver} "
                                                 "do not match their published digests"):
        r.clients[receiver].masked_input(forwards[receiver], inputs(r.nodes)[receiver])


@pytest.mark.parametrize("digests", [b"", bytes(63)], ids=["missing", "short"])
def test_envelopes_without_well_formed_share_digests_are_rejected(digests):
    r = Round(params(n=5, threshold=3))
    r.setup()
    requests = r.server.share_keys_requests()
    envelopes = {n: r.clients[n].share_keys(k) for n, k in requests.items()}
    cheat = r.nodes[2]
    envelopes[cheat] = [dataclasses.replace(e, share_digests=digests)
                        for e in envelopes[cheat]]
    forwards = r.server.collect_envelopes(envelopes)
    assert r.server.rejected[cheat] == "share digests missing or malformed"
    assert cheat not in forwards


def test_malformed_replies_count_as_dropouts():
    r = Round(params(n=5, threshold=3))
    x = inputs(r.nodes)
    r.setup()
    requests = r.server.share_keys_requests()
    envelopes = {n: r.clients[n].share_keys(k) for n, k in requests.items()}
    cheat = r.nodes[0]
    envelopes[cheat] = envelopes[cheat][1:]  # skips a neighbour
    forwards = r.server.collect_envelopes(envelopes)
    assert cheat in r.server.rejected and cheat not in forwards
    r.forwards = forwards
    bad = r.nodes[1]
    masked = {n: r.clients[n].masked_input(forwards[n], x[n]) for n in forwards}
    masked[bad] = masked[bad][:-1]
    r.server.collect_masked(masked)
    assert bad in r.server.rejected
    survivors = [n for n in r.nodes if n not in (cheat, bad)]
    assert r.unmask().tolist() == plain_sum(x, survivors).tolist()


def test_client_state_survives_a_round_trip_through_a_record():
    r = Round(params())
    r.setup()
    requests = r.server.share_keys_requests()
    envelopes = {}
    for n, keys in requests.items():
        client = SecAggClient.from_record(r.clients[n].to_record())
        envelopes[n] = client.share_keys(keys)
        r.clients[n] = SecAggClient.from_record(client.to_record())
    r.forwards = r.server.collect_envelopes(envelopes)
    x = inputs(r.nodes)
    r.masked(x)
    assert r.unmask().tolist() == plain_sum(x, r.nodes).tolist()


def test_parameters_are_checked():
    with pytest.raises(SecAggConfigError, match="threshold"):
        params(n=5, threshold=6)
    with pytest.raises(SecAggConfigError, match="threshold"):
        params(n=5, threshold=1)
    with pytest.raises(SecAggConfigError, match="not a post-quantum KEM"):
        params(kem="X25519")
    with pytest.raises(SecAggConfigError, match="power of two"):
        params(modulus=1000)
    with pytest.raises(SecAggConfigError, match="at least 2"):
        params(n=1, threshold=1)
    with pytest.raises(SecAggConfigError, match="distinct"):
        SecAggServer(params(n=3), [1, 1, 2])


def test_inputs_outside_the_field_are_refused():
    r = Round(params(modulus=1 << 8))
    r.setup()
    r.share_keys()
    with pytest.raises(SecAggMessageError, match="outside"):
        r.clients[r.nodes[0]].masked_input(r.forwards[r.nodes[0]],
                                           np.array([256], dtype=np.int64))

"""The planner alone: parts tile the input and the output exactly, stay chunk aligned,
and respect S3's multipart limits; no engine, no I/O."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqml.distributed import planner
from pqml.primitives import chunked
from pqml.primitives.errors import PqmlError

MiB = 1 << 20


def _tiles(items: list[planner.WorkItem], total_in: int, total_out: int) -> None:
    assert [i.part for i in items] == list(range(1, len(items) + 1))
    assert all(i.parts == len(items) for i in items)
    assert items[0].out_start == 0 and items[-1].out_end == total_out
    for a, b in itertools.pairwise(items):
        assert a.end == b.start and a.out_end == b.out_start
        assert a.stop_chunk == b.first_chunk
    assert items[-1].end == total_in


@settings(max_examples=200, deadline=None)
@given(size=st.integers(0, 200 * MiB), prefix=st.integers(60, 200_000),
       part=st.sampled_from([5 * MiB, 8 * MiB, 32 * MiB]))
def test_encrypt_parts_tile_input_and_output(size: int, prefix: int, part: int) -> None:
    items = planner.plan_encrypt(planner.Input("x", "x", size), "y", prefix, part_size=part)
    total = planner.encrypted_size(size, prefix)
    assert total == prefix - chunked.HEADER_SIZE + chunked.ciphertext_size(size)
    _tiles(items, size, total)
    assert items[0].start == 0 and items[-1].stop_chunk == size // chunked.CHUNK_SIZE + 1
    for i in items[:-1]:  # every part but the last: whole chunks, at least 5 MiB
        assert i.size % chunked.CHUNK_SIZE == 0
        assert i.out_end - i.out_start >= planner.MIN_PART


@settings(max_examples=200, deadline=None)
@given(size=st.integers(0, 200 * MiB), offset=st.integers(100, 300_000))
def test_decrypt_parts_tile_the_payload(size: int, offset: int) -> None:
    wire = offset + chunked.ciphertext_size(size)
    items = planner.plan_decrypt(planner.Input("x", "x", wire), "y", offset,
                                 part_size=5 * MiB)
    _tiles(items, wire, size)
    assert items[0].start == offset + chunked.HEADER_SIZE
    assert planner.decrypted_size(wire, offset) == size
    for i in items[:-1]:
        assert i.size % chunked.WIRE_CHUNK_SIZE == 0


def test_huge_objects_get_larger_parts_within_ten_thousand() -> None:
    size = 2 * (1 << 40)  # 2 TiB: 32 MiB parts would be 65,536 of them
    items = planner.plan_encrypt(planner.Input("x", "x", size), "y", 200)
    assert len(items) <= planner.MAX_PARTS
    assert max(i.out_end - i.out_start for i in items) <= planner.MAX_PART


def test_impossible_sizes_are_refused() -> None:
    with pytest.raises(PqmlError, match="part size"):
        planner.chunks_per_part(10, 1 * MiB)  # below S3's 5 MiB minimum
    assert planner.chunks_per_part(4, planner.MAX_PART) * chunked.WIRE_CHUNK_SIZE \
        <= planner.MAX_PART  # 5 GiB of plaintext is more than 5 GiB on the wire
    with pytest.raises(PqmlError, match="do not fit"):
        planner.chunks_per_part(10 ** 12)  # ~15 PiB of chunks
    with pytest.raises(chunked.ChunkedFormatError, match="truncated"):
        planner.plan_decrypt(planner.Input("x", "x", 200), "y", 180)


def test_hash_and_batch_plans() -> None:
    inputs = [planner.Input(f"f{i}", f"f{i}", s) for i, s in enumerate([0, 10, 100])]
    items = planner.plan_hash(inputs, [[], [(0, 10)], [(0, 64), (64, 100)]])
    assert [(i.name, i.start, i.end, i.part, i.parts) for i in items] == [
        ("f1", 0, 10, 1, 1), ("f2", 0, 64, 1, 2), ("f2", 64, 100, 2, 2)]
    many = [planner.Input(str(i), str(i), 1) for i in range(70)]
    assert [len(b) for b in planner.plan_batches(many)] == [32, 32, 6]
    assert [len(b) for b in planner.plan_batches(many, max_bytes=3)] == [3] * 23 + [1]

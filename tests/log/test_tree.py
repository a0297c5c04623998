"""Proofs over stored subtree hashes (pqml.log.tree) agree with the published RFC 6962
vectors and with pqml.log.merkle on random trees."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqml.log import merkle, tree

from conftest import vector

# The reference tree of transparency-dev/merkle's test data (see tests/log/test_merkle.py).
REFERENCE = [bytes.fromhex(x) for x in ("", "00", "10", "2021", "3031", "40414243",
                                        "5051525354555657",
                                        "606162636465666768696a6b6c6d6e6f")]


def reader(leaves: list[bytes]) -> tree.NodeReader:
    """Complete subtree hashes computed straight from merkle.tree_head."""
    def node(level: int, index: int) -> bytes:
        width = 1 << level
        span = leaves[index * width:(index + 1) * width]
        assert len(span) == width, "asked for an incomplete subtree"
        return merkle.tree_head(span)
    return node


def _b64s(values: list[str] | None) -> list[bytes]:
    return [base64.b64decode(v) for v in values or []]


def _happy(kind: str) -> list[Path]:
    return sorted(vector("rfc6962-merkle", kind).glob("*/happy-path.json"))


@pytest.mark.parametrize("path", _happy("inclusion"), ids=lambda p: p.parent.name)
def test_published_inclusion_proofs_are_reproduced(path: Path) -> None:
    case = json.loads(path.read_text())
    leaves = [merkle.leaf_hash(x) for x in REFERENCE]
    if case["treeSize"] == 0 or case["treeSize"] > len(leaves):
        pytest.skip("not a proof in the reference tree")
    node = reader(leaves[:case["treeSize"]])
    assert tree.root(node, case["treeSize"]) == base64.b64decode(case["root"])
    assert tree.inclusion_proof(node, case["leafIdx"], case["treeSize"]) == \
        _b64s(case["proof"])


@pytest.mark.parametrize("path", _happy("consistency"), ids=lambda p: p.parent.name)
def test_published_consistency_proofs_are_reproduced(path: Path) -> None:
    case = json.loads(path.read_text())
    leaves = [merkle.leaf_hash(x) for x in REFERENCE]
    node = reader(leaves[:case["size2"]])
    assert tree.root(node, case["size1"]) == base64.b64decode(case["root1"])
    assert tree.root(node, case["size2"]) == base64.b64decode(case["root2"])
    assert tree.consistency_proof(node, case["size1"], case["size2"]) == _b64s(case["proof"])


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 200), st.data())
def test_stored_node_proofs_equal_the_list_based_ones(size: int, data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    node = reader(leaves)
    index = data.draw(st.integers(0, size - 1))
    old = data.draw(st.integers(0, size))
    assert tree.root(node, size) == merkle.tree_head(leaves)
    assert tree.inclusion_proof(node, index, size) == merkle.inclusion_proof(leaves, index)
    assert tree.consistency_proof(node, old, size) == merkle.consistency_proof(leaves, old)


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 300))
def test_compact_range_reports_every_completed_node(size: int) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(size)]
    crange, seen = tree.CompactRange(), {}
    for n, leaf in enumerate(leaves, 1):
        for level, index, h in crange.append(leaf):
            seen[(level, index)] = h
        assert crange.root() == merkle.tree_head(leaves[:n])
    node = reader(leaves)
    assert seen == {(lv, i): node(lv, i) for lv in range(1, size.bit_length())
                    for i in range(size >> lv)}
    assert tree.CompactRange.read(node, size).hashes == crange.hashes


def test_bad_arguments_are_refused() -> None:
    node = reader([merkle.leaf_hash(b"a")])
    with pytest.raises(ValueError):
        tree.inclusion_proof(node, 1, 1)
    with pytest.raises(ValueError):
        tree.consistency_proof(node, 2, 1)
    with pytest.raises(ValueError):
        tree.CompactRange(3, [b"x" * 32])

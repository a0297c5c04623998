"""RFC 6962 trees over stored subtree hashes: a compact range for appends, proofs in
O(log² n) node reads.

:mod:`pqml.log.merkle` computes from the full list of leaf hashes, which is O(n) per proof.
A log on disk keeps the hash of every *complete* subtree instead — node ``(level, index)``
covers leaves ``[index·2^level, (index+1)·2^level)`` — and every RFC 6962 subtree the
proof recursions visit is a right-folded run of at most ``log n`` of those nodes. So
:func:`inclusion_proof` and :func:`consistency_proof` here are the recursions of RFC 6962
§2.1.1 and §2.1.2 over a ``node(level, index)`` reader; tests check them against
:mod:`pqml.log.merkle` on random trees.

:class:`CompactRange` is the right edge of a growing tree (one node per set bit of its
size): appending a leaf merges equal-sized neighbours and reports the nodes it completed,
which is what a store writes down; its root is the tree head of every prefix it passes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from pqml.log.merkle import EMPTY_ROOT, node_hash

NodeReader = Callable[[int, int], bytes]
"""``node(level, index)``: the hash of the complete subtree of 2^level leaves at
``index·2^level`` (level 0: a leaf hash)."""


def fold(hashes: list[bytes]) -> bytes:
    """The root of a run of complete subtrees, largest (leftmost) first, folded from the
    right as RFC 6962 pairs an unbalanced tree's right edge."""
    if not hashes:
        return EMPTY_ROOT
    root = hashes[-1]
    for h in reversed(hashes[:-1]):
        root = node_hash(h, root)
    return root


def covering_nodes(start: int, end: int) -> list[tuple[int, int]]:
    """The complete subtrees ``(level, index)`` that cover leaves ``[start, end)``, left to
    right. ``start`` must be aligned to a power of two at least ``end - start`` (true of
    every subtree the RFC 6962 recursions visit, and of every prefix ``[0, n)``)."""
    out = []
    pos, width = start, end - start
    for level in reversed(range(width.bit_length())):
        if width >> level & 1:
            out.append((level, pos >> level))
            pos += 1 << level
    return out


def range_hash(node: NodeReader, start: int, end: int) -> bytes:
    """MTH of leaves ``[start, end)`` (an RFC 6962 subtree, see :func:`covering_nodes`)."""
    return fold([node(level, index) for level, index in covering_nodes(start, end)])


def root(node: NodeReader, size: int) -> bytes:
    """The tree head of the first ``size`` leaves."""
    return range_hash(node, 0, size)


def _split(n: int) -> int:
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(node: NodeReader, index: int, size: int) -> list[bytes]:
    """RFC 6962 §2.1.1 PATH(index, D[0:size]), leaf's sibling first."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of {size} leaves")
    path: list[bytes] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:  # walk down; siblings are collected root-first, then reversed
        k = _split(hi - lo)
        if m < k:
            path.append(range_hash(node, lo + k, hi))
            hi = lo + k
        else:
            path.append(range_hash(node, lo, lo + k))
            lo, m = lo + k, m - k
    path.reverse()
    return path


def consistency_proof(node: NodeReader, old_size: int, size: int) -> list[bytes]:
    """RFC 6962 §2.1.2 PROOF(old_size, D[0:size]); empty when either tree is empty or
    they are the same tree."""
    if not 0 <= old_size <= size:
        raise ValueError(f"old tree size {old_size} is outside 0..{size}")
    if old_size in (0, size):
        return []
    proof: list[bytes] = []
    lo, hi, m, complete = 0, size, old_size, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(range_hash(node, lo + k, hi))
            hi = lo + k
        else:
            proof.append(range_hash(node, lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    if not complete:
        proof.append(range_hash(node, lo, hi))
    proof.reverse()
    return proof


class CompactRange:
    """The complete subtrees covering leaves ``[0, size)``: one hash per set bit of
    ``size``, largest first."""

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)
        if len(self.hashes) != bin(size).count("1"):
            raise ValueError(f"a compact range of size {size} has {bin(size).count('1')} "
                             f"hashes, not {len(self.hashes)}")

    @classmethod
    def read(cls, node: NodeReader, size: int) -> CompactRange:
        return cls(size, [node(level, index) for level, index in covering_nodes(0, size)])

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add the next leaf hash; return the interior nodes ``(level, index, hash)`` it
        completed, lowest first."""
        completed = []
        h, level, size = leaf, 0, self.size
        while size >> level & 1:  # a complete left neighbour of the same height
            h = node_hash(self.hashes.pop(), h)
            level += 1
            completed.append((level, size >> level, h))
        self.hashes.append(h)
        self.size += 1
        return completed

    def root(self) -> bytes:
        return fold(self.hashes)

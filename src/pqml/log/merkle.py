"""RFC 6962 Merkle trees over SHA-256: hashes, tree heads, inclusion and consistency proofs.

Leaves are hashed as ``SHA-256(0x00 || data)`` and interior nodes as
``SHA-256(0x01 || left || right)`` (RFC 6962 §2.1), so a leaf can never pass for a node.
Proofs are generated with the recursive definitions of RFC 6962 §2.1.1 (PATH) and §2.1.2
(PROOF) and verified with the iterative algorithms RFC 9162 §2.1.3.2 and §2.1.4.2 write
out. Generation works on the full list of leaf hashes (O(n) per proof): enough for a local
log; stored subtree hashes (tiles) are the next step for a large one.

Every verifier fails closed with :class:`MerkleProofError`: hashes must be exactly 32
bytes, a proof at most :data:`MAX_PROOF_HASHES` long, sizes below 2^63, so hostile input
costs bounded time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from pqml.log.errors import MerkleProofError

HASH_SIZE = 32
MAX_PROOF_HASHES = 64  # no proof in a tree of fewer than 2^63 leaves is longer
MAX_TREE_SIZE = 2**63 - 1  # checkpoints and tlog-cosignature fields are uint64; stay signed
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) per RFC 6962 §2.1


def leaf_hash(data: bytes) -> bytes:
    """The RFC 6962 leaf hash of an entry: ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + bytes(data)).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The RFC 6962 interior node hash: ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n > 1): RFC 6962's ``k``."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(hashes: Sequence[bytes]) -> bytes:
    n = len(hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return hashes[0]
    k = _split(n)
    return node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def _check_hashes(hashes: Sequence[bytes], what: str) -> list[bytes]:
    out = []
    for i, h in enumerate(hashes):
        if not isinstance(h, bytes | bytearray) or len(h) != HASH_SIZE:
            raise MerkleProofError(f"{what}[{i}] is not a {HASH_SIZE}-byte hash")
        out.append(bytes(h))
    return out


def tree_head(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash (root) of a tree whose leaves have these leaf hashes."""
    return _mth(_check_hashes(leaf_hashes, "leaf hash"))


def _path(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    n = len(hashes)
    if n <= 1:
        return []
    k = _split(n)
    if index < k:
        return [*_path(index, hashes[:k]), _mth(hashes[k:])]
    return [*_path(index - k, hashes[k:]), _mth(hashes[:k])]


def inclusion_proof(leaf_hashes: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in the tree of ``leaf_hashes`` (RFC 6962 §2.1.1),
    from the leaf's sibling up to the root's child."""
    hashes = _check_hashes(leaf_hashes, "leaf hash")
    if not 0 <= index < len(hashes):
        raise MerkleProofError(f"leaf index {index} is outside a tree of {len(hashes)} leaves")
    return _path(index, hashes)


def _subproof(m: int, hashes: Sequence[bytes], complete: bool) -> list[bytes]:
    n = len(hashes)
    if m == n:
        return [] if complete else [_mth(hashes)]
    k = _split(n)
    if m <= k:
        return [*_subproof(m, hashes[:k], complete), _mth(hashes[k:])]
    return [*_subproof(m - k, hashes[k:], False), _mth(hashes[:k])]


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int) -> list[bytes]:
    """The proof that the tree of the first ``old_size`` leaves is a prefix of the tree of
    all ``leaf_hashes`` (RFC 6962 §2.1.2); empty when either tree is empty or they agree."""
    hashes = _check_hashes(leaf_hashes, "leaf hash")
    if not 0 <= old_size <= len(hashes):
        raise MerkleProofError(
            f"old tree size {old_size} is outside 0..{len(hashes)} (the new tree size)"
        )
    if old_size in (0, len(hashes)):
        return []
    return _subproof(old_size, hashes, True)


def _check_size(size: int, what: str) -> None:
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size <= MAX_TREE_SIZE:
        raise MerkleProofError(f"{what} must be an integer in 0..2^63-1")


def _check_proof(proof: Sequence[bytes] | None) -> list[bytes]:
    proof = [] if proof is None else proof
    if len(proof) > MAX_PROOF_HASHES:
        raise MerkleProofError(
            f"proof has {len(proof)} hashes; at most {MAX_PROOF_HASHES} are allowed"
        )
    return _check_hashes(proof, "proof")


def _check_root(root: bytes, what: str) -> bytes:
    if not isinstance(root, bytes | bytearray) or len(root) != HASH_SIZE:
        raise MerkleProofError(f"{what} is not a {HASH_SIZE}-byte hash")
    return bytes(root)


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes] | None, root: bytes
) -> None:
    """Check that ``leaf`` (a leaf hash) is leaf ``index`` of the tree of ``size`` leaves
    with root ``root`` (RFC 9162 §2.1.3.2); return None or raise MerkleProofError."""
    _check_size(size, "tree size")
    _check_size(index, "leaf index")
    leaf, root = _check_root(leaf, "leaf hash"), _check_root(root, "root hash")
    path = _check_proof(proof)
    if index >= size:
        raise MerkleProofError(f"leaf index {index} is outside a tree of {size} leaves")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise MerkleProofError("inclusion proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleProofError("inclusion proof is shorter than the tree is deep")
    if r != root:
        raise MerkleProofError("inclusion proof does not lead to the root hash")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes,
    proof: Sequence[bytes] | None,
) -> None:
    """Check that the tree of ``old_size`` leaves with ``old_root`` is a prefix of the tree
    of ``new_size`` leaves with ``new_root`` (RFC 9162 §2.1.4.2); raise MerkleProofError."""
    _check_size(old_size, "old tree size")
    _check_size(new_size, "new tree size")
    old_root = _check_root(old_root, "old root hash")
    new_root = _check_root(new_root, "new root hash")
    path = _check_proof(proof)
    if old_size > new_size:
        raise MerkleProofError(f"old tree size {old_size} exceeds new tree size {new_size}")
    if old_size == new_size or old_size == 0:
        if path:
            raise MerkleProofError("consistency proof must be empty for these tree sizes")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise MerkleProofError("old root hash is not the empty tree's root")
        if old_size == new_size and old_root != new_root:
            raise MerkleProofError("trees of the same size have different root hashes")
        return
    if not path:
        raise MerkleProofError("consistency proof is empty")
    if old_size & (old_size - 1) == 0:  # the old tree is a complete subtree: its root leads
        path = [old_root, *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise MerkleProofError("consistency proof is longer than the tree is deep")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise MerkleProofError("consistency proof is shorter than the trees are deep")
    if fr != old_root:
        raise MerkleProofError("consistency proof does not lead to the old root hash")
    if sr != new_root:
        raise MerkleProofError("consistency proof does not lead to the new root hash")

"""A local transparency log: an append-only list of RFC 6962 leaves with signed
checkpoints and offline proofs (see the package docstring for the flow)."""

from __future__ import annotations

from collections.abc import Sequence

from pqml.formats.signed_note import Note, VerifierKey, parse_note, serialize_note
from pqml.formats.tlog import (
    Checkpoint,
    TlogProof,
    cosign_mldsa44,
    parse_checkpoint,
    parse_tlog_proof,
    verify_checkpoint,
)
from pqml.log import merkle
from pqml.log.errors import MerkleProofError


class Log:
    """An in-memory log named by its ``origin`` (a schema-less URL, also its key name)."""

    def __init__(self, origin: str) -> None:
        Checkpoint(origin, 0, merkle.EMPTY_ROOT).text()  # refuse an unusable origin early
        self.origin = origin
        self._leaves: list[bytes] = []

    @property
    def size(self) -> int:
        return len(self._leaves)

    def append(self, entry: bytes) -> int:
        """Add an entry; return its index."""
        if self.size >= merkle.MAX_TREE_SIZE:
            raise MerkleProofError("log is full")
        self._leaves.append(merkle.leaf_hash(entry))
        return self.size - 1

    def root(self, size: int | None = None) -> bytes:
        """The root hash of the tree of the first ``size`` leaves (default: all)."""
        return merkle.tree_head(self._leaves[: self._size(size)])

    def checkpoint(self, signing_key: object, timestamp: int) -> bytes:
        """The current tree head as a C2SP checkpoint, signed with ``signing_key``
        (ML-DSA-44) as a type 0x06 cosignature named by the origin."""
        head = Checkpoint(self.origin, self.size, self.root())
        signature = cosign_mldsa44(head, self.origin, signing_key, timestamp)
        return serialize_note(Note(head.text(), (signature,)))

    def prove(self, index: int, checkpoint: bytes, extra: bytes | None = None) -> bytes:
        """A c2sp.org/tlog-proof@v1 for entry ``index`` in the tree ``checkpoint`` signs."""
        head = parse_checkpoint(parse_note(checkpoint).text)
        if head.origin != self.origin or head.size > self.size or \
                head.root_hash != self.root(head.size):
            raise MerkleProofError("checkpoint is not one of this log's tree heads")
        path = merkle.inclusion_proof(self._leaves[: head.size], index)
        return TlogProof(index, tuple(path), checkpoint, extra).to_bytes()

    def consistency(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """The RFC 6962 consistency proof from ``old_size`` to ``new_size`` leaves."""
        return merkle.consistency_proof(self._leaves[: self._size(new_size)], old_size)

    def _size(self, size: int | None) -> int:
        if size is None:
            return self.size
        if not 0 <= size <= self.size:
            raise MerkleProofError(f"tree size {size} is outside 0..{self.size}")
        return size


def verify_proof(proof: bytes, entry: bytes, origin: str,
                 keys: Sequence[VerifierKey]) -> int:
    """Verify a tlog-proof offline: the checkpoint is from ``origin`` and signed by a
    trusted key, and ``entry`` is included at the stated index; return that index."""
    parsed = parse_tlog_proof(proof)
    head = verify_checkpoint(parsed.checkpoint, origin, list(keys))
    merkle.verify_inclusion(merkle.leaf_hash(entry), parsed.index, head.size, parsed.path,
                            head.root_hash)
    return parsed.index

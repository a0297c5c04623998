"""RFC 6962 Merkle trees: transparency-dev/merkle's published proofs, then random trees."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pqml.log import merkle
from pqml.log.errors import MerkleProofError

from conftest import vector


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _proof(values: list[str] | None) -> list[bytes]:
    return [_b64(v) for v in values or []]


def _cases(kind: str) -> list[Path]:
    return sorted(vector("rfc6962-merkle", kind).rglob("*.json"))


def _id(path: Path) -> str:
    return "/".join(path.parts[-2:])


@pytest.mark.parametrize("path", _cases("inclusion"), ids=_id)
def test_published_inclusion_vectors(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (_b64(case["leafHash"]), case["leafIdx"], case["treeSize"], _proof(case["proof"]),
            _b64(case["root"]))
    if case["wantErr"]:
        with pytest.raises(MerkleProofError):
            merkle.verify_inclusion(*args)
    else:
        merkle.verify_inclusion(*args)


# Where pqml is deliberately stricter than the reference: every hash is 32 bytes.
STRICTER = {"additional/sizes-are-equal-one-and-proof-is-empty.json": "32-byte"}


@pytest.mark.parametrize("path", _cases("consistency"), ids=_id)
def test_published_consistency_vectors(path: Path) -> None:
    case = json.loads(path.read_text())
    args = (case["size1"], case["size2"], _b64(case["root1"]), _b64(case["root2"]),
            _proof(case["proof"]))
    if _id(path) in STRICTER:  # 12-byte "roots" the reference accepts when sizes agree
        assert not case["wantErr"]
        with pytest.raises(MerkleProofError, match=STRICTER[_id(path)]):
            merkle.verify_consistency(*args)
    elif case["wantErr"]:
        with pytest.raises(MerkleProofError):
            merkle.verify_consistency(*args)
    else:
        merkle.verify_consistency(*args)


def test_published_happy_paths_are_reproduced_by_our_generator() -> None:
    """The reference tree of RFC 6962's test data: leaves "", 00, 10, 2021, 3031, 40414243,
    5051525354555657, 606162636465666768696a6b6c6d6e6f (hashes match the vectors)."""
    leaves = [bytes.fromhex(x) for x in ("", "00", "10", "2021", "3031", "40414243",
                                          "5051525354555657",
                                          "606162636465666768696a6b6c6d6e6f")]
    hashes = [merkle.leaf_hash(leaf) for leaf in leaves]
    case = json.loads(vector("rfc6962-merkle", "inclusion", "1", "happy-path.json").read_text())
    assert hashes[case["leafIdx"]] == _b64(case["leafHash"])
    assert merkle.tree_head(hashes[: case["treeSize"]]) == _b64(case["root"])
    assert merkle.inclusion_proof(hashes[: case["treeSize"]], case["leafIdx"]) == \
        _proof(case["proof"])
    case = json.loads(vector("rfc6962-merkle", "consistency", "1",
                             "happy-path.json").read_text())
    assert merkle.tree_head(hashes[: case["size1"]]) == _b64(case["root1"])
    assert merkle.consistency_proof(hashes[: case["size2"]], case["size1"]) == \
        _proof(case["proof"])


def test_hashes_are_domain_separated() -> None:
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a" * 32, b"b" * 32) == \
        hashlib.sha256(b"\x01" + b"a" * 32 + b"b" * 32).digest()
    assert merkle.tree_head([]) == hashlib.sha256(b"").digest()


trees = st.integers(1, 70).map(lambda n: [merkle.leaf_hash(i.to_bytes(4, "big"))
                                          for i in range(n)])


@settings(max_examples=60, deadline=None)
@given(trees, st.data())
def test_every_inclusion_proof_verifies_and_any_tamper_fails(
    hashes: list[bytes], data: st.DataObject
) -> None:
    size, root = len(hashes), merkle.tree_head(hashes)
    index = data.draw(st.integers(0, size - 1))
    proof = merkle.inclusion_proof(hashes, index)
    merkle.verify_inclusion(hashes[index], index, size, proof, root)
    bad_index = data.draw(st.integers(0, size + 3).filter(lambda i: i != index))
    with pytest.raises(MerkleProofError):
        merkle.verify_inclusion(hashes[index], bad_index, size, proof, root)
    # A size alone may change and keep a path valid (leaf 0 of 17 or of 18 leaves takes the
    # same path): only the signed checkpoint binds size to root. Sizes that cannot hold the
    # leaf always fail; the published vectors cover the rest.
    with pytest.raises(MerkleProofError):
        merkle.verify_inclusion(hashes[index], index, data.draw(st.integers(0, index)), proof,
                                root)
    with pytest.raises(MerkleProofError):
        merkle.verify_inclusion(merkle.leaf_hash(b"other"), index, size, proof, root)
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        bit = data.draw(st.integers(0, 255))
        tampered = list(proof)
        tampered[at] = bytes(b ^ (1 << (bit % 8)) if i == bit // 8 else b
                             for i, b in enumerate(tampered[at]))
        with pytest.raises(MerkleProofError):
            merkle.verify_inclusion(hashes[index], index, size, tampered, root)
        with pytest.raises(MerkleProofError):
            merkle.verify_inclusion(hashes[index], index, size, proof[:-1], root)
    with pytest.raises(MerkleProofError):
        merkle.verify_inclusion(hashes[index], index, size, [*proof, root], root)


@settings(max_examples=60, deadline=None)
@given(trees, st.data())
def test_every_consistency_proof_verifies_and_any_tamper_fails(
    hashes: list[bytes], data: st.DataObject
) -> None:
    new = len(hashes)
    old = data.draw(st.integers(0, new))
    old_root, new_root = merkle.tree_head(hashes[:old]), merkle.tree_head(hashes)
    proof = merkle.consistency_proof(hashes, old)
    merkle.verify_consistency(old, new, old_root, new_root, proof)
    other = merkle.leaf_hash(b"other")
    if old:  # every tree extends the empty one, whatever its root
        with pytest.raises(MerkleProofError):
            merkle.verify_consistency(old, new, old_root, other, proof)
    with pytest.raises(MerkleProofError):
        merkle.verify_consistency(old, new, other, new_root, proof)
    with pytest.raises(MerkleProofError):  # a shrinking log is never consistent
        merkle.verify_consistency(new + 1, new, old_root, new_root, proof)
    if 0 < old < new:  # as for inclusion, sizes alone are bound only by the checkpoint
        with pytest.raises(MerkleProofError):
            merkle.verify_consistency(old, new, old_root, new_root, [])
    if proof:
        at = data.draw(st.integers(0, len(proof) - 1))
        tampered = list(proof)
        tampered[at] = bytes([tampered[at][0] ^ 1]) + tampered[at][1:]
        with pytest.raises(MerkleProofError):
            merkle.verify_consistency(old, new, old_root, new_root, tampered)


def test_hostile_proofs_are_bounded_and_typed() -> None:
    h = merkle.leaf_hash(b"x")
    with pytest.raises(MerkleProofError, match="at most 64"):
        merkle.verify_inclusion(h, 0, 2**62, [h] * 65, h)
    with pytest.raises(MerkleProofError, match="at most 64"):
        merkle.verify_consistency(1, 2**62, h, h, [h] * 65)
    with pytest.raises(MerkleProofError, match="32-byte"):
        merkle.verify_inclusion(h, 0, 2, [h[:31]], h)
    with pytest.raises(MerkleProofError, match="2\\^63"):
        merkle.verify_inclusion(h, 0, 2**64, [h], h)
    with pytest.raises(MerkleProofError, match="2\\^63"):
        merkle.verify_consistency(-1, 2, h, h, [h])
    with pytest.raises(MerkleProofError, match="outside"):
        merkle.inclusion_proof([h], 1)
    with pytest.raises(MerkleProofError, match="outside"):
        merkle.consistency_proof([h], 2)

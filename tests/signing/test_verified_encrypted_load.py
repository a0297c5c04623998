"""Verify before load on encrypted models: the model is signed in plaintext, then encrypted
(``encrypt_tree`` copies model.sig in clear); loading authenticates the bundle before
decrypting anything and checks the decrypted plaintext against the signed digests of the
plaintext names (``w.safetensors`` for ``w.safetensors.pqml``).

Malicious pickles create a marker file when unpickled; every refusal must leave none.
"""

from __future__ import annotations

import json
import pickle
import shutil
from pathlib import Path

import pytest

import pqml
import pqml.safetensors as pst
from pqml.encryption import encrypt as feature
from pqml.encryption import encrypted_io, random_access
from pqml.errors import (
    IntegrityError,
    PolicyError,
    PqmlError,
    SignatureVerificationError,
    UnsignedFileError,
    UntrustedSourceError,
)
from pqml.primitives import registry
from pqml.signing import signing, verified_load

np = pytest.importorskip("numpy")
joblib = pytest.importorskip("joblib")

XWING = registry.scheme("X-Wing").generate()
SHARD = 64 * 1024
_KEYS: dict[str, object] = {}


def key(alg: str = "ML-DSA-65"):  # type: ignore[no-untyped-def]
    if alg not in _KEYS:
        _KEYS[alg] = pqml.generate_key(alg, allow_classical=True)
    return _KEYS[alg]


def attacker():  # type: ignore[no-untyped-def]
    if "attacker" not in _KEYS:
        _KEYS["attacker"] = pqml.generate_key("ML-DSA-65")
    return _KEYS["attacker"]


class Boom:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


@pytest.fixture
def marker(tmp_path: Path):  # type: ignore[no-untyped-def]
    path = tmp_path / "MARKER"
    yield path
    assert not path.exists(), "a pickle was unpickled"


def tensors(seed: int = 1) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    return {
        "a_big": rng.standard_normal((400, 256)).astype(np.float32),  # 400 KiB
        "b_mid": rng.standard_normal((64, 64)).astype(np.float32),  # 16 KiB
        "c_small": np.arange(16, dtype=np.float32),  # after a_big and b_mid in the data
        "d_tail": rng.standard_normal((200, 128)).astype(np.float32),  # 100 KiB
    }


def make_model(root: Path, method: str = "shards", fmt: str = "pqml") -> Path:
    """Sign ``root`` in plaintext, encrypt it to ``root.parent/enc``; return enc."""
    import safetensors.numpy

    root.mkdir()
    safetensors.numpy.save_file(tensors(), str(root / "w.safetensors"))
    joblib.dump({"coef": np.arange(6.0)}, root / "clf.joblib")
    (root / "config.json").write_text(json.dumps({"n": 6}))
    (root / "plain.pkl").write_bytes(pickle.dumps({"ok": True}))
    if method == "shards":
        signing.sign_model(root, [key()], method="shards", shard_size=SHARD)
    else:
        signing.sign_model(root, [key()], method="files")
    enc = root.parent / "enc"
    feature.encrypt_tree(root, enc, [XWING.public_key()], format=fmt)  # type: ignore[arg-type]
    return enc


@pytest.fixture
def enc(tmp_path: Path) -> Path:
    return make_model(tmp_path / "model")


def encrypt_bytes(data: bytes, path: Path, fmt: str = "pqml") -> None:
    import io

    with open(path, "wb") as out:
        feature.encrypt_to(io.BytesIO(data), out, [XWING.public_key()], format=fmt)  # type: ignore[arg-type]


def count_chunks(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    opened: list[int] = []
    real = random_access.EncryptedFileRaw._load

    def counting(self, index: int) -> bytes:  # type: ignore[no-untyped-def]
        opened.append(index)
        return real(self, index)

    monkeypatch.setattr(random_access.EncryptedFileRaw, "_load", counting)
    return opened


# ---- the tree convention ------------------------------------------------------------------


def test_encrypt_tree_passes_the_bundle_through(enc: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    assert sorted(p.name for p in enc.iterdir()) == [
        "clf.joblib.pqml", "config.json.pqml", "model.sig", "plain.pkl.pqml",
        "w.safetensors.pqml"]
    assert (enc / "model.sig").read_bytes() == (model / "model.sig").read_bytes()
    back, skipped = feature.decrypt_tree(enc, tmp_path / "back", [XWING])
    assert skipped == [] and [r.format for r in back].count(feature.COPIED) == 1
    assert signing.verify_model(tmp_path / "back", [key()]).ok
    # Opting out encrypts the bundle like any other file.
    results = feature.encrypt_tree(model, tmp_path / "enc2", [XWING.public_key()],
                                   copy_signatures=False)
    assert feature.COPIED not in {r.format for r in results}
    assert (tmp_path / "enc2" / "model.sig.pqml").exists()


def test_not_a_bundle_is_encrypted(tmp_path: Path) -> None:
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "model.sig").write_text("secret, not a bundle")
    feature.encrypt_tree(tmp_path / "m", tmp_path / "e", [XWING.public_key()])
    assert [p.name for p in (tmp_path / "e").iterdir()] == ["model.sig.pqml"]


# ---- safetensors --------------------------------------------------------------------------


@pytest.mark.parametrize("method,fmt", [("shards", "pqml"), ("files", "pqml"),
                                        ("shards", "age")])
def test_safe_open_verified_happy_path(tmp_path: Path, method: str, fmt: str) -> None:
    enc = make_model(tmp_path / "model", method, fmt)
    path = enc / f"w.safetensors.{fmt}"
    with pst.safe_open(path, [XWING], trusted=[key().public_key()]) as f:
        for name, value in tensors().items():
            assert np.array_equal(f.get_tensor(name), value)
        assert np.array_equal(f.get_slice("a_big")[10:20, 3], tensors()["a_big"][10:20, 3])
        assert f.verifier is not None
    # Without trusted= nothing is verified (and nothing is required: no pickle).
    with pst.safe_open(path, [XWING]) as f:
        assert f.verifier is None


def test_partial_check_hashes_only_the_needed_shards(enc: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    opened = count_chunks(monkeypatch)
    with pst.safe_open(enc / "w.safetensors.pqml", [XWING], trusted=[key()]) as f:
        v = f.verifier
        size = v.size
        assert size > 8 * SHARD
        assert (v.pieces_checked, v.bytes_hashed) == (1, SHARD)  # the header's shard only
        start = f._data_start + f._entries["c_small"].begin  # 128 bytes, in a later shard
        assert start >= SHARD
        opened.clear()
        assert np.array_equal(f.get_tensor("c_small"), np.arange(16.0))
        assert v.pieces_checked - 1 in (1, 2) and v.bytes_hashed <= 3 * SHARD
        assert len(opened) <= 2 * SHARD // 16384 + 1  # only those shards' chunks
        before = v.bytes_hashed
        f.get_tensor("c_small")  # same shard: served from the verified cache
        assert v.bytes_hashed == before
        f.get_slice("d_tail")[-2:]  # two rows at the end: the last shard
        assert v.bytes_hashed - before <= SHARD
        assert v.bytes_hashed < size


def test_files_method_hashes_the_whole_file_once(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    enc = make_model(tmp_path / "model", "files")
    path = enc / "w.safetensors.pqml"
    with pst.safe_open(path, [XWING], trusted=[key()]) as f:
        assert f.verifier.bytes_hashed == f.verifier.size  # before the header was parsed
        for name in tensors():
            f.get_tensor(name)
        assert f.verifier.bytes_hashed == f.verifier.size
    # A piece too large to hold in memory is streamed through the hash once instead.
    monkeypatch.setattr(verified_load, "MAX_PIECE_BUFFER", 4096)
    with pst.safe_open(path, [XWING], trusted=[key()]) as f:
        assert f.verifier.bytes_hashed == f.verifier.size
        for name, value in tensors().items():
            assert np.array_equal(f.get_tensor(name), value)
        assert f.verifier.bytes_hashed == f.verifier.size


def swap_tensor(enc: Path, fmt: str = "pqml", **changes: object) -> None:
    """What a recipient-key holder can do: re-encrypt different plaintext."""
    import safetensors.numpy

    t = tensors()
    t.update(changes)
    encrypt_bytes(safetensors.numpy.save(t), enc / "w.safetensors.pqml", fmt)  # type: ignore[arg-type]


def test_content_swapped_under_reencryption_shards(enc: Path) -> None:
    tail = tensors()["d_tail"].copy()
    tail[-1, -1] += 1.0  # same size, one value in the last shard
    swap_tensor(enc, d_tail=tail)
    with pst.safe_open(enc / "w.safetensors.pqml", [XWING], trusted=[key()]) as f:
        assert np.array_equal(f.get_tensor("c_small"), np.arange(16.0))  # untouched shards
        with pytest.raises(IntegrityError, match=r"w\.safetensors.*do not match"):
            f.get_tensor("d_tail")
        with pytest.raises(IntegrityError):
            f.get_slice("d_tail")[-1:]
    with pst.safe_open(enc / "w.safetensors.pqml", [XWING]) as f:  # unverified: accepted
        assert f.get_tensor("d_tail")[-1, -1] == tail[-1, -1]
    swap_tensor(enc, c_small=np.arange(17, dtype=np.float32))  # another size
    with pytest.raises(IntegrityError, match="differs from the signed"):
        pst.safe_open(enc / "w.safetensors.pqml", [XWING], trusted=[key()])


def test_content_swapped_under_reencryption_files(tmp_path: Path) -> None:
    enc = make_model(tmp_path / "model", "files")
    tail = tensors()["d_tail"].copy()
    tail[0, 0] = 0.5
    swap_tensor(enc, d_tail=tail)
    with pytest.raises(IntegrityError, match="do not match the signature"):
        pst.safe_open(enc / "w.safetensors.pqml", [XWING], trusted=[key()])


def test_verification_comes_before_decryption(enc: Path, monkeypatch: pytest.MonkeyPatch
                                              ) -> None:
    made: list[str] = []
    real = random_access.EncryptedFileRaw.__init__

    def recording(self, path, identities):  # type: ignore[no-untyped-def]
        made.append(str(path))
        real(self, path, identities)

    monkeypatch.setattr(random_access.EncryptedFileRaw, "__init__", recording)
    path = enc / "w.safetensors.pqml"
    with pytest.raises(SignatureVerificationError):  # wrong trusted key
        pst.safe_open(path, [XWING], trusted=[key("ML-DSA-87").public_key()])
    with pytest.raises(SignatureVerificationError):
        pqml.load(enc / "clf.joblib.pqml", trusted=[key("ML-DSA-87")], identities=[XWING])
    assert made == []


def test_untrusted_signer(tmp_path: Path, marker: Path) -> None:
    """Someone holding a recipient key swaps the content and re-signs it with their key."""
    enc = make_model(tmp_path / "model")
    swap_tensor(enc, c_small=np.zeros(16, dtype=np.float32))
    (enc / "plain.pkl.pqml").unlink()
    encrypt_bytes(pickle.dumps(Boom(marker)), enc / "plain.pkl.pqml")
    fake = tmp_path / "fake"
    feature.decrypt_tree(enc, fake, [XWING])
    signing.sign_model(fake, [attacker()], force=True)  # the copied bundle is replaced
    shutil.copy(fake / "model.sig", enc / "model.sig")
    with pytest.raises(SignatureVerificationError):
        pst.safe_open(enc / "w.safetensors.pqml", [XWING], trusted=[key()])
    with pytest.raises(SignatureVerificationError):
        pqml.load(enc / "plain.pkl.pqml", trusted=[key()], identities=[XWING])
    with pytest.raises(SignatureVerificationError):
        encrypted_io.load_joblib(enc / "plain.pkl.pqml", [XWING], trusted=[key()])


def test_missing_bundle_is_a_clear_error(enc: Path) -> None:
    (enc / "model.sig").unlink()
    with pytest.raises(PqmlError, match="no signature found"):
        pst.safe_open(enc / "w.safetensors.pqml", [XWING], trusted=[key()])
    with pytest.raises(PqmlError, match="no signature found"):
        pqml.load(enc / "clf.joblib.pqml", trusted=[key()], identities=[XWING])
    with pytest.raises(PqmlError, match=r"nope\.sig: signature file does not exist"):
        pqml.load(enc / "clf.joblib.pqml", trusted=[key()], identities=[XWING],
                  verify=pqml.VerifyOptions(signature=enc / "nope.sig"))


# ---- pickles: pqml.load and the encrypted joblib / torch loaders ---------------------------


@pytest.mark.parametrize("method", ["shards", "files"])
def test_load_verified_encrypted(tmp_path: Path, method: str) -> None:
    enc = make_model(tmp_path / "model", method)
    trusted = [key().public_key()]
    got = pqml.load(enc / "clf.joblib.pqml", trusted=trusted, identities=[XWING])
    assert got["coef"].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert pqml.load(enc / "config.json.pqml", trusted=trusted, identities=XWING) == {"n": 6}
    assert pqml.load(enc / "plain.pkl.pqml", trusted=trusted, identities=[XWING]) == {
        "ok": True}
    assert set(pqml.load(enc / "w.safetensors.pqml", trusted=trusted,
                         identities=[XWING])) == set(tensors())
    # trusted= satisfies encrypted_io's trusted-source requirement.
    assert encrypted_io.load_joblib(enc / "clf.joblib.pqml", [XWING],
                                    trusted=trusted)["coef"][5] == 5.0
    with pytest.raises(UntrustedSourceError):
        encrypted_io.load_joblib(enc / "clf.joblib.pqml", [XWING])
    with pytest.raises(PolicyError, match="trusted keys are required"):
        pqml.load(enc / "clf.joblib.pqml", identities=[XWING])


def test_unsigned_encrypted_pickle_is_never_unpickled(enc: Path, marker: Path) -> None:
    encrypt_bytes(pickle.dumps(Boom(marker)), enc / "evil.pkl.pqml")
    with pytest.raises(UnsignedFileError, match=r"evil\.pkl is not covered"):
        pqml.load(enc / "evil.pkl.pqml", trusted=[key()], identities=[XWING])
    with pytest.raises(UnsignedFileError):
        encrypted_io.load_joblib(enc / "evil.pkl.pqml", [XWING], trusted=[key()])


def test_swapped_encrypted_pickle_is_never_unpickled(enc: Path, marker: Path) -> None:
    encrypt_bytes(pickle.dumps(Boom(marker)), enc / "plain.pkl.pqml", "age")
    with pytest.raises(IntegrityError, match=r"plain\.pkl"):
        pqml.load(enc / "plain.pkl.pqml", trusted=[key()], identities=[XWING])
    with pytest.raises(IntegrityError):
        encrypted_io.load_joblib(enc / "plain.pkl.pqml", [XWING], trusted=[key()])
    joblib_evil = enc.parent / "evil.joblib"
    joblib.dump(Boom(marker), joblib_evil)
    encrypt_bytes(joblib_evil.read_bytes(), enc / "clf.joblib.pqml")
    with pytest.raises(IntegrityError):
        pqml.load(enc / "clf.joblib.pqml", trusted=[key()], identities=[XWING])


def test_control_the_marker_pickle_really_runs(tmp_path: Path) -> None:
    expected = tmp_path / "EXPECTED"
    encrypt_bytes(pickle.dumps(Boom(expected)), tmp_path / "x.pkl.pqml")
    encrypted_io.load_joblib(tmp_path / "x.pkl.pqml", [XWING], trusted_source="this test")
    assert expected.exists()


def test_single_file_model(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    plain.mkdir()
    joblib.dump([1, 2, 3], plain / "clf.joblib")
    signing.sign_model(plain / "clf.joblib", [key()])  # clf.joblib.sig, resource "."
    out = tmp_path / "out"
    feature.encrypt_tree(plain, out, [XWING.public_key()])
    assert sorted(p.name for p in out.iterdir()) == ["clf.joblib.pqml", "clf.joblib.sig"]
    assert pqml.load(out / "clf.joblib.pqml", trusted=[key()], identities=[XWING]) == [1, 2, 3]
    encrypt_bytes(pickle.dumps([1, 2]), out / "clf.joblib.pqml")
    with pytest.raises(IntegrityError):
        pqml.load(out / "clf.joblib.pqml", trusted=[key()], identities=[XWING])


def test_torch_encrypted_verified(tmp_path: Path, marker: Path) -> None:
    torch = pytest.importorskip("torch")
    root = tmp_path / "ckpt"
    root.mkdir()
    torch.save({"w": torch.arange(4.0)}, root / "model.pt")
    signing.sign_model(root, [key()])
    enc = tmp_path / "enc"
    feature.encrypt_tree(root, enc, [XWING.public_key()])
    got = encrypted_io.load_torch(enc / "model.pt.pqml", [XWING], trusted=[key()])
    assert got["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert pqml.load(enc / "model.pt.pqml", trusted=[key()], identities=[XWING])["w"][3] == 3
    evil = tmp_path / "evil.pt"
    torch.save({"obj": Boom(marker)}, evil)
    encrypt_bytes(evil.read_bytes(), enc / "model.pt.pqml")
    with pytest.raises(IntegrityError):
        encrypted_io.load_torch(enc / "model.pt.pqml", [XWING], trusted=[key()],
                                weights_only=False)


def test_verified_reader_edges(tmp_path: Path) -> None:
    root = tmp_path / "m"
    root.mkdir()
    (root / "empty.bin").write_bytes(b"")
    (root / "blob.bin").write_bytes(bytes(range(256)) * 40)  # 10240 bytes
    signing.sign_model(root, [key()], method="shards", shard_size=4096)
    model = verified_load.verify_for_load(root, [], [key()], check_files=False)

    def reader(data: bytes):  # type: ignore[no-untyped-def]
        def read_into(offset: int, view: memoryview) -> int:
            n = min(len(view), len(data) - offset)
            view[:n] = data[offset:offset + n]
            return n
        return read_into

    empty = verified_load.VerifiedReader(model, "empty.bin", 0, reader(b""))
    assert empty.read(0, 0) == bytearray() and empty.bytes_hashed == 0
    data = (root / "blob.bin").read_bytes()
    blob = verified_load.VerifiedReader(model, "blob.bin", len(data), reader(data))
    assert blob.read(4000, 200) == data[4000:4200]  # spans shards 0 and 1
    assert (blob.pieces_checked, blob.bytes_hashed) == (2, 8192)
    assert blob.read(10000, 240) == data[10000:]
    with pytest.raises(IntegrityError, match="outside"):
        blob.read(10000, 241)
    with pytest.raises(IntegrityError, match="differs from the signed"):
        verified_load.VerifiedReader(model, "blob.bin", len(data) - 1, reader(data))
    bad = bytearray(data)
    bad[9000] ^= 1
    tampered = verified_load.VerifiedReader(model, "blob.bin", len(data), reader(bytes(bad)))
    assert tampered.read(0, 10) == data[:10]
    with pytest.raises(IntegrityError, match="bytes 8192-10240"):
        tampered.read(9000, 1)


@pytest.mark.parametrize("method", ["shards", "files"])
def test_same_size_plaintext_reencrypted_to_the_recipient_is_refused(
        tmp_path: Path, marker: Path, method: str) -> None:
    """Anyone with a recipient's *public* key can re-encrypt other content of the signed
    size; only the digest comparison at the end of the stream can tell (issue 18, item 11).
    """
    root = tmp_path / "model"
    root.mkdir()
    signed = pickle.dumps({"ok": "x" * 200})
    (root / "plain.pkl").write_bytes(signed)
    signing.sign_model(root, [key()], method=method)  # type: ignore[arg-type]
    enc = tmp_path / "enc"
    feature.encrypt_tree(root, enc, [XWING.public_key()])
    evil = pickle.dumps(Boom(marker))
    evil += b"." * (len(signed) - len(evil))  # pickle stops at the first STOP
    assert len(evil) == len(signed)
    encrypt_bytes(evil, enc / "plain.pkl.pqml")
    with pytest.raises(IntegrityError, match=r"plain\.pkl.*does not match the signature"):
        pqml.load(enc / "plain.pkl.pqml", trusted=[key()], identities=[XWING])
    encrypt_bytes(signed, enc / "plain.pkl.pqml")  # control: the same path loads when intact
    assert pqml.load(enc / "plain.pkl.pqml", trusted=[key()], identities=[XWING]) == {
        "ok": "x" * 200}

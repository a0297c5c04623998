"""Verify before load: nothing is unpickled unless its signature verified first.

The malicious pickle's ``__reduce__`` creates a marker file; every refusal path must leave
no marker, and the one explicit opt-out shows the marker does appear when unpickled.
"""

from __future__ import annotations

import json
import os
import pickle
import warnings
from pathlib import Path

import pytest

import pqml
import pqml.joblib
import pqml.torch
from pqml.errors import (
    IntegrityError,
    PolicyError,
    PqmlError,
    SignatureVerificationError,
    TrustPolicyError,
    UnsafePathError,
    UnsignedFileError,
)
from pqml.signing import signing
from pqml.signing.verified_load import UnverifiedLoadWarning, locate, verify_for_load

np = pytest.importorskip("numpy")

_KEYS: dict[str, object] = {}


def key(alg: str = "ML-DSA-65"):
    if alg not in _KEYS:
        _KEYS[alg] = pqml.generate_key(alg, allow_classical=True)
    return _KEYS[alg]


class Boom:
    """Unpickling this creates the marker file: proof that code ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


@pytest.fixture
def marker(tmp_path: Path) -> Path:
    path = tmp_path / "MARKER"
    yield path
    assert not path.exists() or path.name == "EXPECTED", "a pickle was unpickled"


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    pqml.joblib.dump({"coef": np.arange(6.0)}, root / "clf.joblib")
    (root / "config.json").write_text(json.dumps({"n": 6}))
    np.save(root / "emb.npy", np.ones((2, 3)))
    (root / "plain.pkl").write_bytes(pickle.dumps({"ok": True}))
    signing.sign_model(root, [key()])
    return root


def test_loads_verified_files(model: Path) -> None:
    trusted = [key().public_key()]
    assert pqml.joblib.load(model / "clf.joblib", trusted=trusted)["coef"].tolist() == [
        0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert pqml.load(model / "config.json", trusted=trusted) == {"n": 6}
    assert pqml.load(model / "emb.npy", trusted=trusted).shape == (2, 3)
    assert pqml.load(model / "plain.pkl", trusted=trusted) == {"ok": True}
    assert pqml.load(model / "clf.joblib", trusted=key())["coef"][5] == 5.0  # one key


def test_unsigned_pickle_is_never_unpickled(model: Path, marker: Path) -> None:
    (model / "evil.pkl").write_bytes(pickle.dumps(Boom(marker)))
    for loader in (pqml.load, pqml.joblib.load):
        with pytest.raises(UnsignedFileError, match=r"evil\.pkl is not covered"):
            loader(model / "evil.pkl", trusted=[key().public_key()])
    assert not marker.exists()


def test_swapped_signed_pickle_is_never_unpickled(model: Path, marker: Path) -> None:
    (model / "plain.pkl").write_bytes(pickle.dumps(Boom(marker)))
    with pytest.raises(IntegrityError, match=r"plain\.pkl"):
        pqml.load(model / "plain.pkl", trusted=[key().public_key()])
    with pytest.raises(IntegrityError):
        pqml.joblib.load(model / "plain.pkl", trusted=[key().public_key()])
    assert not marker.exists()


def test_untrusted_or_missing_signature(model: Path, marker: Path, tmp_path: Path) -> None:
    evil = pickle.dumps(Boom(marker))
    (model / "plain.pkl").write_bytes(evil)
    with pytest.raises(SignatureVerificationError):
        pqml.load(model / "plain.pkl", trusted=[key("ML-DSA-87").public_key()])
    with pytest.raises(PolicyError, match="trusted keys are required"):
        pqml.load(model / "plain.pkl")
    with pytest.raises(TrustPolicyError):
        signing.sign_model(model, [key("ECDSA-P256")], force=True)
        pqml.load(model / "plain.pkl", trusted=[key("ECDSA-P256")],
                  verify=pqml.VerifyOptions(require_pq=True))
    lone = tmp_path / "lone"
    lone.mkdir()
    (lone / "x.pkl").write_bytes(evil)
    with pytest.raises(PqmlError, match="no signature found"):
        pqml.load(lone / "x.pkl", trusted=[key()])
    assert not marker.exists()


def test_explicit_opt_out_really_unpickles(tmp_path: Path) -> None:
    """The control: the marker does appear when the caller opts out by name."""
    expected = tmp_path / "EXPECTED"
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(Boom(expected)))
    with pytest.warns(UnverifiedLoadWarning):
        pqml.load(path, allow_unverified=True)
    assert expected.exists()


def test_partial_verification_hashes_only_the_loaded_file(model: Path) -> None:
    (model / "emb.npy").write_bytes(b"tampered, not loaded")
    assert pqml.load(model / "config.json", trusted=[key()]) == {"n": 6}
    with pytest.raises(IntegrityError):
        pqml.load(model / "emb.npy", trusted=[key()])
    with pytest.raises(IntegrityError):
        signing.verify_model(model, [key()])


def test_torch(tmp_path: Path, marker: Path) -> None:
    torch = pytest.importorskip("torch")
    root = tmp_path / "ckpt"
    root.mkdir()
    pqml.torch.save({"w": torch.arange(4.0)}, root / "model.pt")
    pqml.torch.save({"obj": Boom(marker)}, root / "custom.pt")
    assert not marker.exists()
    signing.sign_model(root, [key()])
    loaded = pqml.torch.load(root / "model.pt", trusted=[key()])
    assert loaded["w"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert pqml.load(root / "model.pt", trusted=[key()])["w"].sum().item() == 6.0
    # Verified, but weights_only=True still refuses arbitrary objects by default.
    with pytest.raises(pickle.UnpicklingError):
        pqml.torch.load(root / "custom.pt", trusted=[key()])
    assert not marker.exists()
    (root / "model.pt").write_bytes((root / "custom.pt").read_bytes())
    with pytest.raises(IntegrityError):
        pqml.torch.load(root / "model.pt", trusted=[key()], weights_only=False)
    assert not marker.exists()


def test_safetensors(tmp_path: Path) -> None:
    st = pytest.importorskip("safetensors.numpy")
    root = tmp_path / "m"
    root.mkdir()
    st.save_file({"a": np.zeros(3, dtype=np.float32)}, str(root / "model.safetensors"))
    signing.sign_model(root, [key()])
    assert pqml.load(root / "model.safetensors", trusted=[key()])["a"].shape == (3,)


def test_single_file_model_and_sibling_bundle(tmp_path: Path) -> None:
    path = tmp_path / "clf.joblib"
    pqml.joblib.dump([1, 2, 3], path)
    signing.sign_model(path, [key()])
    assert locate(path) == (path, tmp_path / "clf.joblib.sig")
    assert pqml.joblib.load(path, trusted=[key()]) == [1, 2, 3]
    # model_signing's default: model.sig beside the file it signed.
    (tmp_path / "clf.joblib.sig").rename(tmp_path / "model.sig")
    assert locate(path) == (path, tmp_path / "model.sig")
    assert pqml.joblib.load(path, trusted=[key()]) == [1, 2, 3]


def test_nested_file_finds_the_model_root(model: Path) -> None:
    (model / "sub").mkdir()
    np.save(model / "sub" / "deep.npy", np.zeros(2))
    signing.sign_model(model, [key()], force=True)
    assert locate(model / "sub" / "deep.npy") == (model.absolute(),
                                                  model.absolute() / "model.sig")
    assert pqml.load(model / "sub" / "deep.npy", trusted=[key()]).tolist() == [0.0, 0.0]
    sig = model / "model.sig"
    other = model.parent / "elsewhere.sig"
    sig.rename(other)
    assert pqml.load(model / "sub" / "deep.npy", trusted=[key()], verify=pqml.VerifyOptions(
        signature=other, model_root=model)).tolist() == [0.0, 0.0]
    assert pqml.load(model / "config.json", trusted=[key()],
                     verify=pqml.VerifyOptions(signature=other)) == {"n": 6}


def test_symlinked_file_refused_unless_allowed(model: Path) -> None:
    (model / "alias.json").symlink_to("config.json")
    signing.sign_model(model, [key()], allow_symlinks=True, force=True)
    with pytest.raises(UnsafePathError):
        pqml.load(model / "alias.json", trusted=[key()])
    assert pqml.load(model / "alias.json", trusted=[key()],
                     verify=pqml.VerifyOptions(allow_symlinks=True)) == {"n": 6}


def test_custom_loader_and_unknown_suffix(model: Path) -> None:
    (model / "notes.txt").write_text("hello")
    signing.sign_model(model, [key()], force=True)
    with pytest.raises(PqmlError, match="no loader"):
        pqml.load(model / "notes.txt", trusted=[key()])
    assert pqml.load(model / "notes.txt", trusted=[key()],
                     loader=lambda f: f.read().decode()) == "hello"


def test_verify_for_load_api(model: Path) -> None:
    verified = verify_for_load(model, ["config.json", "emb.npy"], [key()])
    assert [f.status for f in verified.checked] == ["ok", "ok"]
    assert [c.algorithm for c in verified.signatures] == ["ML-DSA-65"]
    with pytest.raises(UnsignedFileError):
        verify_for_load(model, ["missing.bin"], [key()])
    lazy = verify_for_load(model, ["config.json"], [key()], check_files=False)
    assert lazy.checked == ()
    assert lazy.read_bytes("config.json") == b'{"n": 6}'


def test_stream_check(tmp_path: Path) -> None:
    root = tmp_path / "s"
    root.mkdir()
    data = os.urandom(10_000)
    (root / "blob.bin").write_bytes(data)
    signing.sign_model(root, [key()], shard_size=4096)
    model = verify_for_load(root, [], [key()], check_files=False)
    check = model.stream("blob.bin")
    for i in range(0, len(data), 777):
        check.update(data[i:i + 777])
    check.finish()
    bad = bytearray(data)
    bad[5000] ^= 1
    check = model.stream("blob.bin")
    check.update(bytes(bad[:4096]))  # first shard fine
    with pytest.raises(IntegrityError, match="bytes 4096-8192"):
        check.update(bytes(bad[4096:]))  # fails as soon as the bad shard completes
    short = model.stream("blob.bin")
    short.update(data[:9999])
    with pytest.raises(IntegrityError, match="shorter"):
        short.finish()
    long = model.stream("blob.bin")
    with pytest.raises(IntegrityError, match="longer"):
        long.update(data + b"!")


def test_check_piece_random_access(tmp_path: Path) -> None:
    """A random-access reader (e.g. decrypting one tensor) checks just the shards it read."""
    root = tmp_path / "r"
    root.mkdir()
    data = os.urandom(10_000)
    (root / "blob.bin").write_bytes(data)
    signing.sign_model(root, [key()], shard_size=4096)
    model = verify_for_load(root, [], [key()], check_files=False)
    assert [(p.start, p.end) for p in model.entry("blob.bin").pieces] == [
        (0, 4096), (4096, 8192), (8192, 10000)]
    model.check_piece("blob.bin", 4096, data[4096:8192])
    model.check_piece("blob.bin", 8192, memoryview(data)[8192:])
    with pytest.raises(IntegrityError, match="do not match"):
        model.check_piece("blob.bin", 0, bytes(4096))
    with pytest.raises(IntegrityError, match="no signed piece"):
        model.check_piece("blob.bin", 100, data[100:4196])
    with pytest.raises(IntegrityError, match="no signed piece"):
        model.check_piece("blob.bin", 0, data[:4000])


def test_stream_check_files_method_without_sizes(tmp_path: Path) -> None:
    """A model_signing-style bundle (no size record): one digest over the whole stream."""
    root = tmp_path / "f"
    root.mkdir()
    (root / "a.bin").write_bytes(b"abc" * 1000)
    signing.sign_model(root, [key("ECDSA-P256")])
    model = verify_for_load(root, [], [key("ECDSA-P256")], check_files=False)
    check = model.stream("a.bin")
    check.update(b"abc" * 1000)
    check.finish()


def test_dump_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "x.joblib"
    pqml.joblib.dump({"a": 1}, path)
    pqml.joblib.dump({"a": 2}, path)  # replacing is fine, and leaves no temporary file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.joblib"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedLoadWarning)
        assert pqml.joblib.load(path, allow_unverified=True) == {"a": 2}

    class Unpicklable:
        def __reduce__(self):
            raise TypeError("nope")

    with pytest.raises(TypeError):
        pqml.joblib.dump(Unpicklable(), path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.joblib"]


def test_file_rewritten_after_hashing_is_never_loaded(tmp_path: Path, marker: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Read once: the bytes handed to the deserializer are the bytes that were hashed, so
    rewriting the file (same size) as soon as it has been hashed changes nothing (issue 18,
    item 12). Every hashing entry point is wrapped, so a loader that checks the file on disk
    and then reads it again is caught too."""
    from pqml.signing import integrity, manifest

    root = tmp_path / "model"
    root.mkdir()
    signed = pickle.dumps({"ok": "x" * 200})
    evil = pickle.dumps(Boom(marker))
    evil += b"." * (len(signed) - len(evil))  # pickle stops at the first STOP
    (root / "plain.pkl").write_bytes(signed)
    signing.sign_model(root, [key()])
    rewritten: list[str] = []

    def rewrite_after(real):  # type: ignore[no-untyped-def]
        def hashing(*args, **kwargs):  # type: ignore[no-untyped-def]
            result = real(*args, **kwargs)
            if not rewritten:
                (root / "plain.pkl").write_bytes(evil)  # in place: same inode, same size
                rewritten.append(real.__name__)
            return result
        return hashing

    monkeypatch.setattr(manifest, "hash_buffer", rewrite_after(manifest.hash_buffer))
    monkeypatch.setattr(manifest, "hash_files", rewrite_after(manifest.hash_files))
    monkeypatch.setattr(integrity, "hash_files", rewrite_after(integrity.hash_files))
    refused = object()
    try:
        got = pqml.load(root / "plain.pkl", trusted=[key()])
    except IntegrityError:
        got = refused
    assert rewritten, "the file was never hashed"
    assert (root / "plain.pkl").read_bytes() == evil
    assert not marker.exists(), "the rewritten pickle was unpickled"
    assert got == {"ok": "x" * 200} or got is refused  # the verified bytes, or a refusal

"""pqml.safetensors: encrypted save_file and a lazy safe_open that decrypts only the chunks
of the tensors (or rows) asked for; the plaintext is a standard safetensors file."""

from __future__ import annotations

import io
import json
import struct
from pathlib import Path

import numpy as np
import pytest
import safetensors
import safetensors.numpy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pqml.safetensors as pst
from pqml.encryption import encrypt as feature
from pqml.encryption import random_access
from pqml.errors import PqmlError
from pqml.primitives import registry

KEY = registry.scheme("X-Wing").generate()
RNG = np.random.default_rng(7)
TENSORS = {
    "embed": RNG.standard_normal((500, 64)).astype(np.float32),
    "bias": np.arange(64, dtype=np.float16),
    "ids": np.arange(-10, 10, dtype=np.int64),
    "mask": np.array([True, False, True]),
    "u8": np.arange(256, dtype=np.uint8).reshape(16, 16),
    "scalar": np.array(2.5, dtype=np.float64),
    "empty": np.zeros((0, 4), dtype=np.int32),
    "u16": np.arange(9, dtype=np.uint16).reshape(3, 3),
}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("st") / "model.safetensors.pqml"
    pst.save_file(TENSORS, path, [KEY.public_key()], metadata={"format": "np", "n": "8"})
    return path


def test_roundtrip_numpy(model: Path) -> None:
    with pst.safe_open(model, [KEY]) as f:
        assert f.keys() == sorted(TENSORS)
        assert f.metadata() == {"format": "np", "n": "8"}
        for name, value in TENSORS.items():
            got = f.get_tensor(name)
            assert got.dtype == value.dtype and got.shape == value.shape
            assert np.array_equal(got, value)
        assert f.get_slice("embed").get_shape() == [500, 64]
        assert f.get_slice("embed").get_dtype() == "F32"
        with pytest.raises(PqmlError, match="no tensor named 'nope'"):
            f.get_tensor("nope")


def test_plaintext_is_standard_safetensors(model: Path, tmp_path: Path) -> None:
    feature.decrypt_file(model, tmp_path / "plain.safetensors", [KEY])
    data = (tmp_path / "plain.safetensors").read_bytes()
    loaded = safetensors.numpy.load(data)  # (metadata order varies between saves)
    assert sorted(loaded) == sorted(TENSORS)
    assert all(np.array_equal(loaded[k], v) for k, v in TENSORS.items())
    with safetensors.safe_open(str(tmp_path / "plain.safetensors"), framework="np") as f:
        assert np.array_equal(f.get_tensor("embed"), TENSORS["embed"])


def test_get_tensor_decrypts_only_its_chunks(model: Path, monkeypatch: pytest.MonkeyPatch
                                             ) -> None:
    opened: list[int] = []
    real_load = random_access.EncryptedFileRaw._load

    def counting(self, index: int) -> bytes:  # type: ignore[no-untyped-def]
        opened.append(index)
        return real_load(self, index)

    monkeypatch.setattr(random_access.EncryptedFileRaw, "_load", counting)
    with pst.safe_open(model, [KEY]) as f:
        opened.clear()
        f.get_tensor("bias")  # 128 bytes near the start of the data
        assert len(opened) <= 2
        opened.clear()
        rows = f.get_slice("embed")[100:104]  # 4 rows of 256 bytes
        assert np.array_equal(rows, TENSORS["embed"][100:104]) and len(opened) <= 2
        opened.clear()
        f.get_tensor("embed")  # 128000 bytes: about 8 chunks, not the whole file
        assert 7 <= len(opened) <= 10


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.one_of(st.integers(-500, 499), st.builds(
    slice, st.one_of(st.none(), st.integers(-600, 600)), st.one_of(st.none(),
                                                                  st.integers(-600, 600)),
    st.one_of(st.none(), st.integers(-7, 7).filter(bool)))),
    rest=st.one_of(st.just(()), st.tuples(st.integers(-64, 63)),
                   st.tuples(st.builds(slice, st.integers(0, 10), st.integers(0, 70)))))
def test_get_slice_matches_numpy(model: Path, first: object, rest: tuple) -> None:  # type: ignore[type-arg]
    with pst.safe_open(model, [KEY]) as f:
        index = (first, *rest)
        assert np.array_equal(f.get_slice("embed")[index], TENSORS["embed"][index])


def test_torch_framework_and_bfloat16(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    tensors = {"w": torch.randn(33, 7, dtype=torch.bfloat16), "i": torch.arange(5)}
    pst.save_file(tensors, tmp_path / "t.pqml", [KEY.public_key()], format="age")
    with pst.safe_open(tmp_path / "t.pqml", [KEY], framework="pt") as f:
        assert torch.equal(f.get_tensor("w"), tensors["w"])
        assert torch.equal(f.get_slice("w")[3:9, 2], tensors["w"][3:9, 2])
        assert torch.equal(f.get_tensor("i"), tensors["i"])
    with pst.safe_open(tmp_path / "t.pqml", [KEY], framework="numpy") as f, \
            pytest.raises(PqmlError, match="numpy has no BF16 dtype; use framework='pt'"):
        f.get_tensor("w")


def _encrypted_raw(tmp_path: Path, header: dict, data: bytes) -> Path:  # type: ignore[type-arg]
    text = json.dumps(header).encode()
    blob = struct.pack("<Q", len(text)) + text + data
    out = tmp_path / "bad.pqml"
    with open(out, "wb") as f:
        feature.encrypt_to(io.BytesIO(blob), f, [KEY.public_key()])
    return out


@pytest.mark.parametrize("header,data,message", [
    ({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4,
     "data_offsets do not match dtype and shape"),
    ({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 4,
     "lies outside the data"),
    ({"a": {"dtype": "Q4", "shape": [1], "data_offsets": [0, 1]}}, b"\0",
     "unknown dtype 'Q4'"),
    ({"a": {"dtype": "U8", "shape": [1], "data_offsets": [1, 2]}}, b"\0\0",
     "not contiguous"),
    ({"a": {"dtype": "U8", "shape": [1], "data_offsets": [0, 1]}}, b"\0\0",
     "does not fill the file"),
    ({"__metadata__": {"k": 1}}, b"", "__metadata__ must map strings to strings"),
])
def test_malformed_headers(tmp_path: Path, header: dict, data: bytes, message: str) -> None:  # type: ignore[type-arg]
    path = _encrypted_raw(tmp_path, header, data)
    with pytest.raises(pst.SafetensorsFormatError, match=f"^{path}: .*{message}"):
        pst.safe_open(path, [KEY])


def test_trusted_needs_a_signature(model: Path) -> None:
    """trusted= verifies against the plaintext model's bundle (see
    test_verified_encrypted_load.py); without one it refuses before decrypting."""
    with pytest.raises(PqmlError, match="no signature found"):
        pst.safe_open(model, [KEY], trusted=["signer.pub.pem"])

"""joblib and torch objects to and from encrypted files (pqml.encryption.encrypted_io)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pqml.encryption import encrypted_io as eio
from pqml.encryption.inspect import inspect
from pqml.errors import UntrustedSourceError
from pqml.primitives import registry

KEY = registry.scheme("X-Wing").generate()
OTHER = registry.scheme("X-Wing").generate()
MARKER = "plaintext-marker-3f9a"


@pytest.mark.parametrize("fmt", ["pqml", "age"])
@pytest.mark.parametrize("compress", [0, 3])
def test_joblib_roundtrip(tmp_path: Path, fmt: str, compress: int) -> None:
    obj = {"weights": np.arange(50_000, dtype=np.float64), "name": MARKER}
    path = tmp_path / "model.joblib.enc"
    eio.dump_joblib(obj, path, [KEY.public_key()], format=fmt, compress=compress)
    assert MARKER.encode() not in path.read_bytes()
    assert inspect(path)["format"].startswith("pqml" if fmt == "pqml" else "age")
    back = eio.load_joblib(path, [KEY], trusted_source="unit test")
    assert back["name"] == MARKER and np.array_equal(back["weights"], obj["weights"])


@pytest.mark.parametrize("fmt", ["pqml", "age"])
def test_torch_roundtrip(tmp_path: Path, fmt: str) -> None:
    torch = pytest.importorskip("torch")
    state = {"layer.weight": torch.randn(64, 32), "layer.bias": torch.zeros(64),
             "step": torch.tensor(7)}
    path = tmp_path / "ckpt.pt.enc"
    eio.save_torch(state, path, [KEY.public_key()], format=fmt)
    back = eio.load_torch(path, [KEY], trusted_source="unit test")
    assert set(back) == set(state) and all(torch.equal(back[k], state[k]) for k in state)


def test_pickle_loads_need_a_named_source_before_any_decryption(tmp_path: Path) -> None:
    path = tmp_path / "m.enc"
    eio.dump_joblib([1, 2, 3], path, [KEY.public_key()])
    for bad in (None, "", "   "):
        with pytest.raises(UntrustedSourceError, match=f"^{path}: refusing to load a joblib"):
            eio.load_joblib(path, [OTHER], trusted_source=bad)  # refused before the key is used
    with pytest.raises(UntrustedSourceError, match="refusing to load a torch file"):
        eio.load_torch(path, [KEY])


def test_failed_serialization_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "m.enc"
    with pytest.raises(Exception):  # noqa: B017 - pickling a lambda fails in pickle itself
        eio.dump_joblib({"f": lambda: 1}, path, [KEY.public_key()])
    assert list(tmp_path.iterdir()) == []


def test_weights_only_stays_on(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")

    path = tmp_path / "obj.enc"
    eio.save_torch({"cls": Path("x")}, path, [KEY.public_key()])
    with pytest.raises(Exception, match="Weights only load failed"):
        eio.load_torch(path, [KEY], trusted_source="unit test")
    assert eio.load_torch(path, [KEY], trusted_source="unit test",
                          weights_only=False)["cls"] == Path("x")
    del torch


def test_ml_libraries_are_imported_only_when_used() -> None:
    import subprocess
    import sys

    code = ("import sys, pqml, pqml.safetensors, pqml.encryption.encrypted_io, pqml.cli.encrypt;"
            "pqml.open; print(sorted(m for m in ('numpy', 'torch', 'safetensors', 'rich', "
            "'joblib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"

"""A signature vouches for one shape of model: a single file (object) or a tree. Given the
other shape under the same name it is refused with a one-line IntegrityError saying which,
locally and on object-store URLs."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

import pqml
from pqml.errors import IntegrityError


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("shape-keys")
    k = pqml.generate_key("ML-DSA-65")
    pqml.save_private_key(k, d / "k.pem")
    pqml.save_public_key(k, d / "k.pub")
    return d / "k.pem", d / "k.pub"


def test_local_file_signature_refuses_a_directory(tmp_path: Path, key) -> None:
    model, sig = tmp_path / "m", tmp_path / "m.sig"
    model.write_bytes(b"weights")
    pqml.sign_model(model, [key[0]], signature=sig)
    model.unlink()
    model.mkdir()
    (model / "weights").write_bytes(b"weights")
    with pytest.raises(IntegrityError) as err:
        pqml.verify_model(model, [key[1]], signature=sig)
    assert str(err.value) == (f"{model}: the signature covers a single file, but this is "
                              "a directory")


def test_local_directory_signature_refuses_a_file(tmp_path: Path, key) -> None:
    model, sig = tmp_path / "m", tmp_path / "m.sig"
    model.mkdir()
    (model / "weights").write_bytes(b"weights")
    pqml.sign_model(model, [key[0]], signature=sig)
    shutil.rmtree(model)
    model.write_bytes(b"weights")
    with pytest.raises(IntegrityError) as err:
        pqml.verify_model(model, [key[1]], signature=sig)
    assert str(err.value) == (f"{model}: the signature covers a directory, but this is "
                              "a single file")


def test_object_signature_refuses_a_prefix(tmp_path: Path, key) -> None:
    import fsspec

    fs = fsspec.filesystem("memory")
    base = f"memory://shape-{uuid.uuid4().hex}"
    fs.pipe(f"{base}/one/weights", b"weights")
    fs.pipe(f"{base}/single", b"weights")
    sig = tmp_path / "prefix.sig"
    pqml.sign_model(f"{base}/one/", [key[0]], signature=sig)
    with pytest.raises(IntegrityError) as err:
        pqml.verify_model(f"{base}/single", [key[1]], signature=sig)
    assert str(err.value).endswith("the signature covers a prefix (directory), but this "
                                   "is a single object")

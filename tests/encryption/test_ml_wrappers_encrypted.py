"""pqml.joblib / pqml.torch: the public wrappers reach the encrypted paths and keep the
trusted-source rule (an encrypted pickle is never loaded without it)."""

from __future__ import annotations

from pathlib import Path

import pytest

import pqml.joblib
import pqml.torch
from pqml.errors import PqmlError
from pqml.keys import key_files as keys


class _Marker:
    """Unpickling this creates a file: proof that a load ran code."""

    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


@pytest.fixture()
def identity(tmp_path: Path):
    sk = keys.generate("X-Wing")
    pem = tmp_path / "me.pem"
    keys.save_private(sk, pem)
    return sk, pem


def test_joblib_encrypted_round_trip(tmp_path: Path, identity) -> None:
    sk, pem = identity
    path = tmp_path / "clf.joblib.pqml"
    pqml.joblib.dump({"w": [1, 2, 3]}, path, recipients=[sk.public_key()])
    assert b"pqml/v1" in path.read_bytes()[:16] and b"[1, 2, 3]" not in path.read_bytes()
    assert pqml.joblib.load(path, identities=[pem], trusted_source="unit test") == {
        "w": [1, 2, 3]}


def test_torch_encrypted_round_trip_age_format(tmp_path: Path, identity) -> None:
    import torch

    sk, pem = identity
    path = tmp_path / "ckpt.pt.age"
    pqml.torch.save({"w": torch.arange(6.0)}, path, recipients=[sk.public_key()], format="age")
    assert path.read_bytes().startswith(b"age-encryption.org/v1")
    out = pqml.torch.load(path, identities=[pem], trusted_source="unit test")
    assert torch.equal(out["w"], torch.arange(6.0))


def test_encrypted_pickle_needs_a_named_source_and_never_runs(tmp_path: Path, identity) -> None:
    sk, pem = identity
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.joblib.pqml"
    pqml.joblib.dump(_Marker(str(marker)), path, recipients=[sk.public_key()])
    with pytest.raises(PqmlError, match="trusted_source"):
        pqml.joblib.load(path, identities=[pem])
    assert not marker.exists()
    with pytest.raises(PqmlError, match="trusted_source"):
        pqml.torch.load(path, identities=[pem])
    assert not marker.exists()


def test_wrong_identity_fails_without_output(tmp_path: Path, identity) -> None:
    sk, _ = identity
    other = tmp_path / "other.pem"
    keys.save_private(keys.generate("X-Wing"), other)
    path = tmp_path / "x.joblib.pqml"
    pqml.joblib.dump([1], path, recipients=[sk.public_key()])
    with pytest.raises(PqmlError):
        pqml.joblib.load(path, identities=[other], trusted_source="unit test")


def test_plain_dump_without_recipients_stays_plain(tmp_path: Path) -> None:
    import joblib

    path = tmp_path / "plain.joblib"
    pqml.joblib.dump({"a": 1}, path)
    assert not path.read_bytes().startswith((b"pqml/v1", b"age-encryption.org"))
    assert joblib.load(path) == {"a": 1}


def test_encrypted_signed_model_loads_verified_through_the_wrappers(tmp_path: Path,
                                                                   identity) -> None:
    """Sign in plaintext, encrypt the tree, load through pqml.joblib with trusted= only."""
    import joblib

    from pqml.encryption import encrypt
    from pqml.signing import signing

    sk, pem = identity
    model = tmp_path / "model"
    model.mkdir()
    joblib.dump({"coef": [0.5, 1.5]}, model / "clf.joblib")
    signer = keys.generate("ML-DSA-65")
    signer_pem = tmp_path / "signer.pem"
    keys.save_private(signer, signer_pem)
    signing.sign_model(model, [signer_pem])
    enc = tmp_path / "enc"
    encrypt.encrypt_tree(model, enc, [sk.public_key()])
    loaded = pqml.joblib.load(enc / "clf.joblib.pqml", trusted=[signer.public_key()],
                              identities=[pem])
    assert loaded == {"coef": [0.5, 1.5]}
    stranger = keys.generate("ML-DSA-65")
    with pytest.raises(PqmlError):
        pqml.joblib.load(enc / "clf.joblib.pqml", trusted=[stranger.public_key()],
                         identities=[pem])

"""``pqml.VerifyOptions``: the one "how to verify" object every verified loader takes.

The object validates what it is given; every verified loader honours it (the bundle is
found only through it, ``require_pq`` and a policy take effect through it); the old
per-loader keywords are gone and refused even where a loader passes ``**kwargs`` on to
its deserializer.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import pqml
import pqml.joblib
import pqml.safetensors as pst
import pqml.torch
from pqml.encryption import encrypt as feature
from pqml.encryption import encrypted_io, random_access
from pqml.errors import PolicyError, PqmlError, TrustPolicyError
from pqml.primitives import registry
from pqml.signing import signing, verified_load
from pqml.signing.policy import TrustPolicy
from pqml.signing.verify_options import FIELD_NAMES, VerifyOptions

np = pytest.importorskip("numpy")
joblib = pytest.importorskip("joblib")
safetensors_numpy = pytest.importorskip("safetensors.numpy")

OLD_KEYWORDS = ("signature", "model_root", "certificate_chain", "policy", "require_pq",
                "allow_symlinks", "crls")
XWING = registry.scheme("X-Wing").generate()
ECDSA = pqml.generate_key("ECDSA-P256", allow_classical=True)  # classical: no PQ signature


# ---- the object -----------------------------------------------------------------------------


def test_defaults() -> None:
    options = VerifyOptions()
    assert (options.signature, options.model_root, options.certificate_chain, options.policy,
            options.require_pq, options.allow_symlinks, options.crls
            ) == (None, None, (), None, False, False, ())
    assert not options.adds_trust
    assert set(OLD_KEYWORDS) == FIELD_NAMES


def test_paths_are_normalized(tmp_path: Path) -> None:
    options = VerifyOptions(signature="b/model.sig", model_root=tmp_path,
                            certificate_chain=["ca.pem", tmp_path / "int.pem"],
                            policy="trust.toml", require_pq=True, allow_symlinks=True)
    assert options.signature == Path("b/model.sig")
    assert options.model_root == tmp_path
    assert options.certificate_chain == (Path("ca.pem"), tmp_path / "int.pem")
    assert options.policy == Path("trust.toml")
    assert options.require_pq is True and options.allow_symlinks is True
    assert options.adds_trust
    assert VerifyOptions(certificate_chain="ca.pem").certificate_chain == (Path("ca.pem"),)
    assert VerifyOptions(certificate_chain=(p for p in ["a.pem", "b.pem"])
                         ).certificate_chain == (Path("a.pem"), Path("b.pem"))
    assert VerifyOptions(certificate_chain=None).certificate_chain == ()
    assert VerifyOptions(crls="rel.crl").crls == (Path("rel.crl"),)
    assert VerifyOptions(crls=["a.crl", tmp_path / "b.crl"]).crls == (Path("a.crl"),
                                                                     tmp_path / "b.crl")
    assert not VerifyOptions(crls=["a.crl"]).adds_trust  # a CRL only takes trust away
    assert VerifyOptions(certificate_chain=["ca.pem"]).adds_trust
    policy = TrustPolicy(require_pq=True)
    assert VerifyOptions(policy=policy).policy is policy
    assert VerifyOptions(policy=policy).adds_trust


@pytest.mark.parametrize("kwargs,message", [
    ({"signature": b"model.sig"}, "signature must be a path"),
    ({"signature": 3}, "signature must be a path"),
    ({"model_root": ["m"]}, "model_root must be a path"),
    ({"certificate_chain": 3}, "certificate_chain must be a path or an iterable"),
    ({"certificate_chain": b"ca.pem"}, "certificate_chain must be a path or an iterable"),
    ({"certificate_chain": {"ca.pem": 1}}, "certificate_chain must be a path or an iterable"),
    ({"certificate_chain": ["ca.pem", 3]}, r"certificate_chain\[1\] must be a path"),
    ({"crls": 3}, "crls must be a path or an iterable"),
    ({"crls": [b"a.crl"]}, r"crls\[0\] must be a path"),
    ({"policy": {"require_pq": True}}, "policy must be a TrustPolicy or the path"),
    ({"require_pq": "yes"}, "require_pq must be True or False"),
    ({"require_pq": 1}, "require_pq must be True or False"),
    ({"allow_symlinks": None}, "allow_symlinks must be True or False"),
])
def test_nonsense_is_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(TypeError, match=message):
        VerifyOptions(**kwargs)


def test_empty_paths_and_positional_arguments_are_refused() -> None:
    with pytest.raises(PqmlError, match="signature is an empty path"):
        VerifyOptions(signature="")
    with pytest.raises(PqmlError, match=r"certificate_chain\[0\] is an empty path"):
        VerifyOptions(certificate_chain=[""])
    with pytest.raises(TypeError):
        VerifyOptions("model.sig")  # type: ignore[misc]
    with pytest.raises(TypeError):
        VerifyOptions(require_pqc=True)  # type: ignore[call-arg]


def test_frozen_comparable_and_replace_revalidates() -> None:
    options = VerifyOptions(signature="a.sig", require_pq=True)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.require_pq = False  # type: ignore[misc]
    assert options == VerifyOptions(signature=Path("a.sig"), require_pq=True)
    assert hash(options) == hash(VerifyOptions(signature=Path("a.sig"), require_pq=True))
    moved = dataclasses.replace(options, model_root="m")
    assert moved.model_root == Path("m") and moved.signature == Path("a.sig")
    with pytest.raises(TypeError, match="allow_symlinks"):
        dataclasses.replace(options, allow_symlinks="no")


def test_public_and_lazy() -> None:
    assert pqml.VerifyOptions is VerifyOptions
    assert "VerifyOptions" in pqml.__all__
    code = ("import sys, pqml, pqml.joblib, pqml.torch, pqml.safetensors;"
            "pqml.VerifyOptions(require_pq=True);"
            "print(sorted(m for m in ('numpy', 'torch', 'joblib', 'safetensors')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


# ---- every loader takes it ------------------------------------------------------------------


@dataclasses.dataclass
class Model:
    plain: Path  # the signed plaintext model, its bundle moved away
    enc: Path  # the same model encrypted, its bundle moved away
    plain_sig: Path
    enc_sig: Path
    policy: Path  # a policy file trusting the signer

    def plain_options(self, **more: Any) -> VerifyOptions:
        return VerifyOptions(signature=self.plain_sig, model_root=self.plain, **more)

    def enc_options(self, **more: Any) -> VerifyOptions:
        return VerifyOptions(signature=self.enc_sig, model_root=self.enc, **more)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Model:
    tmp = tmp_path_factory.mktemp("options")
    plain = tmp / "model"
    plain.mkdir()
    joblib.dump({"coef": [1.0, 2.0]}, plain / "clf.joblib")
    (plain / "config.json").write_text(json.dumps({"n": 6}))
    safetensors_numpy.save_file({"w": np.arange(4, dtype=np.float32)},
                                str(plain / "w.safetensors"))
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.arange(3.0)}, plain / "model.pt")
    signing.sign_model(plain, [ECDSA])
    enc = tmp / "enc"
    feature.encrypt_tree(plain, enc, [XWING.public_key()])
    away = tmp / "away"
    away.mkdir()
    (plain / "model.sig").rename(away / "plain.sig")
    (enc / "model.sig").rename(away / "enc.sig")
    pqml.save_public_key(ECDSA.public_key(), away / "signer.pub")
    (away / "policy.json").write_text(json.dumps({"trusted_keys": ["signer.pub"]}))
    return Model(plain, enc, away / "plain.sig", away / "enc.sig", away / "policy.json")


def _tensor(path: Path, trusted: Any, verify: Any) -> list[float]:
    with pst.safe_open(path, [XWING], trusted=trusted, verify=verify) as f:
        return f.get_tensor("w").tolist()  # type: ignore[no-any-return]


# name -> (uses the encrypted tree?, call(model, trusted, verify), expected result)
Loader = Callable[[Model, Any, Any], Any]
LOADERS: dict[str, tuple[bool, Loader, Any]] = {
    "pqml.load": (False, lambda m, t, v: pqml.load(m.plain / "clf.joblib", t, verify=v),
                  {"coef": [1.0, 2.0]}),
    "pqml.joblib.load": (False, lambda m, t, v: pqml.joblib.load(
        m.plain / "clf.joblib", t, verify=v), {"coef": [1.0, 2.0]}),
    "pqml.torch.load": (False, lambda m, t, v: pqml.torch.load(
        m.plain / "model.pt", t, verify=v)["w"].tolist(), [0.0, 1.0, 2.0]),
    "read_verified": (False, lambda m, t, v: verified_load.read_verified(
        m.plain / "config.json", t, verify=v), b'{"n": 6}'),
    "verify_for_load": (False, lambda m, t, v: verified_load.verify_for_load(
        m.plain, ["config.json"], t, verify=v).read_bytes("config.json"), b'{"n": 6}'),
    "pqml.load encrypted": (True, lambda m, t, v: pqml.load(
        m.enc / "clf.joblib.pqml", t, verify=v, identities=[XWING]), {"coef": [1.0, 2.0]}),
    "pqml.joblib.load encrypted": (True, lambda m, t, v: pqml.joblib.load(
        m.enc / "clf.joblib.pqml", t, verify=v, identities=[XWING]), {"coef": [1.0, 2.0]}),
    "pqml.torch.load encrypted": (True, lambda m, t, v: pqml.torch.load(
        m.enc / "model.pt.pqml", t, verify=v, identities=[XWING])["w"].tolist(),
        [0.0, 1.0, 2.0]),
    "encrypted_io.load_joblib": (True, lambda m, t, v: encrypted_io.load_joblib(
        m.enc / "clf.joblib.pqml", [XWING], trusted=t, verify=v), {"coef": [1.0, 2.0]}),
    "encrypted_io.load_torch": (True, lambda m, t, v: encrypted_io.load_torch(
        m.enc / "model.pt.pqml", [XWING], trusted=t, verify=v)["w"].tolist(),
        [0.0, 1.0, 2.0]),
    "pqml.safetensors.safe_open": (True, lambda m, t, v: _tensor(
        m.enc / "w.safetensors.pqml", t, v), [0.0, 1.0, 2.0, 3.0]),
    "verify_encrypted": (True, lambda m, t, v: verified_load.verify_encrypted(
        m.enc / "config.json.pqml", t, verify=v)[1], "config.json"),
    "read_verified_encrypted": (True, lambda m, t, v: verified_load.read_verified_encrypted(
        m.enc / "config.json.pqml", [XWING], t, verify=v), b'{"n": 6}'),
}


@pytest.mark.parametrize("name", sorted(LOADERS))
def test_every_loader_verifies_through_the_options(model: Model, name: str) -> None:
    encrypted, call, expected = LOADERS[name]
    where = model.enc_options if encrypted else model.plain_options
    trusted = [ECDSA.public_key()]
    # The bundle is not where a loader looks by itself: only the options find it.
    with pytest.raises(PqmlError, match="no signature"):
        call(model, trusted, None)
    assert call(model, trusted, where()) == expected
    # require_pq travels in the options: the classical-only signature is not enough.
    with pytest.raises(TrustPolicyError):
        call(model, trusted, where(require_pq=True))
    # A policy in the options is trust enough: no trusted keys needed.
    assert call(model, None, where(policy=model.policy)) == expected
    with pytest.raises(TypeError, match=r"must be a pqml\.VerifyOptions"):
        call(model, trusted, {"signature": str(model.plain_sig)})


def test_options_without_trust_never_fall_back_to_an_unverified_load(
        model: Model, monkeypatch: pytest.MonkeyPatch) -> None:
    """Asking for verification (verify=...) with nothing to trust is an error, even where
    a trusted_source would allow an unverified load; nothing is decrypted."""
    opened: list[str] = []
    monkeypatch.setattr(random_access.EncryptedFileRaw, "__init__",
                        lambda self, path, identities: opened.append(str(path)))
    with pytest.raises(PolicyError, match="trusted keys are required"):
        encrypted_io.load_joblib(model.enc / "clf.joblib.pqml", [XWING],
                                 trusted_source="unit test", verify=model.enc_options())
    with pytest.raises(PolicyError, match="trusted keys are required"):
        pqml.torch.load(model.enc / "model.pt.pqml", identities=[XWING],
                        trusted_source="unit test", verify=model.enc_options(require_pq=True))
    with pytest.raises(PolicyError, match="trusted keys are required"):
        pst.safe_open(model.enc / "w.safetensors.pqml", [XWING], verify=VerifyOptions())
    assert opened == []


def test_verify_for_load_takes_the_model_root_once(model: Model, tmp_path: Path) -> None:
    trusted = [ECDSA.public_key()]
    with pytest.raises(PqmlError, match="names another model root"):
        verified_load.verify_for_load(model.plain, ["config.json"], trusted,
                                      verify=VerifyOptions(signature=model.plain_sig,
                                                           model_root=tmp_path))
    checked = verified_load.verify_for_load(model.plain, ["config.json"], trusted,
                                            verify=VerifyOptions(signature=model.plain_sig))
    assert [f.status for f in checked.checked] == ["ok"]


# ---- the old keywords are gone ------------------------------------------------------------


VERIFIED_LOADERS = [pqml.load, pqml.joblib.load, pqml.torch.load, verified_load.read_verified,
                    verified_load.verify_for_load, verified_load.verify_encrypted,
                    verified_load.read_verified_encrypted, encrypted_io.load_joblib,
                    encrypted_io.load_torch, pst.safe_open]


@pytest.mark.parametrize("function", VERIFIED_LOADERS,
                         ids=lambda f: f"{f.__module__}.{f.__name__}")
def test_signatures_take_trusted_and_verify_only(function: Callable[..., Any]) -> None:
    parameters = inspect.signature(function).parameters
    assert set(OLD_KEYWORDS).isdisjoint(parameters)
    assert "trusted" in parameters
    verify = parameters["verify"]
    assert verify.kind is inspect.Parameter.KEYWORD_ONLY and verify.default is None


@pytest.mark.parametrize("keyword", OLD_KEYWORDS)
def test_old_keywords_raise_before_anything_is_read(model: Model, tmp_path: Path,
                                                    keyword: str) -> None:
    value = True if keyword in ("require_pq", "allow_symlinks") else model.plain_sig
    calls: list[object] = []

    def loader(f: Any, **kwargs: Any) -> object:  # would swallow any keyword
        calls.append(kwargs)
        return f.read()

    with pytest.raises(TypeError, match=rf"{keyword}= is a verification setting"):
        pqml.load(model.plain / "config.json", trusted=[ECDSA.public_key()], loader=loader,
                  **{keyword: value})
    assert calls == []
    missing = tmp_path / "missing"  # the error comes before any file is looked at
    for kwargs_loader in (pqml.load, pqml.joblib.load, pqml.torch.load):
        with pytest.raises(TypeError, match=r"verify=pqml\.VerifyOptions\("):
            kwargs_loader(missing / "x.joblib", [ECDSA.public_key()], **{keyword: value})
    with pytest.raises(TypeError, match=r"verify=pqml\.VerifyOptions\("):
        encrypted_io.load_torch(missing / "x.pt.pqml", [XWING], trusted=[ECDSA],
                                **{keyword: value})
    with pytest.raises(TypeError, match="unexpected keyword"):
        pst.safe_open(missing / "x.pqml", [XWING], trusted=[ECDSA], **{keyword: value})
    with pytest.raises(TypeError, match="unexpected keyword"):
        encrypted_io.load_joblib(missing / "x.pqml", [XWING], trusted=[ECDSA],
                                 **{keyword: value})


def test_the_spec_example(model: Model) -> None:
    with pytest.raises(TypeError, match="require_pq= is a verification setting"):
        pqml.load(model.plain / "config.json", trusted=[ECDSA.public_key()], require_pq=True)

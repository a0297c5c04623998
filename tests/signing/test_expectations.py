"""Pinned expectations against mix-and-match and rollback (issue 18, item 16).

A bundle is content-addressed: model A's ``model.sig`` with A's files copied into model B
verifies, and so does an older signed version of a file with its older bundle. When the
caller pins the model name (the bundle's subject) or its root digest, anything else fails
before a model file is read.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import pqml
from pqml.errors import PolicyFileError, TrustPolicyError
from pqml.signing import signing
from pqml.signing.policy import TrustPolicy, trusted_key

from conftest import cli_run as run

_KEY: list[object] = []


def key():  # type: ignore[no-untyped-def]
    if not _KEY:
        _KEY.append(pqml.generate_key("ML-DSA-65"))
    return _KEY[0]


@pytest.fixture
def models(tmp_path: Path) -> tuple[Path, Path, str, str]:
    """Model ``a`` (version 1, then 2, both signed) and ``b`` holding a's version 1."""
    a, b = tmp_path / "model-a", tmp_path / "model-b"
    a.mkdir()
    (a / "config.json").write_text(json.dumps({"version": 1}))
    old = signing.sign_model(a, [key()]).root_digest
    shutil.copytree(a, b)  # mix-and-match: a's files and bundle under b's name
    (a / "config.json").write_text(json.dumps({"version": 2}))
    new = signing.sign_model(a, [key()], force=True).root_digest
    return a, b, old, new


def test_content_addressed_without_expectations(models: tuple[Path, Path, str, str]) -> None:
    """The limit the pins exist for: a's old bundle verifies model b."""
    _, b, _, _ = models
    assert signing.verify_model(b, [key()]).ok


def test_expected_name_and_digest_in_the_api(models: tuple[Path, Path, str, str]) -> None:
    a, b, old, new = models
    pinned = TrustPolicy(keys=(trusted_key(key()),), subject_name="model-b")
    with pytest.raises(TrustPolicyError, match="signs model 'model-a', expected 'model-b'"):
        signing.verify_model(b, policy=pinned)
    with pytest.raises(TrustPolicyError, match="expected 'model-b'"):
        pqml.load(b / "config.json", verify=pqml.VerifyOptions(policy=pinned))
    ok = TrustPolicy(keys=(trusted_key(key()),), subject_name="model-a", root_digest=new)
    assert signing.verify_model(a, policy=ok).root_digest == new
    assert pqml.load(a / "config.json", verify=pqml.VerifyOptions(policy=ok)) == {"version": 2}
    rollback = TrustPolicy(keys=(trusted_key(key()),), root_digest=new)
    with pytest.raises(TrustPolicyError, match=f"signed root digest {old}, expected {new}"):
        pqml.load(b / "config.json", verify=pqml.VerifyOptions(policy=rollback))


def test_expect_options_on_the_cli(models: tuple[Path, Path, str, str], tmp_path: Path) -> None:
    a, b, old, new = models
    pub = tmp_path / "k.pub"
    pqml.save_public_key(key(), pub)
    res = run("verify", b, "-k", pub, "--expect-name", "model-b")
    assert res.exit_code == 1
    assert res.stderr.startswith("pqml: error: ") and "expected 'model-b'" in res.stderr
    assert len(res.stderr.splitlines()) == 1
    res = run("verify", b, "-k", pub, "--expect-digest", new)
    assert res.exit_code == 1 and f"signed root digest {old}, expected {new}" in res.stderr
    res = run("verify", a, "-k", pub, "--expect-digest", new, "--expect-name", "model-a")
    assert res.exit_code == 0, res.output
    res = run("verify", a, "-k", pub, "--expect-digest", "abc")
    assert res.exit_code == 2 and "--expect-digest" in res.stderr


def test_expectations_in_a_policy_file(models: tuple[Path, Path, str, str],
                                       tmp_path: Path) -> None:
    a, b, _, new = models
    pqml.save_public_key(key(), tmp_path / "k.pub")
    policy = tmp_path / "policy.toml"
    policy.write_text(f'trusted_keys = ["k.pub"]\nsubject_name = "model-a"\n'
                      f'root_digest = "{new}"\n')
    assert signing.verify_model(a, policy=policy).ok
    with pytest.raises(TrustPolicyError, match="signed root digest sha256:"):
        signing.verify_model(b, policy=policy)  # a's old bundle: the digest pins version 2
    policy.write_text('trusted_keys = ["k.pub"]\nroot_digest = 5\n')
    with pytest.raises(PolicyFileError, match="root_digest"):
        pqml.load_policy(policy)

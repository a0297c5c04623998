"""``pqml digest`` hashes a model the way its bundle records, so it prints the signed root.

Before, digest ignored the bundle and used its own defaults (shards for a post-quantum key):
a model signed with ``--method files`` got a different root from digest than from sign.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pqml.signing import manifest, signing

from conftest import cli_run as run


def one_line_error(result, match: str) -> str:
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("pqml: error: "), result.stderr
    assert match in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "ml.pem"
    assert run("keygen", "--alg", "ML-DSA-65", "-o", path).exit_code == 0
    return path


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    (root / "weights").mkdir(parents=True)
    (root / "config.json").write_text('{"hidden": 8}')
    (root / "weights" / "w.bin").write_bytes(bytes(range(256)) * 16)
    (root / "notes.md").write_text("left out")
    return root


def signed_root(*args: object) -> str:
    res = run("sign", *args, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)["root_digest"]


@pytest.mark.parametrize("options", [
    ["--method", "files"],
    ["--method", "shards", "--shard-size", "1K", "--hash", "sha384",
     "--ignore-paths", "notes.md"],
    ["--hash", "blake3", "--no-ignore-git-paths"],
])
def test_digest_prints_the_root_sign_recorded(model: Path, key: Path,
                                              options: list[str]) -> None:
    (model / ".gitignore").write_text("*.tmp\n")
    root = signed_root(model, "-k", key, *options)
    res = run("digest", model)
    assert res.exit_code == 0, res.output
    assert res.stdout.split()[0] == root
    assert f"as recorded in {model / 'model.sig'}" in res.stderr
    # A changed model no longer gives the recorded root.
    (model / "weights" / "w.bin").write_bytes(b"tampered")
    assert run("digest", model).stdout.split()[0] != root


def test_digest_follows_a_bundle_named_with_signature(model: Path, key: Path,
                                                     tmp_path: Path) -> None:
    sig = tmp_path / "elsewhere.sig"
    root = signed_root(model, "-k", key, "--method", "files", "--signature", sig)
    assert run("digest", model).stdout.split()[0] != root  # no bundle in the model
    res = run("digest", model, "--signature", sig, "--json")
    data = json.loads(res.stdout)
    assert data["root_digest"] == root
    assert data["method"] == "files" and data["parameters_from"] == str(sig)
    (model / "config.json").write_text('{"hidden": 9}')
    assert run("digest", model, "--signature", sig).stdout.split()[0] != root


def test_single_file_model(tmp_path: Path, key: Path) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\x01" * 5000)
    root = signed_root(path, "-k", key, "--method", "files")
    assert run("digest", path).stdout.split()[0] == root
    path.write_bytes(b"\x02" * 5000)
    assert run("digest", path).stdout.split()[0] != root


def test_without_a_bundle_digest_says_which_defaults(model: Path) -> None:
    res = run("digest", model)
    assert res.exit_code == 0
    assert res.stdout.split()[0] == manifest.digest_model(
        model, method="shards").root_digest()
    assert "sha256, shards of 67108864 bytes" in res.stderr
    assert f"defaults: no signature bundle at {model / 'model.sig'}" in res.stderr
    data = json.loads(run("digest", model, "--json").stdout)
    assert (data["method"], data["hash_type"], data["parameters_from"]) == (
        "shards", "sha256", "defaults")


def test_options_given_override_the_bundle(model: Path, key: Path) -> None:
    root = signed_root(model, "-k", key, "--method", "files")
    res = run("digest", model, "--method", "shards")
    assert res.stdout.split()[0] != root
    assert "method given" in res.stderr


def test_missing_signature_names_the_file(model: Path, tmp_path: Path) -> None:
    line = one_line_error(run("digest", model, "--signature", tmp_path / "nope.sig"),
                          f"{tmp_path / 'nope.sig'}: signature file does not exist")
    assert "pass --signature" not in line


def test_corrupt_bundle_is_one_line(model: Path) -> None:
    (model / "model.sig").write_text('{"mediaType": 1}')
    one_line_error(run("digest", model), f"{model / 'model.sig'}: ")


def test_hostile_shard_size_is_refused_before_hashing(tmp_path: Path, key: Path) -> None:
    """A bundle recording 1-byte shards must not make digest build millions of pieces."""
    path = tmp_path / "big.bin"
    path.write_bytes(b"x" * 10)
    signing.sign_model(path, [key], shard_size=1)
    path.write_bytes(b"x" * (manifest.MAX_PIECES + 1))
    one_line_error(run("digest", path), "shards, more than a signature bundle can hold")


def test_api_follows_a_serialization(model: Path, key: Path) -> None:
    result = signing.sign_model(model, [key], method="files", hash="sha384")
    statement = signing.read_bundle(result.signature).statement()
    found = manifest.digest_model(model, serialization=statement.serialization)
    assert found.root_digest() == result.root_digest
    assert manifest.digest_model(model).root_digest() != result.root_digest

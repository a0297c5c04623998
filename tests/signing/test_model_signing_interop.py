"""Interop with the real model_signing 1.1.1 (OpenSSF), in-process and through its CLI.

pqml's ECDSA-first bundles (pure or hybrid with ML-DSA after it) must verify with
``model_signing verify key``; bundles model_signing signs must verify with pqml; both
must see the same resources for the same model.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pqml
from pqml.errors import IntegrityError
from pqml.formats import oms
from pqml.signing import manifest, signing

model_signing = pytest.importorskip("model_signing", reason="needs model-signing + pyOpenSSL")

MS_CLI = Path(sys.executable).with_name("model_signing")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("interop-keys")
    out: dict[str, Path] = {}
    for name, alg in (("p256", "ECDSA-P256"), ("p384", "ECDSA-P384"), ("ml", "ML-DSA-65")):
        sk = pqml.generate_key(alg, allow_classical=True)
        pqml.save_private_key(sk, d / f"{name}.pem")
        pqml.save_public_key(sk, d / f"{name}.pub")
        out[name], out[f"{name}.pub"] = d / f"{name}.pem", d / f"{name}.pub"
    return out


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "my-model"
    files = {
        "config.json": b'{"arch": "tiny"}',
        "weights/part-0.bin": bytes(range(256)) * 300,
        "weights/part-1.bin": b"\x07" * 4097,
        "tokenizer/vocab.txt": b"a\nb\n",
        "empty.txt": b"",
        ".git/HEAD": b"ref: refs/heads/main\n",  # git paths: ignored by both tools
    }
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def ms_verify(model: Path, sig: Path, pub: Path) -> None:
    model_signing.verifying.Config().use_elliptic_key_verifier(public_key=pub).verify(model, sig)


def ms_cli_verify(model: Path, sig: Path, pub: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MS_CLI), "verify", "key", str(model), "--signature", str(sig),
         "--public_key", str(pub)], capture_output=True, text=True,
    )


@pytest.mark.parametrize("curve", ["p256", "p384"])
def test_pqml_ecdsa_bundle_verifies_with_model_signing(model: Path, keys, curve: str) -> None:
    result = signing.sign_model(model, [keys[curve]])
    assert result.manifest.method == "files"
    ms_verify(model, result.signature, keys[f"{curve}.pub"])


def test_hybrid_bundle_verifies_with_model_signing_cli(model: Path, keys) -> None:
    """ECDSA first, ML-DSA second: model_signing checks the first, pqml both."""
    result = signing.sign_model(model, [keys["p256"], keys["ml"]])
    bundle = oms.parse_bundle(result.signature.read_bytes())
    assert len(bundle.envelope.signatures) == 2
    assert "pqml" in bundle.statement().extensions  # model_signing ignores the extra field
    done = ms_cli_verify(model, result.signature, keys["p256.pub"])
    assert done.returncode == 0, done.stderr
    assert "Verification succeeded" in done.stdout
    ms_verify(model, result.signature, keys["p256.pub"])
    signing.verify_model(model, [keys["p256.pub"], keys["ml.pub"]], require_pq=True)
    # Both tools refuse the same tampering.
    (model / "weights" / "part-1.bin").write_bytes(b"\x07" * 4096 + b"\x08")
    assert ms_cli_verify(model, result.signature, keys["p256.pub"]).returncode != 0
    with pytest.raises(IntegrityError):
        signing.verify_model(model, [keys["ml.pub"]])


def test_pqml_bundle_with_pq_key_first_is_not_model_signing_verifiable(model: Path,
                                                                       keys) -> None:
    """Why the ECDSA key must come first: model_signing only ever checks signatures[0]."""
    result = signing.sign_model(model, [keys["ml"], keys["p256"]], method="files")
    assert any("first signature" in w for w in result.warnings)
    with pytest.raises(ValueError, match="Key mismatch"):  # the hint names the first key
        ms_verify(model, result.signature, keys["p256.pub"])


def test_model_signing_bundle_verifies_with_pqml(model: Path, keys, tmp_path: Path) -> None:
    (model / "notes.md").write_text("not signed")
    sig = model / "model.sig"
    done = subprocess.run(
        [str(MS_CLI), "sign", "key", str(model), "--private_key", str(keys["p256"]),
         "--signature", str(sig), "--ignore-paths", str(model / "notes.md")],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, done.stderr
    ignore = oms.parse_bundle(sig.read_bytes()).statement().serialization.ignore_paths
    assert {"notes.md", "model.sig", ".git"} <= set(ignore)
    result = signing.verify_model(model, [keys["p256.pub"]])
    assert result.signatures[0].algorithm == "ECDSA-P256"
    assert {f.name: f.status for f in result.files}["notes.md"] == "ignored"
    assert result.root_digest == manifest.digest_model(model, ignore_paths=["notes.md"],
                                                       method="files").root_digest()
    (model / "config.json").write_bytes(b'{"arch": "huge"}')
    with pytest.raises(IntegrityError, match=r"modified config\.json"):
        signing.verify_model(model, [keys["p256.pub"]])


def test_model_signing_single_file(tmp_path: Path, keys) -> None:
    path = tmp_path / "weights.bin"
    path.write_bytes(b"\x01\x02\x03")
    sig = tmp_path / "model.sig"  # its default name, beside the file
    model_signing.signing.Config().use_elliptic_key_signer(private_key=keys["p384"]).sign(
        path, sig)
    assert signing.find_signature(path) == sig
    assert signing.verify_model(path, [keys["p384.pub"]]).ok
    # And the other way round: pqml's single-file bundle (MODEL.sig) for model_signing.
    ours = signing.sign_model(path, [keys["p384"]]).signature
    assert ours == tmp_path / "weights.bin.sig"
    ms_verify(path, ours, keys["p384.pub"])


def test_model_signing_shards_bundle_verifies_with_pqml(model: Path, keys) -> None:
    sig = model / "model.sig"
    hashing = model_signing.hashing.Config().use_shard_serialization(shard_size=4096)
    model_signing.signing.Config().use_elliptic_key_signer(private_key=keys["p256"]) \
        .set_hashing_config(hashing).sign(model, sig)
    statement = oms.parse_bundle(sig.read_bytes()).statement()
    assert statement.serialization.shard_size == 4096  # written as 4096.0 by model_signing
    # model_signing skips empty files in shards: pqml reports it as not covered.
    with pytest.raises(IntegrityError, match=r"unsigned file empty\.txt"):
        signing.verify_model(model, [keys["p256.pub"]])
    result = signing.verify_model(model, [keys["p256.pub"]], allow_unsigned_files=True)
    assert {f.name for f in result.files if f.status == "ok"} == {
        "config.json", "weights/part-0.bin", "weights/part-1.bin", "tokenizer/vocab.txt"}


def test_model_signing_cannot_verify_its_own_shards_without_help(model: Path, keys) -> None:
    """The fact behind method='auto': model_signing 1.1.1 writes shard_size as 4096.0 and
    its guessed configuration then fails; with the configuration given, it verifies pqml's
    shards bundles too (so the format itself is compatible)."""
    sig = model / "model.sig"
    hashing = model_signing.hashing.Config().use_shard_serialization(shard_size=4096)
    model_signing.signing.Config().use_elliptic_key_signer(private_key=keys["p256"]) \
        .set_hashing_config(hashing).sign(model, sig)
    with pytest.raises(TypeError):
        ms_verify(model, sig, keys["p256.pub"])
    ours = signing.sign_model(model, [keys["p256"]], shard_size=4096, force=True).signature
    explicit = model_signing.hashing.Config().use_shard_serialization(shard_size=4096)
    model_signing.verifying.Config().use_elliptic_key_verifier(public_key=keys["p256.pub"]) \
        .set_hashing_config(explicit).verify(model, ours)


@pytest.mark.parametrize("method", ["files", "shards"])
def test_same_resources_as_model_signing(model: Path, method: str) -> None:
    config = model_signing.hashing.Config()
    if method == "shards":
        config = config.use_shard_serialization(shard_size=4096)
    theirs = {(rd.identifier, rd.digest.digest_hex, rd.digest.algorithm)
              for rd in config.hash(model).resource_descriptors()}
    found = manifest.digest_model(model, method=method,  # type: ignore[arg-type]
                                  shard_size=4096 if method == "shards" else None)
    ours = {(r.name, r.digest, r.algorithm) for r in found.resources()}
    assert ours == theirs
    order = [rd.identifier for rd in config.hash(model).resource_descriptors()]
    assert [r.name for r in found.resources()] == order


def test_vectors_dir_untouched(tmp_path: Path) -> None:
    """Verifying never writes: a read-only copy verifies the same."""
    from conftest import vector

    src = vector("oms", "v1.1.0-elliptic-key")
    copy = tmp_path / "ro"
    shutil.copytree(src, copy)
    for p in [copy, *copy.iterdir()]:
        p.chmod(0o555 if p.is_dir() else 0o444)
    try:
        signing.verify_model(copy, [vector("oms", "keys", "signing-key-pub.pem")])
    finally:
        copy.chmod(0o755)

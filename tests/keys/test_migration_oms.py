"""Classical (ECDSA) OMS bundles: verified, then co-signed with ML-DSA in the same envelope;
the real model_signing 1.1.1 must still verify the result."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from migration_kit import snapshot

import pqml
from pqml.errors import PqmlError
from pqml.formats import oms
from pqml.keys.errors import MigrationFailed
from pqml.keys.migration import migrate
from pqml.signing import signing

model_signing = pytest.importorskip("model_signing", reason="needs model-signing + pyOpenSSL")
MS_CLI = Path(sys.executable).with_name("model_signing")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("oms-keys")
    out: dict[str, Path] = {}
    for name, alg in (("ec", "ECDSA-P256"), ("ec2", "ECDSA-P256"), ("ml", "ML-DSA-65"),
                      ("ed", "Ed25519")):
        sk = pqml.generate_key(alg, allow_classical=True)
        pqml.save_private_key(sk, d / f"{name}.pem")
        pqml.save_public_key(sk, d / f"{name}.pub")
        out[name], out[f"{name}.pub"] = d / f"{name}.pem", d / f"{name}.pub"
    return out


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "my-model"
    for name, data in {"config.json": b'{"arch": "tiny"}',
                       "weights/part-0.bin": bytes(range(256)) * 40,
                       "tokenizer/vocab.txt": b"a\nb\n"}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def ms_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(MS_CLI), *args], capture_output=True, text=True, timeout=120)


def ms_sign_inside(model: Path, key: Path) -> Path:
    """model_signing's own ECDSA bundle, at MODEL/model.sig (its CLI)."""
    sig = model / "model.sig"
    done = ms_cli("sign", "key", str(model), "--private_key", str(key), "--signature", str(sig))
    assert done.returncode == 0, done.stderr
    return sig


def test_cosigned_bundle_verifies_with_model_signing_and_pqml(model: Path, keys) -> None:
    sig = ms_sign_inside(model, keys["ec"])
    original = oms.parse_bundle(sig.read_bytes())
    (dry,) = migrate([model], trusted_keys=[keys["ec.pub"]], sign_key=keys["ml"]).artifacts
    assert (dry.kind, dry.status, dry.path) == ("oms-bundle", "ready", str(sig))
    assert "ECDSA-P256 (quantum-vulnerable) verified by a trusted key" in dry.now
    assert "ML-DSA-65" in (dry.becomes or "")
    (done,) = migrate([model], trusted_keys=[keys["ec.pub"]], sign_key=keys["ml"],
                      apply=True).artifacts
    assert done.status == "migrated"
    bundle = oms.parse_bundle(sig.read_bytes())
    # Same payload, same classical signature first, same verification material.
    assert bundle.envelope.payload == original.envelope.payload
    assert bundle.envelope.signatures[0] == original.envelope.signatures[0]
    assert bundle.verification_material == original.verification_material
    assert len(bundle.envelope.signatures) == 2
    # model_signing 1.1.1, through its CLI, still verifies it (it checks signatures[0]).
    done_ms = ms_cli("verify", "key", str(model), "--signature", str(sig),
                     "--public_key", str(keys["ec.pub"]))
    assert done_ms.returncode == 0, done_ms.stderr
    assert "Verification succeeded" in done_ms.stdout
    # pqml verifies both, and the ML-DSA one alone satisfies --require-pq.
    result = signing.verify_model(model, [keys["ml.pub"]], require_pq=True)
    assert [c.status for c in result.signatures] == ["untrusted", "verified"]
    both = signing.verify_model(model, [keys["ec.pub"], keys["ml.pub"]], require_pq=True)
    assert [c.algorithm for c in both.signatures] == ["ECDSA-P256", "ML-DSA-65"]


def test_model_signing_api_single_file_bundle(tmp_path: Path, keys) -> None:
    """The API path: model_signing's bundle beside a single file (its default name)."""
    weights = tmp_path / "weights.bin"
    weights.write_bytes(b"\x01\x02\x03" * 1000)
    sig = tmp_path / "model.sig"
    model_signing.signing.Config().use_elliptic_key_signer(private_key=keys["ec"]).sign(
        weights, sig)
    migrate([sig], trusted_keys=[keys["ec.pub"]], sign_key=keys["ml"], apply=True)
    assert len(oms.parse_bundle(sig.read_bytes()).envelope.signatures) == 2
    model_signing.verifying.Config().use_elliptic_key_verifier(
        public_key=keys["ec.pub"]).verify(weights, sig)
    signing.verify_model(weights, [keys["ml.pub"]], signature=sig, require_pq=True)


def test_tampered_model_is_not_cosigned(model: Path, keys) -> None:
    sig = ms_sign_inside(model, keys["ec"])
    (model / "config.json").write_bytes(b'{"arch": "evil"}')
    before = snapshot([sig])
    with pytest.raises(MigrationFailed, match="integrity check failed"):
        migrate([sig], trusted_keys=[keys["ec.pub"]], sign_key=keys["ml"], apply=True)
    assert snapshot([sig]) == before


def test_untrusted_or_forged_signature_is_refused(model: Path, keys) -> None:
    sig = ms_sign_inside(model, keys["ec"])
    before = snapshot([sig])
    (a,) = migrate([sig], trusted_keys=[keys["ec2.pub"]], sign_key=keys["ml"]).artifacts
    assert a.status == "refused" and "no signature is by a trusted key" in (a.reason or "")
    # a bundle whose classical signature was altered
    bundle = oms.parse_bundle(sig.read_bytes())
    bad_sig = bytearray(bundle.envelope.signatures[0].sig)
    bad_sig[-1] ^= 1
    forged = oms.Bundle(bundle.verification_material, oms.Envelope(
        bundle.envelope.payload, (oms.Signature(bytes(bad_sig), keyid=""),)))
    sig.write_bytes(forged.to_json())
    before = snapshot([sig])
    (b,) = migrate([sig], trusted_keys=[keys["ec.pub"]], sign_key=keys["ml"]).artifacts
    assert b.status == "refused"
    with pytest.raises(MigrationFailed):
        migrate([sig], trusted_keys=[keys["ec.pub"]], sign_key=keys["ml"], apply=True)
    assert snapshot([sig]) == before


def test_hybrid_bundle_needs_nothing(model: Path, keys) -> None:
    result = signing.sign_model(model, [keys["ec"], keys["ml"]])
    (a,) = migrate([result.signature], trusted_keys=[keys["ec.pub"]],
                   sign_key=keys["ml"]).artifacts
    assert a.status == "nothing to do" and not a.quantum_vulnerable
    assert "ML-DSA-65" in (a.reason or "")
    # without a trusted key, the signature length says it
    (b,) = migrate([result.signature]).artifacts
    assert b.status == "nothing to do"


def test_missing_or_classical_sign_key(model: Path, keys) -> None:
    sig = ms_sign_inside(model, keys["ec"])
    (a,) = migrate([sig]).artifacts
    assert a.status == "needs" and "--trust-key" in (a.reason or "")
    (b,) = migrate([sig], trusted_keys=[keys["ec.pub"]]).artifacts
    assert b.status == "needs" and "--sign-key" in (b.reason or "")
    with pytest.raises(PqmlError, match="quantum-vulnerable"):
        migrate([sig], trusted_keys=[keys["ec.pub"]], sign_key=keys["ed"])


def test_pqml_ed25519_bundle_is_cosigned_too(tmp_path: Path, model: Path, keys) -> None:
    """Not only ECDSA: any classical-only bundle (here pqml's own Ed25519 one)."""
    copy = tmp_path / "copy"
    shutil.copytree(model, copy)
    result = signing.sign_model(copy, [keys["ed"]])
    (a,) = migrate([result.signature], trusted_keys=[keys["ed.pub"]], sign_key=keys["ml"],
                   apply=True).artifacts
    assert a.status == "migrated"
    signing.verify_model(copy, [keys["ed.pub"], keys["ml.pub"]], require_pq=True)


def test_failure_mid_run_stops_there_and_a_rerun_resumes(tmp_path: Path, model: Path,
                                                         keys) -> None:
    """Bundle 2's model fails verification at apply: bundle 1 is migrated, 2 and 3 are
    not; once the model is restored, the same command finishes the run."""
    from pqml.keys.migration_journal import journals_dir

    models = []
    for i in range(3):
        copy = tmp_path / f"m{i}"
        shutil.copytree(model, copy)
        signing.sign_model(copy, [keys["ec"]])
        models.append(copy)
    good = (models[1] / "config.json").read_bytes()
    (models[1] / "config.json").write_bytes(b"tampered")
    bundles = [m / "model.sig" for m in models]
    with pytest.raises(MigrationFailed, match="rerun to resume") as caught:
        migrate(bundles, trusted_keys=[keys["ec.pub"]], sign_key=keys["ml"], apply=True)
    assert [a.status for a in caught.value.report.artifacts] == [
        "migrated", "failed", "not attempted"]
    assert caught.value.report.journal and Path(caught.value.report.journal).exists()
    assert [len(oms.parse_bundle(b.read_bytes()).envelope.signatures) for b in bundles] \
        == [2, 1, 1]
    (models[1] / "config.json").write_bytes(good)
    report = migrate(bundles, trusted_keys=[keys["ec.pub"]], sign_key=keys["ml"], apply=True)
    assert [a.status for a in report.artifacts] == ["nothing to do", "migrated", "migrated"]
    assert report.journal is None and not list(journals_dir().glob("*.json"))
    for m in models:
        signing.verify_model(m, [keys["ml.pub"]], require_pq=True)


def test_symlinked_bundle_is_cosigned_where_it_lives(tmp_path: Path, model: Path,
                                                     keys) -> None:
    sig = ms_sign_inside(model, keys["ec"])
    link = tmp_path / "link.sig"
    link.symlink_to(sig)
    migrate([link], trusted_keys=[keys["ec.pub"]], sign_key=keys["ml"], apply=True)
    assert link.is_symlink()
    assert len(oms.parse_bundle(sig.read_bytes()).envelope.signatures) == 2


def test_model_signing_certificate_bundle_vector(tmp_path: Path, keys) -> None:
    """model_signing 1.1.0's certificate-method bundle (tests/vectors/oms): trusted through
    the certificate chain, co-signed, and still verifiable through the chain."""
    from conftest import vector

    model = tmp_path / "model"
    shutil.copytree(vector("oms", "v1.1.0-certificate"), model)
    chain = [vector("oms", "keys", "ca-cert.pem"), vector("oms", "keys", "int-ca-cert.pem")]
    (a,) = migrate([model], certificate_chain=chain, sign_key=keys["ml"],
                   apply=True).artifacts
    assert a.status == "migrated", a.reason
    signing.verify_model(model, certificate_chain=chain)
    signing.verify_model(model, [keys["ml.pub"]], require_pq=True)

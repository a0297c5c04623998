"""pqml's CA and certificate bundles with model_signing 1.1.1: an ECDSA certificate-method
bundle pqml makes verifies there, and the pqml-made certificates chain as it expects."""

from __future__ import annotations

from pathlib import Path

import pytest

from pqml.keys import key_files
from pqml.keys.ca import CertificateAuthority
from pqml.signing import signing

model_signing = pytest.importorskip("model_signing", reason="needs model-signing + pyOpenSSL")


@pytest.fixture
def ecdsa_pki(tmp_path: Path) -> dict[str, Path]:
    root = CertificateAuthority.init(tmp_path / "root", algorithm="ECDSA-P256",
                                     subject="CN=Classic Root")
    inter = CertificateAuthority.init(tmp_path / "int", algorithm="ECDSA-P256", parent=root,
                                      subject="CN=Classic Release CA")
    key = key_files.generate("ECDSA-P256", allow_classical=True)
    key_files.save_private(key, tmp_path / "leaf.pem")
    (tmp_path / "leaf.crt").write_bytes(
        inter.issue(key.public_key(), subject="CN=classic-bot").pem)
    return {"root": root.path / "ca.cert.pem", "int": inter.path / "ca.cert.pem",
            "chain": inter.path / "chain.pem", "key": tmp_path / "leaf.pem",
            "cert": tmp_path / "leaf.crt"}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "my-model"
    root.mkdir()
    (root / "config.json").write_bytes(b'{"arch": "tiny"}')
    (root / "w.bin").write_bytes(b"\x01" * 5000)
    return root


def test_model_signing_verifies_pqml_ecdsa_certificate_bundle(model: Path,
                                                             ecdsa_pki: dict[str, Path]
                                                             ) -> None:
    result = signing.sign_model(model, [ecdsa_pki["key"]], certificate=ecdsa_pki["cert"],
                                certificate_chain=[ecdsa_pki["chain"]])
    assert result.manifest.method == "files"  # what model_signing's verifier re-hashes
    model_signing.verifying.Config().use_certificate_verifier(
        certificate_chain=[ecdsa_pki["root"]]).verify(model, result.signature)
    checked = signing.verify_model(model, certificate_chain=[ecdsa_pki["root"]])
    assert checked.signatures[0].key_source == "certificate CN=classic-bot"


def test_model_signing_rejects_it_with_another_root(model: Path, ecdsa_pki: dict[str, Path],
                                                   tmp_path: Path) -> None:
    """The control: model_signing really checks the chain of pqml's bundle."""
    result = signing.sign_model(model, [ecdsa_pki["key"]], certificate=ecdsa_pki["cert"],
                                certificate_chain=[ecdsa_pki["chain"]])
    other = CertificateAuthority.init(tmp_path / "other", algorithm="ECDSA-P256",
                                      subject="CN=Other Root")
    with pytest.raises(Exception):  # noqa: B017 - model_signing raises its own types
        model_signing.verifying.Config().use_certificate_verifier(
            certificate_chain=[other.path / "ca.cert.pem"]).verify(model, result.signature)


def test_pqml_verifies_a_bundle_model_signing_signs_with_pqml_certificates(
        model: Path, ecdsa_pki: dict[str, Path]) -> None:
    sig = model.parent / "ms.sig"
    model_signing.signing.Config().use_certificate_signer(
        private_key=ecdsa_pki["key"], signing_certificate=ecdsa_pki["cert"],
        certificate_chain=[ecdsa_pki["int"]]).sign(model, sig)
    result = signing.verify_model(model, certificate_chain=[ecdsa_pki["root"]], signature=sig)
    assert result.signatures[0].status == "verified"
    assert "(leaf notBefore)" in result.signatures[0].detail  # no signed time in its bundles

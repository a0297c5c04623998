"""Certificate-method bundles from pqml's CA: signing, chain validation, every bad input."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from pqml.formats import oms
from pqml.keys import key_files
from pqml.keys.ca import CertificateAuthority, crl_pem
from pqml.signing import certificate_bundles, signing
from pqml.signing.errors import CertificateChainError, SignatureVerificationError

DAY = dt.timedelta(days=1)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """SLH-DSA root -> ML-DSA-65 intermediate -> ML-DSA-65 signing certificate, made once."""
    d = tmp_path_factory.mktemp("pki")
    root = CertificateAuthority.init(d / "root", subject="CN=Model Root")
    CertificateAuthority.init(d / "rel", parent=root, subject="CN=Release CA")
    return {"root": d / "root", "rel": d / "rel", "dir": d}


@pytest.fixture
def ca(pki: dict[str, Path], tmp_path: Path) -> dict[str, Path]:
    """A private copy of the PKI (tests revoke and issue) and a signing key + certificate."""
    shutil.copytree(pki["root"], tmp_path / "root")
    shutil.copytree(pki["rel"], tmp_path / "rel")
    rel = CertificateAuthority.open(tmp_path / "rel")
    key = key_files.generate("ML-DSA-65")
    key_files.save_private(key, tmp_path / "bot.pem")
    issued = rel.issue(key.public_key(), subject="CN=release-bot")
    (tmp_path / "bot.crt").write_bytes(issued.pem)
    return {"root": tmp_path / "root", "rel": tmp_path / "rel", "key": tmp_path / "bot.pem",
            "cert": tmp_path / "bot.crt", "anchor": tmp_path / "root" / "ca.cert.pem",
            "chain": tmp_path / "rel" / "chain.pem"}


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "my-model"
    (root / "weights").mkdir(parents=True)
    (root / "config.json").write_bytes(b'{"arch": "tiny"}')
    (root / "weights" / "w.bin").write_bytes(bytes(range(256)) * 64)
    return root


def sign(model: Path, ca: dict[str, Path], **kw: object) -> signing.SignResult:
    return signing.sign_model(model, [ca["key"]], certificate=ca["cert"],
                              certificate_chain=[ca["chain"]], **kw)  # type: ignore[arg-type]


def verify(model: Path, ca: dict[str, Path], **kw: object) -> signing.VerificationResult:
    return signing.verify_model(model, certificate_chain=[ca["anchor"]],
                                **kw)  # type: ignore[arg-type]


def rewrite(bundle_path: Path, *, chain: list[bytes] | None = None,
            signed_at: dt.datetime | None = None, key: Path | None = None) -> None:
    """Change a bundle's certificates (not covered by the signature) or its recorded signing
    time (covered: re-signed with ``key``), as a signer holding the key could."""
    bundle = oms.parse_bundle(bundle_path.read_bytes())
    material, envelope = bundle.verification_material, bundle.envelope
    if chain is not None:
        material = oms.VerificationMaterial(oms.CertificateChain(tuple(chain)))
    if signed_at is not None:
        assert key is not None
        statement = bundle.statement()
        ext = {**statement.extensions,
               certificate_bundles.SIGNED_AT_KEY: signed_at.strftime("%Y-%m-%dT%H:%M:%SZ")}
        from dataclasses import replace

        payload = replace(statement, extensions=ext).to_payload()
        sk = key_files.load_private(key)
        sig = sk.sign(oms.pae(oms.IN_TOTO_PAYLOAD_TYPE, payload))  # type: ignore[attr-defined]
        envelope = oms.Envelope(payload, (oms.Signature(sig, envelope.signatures[0].keyid),))
    bundle_path.write_bytes(oms.Bundle(material, envelope).to_json())


def bundle_chain(bundle_path: Path) -> list[bytes]:
    content = oms.parse_bundle(bundle_path.read_bytes()).verification_material.content
    assert isinstance(content, oms.CertificateChain)
    return list(content.certificates)


# ---- the good path ------------------------------------------------------------------------


def test_sign_writes_a_certificate_bundle_that_verifies(model: Path, ca: dict[str, Path]) -> None:
    result = sign(model, ca)
    raw = json.loads(result.signature.read_bytes())
    certs = raw["verificationMaterial"]["x509CertificateChain"]["certificates"]
    assert len(certs) == 2  # leaf + intermediate; the self-signed root is left out
    assert "publicKey" not in raw["verificationMaterial"]
    statement = oms.parse_bundle(result.signature.read_bytes()).statement()
    assert certificate_bundles.SIGNED_AT_KEY in statement.extensions
    report = verify(model, ca)
    check = report.signatures[0]
    assert check.status == "verified" and check.key_source == "certificate CN=release-bot"
    assert "CN=release-bot (serial 0x1) <- CN=Release CA (serial 0x2) <- CN=Model Root" \
        in check.detail
    assert "(signed)" in check.detail


def test_composite_leaf_directly_under_the_slh_dsa_root(model: Path, ca: dict[str, Path],
                                                       tmp_path: Path) -> None:
    root = CertificateAuthority.open(ca["root"])
    key = key_files.generate("MLDSA65-Ed25519-SHA512")
    key_files.save_private(key, tmp_path / "c.pem")
    (tmp_path / "c.crt").write_bytes(root.issue(key.public_key(), subject="CN=hybrid").pem)
    signing.sign_model(model, [tmp_path / "c.pem"], certificate=tmp_path / "c.crt")
    assert len(bundle_chain(model / "model.sig")) == 1
    result = verify(model, ca, require_pq=True)
    assert result.signatures[0].algorithm == "MLDSA65-Ed25519-SHA512"


def test_revocation_through_the_crl(model: Path, ca: dict[str, Path], tmp_path: Path) -> None:
    sign(model, ca)
    rel = CertificateAuthority.open(ca["rel"])
    (tmp_path / "empty.crl").write_bytes(crl_pem(rel.crl()))
    ok = verify(model, ca, crls=[tmp_path / "empty.crl"])
    assert "not revoked (CRL 1 of CN=Release CA" in ok.signatures[0].detail
    rel.revoke(1, reason="key-compromise")
    (tmp_path / "rel.crl").write_bytes(crl_pem(rel.crl()))
    with pytest.raises(SignatureVerificationError,
                       match=r"certificate CN=release-bot \(serial 0x1\) is revoked since .*"
                             r"key_compromise"):
        verify(model, ca, crls=[tmp_path / "rel.crl"])
    verify(model, ca)  # without the CRL nothing says so: revocation needs the CRL


# ---- bad input: each one line naming the certificate and the reason ----------------------


def test_signing_refuses_another_keys_certificate(model: Path, ca: dict[str, Path],
                                                  tmp_path: Path) -> None:
    other = key_files.generate("ML-DSA-65")
    key_files.save_private(other, tmp_path / "other.pem")
    with pytest.raises(CertificateChainError, match="is not for the signing key"):
        signing.sign_model(model, [tmp_path / "other.pem"], certificate=ca["cert"])
    assert not (model / "model.sig").exists()


def test_signing_refuses_an_expired_certificate(model: Path, tmp_path: Path) -> None:
    past = dt.datetime.now(dt.UTC) - 40 * DAY
    old = CertificateAuthority.init(tmp_path / "old", algorithm="ML-DSA-44", now=past)
    key = key_files.generate("ML-DSA-44")
    key_files.save_private(key, tmp_path / "k.pem")
    (tmp_path / "k.crt").write_bytes(old.issue(key, subject="CN=stale", now=past).pem)
    with pytest.raises(CertificateChainError, match=r"CN=stale \(serial 0x2\) expired at"):
        signing.sign_model(model, [tmp_path / "k.pem"], certificate=tmp_path / "k.crt")


@pytest.mark.parametrize("shift, message", [
    (lambda cert: cert.not_valid_after_utc + DAY, r"CN=release-bot \(serial 0x1\) expired at"),
    (lambda cert: cert.not_valid_before_utc - DAY,
     r"CN=release-bot \(serial 0x1\) is not yet valid at the signing time"),
])
def test_signing_time_outside_validity(model: Path, ca: dict[str, Path], shift, message) -> None:
    result = sign(model, ca)
    leaf = x509.load_pem_x509_certificate(ca["cert"].read_bytes())
    rewrite(result.signature, signed_at=shift(leaf), key=ca["key"])
    with pytest.raises(SignatureVerificationError, match=message):
        verify(model, ca)


def test_chain_that_does_not_reach_the_root(model: Path, ca: dict[str, Path],
                                            tmp_path: Path) -> None:
    sign(model, ca)
    other = CertificateAuthority.init(tmp_path / "other", algorithm="ML-DSA-44",
                                      subject="CN=Other Root")
    with pytest.raises(SignatureVerificationError,
                       match=r"CN=Release CA \(serial 0x2\) does not chain to a trusted "
                             r"certificate: its issuer CN=Model Root"):
        signing.verify_model(model, certificate_chain=[other.path / "ca.cert.pem"])
    rewrite(model / "model.sig", chain=bundle_chain(model / "model.sig")[:1])  # no intermediate
    with pytest.raises(SignatureVerificationError, match=r"CN=release-bot .* does not chain"):
        verify(model, ca)


def test_impostor_root_with_the_same_name(model: Path, ca: dict[str, Path],
                                          tmp_path: Path) -> None:
    sign(model, ca)
    fake = CertificateAuthority.init(tmp_path / "fake", algorithm="ML-DSA-44",
                                     subject="CN=Model Root")
    with pytest.raises(SignatureVerificationError, match=r"CN=Release CA .* does not chain"):
        signing.verify_model(model, certificate_chain=[fake.path / "ca.cert.pem"])


def test_tampered_certificate(model: Path, ca: dict[str, Path]) -> None:
    sign(model, ca)
    chain = bundle_chain(model / "model.sig")
    name_at = chain[0].index(b"release-bot")
    forged = chain[0][:name_at] + b"Release-bot" + chain[0][name_at + 11:]
    rewrite(model / "model.sig", chain=[forged, *chain[1:]])
    with pytest.raises(SignatureVerificationError,
                       match=r"certificate CN=Release-bot \(serial 0x1\): signature by CN="
                             r"Release CA \(serial 0x2\) does not verify"):
        verify(model, ca)
    rewrite(model / "model.sig", chain=[chain[0][:-40], *chain[1:]])
    with pytest.raises(SignatureVerificationError, match="bundle certificate 1: malformed"):
        verify(model, ca)


def test_verified_loads_take_crls_through_verify_options(model: Path, ca: dict[str, Path],
                                                         tmp_path: Path) -> None:
    import numpy as np

    import pqml

    np.save(model / "weights" / "w.npy", np.arange(6))
    sign(model, ca)
    options = pqml.VerifyOptions(certificate_chain=[ca["anchor"]],
                                 crls=[tmp_path / "rel.crl"])
    rel = CertificateAuthority.open(ca["rel"])
    (tmp_path / "rel.crl").write_bytes(crl_pem(rel.crl()))
    assert pqml.load(model / "weights" / "w.npy", verify=options).tolist() == list(range(6))
    rel.revoke(1, reason="key-compromise")
    (tmp_path / "rel.crl").write_bytes(crl_pem(rel.crl()))
    with pytest.raises(SignatureVerificationError, match=r"serial 0x1\) is revoked"):
        pqml.load(model / "weights" / "w.npy", verify=options)


def test_crl_signed_by_another_ca(model: Path, ca: dict[str, Path], tmp_path: Path) -> None:
    sign(model, ca)
    other = CertificateAuthority.init(tmp_path / "o", algorithm="ML-DSA-44",
                                      subject="CN=Other CA")
    (tmp_path / "other.crl").write_bytes(crl_pem(other.crl()))
    with pytest.raises(SignatureVerificationError,
                       match="issued by CN=Other CA, which is not a CA of this certificate"):
        verify(model, ca, crls=[tmp_path / "other.crl"])
    twin = CertificateAuthority.init(tmp_path / "t", algorithm="ML-DSA-44",
                                     subject="CN=Release CA")  # same name, other key
    (tmp_path / "twin.crl").write_bytes(crl_pem(twin.crl()))
    with pytest.raises(SignatureVerificationError,
                       match=r"CRL .*twin.crl: not signed by CN=Release CA \(serial 0x2\)"):
        verify(model, ca, crls=[tmp_path / "twin.crl"])


def test_stale_crl(model: Path, ca: dict[str, Path], tmp_path: Path) -> None:
    sign(model, ca)
    rel = CertificateAuthority.open(ca["rel"])
    (tmp_path / "stale.crl").write_bytes(
        crl_pem(rel.crl(days=1, now=dt.datetime.now(dt.UTC) - 2 * DAY)))
    with pytest.raises(SignatureVerificationError, match="is out of date"):
        verify(model, ca, crls=[tmp_path / "stale.crl"])


def _crafted_leaf(ca: dict[str, Path], *, eku: list | None, ku_sign: bool) -> bytes:
    """A leaf for the signing key with the given usages, signed by the intermediate's
    ML-DSA key through pyca (pqml's CA would never issue it)."""
    rel = CertificateAuthority.open(ca["rel"])
    key = key_files.load_private(ca["key"])
    now = dt.datetime.now(dt.UTC)
    builder = (x509.CertificateBuilder()
               .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crafted")]))
               .issuer_name(x509.load_der_x509_certificate(rel.der).subject)
               .public_key(key.public_key().backend_key)  # type: ignore[attr-defined]
               .serial_number(77).not_valid_before(now - DAY).not_valid_after(now + DAY)
               .add_extension(x509.KeyUsage(ku_sign, False, not ku_sign, False, False, False,
                                            False, False, False), critical=True))
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    cert = builder.sign(rel.key.backend_key, None)  # type: ignore[attr-defined]
    return cert.public_bytes(serialization.Encoding.DER)


@pytest.mark.parametrize("eku, ku_sign, message", [
    ([ExtendedKeyUsageOID.SERVER_AUTH], True,
     r"CN=crafted \(serial 0x4d\): extended key usage lacks codeSigning"),
    ([ExtendedKeyUsageOID.CODE_SIGNING], False,
     r"CN=crafted \(serial 0x4d\): key usage does not allow digitalSignature"),
])
def test_wrong_usage(model: Path, ca: dict[str, Path], eku, ku_sign, message) -> None:
    sign(model, ca)
    chain = bundle_chain(model / "model.sig")
    rewrite(model / "model.sig", chain=[_crafted_leaf(ca, eku=eku, ku_sign=ku_sign),
                                        *chain[1:]])
    with pytest.raises(SignatureVerificationError, match=message):
        verify(model, ca)


def test_crafted_leaf_with_right_usage_verifies(model: Path, ca: dict[str, Path]) -> None:
    """The control for test_wrong_usage: the same crafting with proper usages passes."""
    sign(model, ca)
    chain = bundle_chain(model / "model.sig")
    leaf = _crafted_leaf(ca, eku=[ExtendedKeyUsageOID.CODE_SIGNING], ku_sign=True)
    rewrite(model / "model.sig", chain=[leaf, *chain[1:]])
    assert verify(model, ca).signatures[0].key_source == "certificate CN=crafted"


def test_leaf_issued_by_a_non_ca(model: Path, ca: dict[str, Path], tmp_path: Path) -> None:
    """A signing certificate cannot act as an issuer (basicConstraints cA=FALSE)."""
    sign(model, ca)
    bot = x509.load_pem_x509_certificate(ca["cert"].read_bytes())
    key = key_files.load_private(ca["key"])
    now = dt.datetime.now(dt.UTC)
    under = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "under")]))
             .issuer_name(bot.subject).public_key(key.public_key().backend_key)  # type: ignore
             .serial_number(5).not_valid_before(now - DAY).not_valid_after(now + DAY)
             .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), False)
             .sign(key.backend_key, None))  # type: ignore[attr-defined]
    chain = bundle_chain(model / "model.sig")
    rewrite(model / "model.sig", chain=[under.public_bytes(serialization.Encoding.DER),
                                        *chain])
    with pytest.raises(SignatureVerificationError,
                       match=r"CN=release-bot \(serial 0x1\) issued CN=under .* is not a CA"):
        verify(model, ca)


def test_hostile_chain_length_is_bounded(model: Path, ca: dict[str, Path]) -> None:
    sign(model, ca)
    chain = bundle_chain(model / "model.sig")
    rewrite(model / "model.sig", chain=chain + [chain[1]] * 16)
    with pytest.raises(SignatureVerificationError, match="18 certificates, more than 16"):
        verify(model, ca)


def test_missing_inputs_are_one_line_errors(model: Path, ca: dict[str, Path],
                                            tmp_path: Path) -> None:
    from pqml.primitives.errors import PqmlError

    with pytest.raises((PqmlError, OSError), match=r"nope\.crt"):
        signing.sign_model(model, [ca["key"]], certificate=tmp_path / "nope.crt")
    sign(model, ca)
    (tmp_path / "junk.crl").write_bytes(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    with pytest.raises(PqmlError, match=r"junk\.crl"):
        verify(model, ca, crls=[tmp_path / "junk.crl"])

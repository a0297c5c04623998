"""pqml's certificate authority: directories, certificates, revocation and CRLs."""

from __future__ import annotations

import datetime as dt
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from pqml.keys import key_files
from pqml.keys.ca import CertificateAuthority, crl_pem
from pqml.keys.errors import CertificateAuthorityError
from pqml.primitives import registry
from pqml.primitives.errors import PolicyError, PqmlError


@pytest.fixture(scope="module")
def slh_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SLH-DSA root for the module (0.3 s to sign; copied per test that changes it)."""
    path = tmp_path_factory.mktemp("ca") / "root"
    CertificateAuthority.init(path)
    return path


@pytest.fixture
def root(slh_root: Path, tmp_path: Path) -> CertificateAuthority:
    shutil.copytree(slh_root, tmp_path / "root")
    return CertificateAuthority.open(tmp_path / "root")


@pytest.fixture
def fast_root(tmp_path: Path) -> CertificateAuthority:
    return CertificateAuthority.init(tmp_path / "fast", algorithm="ML-DSA-44")


def pyca(der: bytes) -> x509.Certificate:
    return x509.load_der_x509_certificate(der)


def test_root_is_slh_dsa_self_signed_with_a_private_key_file(root: CertificateAuthority) -> None:
    assert root.key.algorithm == "SLH-DSA-SHA2-128s"
    cert = pyca(root.der)
    assert cert.signature_algorithm_oid.dotted_string == registry.get(
        "SLH-DSA-SHA2-128s").oids[0] == "2.16.840.1.101.3.4.3.20"
    assert cert.issuer == cert.subject
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert bc.critical and bc.value.ca
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert ku.key_cert_sign and ku.crl_sign and not ku.digital_signature
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days >= 20 * 365
    mode = stat.S_IMODE((root.path / "ca.key.pem").stat().st_mode)
    assert mode == 0o600
    from pqml.signing.certificate_bundles import verify_issued

    verify_issued(root.der, root.facts)  # its own key signed it


def test_cnsa2_root_is_ml_dsa_87(tmp_path: Path) -> None:
    made = CertificateAuthority.init(tmp_path / "c", profile="cnsa2")
    assert made.key.algorithm == "ML-DSA-87"
    assert pyca(made.der).signature_algorithm_oid.dotted_string == "2.16.840.1.101.3.4.3.19"
    with pytest.raises(PolicyError, match="not allowed by profile"):
        CertificateAuthority.init(tmp_path / "d", profile="cnsa2", algorithm="ML-DSA-65")


def test_signing_certificate_has_code_signing_and_short_validity(
        root: CertificateAuthority) -> None:
    key = key_files.generate("ML-DSA-65")
    issued = root.issue(key.public_key(), subject="CN=release-bot,O=Example",
                        san=["email:bot@example.com", "uri:https://example.com/ci"])
    cert = pyca(issued.der)
    assert cert.serial_number == issued.serial == 2  # the root itself is 1
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc) == dt.timedelta(days=30)
    eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.CODE_SIGNING]
    ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert ku.critical and ku.value.digital_signature and not ku.value.key_cert_sign
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["bot@example.com"]
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == root.facts.subject_key_id
    assert cert.public_key_algorithm_oid.dotted_string == "2.16.840.1.101.3.4.3.18"
    assert (root.path / "issued" / "2.pem").read_bytes() == issued.pem
    assert root.issue(key, subject="CN=again").serial == 3


@pytest.mark.parametrize("alg", ["MLDSA65-Ed25519-SHA512", "MLDSA87-ECDSA-P384-SHA512",
                                 "ML-DSA-87", "ECDSA-P256"])
def test_other_leaf_algorithms(fast_root: CertificateAuthority, alg: str) -> None:
    key = key_files.generate(alg, allow_classical=True)
    cert = pyca(fast_root.issue(key.public_key(), subject=f"CN={alg}").der)
    assert cert.public_key_algorithm_oid.dotted_string in registry.get(alg).oids


def test_falcon_and_kem_keys_are_refused(fast_root: CertificateAuthority) -> None:
    kem = key_files.generate("ML-KEM-768")
    with pytest.raises(CertificateAuthorityError, match="ML-KEM-768 key cannot be"):
        fast_root.issue(kem.public_key(), subject="CN=kem")


def test_intermediate_path_length(tmp_path: Path, fast_root: CertificateAuthority) -> None:
    sub = CertificateAuthority.init(tmp_path / "sub", parent=fast_root,
                                    subject="CN=Release CA")
    cert = pyca(sub.der)
    bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert bc.ca and bc.path_length == 0
    assert cert.issuer == pyca(fast_root.der).subject
    assert sub.chain == (sub.der, fast_root.der)
    with pytest.raises(CertificateAuthorityError, match="path length is 0"):
        CertificateAuthority.init(tmp_path / "subsub", parent=sub)
    assert not (tmp_path / "subsub").exists()  # nothing left behind


def test_validity_beyond_the_ca_is_refused(tmp_path: Path) -> None:
    short = CertificateAuthority.init(tmp_path / "s", algorithm="ML-DSA-44", days=10)
    with pytest.raises(CertificateAuthorityError, match="outlasts the CA certificate"):
        short.issue(key_files.generate("ML-DSA-44").public_key(), subject="CN=x", days=30)


def test_bad_subject_and_san(fast_root: CertificateAuthority) -> None:
    key = key_files.generate("ML-DSA-44").public_key()
    with pytest.raises(CertificateAuthorityError, match="RFC 4514"):
        fast_root.issue(key, subject="no equals sign")
    with pytest.raises(CertificateAuthorityError, match="SAN"):
        fast_root.issue(key, subject="CN=x", san=["ftp:thing"])


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    with pytest.raises(Exception, match="busy"):
        CertificateAuthority.init(tmp_path / "busy", algorithm="ML-DSA-44")
    assert sorted(p.name for p in (tmp_path / "busy").iterdir()) == ["file"]


def test_open_refuses_a_swapped_key(tmp_path: Path, fast_root: CertificateAuthority) -> None:
    other = CertificateAuthority.init(tmp_path / "other", algorithm="ML-DSA-44")
    shutil.copy(other.path / "ca.key.pem", fast_root.path / "ca.key.pem")
    with pytest.raises(CertificateAuthorityError, match="does not match"):
        CertificateAuthority.open(fast_root.path)
    with pytest.raises(CertificateAuthorityError, match="not a pqml CA directory"):
        CertificateAuthority.open(tmp_path)


def test_passphrase_protected_ca(tmp_path: Path) -> None:
    CertificateAuthority.init(tmp_path / "p", algorithm="ML-DSA-44", passphrase=b"pw")
    assert b"ENCRYPTED" in (tmp_path / "p" / "ca.key.pem").read_bytes()
    assert CertificateAuthority.open(tmp_path / "p", passphrase=b"pw").key
    with pytest.raises(CertificateAuthorityError, match="cannot open"):
        CertificateAuthority.open(tmp_path / "p", passphrase=b"wrong")


def test_revoke_and_crl(root: CertificateAuthority) -> None:
    key = key_files.generate("ML-DSA-44").public_key()
    a = root.issue(key, subject="CN=a")
    b = root.issue(key, subject="CN=b")
    first = x509.load_der_x509_crl(root.crl())
    assert len(first) == 0
    root.revoke(b.serial, reason="key-compromise")
    with pytest.raises(CertificateAuthorityError, match="already revoked"):
        root.revoke(b.serial)
    with pytest.raises(CertificateAuthorityError, match="no certificate with serial 99"):
        root.revoke(99)
    with pytest.raises(PolicyError, match="unknown revocation reason"):
        root.revoke(a.serial, reason="bored")
    crl_der = root.crl(days=2)
    crl = x509.load_der_x509_crl(crl_der)
    assert [e.serial_number for e in crl] == [b.serial]
    entry = crl.get_revoked_certificate_by_serial_number(b.serial)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason == \
        x509.ReasonFlags.key_compromise
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert number == 2  # numbers only grow
    assert crl.next_update_utc - crl.last_update_utc == dt.timedelta(days=2)
    from pqml.primitives import x509 as px509
    from pqml.signing.certificate_bundles import verify_issued

    verify_issued(crl_der, root.facts, crl=True)
    with pytest.raises(PqmlError):
        verify_issued(crl_der[:-5] + bytes(5), root.facts, crl=True)
    assert px509.parse_crl(root.crl()).revoked[b.serial][1] == "key_compromise"


def test_concurrent_issuers_never_share_a_serial(fast_root: CertificateAuthority) -> None:
    key = key_files.generate("ML-DSA-44").public_key()
    serials: list[int] = []

    def work() -> None:
        other = CertificateAuthority.open(fast_root.path)  # its own handle, as a process has
        for i in range(4):
            serials.append(other.issue(key, subject=f"CN=t{i}").serial)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(serials) == list(range(2, 14))
    assert [c["serial"] for c in fast_root.certificates()] == list(range(2, 14))


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")
def test_openssl_parses_every_kind(tmp_path: Path, root: CertificateAuthority) -> None:
    """Debian's OpenSSL 3.0 knows no ML-DSA or SLH-DSA keys yet, but parses the structure
    and every extension of pqml's certificates and CRLs (pyca parses them too, above)."""
    sub = CertificateAuthority.init(tmp_path / "sub", parent=root, subject="CN=Release CA")
    leaf = sub.issue(key_files.generate("MLDSA65-Ed25519-SHA512").public_key(),
                     subject="CN=bot", san=["email:bot@example.com"])
    sub.revoke(leaf.serial, reason="superseded")
    files = {"root": root.der, "sub": sub.der, "leaf": leaf.der}
    for name, der in files.items():
        (tmp_path / f"{name}.pem").write_bytes(_pem(der))
        out = subprocess.run(["openssl", "x509", "-in", tmp_path / f"{name}.pem", "-noout",
                              "-text"], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        assert "X509v3 Basic Constraints: critical" in out.stdout
        assert "Authority Key Identifier" in out.stdout
    leaf_text = subprocess.run(["openssl", "x509", "-in", tmp_path / "leaf.pem", "-noout",
                                "-text"], capture_output=True, text=True).stdout
    assert "Code Signing" in leaf_text and "email:bot@example.com" in leaf_text
    assert "1.3.6.1.5.5.7.6.48" in leaf_text  # composite MLDSA65-Ed25519-SHA512 key OID
    (tmp_path / "crl.pem").write_bytes(crl_pem(sub.crl()))
    out = subprocess.run(["openssl", "crl", "-in", tmp_path / "crl.pem", "-noout", "-text"],
                         capture_output=True, text=True)
    assert out.returncode == 0 and "Superseded" in out.stdout


def _pem(der: bytes) -> bytes:
    from pqml.keys.ca import pem

    return pem(der)

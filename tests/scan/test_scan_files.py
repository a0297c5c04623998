"""Non-Python detectors: PEM anywhere, X.509, SSH keys, JWK, TLS/SSH configs, dependencies."""

from __future__ import annotations

import base64
import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, rsa
from cryptography.x509.oid import NameOID

from pqml.scan.code import shell_commands
from pqml.scan.detect import scan_file
from pqml.scan.files import configs, dependencies, jwk, pem, ssh_keys

PEM = serialization.Encoding.PEM
SPKI = serialization.PublicFormat.SubjectPublicKeyInfo


def triples(findings) -> set[tuple[int, str, str | None]]:
    return {(f.line, f.algorithm, f.parameter) for f in findings}


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(65537, 2048)


def _cert(key, subject: str, not_after: dt.datetime, signer=None, ca: bool = False):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    b = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
         .public_key(key.public_key()).serial_number(5)
         .not_valid_before(dt.datetime(2020, 1, 1)).not_valid_after(not_after))
    if ca:
        b = b.add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
    return b.sign(signer or key, None if isinstance(signer or key, ed25519.Ed25519PrivateKey)
                  else hashes.SHA256())


# ---- PEM ---------------------------------------------------------------------------------------


def test_pem_keys_of_every_label_with_sizes_and_curves(rsa_key) -> None:
    ec_key = ec.generate_private_key(ec.SECP384R1())
    text = "\n".join([
        "some text before",
        rsa_key.private_bytes(PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode(),
        rsa_key.private_bytes(PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()).decode(),
        ec_key.private_bytes(PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode(),
        ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(PEM, SPKI).decode(),
        mldsa.MLDSA44PrivateKey.generate().public_key().public_bytes(PEM, SPKI).decode(),
    ])
    got = [(f.algorithm, f.parameter, f.usage, f.details["pem_label"])
           for f in pem.findings(text, "keys.txt")]
    assert got == [
        ("RSA", "2048", "private-key", "PRIVATE KEY"),
        ("RSA", "2048", "private-key", "RSA PRIVATE KEY"),
        ("ECDSA", "P-384", "private-key", "EC PRIVATE KEY"),
        ("Ed25519", None, "public-key", "PUBLIC KEY"),
        ("ML-DSA-44", None, "public-key", "PUBLIC KEY"),
    ]
    assert pem.findings(text, "k")[0].line == 2


def test_pem_inside_python_strings_three_ways(rsa_key) -> None:
    pub = rsa_key.public_key().public_bytes(PEM, SPKI).decode().strip()
    lines = pub.split("\n")
    one_line = pub.replace("\n", "\\n")
    pieces = "\n".join(f'    b"{ln}\\n"' for ln in lines)
    source = (f'A = """\n{pub}\n"""\n'
              f'B = "{one_line}"\n'
              f"C = (\n{pieces}\n)\n")
    found = pem.findings(source, "consts.py")
    assert [(f.algorithm, f.parameter) for f in found] == [("RSA", "2048")] * 3
    begin_lines = [i for i, ln in enumerate(source.splitlines(), 1) if "BEGIN" in ln]
    assert [f.line for f in found] == begin_lines


def test_pem_placeholders_and_truncated_blocks_are_not_keys() -> None:
    text = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA...elided...\n"
            "-----END RSA PRIVATE KEY-----\n"
            "-----BEGIN PUBLIC KEY-----\nMIIB\n")
    assert pem.findings(text, "README.md") == []


def test_legacy_encrypted_pem_reported_without_decrypting(rsa_key) -> None:
    text = ("-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n"
            "DEK-Info: AES-256-CBC,00112233445566778899AABBCCDDEEFF\n\nAAAA\n"
            "-----END RSA PRIVATE KEY-----\n")
    (f,) = pem.findings(text, "old.key")
    assert (f.algorithm, f.usage, f.details["encrypted"]) == ("RSA", "private-key", True)


# ---- X.509 -------------------------------------------------------------------------------------


def test_certificate_key_signature_and_expiry(rsa_key) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(ec_key, "edge", dt.datetime(2031, 6, 1), signer=rsa_key)
    old = _cert(rsa_key, "old-ca", dt.datetime(2021, 1, 1), ca=True)
    text = (leaf.public_bytes(PEM) + old.public_bytes(PEM)).decode()
    a, b = pem.findings(text, "chain.pem")
    assert (a.kind, a.algorithm, a.parameter, a.usage) == ("certificate", "ECDSA", "P-256",
                                                           "certificate")
    assert a.details["signature_algorithm"]["algorithm"] == "RSA"
    assert a.details["signature_algorithm"]["hash"] == "SHA-256"
    assert a.details["not_after_year"] == 2031 and a.details["expired"] is False
    assert (b.algorithm, b.parameter, b.details["expired"], b.details["is_ca"]) == (
        "RSA", "2048", True, True)
    assert b.line == text[:text.index("BEGIN", 30)].count("\n") + 1


def test_der_certificate_and_ed25519_certificate(tmp_path: Path) -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    cert = _cert(key, "signer", dt.datetime(2030, 1, 1))
    der = tmp_path / "signer.der"
    der.write_bytes(cert.public_bytes(serialization.Encoding.DER))
    (f,) = scan_file(str(der), "signer.der", der.stat().st_size).findings
    assert (f.kind, f.algorithm, f.line) == ("certificate", "Ed25519", 1)
    assert f.details["signature_algorithm"]["algorithm"] == "Ed25519"


# ---- SSH -----------------------------------------------------------------------------------------


def _openssh_pub(key) -> str:
    return key.public_key().public_bytes(serialization.Encoding.OpenSSH,
                                         serialization.PublicFormat.OpenSSH).decode()


def test_authorized_keys_known_hosts_and_openssh_private_key() -> None:
    r = rsa.generate_private_key(65537, 3072)
    e = ec.generate_private_key(ec.SECP521R1())
    text = (f"# keys\n{_openssh_pub(r)} ci@runner\n"
            f"|1|abc=|def= {_openssh_pub(e)}\n"
            "ssh-rsa is what the router wants (prose, no key)\n")
    assert triples(ssh_keys.findings(text, "authorized_keys")) == {
        (2, "RSA", "3072"), (3, "ECDSA", "P-521")}
    priv = ed25519.Ed25519PrivateKey.generate().private_bytes(
        PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()
    (f,) = pem.findings(priv, "id_ed25519")
    assert (f.kind, f.algorithm, f.usage) == ("ssh-key", "Ed25519", "private-key")


def test_ssh_key_type_must_match_its_blob() -> None:
    blob = base64.b64encode(b"\x00\x00\x00\x0bssh-ed25519" + b"\x00\x00\x00\x20" + b"k" * 32)
    assert ssh_keys.findings(f"ssh-rsa {blob.decode()} liar\n", "x") == []


# ---- JWK ---------------------------------------------------------------------------------------


def test_jwks_file_keys_and_lines(rsa_key) -> None:
    n = rsa_key.public_key().public_numbers().n
    n_b64 = base64.urlsafe_b64encode(n.to_bytes(256, "big")).rstrip(b"=").decode()
    text = ('{"keys": [\n {"kty": "RSA", "alg": "PS256", "n": "' + n_b64 + '", "e": "AQAB"},\n'
            ' {"kty": "OKP", "crv": "X25519", "x": "AA", "d": "BB"},\n'
            ' {"kty": "oct", "alg": "HS384", "k": "c2VjcmV0"}\n]}\n')
    got = [(f.line, f.algorithm, f.parameter, f.usage) for f in jwk.findings(text, "jwks.json")]
    assert got == [(2, "RSA-PSS", "2048", "public-key"), (3, "X25519", None, "private-key"),
                   (4, "HMAC-SHA-384", None, "private-key")]


# ---- configs -----------------------------------------------------------------------------------


def test_nginx_protocols_ciphers_and_groups() -> None:
    text = ("server {\n  ssl_protocols TLSv1.1 TLSv1.2;\n"
            "  ssl_ciphers 'ECDHE-ECDSA-AES128-GCM-SHA256:AES256-SHA:!RC4:!MD5:HIGH';\n"
            "  # ssl_ciphers RC4-SHA;\n"
            "  ssl_ecdh_curve X25519MLKEM768:prime256v1;\n}\n")
    got = triples(configs.nginx(text, "nginx.conf"))
    assert got == {(2, "TLS", "TLSv1.1,TLSv1.2"), (3, "ECDH", None), (3, "ECDSA", None),
                   (3, "AES-128-GCM", None), (3, "RSA", None), (3, "AES-256-CBC", None),
                   (5, "X25519MLKEM768", None), (5, "ECDH", "P-256")}


def test_apache_protocol_arithmetic() -> None:
    (f,) = configs.apache("SSLProtocol all -SSLv3 -TLSv1\n", "ssl.conf")
    assert f.parameter == "TLSv1.1,TLSv1.2,TLSv1.3"


def test_sshd_config_lists_and_removals() -> None:
    text = ("KexAlgorithms mlkem768x25519-sha256,ecdh-sha2-nistp256,diffie-hellman-group1-sha1\n"
            "HostKeyAlgorithms -ssh-rsa\nCiphers 3des-cbc,aes256-ctr\nMACs hmac-md5\n"
            "HostKey /etc/ssh/ssh_host_ecdsa_key\n")
    got = triples(configs.sshd(text, "sshd_config"))
    assert got == {(1, "X25519MLKEM768", None), (1, "ECDH", "P-256"), (1, "DH", "1024"),
                   (3, "3DES", None), (3, "AES-256-CTR", None), (4, "HMAC-MD5", None),
                   (5, "ECDSA", None)}
    pq = next(f for f in configs.sshd(text, "sshd_config") if f.algorithm == "X25519MLKEM768")
    assert pq.quantum_vulnerable is False


def test_openssl_cnf_and_jose_settings_files() -> None:
    cnf = ("[ req ]\ndefault_bits = 4096\ndefault_md = md5\n[ tls ]\nMinProtocol = TLSv1\n"
           "Groups = x448\n")
    assert triples(configs.openssl_cnf(cnf, "openssl.cnf")) == {
        (2, "RSA", "4096"), (3, "MD5", None), (5, "TLS", "TLSv1.0"), (6, "X448", None)}
    env = "JWT_ALGORITHM=ES512\nHASH_ALGORITHM=sha256\nALGORITHM_NAME=xgboost\n"
    assert triples(configs.jose_settings(env, ".env")) == {(1, "ECDSA", "P-521")}
    yaml = "auth:\n  jwt:\n    algorithm: RS384\n    allowed_algs: [ES256, PS256]\n"
    assert triples(configs.jose_settings(yaml, "values.yaml")) == {
        (3, "RSA", None), (4, "ECDSA", "P-256"), (4, "RSA-PSS", None)}


def test_shell_commands_key_generation_and_signing_key_tracking() -> None:
    text = ("openssl genrsa -out ca.key 3072\n"
            "openssl dgst -sha256 -sign ca.key -out m.sig m.json\n"
            "ssh-keygen -t ecdsa -b 384 -f id\n"
            "# openssl genrsa 1024\n"
            "openssl enc -aes-128-cbc -in a -out b\n")
    assert triples(shell_commands.findings(text, "mk.sh")) == {
        (1, "RSA", "3072"), (2, "RSA", "3072"), (2, "SHA-256", None), (3, "ECDSA", "P-384"),
        (5, "AES-128-CBC", None)}


# ---- dependencies ------------------------------------------------------------------------------


def test_dependency_files_name_crypto_libraries_only() -> None:
    req = "numpy==2.0\ncryptography>=42  # pyca\nPyCryptodomex==3.20\n-r other.txt\nrsa\n"
    got = {(f.line, f.algorithm, f.quantum_vulnerable)
           for f in dependencies.findings("requirements-dev.txt", req, "requirements-dev.txt")}
    assert got == {(2, "cryptography", False), (3, "pycryptodomex", True), (5, "rsa", True)}
    pyproject = ('[project]\ndependencies = ["ecdsa>=0.19", "torch"]\n'
                 '[tool.poetry.dependencies]\npynacl = "^1.5"\n')
    got = {(f.line, f.algorithm) for f in dependencies.findings("pyproject.toml", pyproject, "p")}
    assert got == {(2, "ecdsa"), (4, "pynacl")}
    lock = '[[package]]\nname = "paramiko"\nversion = "3.4.0"\n'
    (f,) = dependencies.findings("poetry.lock", lock, "poetry.lock")
    assert (f.line, f.algorithm, f.details["version"]) == (2, "paramiko", "3.4.0")
    cfg = "[options]\ninstall_requires =\n    pyjwt>=2\n    requests\n"
    (f,) = dependencies.findings("setup.cfg", cfg, "setup.cfg")
    assert (f.line, f.algorithm) == (3, "pyjwt")


def test_a_failing_detector_costs_one_file_not_the_scan(tmp_path: Path, monkeypatch) -> None:
    from pqml.scan import ScanOptions, scan

    real = pem.findings

    def flaky(text: str, path: str, kind_hint: str = "pem", **kw):
        if path == "bad.txt":
            raise RuntimeError("unexpected structure")
        return real(text, path, kind_hint, **kw)

    monkeypatch.setattr(pem, "findings", flaky)
    (tmp_path / "bad.txt").write_text("whatever")
    (tmp_path / "good.py").write_text("import hashlib\nhashlib.md5(b'')\n")
    result = scan([str(tmp_path)], ScanOptions(jobs=1))
    assert [(f.path, f.algorithm) for f in result.findings] == [("good.py", "MD5")]
    assert [(w.path, w.message) for w in result.warnings] == [
        ("bad.txt", "not analysed (RuntimeError: unexpected structure)")]

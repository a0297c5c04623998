"""Python source detection: each library's APIs, alias resolution, constants, and decoys."""

from __future__ import annotations

import textwrap

import pytest

from pqml.scan.code.python_ast import scan_python


def found(source: str) -> set[tuple[int, str, str | None, str]]:
    findings, warning = scan_python(textwrap.dedent(source).lstrip("\n"), "m.py")
    assert warning is None
    return {(f.line, f.algorithm, f.parameter, f.usage) for f in findings}


def algs(source: str) -> set[tuple[int, str]]:
    return {(line, alg) for line, alg, _p, _u in found(source)}


# ---- pyca/cryptography --------------------------------------------------------------------


def test_pyca_rsa_keygen_sign_verify_encrypt_with_size_from_constant() -> None:
    got = found("""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
        BITS = 1024 * 3
        key = rsa.generate_private_key(public_exponent=65537, key_size=BITS)
        sig = key.sign(b"m", padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                       hashes.SHA256())
        key.public_key().verify(sig, b"m", padding.PKCS1v15(), hashes.SHA256())
        ct = key.public_key().encrypt(b"k", padding.OAEP(padding.MGF1(hashes.SHA1()),
                                      hashes.SHA1(), None))
    """)
    assert got == {
        (4, "RSA", "3072", "keygen"),
        (5, "RSA-PSS", "3072", "sign"),
        (7, "RSA", "3072", "verify"),
        (8, "RSA-OAEP", "3072", "encrypt"),
    }


def test_pyca_aliases_and_ec_key_used_for_ecdh_becomes_ecdh() -> None:
    got = found("""
        from cryptography.hazmat.primitives.asymmetric import ec as _ec
        CURVE = _ec.SECP384R1()
        a = _ec.generate_private_key(CURVE)
        b = _ec.generate_private_key(_ec.SECP256R1())
        shared = a.exchange(_ec.ECDH(), b.public_key())
    """)
    assert (3, "ECDH", "P-384", "keygen") in got  # used for key agreement below
    assert (4, "ECDSA", "P-256", "keygen") in got  # never used for ECDH
    assert (5, "ECDH", "P-384", "key-exchange") in got


def test_full_attribute_chain_without_alias() -> None:
    assert algs("""
        import cryptography.hazmat.primitives.hashes
        h = cryptography.hazmat.primitives.hashes.Hash(cryptography.hazmat.primitives.hashes.MD5())
    """) == {(2, "MD5")}


def test_annotated_parameters_type_method_calls() -> None:
    assert found("""
        from cryptography.hazmat.primitives.asymmetric import ed25519, x25519
        def sign(key: ed25519.Ed25519PrivateKey, blob: bytes) -> bytes:
            return key.sign(blob)
        def agree(own: "x25519.X25519PrivateKey", peer) -> bytes:
            return own.exchange(peer)
    """) == {(3, "Ed25519", None, "sign"), (5, "X25519", None, "key-exchange")}


def test_x509_builder_chain_reports_the_sign_line_with_the_key_algorithm() -> None:
    got = found("""
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import rsa
        key = rsa.generate_private_key(65537, 2048)
        builder = x509.CertificateBuilder().subject_name(None)
        builder = builder.issuer_name(None)
        cert = (builder
                .serial_number(1)
                .sign(key, hashes.SHA256()))
    """)
    assert (9, "RSA", "2048", "sign") in got


def test_aes_modes_and_key_sizes_followed_to_their_source() -> None:
    got = algs("""
        import os
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
        KEY_LEN = 16
        k = os.urandom(KEY_LEN)
        c = Cipher(algorithms.AES(k), modes.CBC(b"0" * 16))
        e = Cipher(algorithms.AES(unknown), modes.ECB())
        g = AESGCM(AESGCM.generate_key(bit_length=256))
        t = Cipher(algorithms.TripleDES(k), modes.CBC(b"0" * 8))
        x = ChaCha20Poly1305(os.urandom(32))
    """)
    assert {(6, "AES-128-CBC"), (7, "AES-ECB"), (8, "AES-256-GCM"), (9, "3DES"),
            (10, "ChaCha20-Poly1305")} <= got


def test_xts_and_siv_keys_are_two_aes_keys_of_half_the_size() -> None:
    got = algs("""
        import os
        from Crypto.Cipher import AES
        from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
        from cryptography.hazmat.primitives.ciphers.aead import AESSIV
        x = Cipher(algorithms.AES(os.urandom(32)), modes.XTS(b"0" * 16))
        s = AESSIV(os.urandom(32))
        k = AESSIV.generate_key(bit_length=512)
        d = AES.new(os.urandom(32), AES.MODE_SIV)
        c = Cipher(algorithms.AES(os.urandom(32)), modes.CTR(b"0" * 16))
    """)
    assert {(5, "AES-128-XTS"), (6, "AES-128-SIV"), (7, "AES-256-SIV"), (8, "AES-128-SIV"),
            (9, "AES-256-CTR")} <= got


def test_pq_and_hpke() -> None:
    got = algs("""
        from cryptography.hazmat.primitives import hpke
        from cryptography.hazmat.primitives.asymmetric import mldsa, mlkem
        k = mlkem.MLKEM1024PrivateKey.generate()
        s = mldsa.MLDSA87PrivateKey.generate()
        suite = hpke.Suite(hpke.KEM.MLKEM768_X25519, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_128_GCM)
    """)
    assert got == {(3, "ML-KEM-1024"), (4, "ML-DSA-87"), (5, "X-Wing"), (5, "HKDF-SHA-256"),
                   (5, "AES-128-GCM")}


# ---- hashlib / hmac -----------------------------------------------------------------------


def test_hashlib_calls_values_and_hmac_digestmods() -> None:
    got = algs("""
        import hashlib, hmac
        from hashlib import sha1 as _sha1
        DIGEST = hashlib.md5
        a = hashlib.sha256(b"x").hexdigest()
        b = hashlib.new("sha512")
        c = _sha1(b"y")
        d = DIGEST(b"z")
        m = hmac.new(b"k", b"m", digestmod=hashlib.sha1)
        n = hmac.new(b"k", b"m", "sha384")
        TABLE = {"fast": hashlib.blake2b}
        p = hashlib.pbkdf2_hmac("sha256", b"pw", b"salt", 1000)
    """)
    assert got == {(4, "SHA-256"), (5, "SHA-512"), (6, "SHA-1"), (7, "MD5"),
                   (8, "HMAC-SHA-1"), (9, "HMAC-SHA-384"), (10, "BLAKE2b"),
                   (11, "PBKDF2-SHA-256")}


def test_parameter_default_counts_as_the_choice() -> None:
    assert algs("""
        import hashlib
        DEFAULT = "sha3_256"
        def digest(data, algorithm=DEFAULT):
            return hashlib.new(algorithm, data)
    """) == {(4, "SHA3-256")}


# ---- other libraries ------------------------------------------------------------------------


def test_pycryptodome_and_cryptodome_namespace() -> None:
    got = found("""
        from Crypto.Cipher import AES, PKCS1_OAEP
        from Crypto.Hash import HMAC, SHA256
        from Crypto.PublicKey import RSA, ECC
        from Cryptodome.Signature import pkcs1_15
        from Crypto.Random import get_random_bytes
        key = RSA.generate(3072)
        c = AES.new(get_random_bytes(32), AES.MODE_GCM)
        w = PKCS1_OAEP.new(key)
        s = pkcs1_15.new(key).sign(SHA256.new(b"m"))
        t = HMAC.new(b"k", b"m")
        e = ECC.generate(curve="ed25519")
    """)
    assert {(6, "RSA", "3072", "keygen"), (7, "AES-256-GCM", None, "encrypt"),
            (8, "RSA-OAEP", "3072", "encrypt"), (9, "RSA", "3072", "sign"),
            (9, "SHA-256", None, "digest"), (10, "HMAC-MD5", None, "mac"),
            (11, "Ed25519", None, "keygen")} <= got


def test_rsa_ecdsa_nacl_paramiko() -> None:
    got = algs("""
        import rsa as r
        import ecdsa
        from nacl.public import Box, PrivateKey
        from nacl.signing import SigningKey
        import paramiko
        pub, priv = r.newkeys(2048)
        r.sign(b"m", priv, "SHA-256")
        sk = ecdsa.SigningKey.generate(curve=ecdsa.SECP256k1)
        sk.sign_deterministic(b"m")
        box = Box(PrivateKey.generate(), pub)
        sig = SigningKey.generate().sign(b"m")
        k = paramiko.RSAKey.generate(bits=4096)
        d = paramiko.DSSKey.from_private_key_file("k")
    """)
    assert {(6, "RSA"), (7, "RSA"), (8, "ECDSA"), (9, "ECDSA"), (10, "X25519"),
            (11, "Ed25519"), (12, "RSA"), (13, "DSA")} <= got


def test_jwt_algorithm_strings_constants_defaults_and_settings() -> None:
    got = found("""
        import jwt
        from jose import jwt as jose_jwt
        ALG = "PS384"
        t = jwt.encode({}, key, algorithm=ALG)
        jwt.decode(t, key, algorithms=["ES256", "EdDSA"])
        jwt.encode({}, "secret")
        jose_jwt.encode({}, "k", algorithm="RS512")
        SIMPLE_JWT = {"ALGORITHM": "ES384"}
        class Settings:
            jwt_algorithm: str = "HS512"
    """)
    assert got == {
        (4, "RSA-PSS", None, "sign"),
        (5, "ECDSA", "P-256", "verify"), (5, "Ed25519", None, "verify"),
        (6, "HMAC-SHA-256", None, "mac"),
        (7, "RSA", None, "sign"),
        (8, "ECDSA", "P-384", "sign"),
        (10, "HMAC-SHA-512", None, "mac"),
    }


def test_ssl_contexts_versions_ciphers_and_curves() -> None:
    got = found("""
        import ssl
        CIPHERS = "ECDHE-RSA-AES256-GCM-SHA384:!MD5:!aNULL"
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLSv1_1)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(CIPHERS)
        ctx.set_ecdh_curve("secp384r1")
        ctx.options |= ssl.OP_NO_TLSv1
        other = ssl.create_default_context()
    """)
    assert got == {
        (3, "TLS", "TLSv1.1", "protocol"),
        (4, "TLS", "TLSv1.2", "protocol"),
        (5, "ECDH", None, "key-exchange"), (5, "RSA", None, "sign"),
        (5, "AES-256-GCM", None, "encrypt"),
        (6, "ECDH", "P-384", "key-exchange"),
        (8, "TLS", None, "protocol"),
    }


def test_jwk_dict_in_code_reported_at_kty_line() -> None:
    assert found("""
        KEY = {
            "kty": "EC",
            "crv": "P-521",
            "x": "AA", "y": "AA",
        }
    """) == {(2, "ECDSA", "P-521", "public-key")}


# ---- decoys ----------------------------------------------------------------------------------


def test_decoys_are_not_reported() -> None:
    source = '''
        """Use hashlib.sha1 and rsa.generate_private_key(65537, 1024) -- docs only.

        jwt.encode(payload, key, algorithm="RS256")
        """
        import logging, re
        # hashlib.md5(data)
        rsa_enabled = False
        hashlib_version = "builtin"
        ALG_NOTE = "RS256 and ES256 are both fine"
        logging.info("algorithm %s", "RS256")
        class RSA:
            @staticmethod
            def generate(n): return n
        def md5(s): return s[::-1]
        RSA.generate(2048)
        md5("x")
        config = {"algorithm": "gradient-boosting"}
    '''
    findings, warning = scan_python(textwrap.dedent(source), "decoy.py")
    assert findings == [] and warning is None


def test_local_names_shadowing_nothing_and_unrelated_sign_methods() -> None:
    assert found("""
        import hashlib
        class Doc:
            def sign(self, name): return name
        d = Doc()
        d.sign("me")
        h = hashlib
    """) == set()


def test_unparseable_python2_falls_back_to_hashlib_patterns() -> None:
    findings, warning = scan_python('import hashlib\nprint "x", hashlib.md5(b"a")\n', "old.py")
    assert warning is not None and "not valid Python 3" in warning
    assert [(f.line, f.algorithm, f.confidence) for f in findings] == [(2, "MD5", "low")]


@pytest.mark.parametrize("source", ["x = 1\n", "import numpy as np\nnp.zeros(3)\n"])
def test_files_without_crypto_are_not_parsed_at_all(source: str, monkeypatch) -> None:
    import ast

    def boom(*a, **k):
        raise AssertionError("parsed a file without any crypto hint")

    monkeypatch.setattr(ast, "parse", boom)
    assert scan_python(source, "x.py") == ([], None)


def test_hash_constructors_as_lookup_keys_or_comparisons_are_not_uses() -> None:
    assert algs("""
        import hashlib, ssl
        OIDS = {hashlib.sha256: "2.16.840.1.101.3.4.2.1"}
        def oid(fn):
            if fn is hashlib.sha1:
                return None
            return OIDS[hashlib.sha512]
        DEFAULT = ssl.PROTOCOL_TLS_CLIENT
        PINNED = ssl.PROTOCOL_TLSv1_2
    """) == {(8, "TLS")}


def test_web_stack_defaults_and_kms_identifiers() -> None:
    assert found("""
        from itsdangerous import URLSafeTimedSerializer
        from django.contrib.auth.hashers import make_password
        s = URLSafeTimedSerializer("secret", salt="links")
        p = make_password("pw")
        kms.sign(KeyId=k, Message=m, SigningAlgorithm="ECDSA_SHA_384")
    """) == {(3, "HMAC-SHA-1", None, "mac"), (4, "PBKDF2-SHA-256", None, "kdf"),
             (5, "ECDSA", "P-384", "sign")}

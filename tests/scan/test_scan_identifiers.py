"""Algorithm names and values outside calls: registry tables (JOSE, SSH, COSE, TLS, hash
names), values propagated through class attributes, defaults and local helpers, type facts
from cast / isinstance, DH group primes and pow(g, x, p), DSA parameter objects, the
``rsa`` package, and not-for-security hashes -- with the decoys each rule must ignore and
adversarial inputs that must stay fast."""

from __future__ import annotations

import textwrap
import time

from pqml.scan.code import identifiers
from pqml.scan.code.python_ast import is_test_module, package_of, scan_python


def scan(source: str, path: str = "pkg/m.py") -> list:
    findings, warning = scan_python(textwrap.dedent(source).lstrip("\n"), path)
    assert warning is None
    return findings


def algs(source: str, path: str = "pkg/m.py") -> set[tuple[int, str]]:
    return {(f.line, f.algorithm) for f in scan(source, path)}


# A MODP group prime (RFC 3526 group 14, 2048 bits) built from its published hex.
MODP_2048 = int(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B2251"
    "4A08798E3404DDEF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C"
    "42E9A637ED6B0BFF5CB6F406B7EDEE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007C"
    "B8A163BF0598DA48361C55D39A69163FA8FD24CF5F83655D23DCA3AD961C62F356208552BB9ED52907"
    "7096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3BE39E772C180E86039B2783A2EC"
    "07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA051015728E5A8AAC"
    "AA68FFFFFFFFFFFFFFFF", 16)


# ---- registry name tables --------------------------------------------------------------------


def test_jose_names_in_tables_constants_defaults_and_allow_lists() -> None:
    got = algs("""
        import hashlib
        class Algorithms:
            RS256 = "RS256"
            ES384 = "ES384"
        ALGS = {"PS512": object(), "HS256": hashlib.sha256}
        def sign(payload, algorithm=Algorithms.RS256):
            return payload
        ok = crv in ["Ed25519", "Ed448"]
        settings["TOKEN_ALG"] = "ES256K"
    """)
    assert {(3, "RSA"), (4, "ECDSA"), (5, "RSA-PSS"), (5, "HMAC-SHA-256"), (6, "RSA"),
            (8, "Ed25519"), (9, "ECDSA")} <= got
    assert (5, "SHA-256") in got  # hashlib.sha256 stored as a value


def test_ssh_names_including_cert_variants_gss_and_dh_rows() -> None:
    got = {(f.line, f.algorithm, f.parameter) for f in scan("""
        import hashlib
        HOST_KEYS = ("ssh-rsa", "rsa-sha2-512", "ecdsa-sha2-nistp384",
                     "ssh-ed25519-cert-v01@openssh.com")
        KEX = [b"diffie-hellman-group16-sha512", b"curve25519-sha256@libssh.org",
               b"gss-curve25519-sha256"]
        for name, alg in ((b"group14-sha256", hashlib.sha256),):
            pass
    """)}
    assert {(2, "RSA", None), (2, "ECDSA", "P-384"), (3, "Ed25519", None),
            (4, "DH", "4096"), (4, "X25519", None), (6, "DH", "2048")} <= got


def test_ssh_prefixes_completed_at_run_time() -> None:
    got = algs("""
        import hashlib
        key_format = "ecdsa-sha2-" + nist_name
        kex = b"gss-" + curve_id
        register(b"ecdh-sha2-" + curve_id, handler)
        label = "not-a-prefix-" + name
    """)
    assert {(2, "ECDSA"), (4, "ECDH")} <= got
    assert not {line for line, _a in got} & {3, 5}


def test_cose_integers_only_where_the_name_says_alg() -> None:
    got = algs("""
        from cryptography.hazmat.primitives import hashes
        class ES256:
            ALGORITHM = -7
        class RS256:
            ALGORITHM = -257
        OFFSET = -7
        items = [-8, -257]
    """)
    assert (3, "ECDSA") in got and (5, "RSA") in got
    assert not {line for line, _a in got} & {6, 7}


def test_tls_suite_and_hash_name_strings() -> None:
    got = algs("""
        import hashlib
        SUITES = ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]
        HASHES = {"SHA-256": b"0", "sha384": b"1"}
    """)
    assert any(line == 2 for line, _a in got)
    assert (3, "SHA-256") in got and (3, "SHA-384") in got


def test_decoys_docstrings_messages_comparisons_and_test_modules() -> None:
    source = '''
        import hashlib
        """Supports RS256 and ssh-rsa."""
        def check(alg):
            """RS256"""
            log.debug("RS256")
            if alg == "RS256":
                raise ValueError("ssh-rsa")
            print("ES256")
            name = "RS256 is fine"
            return "sha"
    '''
    assert algs(source) == set()
    # in a test module a bare name is a fixture; calls are still reported
    fixture = '''
        import hashlib
        TOKEN = "RS256"
        KEYS = {"ssh-rsa": 1}
        hashlib.md5(b"x")
    '''
    assert algs(fixture, "tests/test_tokens.py") == {(4, "MD5")}
    assert algs(fixture, "pkg/tokens.py") >= {(2, "RSA"), (3, "RSA"), (4, "MD5")}


def test_name_of_rejects_near_misses() -> None:
    for value in ("rs256", "RS2560", "ssh-rsa2", "sha", "shaq256", "group99-sha256",
                  "group14-sha7", "TLS_FOO", "x" * 200, "aes-256"):
        assert identifiers.name_of(value) is None, value
    assert identifiers.name_of("group14-sha1").algorithm == "DH"
    assert identifiers.name_of("A256GCMKW").algorithm == "AES-256-GCM"


# ---- values, defaults and propagation --------------------------------------------------------


def test_hash_paddings_and_curves_as_values_even_when_a_call_consumes_them() -> None:
    got = algs("""
        from hashlib import sha1
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec, padding
        class Kex:
            hash_algo = sha1
            _HASH = hashes.SHA384()
            RSA1_5 = padding.PKCS1v15()
            curve = ec.SECP521R1()
            def digest(self, data):
                return self.hash_algo(data).digest()
        def f(key, curve=ec.SECP256R1()):
            pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32)
            return isinstance(key, (hashes.SHA512, ec.SECP384R1))
    """)
    assert {(5, "SHA-1"), (6, "SHA-384"), (7, "RSA"), (8, "ECDSA"), (10, "SHA-1"),
            (11, "ECDSA"), (12, "RSA-PSS")} <= got
    assert (12, "SHA-256") not in got  # a parameter of the PSS padding
    assert not any(line == 13 for line, _a in got)  # isinstance: a test, not a use


def test_library_constants_and_jose_attribute_defaults() -> None:
    got = algs("""
        from oauthlib.oauth1 import SIGNATURE_HMAC, SIGNATURE_RSA
        from jose.constants import ALGORITHMS
        def session(signature_method=SIGNATURE_HMAC, algorithm=ALGORITHMS.ES256):
            return Client(signature_method=SIGNATURE_RSA)
    """)
    assert {(3, "HMAC-SHA-1"), (3, "ECDSA"), (4, "RSA")} <= got


def test_local_helpers_called_with_a_hash_take_the_helpers_family() -> None:
    got = {(f.line, f.algorithm) for f in scan("""
        import hashlib
        import hmac
        def _sign_hmac(hash_name, text, key):
            m = {"SHA-1": hashlib.sha1, "SHA-256": hashlib.sha256}
            return hmac.new(key, text, m[hash_name]).digest()
        def sign_sha1(text, key):
            return _sign_hmac("SHA-1", text, key)
        class HMACAlgorithm:
            def __init__(self, bits):
                self.bits = bits
            def sign(self, key, msg):
                return hmac.new(key, msg, hashlib.sha256).digest()
        HS256 = HMACAlgorithm(256)
        label = "SHA-1 fingerprint"
    """)}
    assert (7, "HMAC-SHA-1") in got and (13, "HMAC-SHA-256") in got
    assert (7, "SHA-1") not in got and not any(line == 14 for line, _a in got)


# ---- type facts ---------------------------------------------------------------------------


def test_cast_and_isinstance_type_a_generic_loader() -> None:
    got = algs("""
        from typing import cast
        from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        from cryptography.hazmat.primitives.serialization import load_pem_public_key
        def rsa_key(data):
            return cast(RSAPublicKey, load_pem_public_key(data))
        def ed_key(data):
            key = load_pem_public_key(data)
            if not isinstance(key, Ed25519PublicKey):
                raise TypeError("not Ed25519")
            return key
        def any_key(data):
            key = load_pem_public_key(data)
            return isinstance(key, dict)
    """)
    assert {(6, "RSA"), (8, "Ed25519")} <= got
    assert not any(line == 13 for line, _a in got)


def test_conditional_expression_keeps_the_key_type() -> None:
    got = algs("""
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        def verify(key: Ed25519PrivateKey, sig, msg):
            public_key = key.public_key() if hasattr(key, "x") else key
            public_key.verify(sig, msg)
    """)
    assert (4, "Ed25519") in got


# ---- DH, DSA and small libraries --------------------------------------------------------------


def test_dh_group_primes_and_modpow() -> None:
    source = f"""
        import hashlib
        P = {hex(MODP_2048)}
        G = 2
        class Kex:
            P = P
            def shared(self, x, f):
                return pow(f, x, self.P)
        e = pow(G, 5, P)
        rsa_like = pow(3, 5, 7)
    """
    got = {(f.line, f.algorithm, f.parameter) for f in scan(source)}
    assert {(2, "DH", "2048"), (7, "DH", "2048"), (8, "DH", "2048")} <= got
    assert not any(line == 9 for line, _a, _p in got)


def test_big_integers_that_are_not_group_primes_are_ignored() -> None:
    source = f"""
        import hashlib
        N = {hex(MODP_2048 - (1 << 1500))}
        M = {hex((1 << 2048) - 1)}
        Q = {hex(MODP_2048 >> 1)}
    """
    got = algs(source)
    assert (2, "DH") in got  # the shape of a group prime, altered in the middle
    assert (3, "DH") not in got and (4, "DH") not in got
    assert identifiers.dh_group_bits(MODP_2048) == 2048
    assert identifiers.dh_group_bits(MODP_2048 ^ (1 << 1000)) == 2048  # shape, not identity
    assert identifiers.dh_group_bits(3) is None


def test_dsa_parameter_objects_and_typed_dsa_signing() -> None:
    got = algs("""
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import dsa
        params = dsa.DSAParameterNumbers(p=p, q=q, g=g)
        key = dsa.DSAPrivateNumbers(x=x, public_numbers=dsa.DSAPublicNumbers(
            y=y, parameter_numbers=params)).private_key()
        sig = key.sign(b"data", hashes.SHA1())
    """)
    assert {(3, "DSA"), (4, "DSA"), (6, "DSA")} <= got


def test_rsa_package_internals_and_relative_imports() -> None:
    got = algs("""
        import hashlib
        from . import core, key
        def encrypt(message, pub_key: key.PublicKey):
            return core.encrypt_int(message, pub_key.e, pub_key.n)
        def decrypt(crypto, priv_key: key.PrivateKey):
            return priv_key.blinded_decrypt(crypto)
    """, "rsa/pkcs1.py")
    assert {(4, "RSA"), (6, "RSA")} <= got
    assert package_of("src/jose/backends/x.py") == ["jose", "backends"]
    assert package_of("a-b/x.py") == []


def test_not_for_security_hashes_are_low_risk_inventory() -> None:
    from pqml.scan.risk import RiskConfig, assess

    findings = scan("""
        import hashlib
        a = hashlib.md5(b"k", usedforsecurity=False)
        b = hashlib.new("sha1", usedforsecurity=False)
        c = hashlib.md5(b"k")
    """)
    by_line = {f.line: f for f in findings}
    assert {2, 3, 4} <= set(by_line)
    cfg = RiskConfig()
    assert assess(by_line[2], cfg).level == "low"
    assert assess(by_line[3], cfg).level == "low"
    assert assess(by_line[4], cfg).level != "low"


def test_is_test_module() -> None:
    assert is_test_module("tests/x.py") and is_test_module("a/test_x.py")
    assert is_test_module("a/x_test.py") and is_test_module("conftest.py")
    assert not is_test_module("pkg/attest.py") and not is_test_module("pkg/contest/x.py")


# ---- adversarial inputs: bounded time ---------------------------------------------------------


def test_huge_integer_literals_deep_dicts_and_long_strings_stay_fast() -> None:
    huge = "0x" + "f" * 20000  # an 80 000-bit literal, twice
    deep = "{" * 80 + '"RS256": 1' + "}" * 80
    wide = "[" + ", ".join(['"ssh-rsa"'] * 20000) + "]"
    long_string = '"' + "RS256-" * 50000 + '"'
    source = (f"import hashlib\nP = {huge}\ne = pow(2, 3, {huge})\nD = {deep}\nW = {wide}\n"
              f"S = {long_string}\n" + "x = pow(2, 3, P)\n" * 2000)
    t0 = time.perf_counter()
    findings, _warning = scan_python(source, "pkg/m.py")
    assert time.perf_counter() - t0 < 10
    got = {(f.line, f.algorithm) for f in findings}
    assert (4, "RSA") in got and (5, "RSA") in got
    assert not any(f.algorithm == "DH" for f in findings)  # not a group size
    assert not any(f.line == 6 for f in findings)

"""Smaller key libraries: python-rsa, ecdsa, PyNaCl (libsodium), paramiko and asyncssh."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING, Any

from pqml.scan.code.python_ast import Hit
from pqml.scan.code.rules.base import (
    Rule,
    add,
    arg,
    int_arg,
    key_param,
    simple,
)

if TYPE_CHECKING:
    from pqml.scan.code.python_ast import Analyzer

# -- python-rsa
add("rsa.newkeys", simple("RSA", "keygen", size=(0, "nbits"), lib="rsa"))
add(("rsa.PrivateKey.load_pkcs1", "rsa.PublicKey.load_pkcs1",
      "rsa.PublicKey.load_pkcs1_openssl_pem", "rsa.PublicKey.load_pkcs1_openssl_der",
      "rsa.PrivateKey", "rsa.PublicKey"), simple("RSA", "key-load", lib="rsa"))


def _rsa_lib(usage: str, key_pos: int) -> Rule:
    def rule(a: Analyzer, call: ast.Call) -> list[Hit]:
        param = key_param(a, arg(call, key_pos, None), ("RSA",))
        details: dict[str, Any] = {}
        if usage == "sign":
            h = a.hash_of(arg(call, 2, "hash_method"))
            if h:
                details["hash"] = h
        return [Hit("RSA", usage, param, library="rsa", details=details)]
    return rule


add(("rsa.sign", "rsa.sign_hash"), _rsa_lib("sign", 1))
add("rsa.verify", _rsa_lib("verify", 2))
add("rsa.encrypt", _rsa_lib("encrypt", 1))
add("rsa.decrypt", _rsa_lib("decrypt", 1))
# python-rsa's textbook primitives (rsa.core): m^e mod n and c^d mod n
add("rsa.core.encrypt_int", simple("RSA", "encrypt", lib="rsa"))
add("rsa.core.decrypt_int", simple("RSA", "decrypt", lib="rsa"))

# -- ecdsa
add("ecdsa.SigningKey.generate",
     simple("ECDSA", "keygen", curve=(None, "curve"), lib="ecdsa"))


def _ecdsa_load(a: Analyzer, call: ast.Call) -> list[Hit]:
    curve = a.curve_of(arg(call, None, "curve"))
    return [Hit("ECDSA", "key-load", curve, library="ecdsa")]


for _cls in ("SigningKey", "VerifyingKey"):
    for _m in ("from_pem", "from_der", "from_string", "from_secret_exponent",
               "from_public_point"):
        add(f"ecdsa.{_cls}.{_m}", _ecdsa_load)
add(("ecdsa.ECDH", "ecdsa.ecdh.ECDH"), simple("ECDH", "key-exchange", curve=(None, "curve"),
                                               lib="ecdsa"))

# -- PyNaCl
add("nacl.signing.SigningKey.generate", simple("Ed25519", "keygen", lib="pynacl"))
add(("nacl.signing.SigningKey", "nacl.signing.VerifyKey"), simple("Ed25519", "key-load",
                                                                   lib="pynacl"))
add("nacl.public.PrivateKey.generate", simple("X25519", "keygen", lib="pynacl"))
add(("nacl.public.PrivateKey", "nacl.public.PublicKey"), simple("X25519", "key-load",
                                                                 lib="pynacl"))
add("nacl.public.Box", simple("X25519", "key-exchange", lib="pynacl"))
add("nacl.public.SealedBox", simple("X25519", "encrypt", lib="pynacl"))
add("nacl.secret.SecretBox", simple("XSalsa20-Poly1305", "encrypt", lib="pynacl"))
add("nacl.secret.Aead", simple("XChaCha20-Poly1305", "encrypt", lib="pynacl"))
add("nacl.hash.sha256", simple("SHA-256", "digest", lib="pynacl"))
add("nacl.hash.sha512", simple("SHA-512", "digest", lib="pynacl"))
add("nacl.hash.blake2b", simple("BLAKE2b", "digest", lib="pynacl"))
add(("nacl.pwhash.str", "nacl.pwhash.argon2id.str", "nacl.pwhash.argon2id.kdf"),
     simple("Argon2id", "kdf", lib="pynacl"))
add(("nacl.pwhash.argon2i.str", "nacl.pwhash.argon2i.kdf"), simple("Argon2i", "kdf",
                                                                   lib="pynacl"))
add(("nacl.pwhash.scrypt.str", "nacl.pwhash.scrypt.kdf"), simple("scrypt", "kdf", lib="pynacl"))

# -- paramiko
_PK = {"RSAKey": "RSA", "ECDSAKey": "ECDSA", "Ed25519Key": "Ed25519", "DSSKey": "DSA"}
def _paramiko_ecdsa(a: Analyzer, call: ast.Call) -> list[Hit]:
    bits = a.const(arg(call, 1, "bits"))
    curve = a.curve_of(arg(call, 0, "curve")) or (
        f"P-{bits}" if bits in (256, 384, 521) else "P-256")
    return [Hit("ECDSA", "keygen", curve, library="paramiko")]


for _cls, _alg in _PK.items():
    add(f"paramiko.{_cls}.generate",
         _paramiko_ecdsa if _alg == "ECDSA" else
         simple(_alg, "keygen", size=(0, "bits") if _alg in ("RSA", "DSA") else None,
                lib="paramiko"))
    add((f"paramiko.{_cls}.from_private_key_file", f"paramiko.{_cls}.from_private_key",
          f"paramiko.{_cls}"), simple(_alg, "key-load", lib="paramiko"))
add(("paramiko.SSHClient", "paramiko.Transport"),
     simple("SSH", "protocol", lib="paramiko", confidence="medium"))


def _asyncssh_keygen(a: Analyzer, call: ast.Call) -> list[Hit]:
    from pqml.scan.files.cipher_suites import ssh_algorithm

    name = a.const(arg(call, 0, "alg_name"))
    sel = ssh_algorithm(name) if isinstance(name, str) else None
    if sel is None:
        return []
    size = int_arg(a, call, None, "key_size")
    return [Hit(sel.algorithm, "keygen", size or sel.parameter, library="asyncssh")]


add("asyncssh.generate_private_key", _asyncssh_keygen)

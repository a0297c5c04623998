"""PyCryptodome / PyCrypto (``Crypto.*``; ``Cryptodome.*`` is normalised to it): keys,
PKCS#1 and DSS schemes, block and stream ciphers with their modes, hashes, HMAC, KDFs."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from pqml.scan.algorithm_names import hash_name
from pqml.scan.code.python_ast import Hit
from pqml.scan.code.rules.base import (
    Rule,
    add,
    aes_bits,
    aes_mode_bits,
    aes_name,
    arg,
    prefixed,
    simple,
)

if TYPE_CHECKING:
    from pqml.scan.code.python_ast import Analyzer

# -- PyCryptodome / PyCrypto (Cryptodome.* is normalised to Crypto.*)
CD = "Crypto"
add(f"{CD}.PublicKey.RSA.generate", simple("RSA", "keygen", size=(0, "bits"), lib="pycryptodome"))
add((f"{CD}.PublicKey.RSA.import_key", f"{CD}.PublicKey.RSA.importKey",
      f"{CD}.PublicKey.RSA.construct"), simple("RSA", "key-load", lib="pycryptodome"))
add(f"{CD}.PublicKey.DSA.generate", simple("DSA", "keygen", size=(0, "bits"), lib="pycryptodome"))
add((f"{CD}.PublicKey.DSA.import_key", f"{CD}.PublicKey.DSA.importKey",
      f"{CD}.PublicKey.DSA.construct"), simple("DSA", "key-load", lib="pycryptodome"))
add(f"{CD}.PublicKey.ElGamal.generate", simple("ElGamal", "keygen", size=(0, "bits"),
                                                lib="pycryptodome"))


def _ecc(usage: str) -> Rule:
    def rule(a: Analyzer, call: ast.Call) -> list[Hit]:
        curve = a.curve_of(arg(call, None, "curve"))
        if curve in ("Ed25519", "Ed448"):
            return [Hit(curve, usage, library="pycryptodome")]
        return [Hit("ECDSA", usage, curve, library="pycryptodome", ec_generic=True)]
    return rule


add(f"{CD}.PublicKey.ECC.generate", _ecc("keygen"))
add((f"{CD}.PublicKey.ECC.import_key", f"{CD}.PublicKey.ECC.construct"), _ecc("key-load"))


def _cd_key_alg(a: Analyzer, call: ast.Call, default: str) -> tuple[str, str | None]:
    t = a.key_type(arg(call, 0, "key"))
    if t is not None and t.algorithm in ("RSA", "ECDSA", "DSA", "Ed25519", "Ed448"):
        return t.algorithm, t.parameter
    return default, None


def _cd_scheme(algorithm: str, default_usage: str) -> Rule:
    def rule(a: Analyzer, call: ast.Call) -> list[Hit]:
        alg, param = _cd_key_alg(a, call, algorithm)
        if algorithm.startswith("RSA"):
            alg = algorithm
        return [Hit(alg, default_usage, param, library="pycryptodome")]
    return rule


add(f"{CD}.Cipher.PKCS1_OAEP.new", _cd_scheme("RSA-OAEP", "encrypt"))
add(f"{CD}.Cipher.PKCS1_v1_5.new", _cd_scheme("RSA", "encrypt"))
add((f"{CD}.Signature.pkcs1_15.new", f"{CD}.Signature.PKCS1_v1_5.new"),
     _cd_scheme("RSA", "sign"))
add((f"{CD}.Signature.pss.new", f"{CD}.Signature.PKCS1_PSS.new"), _cd_scheme("RSA-PSS", "sign"))
add(f"{CD}.Signature.DSS.new", _cd_scheme("ECDSA", "sign"))
add(f"{CD}.Signature.eddsa.new", _cd_scheme("Ed25519", "sign"))

_CD_CIPHERS = {"DES3": "3DES", "DES": "DES", "ARC4": "RC4", "Blowfish": "Blowfish",
               "CAST": "CAST5", "ARC2": "RC2", "ChaCha20": "ChaCha20", "Salsa20": "Salsa20",
               "ChaCha20_Poly1305": "ChaCha20-Poly1305"}


def _cd_aes(a: Analyzer, call: ast.Call) -> list[Hit]:
    mode_q = a.qual(arg(call, 1, "mode")) or ""
    mode = mode_q.rsplit("MODE_", 1)[-1] if "MODE_" in mode_q else None
    if mode is None:
        mode_v = a.const(arg(call, 1, "mode"))
        mode = {1: "ECB", 2: "CBC", 3: "CFB", 5: "OFB", 6: "CTR", 7: "OPENPGP", 8: "CCM",
                9: "EAX", 10: "SIV", 11: "GCM", 12: "OCB"}.get(mode_v) if isinstance(
                    mode_v, int) else None
    bits = aes_mode_bits(aes_bits(a, arg(call, 0, "key")), mode)
    return [Hit(aes_name(bits, mode or "ECB"), "encrypt", library="pycryptodome")]


add(f"{CD}.Cipher.AES.new", _cd_aes)
for _mod, _alg in _CD_CIPHERS.items():
    add(f"{CD}.Cipher.{_mod}.new", simple(_alg, "encrypt", lib="pycryptodome"))

for _h in ("MD2", "MD4", "MD5", "SHA", "SHA1", "SHA224", "SHA256", "SHA384", "SHA512",
           "SHA3_224", "SHA3_256", "SHA3_384", "SHA3_512", "BLAKE2b", "BLAKE2s", "RIPEMD160",
           "RIPEMD", "SHAKE128", "SHAKE256"):
    _name = hash_name(_h) or _h
    add(f"{CD}.Hash.{_h}.new", simple(_name, "digest", lib="pycryptodome"))
add(f"{CD}.Hash.HMAC.new", prefixed("HMAC", "mac", 2, "digestmod", "pycryptodome", "MD5"))
add(f"{CD}.Hash.CMAC.new", simple("AES-CMAC", "mac", lib="pycryptodome"))
add(f"{CD}.Protocol.KDF.PBKDF2",
     prefixed("PBKDF2", "kdf", None, "hmac_hash_module", "pycryptodome", "SHA-1"))
add(f"{CD}.Protocol.KDF.HKDF", prefixed("HKDF", "kdf", 3, "hashmod", "pycryptodome"))
add(f"{CD}.Protocol.KDF.scrypt", simple("scrypt", "kdf", lib="pycryptodome"))
add(f"{CD}.Protocol.KDF.bcrypt", simple("bcrypt", "kdf", lib="pycryptodome"))

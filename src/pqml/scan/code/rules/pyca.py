"""pyca/cryptography (hazmat keys, hashes, MACs, KDFs, ciphers, AEADs, key wrap, Fernet,
HPKE incl. ML-KEM and X-Wing) and pyOpenSSL contexts."""

from __future__ import annotations

import ast
from typing import TYPE_CHECKING

from pqml.scan.algorithm_names import hash_name
from pqml.scan.code.python_ast import Hit
from pqml.scan.code.rules.base import (
    ASYM,
    PYCA,
    Rule,
    add,
    aes_bits,
    aes_mode_bits,
    aes_name,
    arg,
    prefixed,
    simple,
    tls_param,
)

if TYPE_CHECKING:
    from pqml.scan.code.python_ast import Analyzer

# -- pyca: asymmetric
add(f"{ASYM}.rsa.generate_private_key", simple("RSA", "keygen", size=(1, "key_size")))
add((f"{ASYM}.rsa.RSAPrivateNumbers", f"{ASYM}.rsa.RSAPublicNumbers",
      f"{ASYM}.rsa.rsa_recover_prime_factors", f"{ASYM}.rsa.rsa_crt_dmp1",
      f"{ASYM}.rsa.rsa_crt_dmq1", f"{ASYM}.rsa.rsa_crt_iqmp"), simple("RSA", "key-load"))
add(f"{ASYM}.ec.generate_private_key",
     simple("ECDSA", "keygen", curve=(0, "curve"), ec_generic=True))
add(f"{ASYM}.ec.derive_private_key",
     simple("ECDSA", "key-load", curve=(1, "curve"), ec_generic=True))
add(f"{ASYM}.ec.EllipticCurvePublicKey.from_encoded_point",
     simple("ECDSA", "key-load", curve=(0, "curve"), ec_generic=True))
add(f"{ASYM}.ec.EllipticCurvePublicNumbers",
     simple("ECDSA", "key-load", curve=(2, "curve"), ec_generic=True))
add(f"{ASYM}.ec.EllipticCurvePrivateNumbers",
     simple("ECDSA", "key-load", ec_generic=True))
for _mod, _alg in (("ed25519", "Ed25519"), ("ed448", "Ed448"), ("x25519", "X25519"),
                   ("x448", "X448")):
    _cls = _alg
    add(f"{ASYM}.{_mod}.{_cls}PrivateKey.generate", simple(_alg, "keygen"))
    add((f"{ASYM}.{_mod}.{_cls}PrivateKey.from_private_bytes",
          f"{ASYM}.{_mod}.{_cls}PublicKey.from_public_bytes"), simple(_alg, "key-load"))
add(f"{ASYM}.dsa.generate_private_key", simple("DSA", "keygen", size=(0, "key_size")))
add(f"{ASYM}.dsa.generate_parameters", simple("DSA", "keygen", size=(0, "key_size")))
add(f"{ASYM}.dh.generate_parameters", simple("DH", "keygen", size=(1, "key_size")))
add((f"{ASYM}.dh.DHParameterNumbers", f"{ASYM}.dh.DHPublicNumbers",
      f"{ASYM}.dh.DHPrivateNumbers"), simple("DH", "key-load"))
add((f"{ASYM}.dsa.DSAParameterNumbers", f"{ASYM}.dsa.DSAPublicNumbers",
      f"{ASYM}.dsa.DSAPrivateNumbers"), simple("DSA", "key-load"))
for _n in ("768", "1024"):
    add(f"{ASYM}.mlkem.MLKEM{_n}PrivateKey.generate", simple(f"ML-KEM-{_n}", "keygen"))
    add((f"{ASYM}.mlkem.MLKEM{_n}PrivateKey.from_seed_bytes",
          f"{ASYM}.mlkem.MLKEM{_n}PublicKey.from_public_bytes"),
         simple(f"ML-KEM-{_n}", "key-load"))
for _n in ("44", "65", "87"):
    add(f"{ASYM}.mldsa.MLDSA{_n}PrivateKey.generate", simple(f"ML-DSA-{_n}", "keygen"))
    add((f"{ASYM}.mldsa.MLDSA{_n}PrivateKey.from_seed_bytes",
          f"{ASYM}.mldsa.MLDSA{_n}PublicKey.from_public_bytes"),
         simple(f"ML-DSA-{_n}", "key-load"))


# -- pyca: hashes, MACs, KDFs
def _hash_obj(a: Analyzer, call: ast.Call) -> list[Hit]:
    h = a.hash_of(arg(call, 0, "algorithm"))
    return [Hit(h, "digest", library="cryptography")] if h else []


add(f"{PYCA}.hashes.Hash", _hash_obj)
add(f"{PYCA}.hmac.HMAC", prefixed("HMAC", "mac", 1, "algorithm", "cryptography"))
add(f"{PYCA}.cmac.CMAC", simple("AES-CMAC", "mac"))
add((f"{PYCA}.kdf.hkdf.HKDF", f"{PYCA}.kdf.hkdf.HKDFExpand"),
     prefixed("HKDF", "kdf", 0, "algorithm", "cryptography"))
add(f"{PYCA}.kdf.pbkdf2.PBKDF2HMAC", prefixed("PBKDF2", "kdf", 0, "algorithm", "cryptography"))
add(f"{PYCA}.kdf.concatkdf.ConcatKDFHash",
     prefixed("ConcatKDF", "kdf", 0, "algorithm", "cryptography"))
add(f"{PYCA}.kdf.x963kdf.X963KDF", prefixed("X963KDF", "kdf", 0, "algorithm", "cryptography"))
add(f"{PYCA}.kdf.kbkdf.KBKDFHMAC", prefixed("KBKDF", "kdf", 0, "algorithm", "cryptography"))
add(f"{PYCA}.kdf.scrypt.Scrypt", simple("scrypt", "kdf"))
add(f"{PYCA}.kdf.argon2.Argon2id", simple("Argon2id", "kdf"))

# -- pyca: ciphers
_PYCA_CIPHERS = {"TripleDES": "3DES", "ARC4": "RC4", "Blowfish": "Blowfish", "CAST5": "CAST5",
                 "IDEA": "IDEA", "SEED": "SEED", "Camellia": "Camellia", "SM4": "SM4",
                 "ChaCha20": "ChaCha20"}


def _pyca_cipher(a: Analyzer, call: ast.Call) -> list[Hit]:
    alg_expr = a.deref(arg(call, 0, "algorithm"))
    mode_expr = a.deref(arg(call, 1, "mode"))
    if not isinstance(alg_expr, ast.Call):
        return []
    aq = a.qual(alg_expr.func) or ""
    name = aq.rsplit(".", 1)[-1]
    mode = None
    if isinstance(mode_expr, ast.Call | ast.Attribute | ast.Name):
        mq = a.qual(mode_expr.func if isinstance(mode_expr, ast.Call) else mode_expr) or ""
        mode = mq.rsplit(".", 1)[-1].upper() if ".modes." in mq else None
    if name in ("AES", "AES128", "AES256"):
        bits = aes_mode_bits({"AES128": 128, "AES256": 256}.get(name)
                             or aes_bits(a, arg(alg_expr, 0, "key")), mode)
        algorithm = aes_name(bits, mode or "ECB") if mode else (f"AES-{bits}" if bits else "AES")
    elif name in _PYCA_CIPHERS:
        algorithm = _PYCA_CIPHERS[name]
    else:
        return []
    return [Hit(algorithm, "encrypt", library="cryptography")]


add(f"{PYCA}.ciphers.Cipher", _pyca_cipher)
add(f"{PYCA}.ciphers.base.Cipher", _pyca_cipher)
_AEADS = {"AESGCM": "GCM", "AESCCM": "CCM", "AESOCB3": "OCB", "AESSIV": "SIV",
          "AESGCMSIV": "GCM-SIV"}


def _aead(mode: str) -> Rule:
    def rule(a: Analyzer, call: ast.Call) -> list[Hit]:
        bits = aes_mode_bits(aes_bits(a, arg(call, 0, "key")), mode)
        return [Hit(aes_name(bits, mode), "encrypt", str(bits) if bits else None,
                     library="cryptography")]
    return rule


def _aead_keygen(mode: str) -> Rule:
    def rule(a: Analyzer, call: ast.Call) -> list[Hit]:
        bits = a.const(arg(call, 0, "bit_length"))
        size = aes_mode_bits(bits, mode) if isinstance(bits, int) else None
        return [Hit(aes_name(size, mode), "keygen", library="cryptography")]
    return rule


for _cls, _mode in _AEADS.items():
    add(f"{PYCA}.ciphers.aead.{_cls}", _aead(_mode))
    add(f"{PYCA}.ciphers.aead.{_cls}.generate_key", _aead_keygen(_mode))
add(f"{PYCA}.ciphers.aead.ChaCha20Poly1305", simple("ChaCha20-Poly1305", "encrypt"))
add(f"{PYCA}.ciphers.aead.ChaCha20Poly1305.generate_key", simple("ChaCha20-Poly1305", "keygen"))


def _keywrap(a: Analyzer, call: ast.Call) -> list[Hit]:
    bits = aes_bits(a, arg(call, 0, "wrapping_key"))
    return [Hit(aes_name(bits, "KW"), "encrypt", library="cryptography")]


add((f"{PYCA}.keywrap.aes_key_wrap", f"{PYCA}.keywrap.aes_key_unwrap",
      f"{PYCA}.keywrap.aes_key_wrap_with_padding", f"{PYCA}.keywrap.aes_key_unwrap_with_padding"),
     _keywrap)
add(("cryptography.fernet.Fernet", "cryptography.fernet.MultiFernet"),
     simple("AES-128-CBC", "encrypt", lib="cryptography"))
add("cryptography.fernet.Fernet.generate_key", simple("AES-128-CBC", "keygen"))


def _hpke(a: Analyzer, call: ast.Call) -> list[Hit]:
    kem = a.qual(arg(call, 0, "kem")) or ""
    name = kem.rsplit(".", 1)[-1]
    algorithm = {"X25519": "X25519", "MLKEM768_X25519": "X-Wing", "MLKEM768": "ML-KEM-768",
                 "MLKEM1024": "ML-KEM-1024", "MLKEM1024_P384": "MLKEM1024-P384",
                 "P256": "ECDH", "P384": "ECDH", "P521": "ECDH"}.get(name)
    if algorithm is None:
        return []
    param = {"P256": "P-256", "P384": "P-384", "P521": "P-521"}.get(name)
    hits = [Hit(algorithm, "encapsulate", param, library="cryptography",
                details={"hpke_kem": name})]
    kdf = (a.qual(arg(call, 1, "kdf")) or "").rsplit(".", 1)[-1]
    if kdf.startswith("HKDF_"):
        h = hash_name(kdf[5:])
        if h:
            hits.append(Hit(f"HKDF-{h}", "kdf", library="cryptography"))
    aead = (a.qual(arg(call, 2, "aead")) or "").rsplit(".", 1)[-1]
    aead_name = {"AES_128_GCM": "AES-128-GCM", "AES_256_GCM": "AES-256-GCM",
                 "CHACHA20_POLY1305": "ChaCha20-Poly1305"}.get(aead)
    if aead_name:
        hits.append(Hit(aead_name, "encrypt", library="cryptography"))
    return hits


add(f"{PYCA}.hpke.Suite", _hpke)

# -- pyOpenSSL
add("OpenSSL.SSL.Context", lambda a, call: [Hit(
    "TLS", "protocol", tls_param(a, arg(call, 0, "method")), library="pyOpenSSL",
    details={"produces": True})])

"""Same helpers for deployments that install pycryptodomex (Cryptodome namespace)."""

from Cryptodome.Cipher import ARC4, Blowfish, ChaCha20_Poly1305
from Cryptodome.Hash import SHA512
from Cryptodome.PublicKey import DSA, ECC
from Cryptodome.Signature import DSS


def stream_obfuscate(key: bytes, data: bytes) -> bytes:
    return ARC4.new(key).encrypt(data)


def blowfish_decrypt(key: bytes, iv: bytes, data: bytes) -> bytes:
    return Blowfish.new(key, Blowfish.MODE_CBC, iv).decrypt(data)


def aead(key: bytes, nonce: bytes):
    return ChaCha20_Poly1305.new(key=key, nonce=nonce)


def dsa_sign(data: bytes) -> bytes:
    key = DSA.generate(2048)
    return DSS.new(key, "fips-186-3").sign(SHA512.new(data))


def ecc_keypair():
    return ECC.generate(curve="P-256")


def ed_keypair():
    return ECC.generate(curve="ed25519")

"""Shared makings of the migration tests: keys, classical files, RSA-wrapped blobs.

The RSA blobs are built with pyca/cryptography directly, following each layout's
definition (RFC 7516 for JWE), not with pqml's code: an independent encoder for the
decoder under test.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

import pqml
from pqml.keys import key_files

PLAINTEXT = b"model weights \x00\x01\x02" * 700 + b"end"


@dataclass
class Keys:
    x25519: Path          # age identity file (classical)
    x25519_other: Path    # another classical identity: the wrong key
    xwing: Path           # age identity file (X-Wing)
    xwing_pub: str        # age1pq1… recipient
    mlkem: Path           # ML-KEM-768 private PEM
    mlkem_pub: Path


def make_keys(d: Path) -> Keys:
    d.mkdir(parents=True, exist_ok=True)
    x = pqml.generate_key("X25519", allow_classical=True)
    key_files.save_private(x, d / "x25519.txt", "age")
    other = pqml.generate_key("X25519", allow_classical=True)
    key_files.save_private(other, d / "other.txt", "age")
    xw = pqml.generate_key("X-Wing")
    key_files.save_private(xw, d / "xwing.txt", "age")
    ml = pqml.generate_key("ML-KEM-768")
    key_files.save_private(ml, d / "mlkem.pem")
    key_files.save_public(ml, d / "mlkem.pub")
    return Keys(d / "x25519.txt", d / "other.txt", d / "xwing.txt",
                key_files.public_text(xw, age=True), d / "mlkem.pem", d / "mlkem.pub")


def classical_file(path: Path, keys: Keys, fmt: str, data: bytes = PLAINTEXT) -> Path:
    src = path.with_name(path.name + ".plain")
    src.write_bytes(data)
    pqml.encrypt_file(src, path, [str(keys.x25519)], format=fmt, allow_classical=True)
    src.unlink()
    return path


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(paths: list[Path]) -> dict[str, tuple[str, int]]:
    return {str(p): (sha(p), p.stat().st_mtime_ns) for p in paths}


def decrypt(path: Path, identity: Path | str) -> bytes:
    """The plaintext, decrypted into memory (decrypt_to: the streaming reader)."""
    import io

    from pqml.encryption.encrypt import decrypt_to
    from pqml.encryption.encryption_keys import resolve_identities

    out = io.BytesIO()
    with open(path, "rb") as src:
        decrypt_to(src, out, resolve_identities([str(identity)]))
    return out.getvalue()


# ---- RSA-wrapped blobs (pyca only) ---------------------------------------------------------


def rsa_key_files(d: Path, bits: int = 2048) -> tuple[rsa.RSAPrivateKey, Path]:
    key = rsa.generate_private_key(65537, bits)
    path = d / f"rsa{bits}.pem"
    path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                       serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    os.chmod(path, 0o600)
    return key, path


def oaep(sha1: bool = False) -> padding.OAEP:
    h = hashes.SHA1() if sha1 else hashes.SHA256()
    return padding.OAEP(mgf=padding.MGF1(h), algorithm=h, label=None)


def b64u(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _seal(plaintext: bytes, aad: bytes | None, key_size: int = 32
          ) -> tuple[bytes, bytes, bytes]:
    cek, nonce = os.urandom(key_size), os.urandom(12)
    return cek, nonce, AESGCM(cek).encrypt(nonce, plaintext, aad)


def jwe_compact(pub: rsa.RSAPublicKey, plaintext: bytes, *, alg: str = "RSA-OAEP-256",
                enc: str = "A256GCM") -> bytes:
    header = b64u(json.dumps({"alg": alg, "enc": enc}).encode())
    cek, nonce, sealed = _seal(plaintext, header.encode(), 16 if enc == "A128GCM" else 32)
    wrapped = pub.encrypt(cek, oaep(sha1=alg == "RSA-OAEP"))
    return ".".join([header, b64u(wrapped), b64u(nonce), b64u(sealed[:-16]),
                     b64u(sealed[-16:])]).encode()


def jwe_json(pub: rsa.RSAPublicKey, plaintext: bytes, *, extra_aad: bytes | None = None
             ) -> bytes:
    protected = b64u(json.dumps({"enc": "A256GCM"}).encode())
    aad = protected.encode() + (b"." + b64u(extra_aad).encode() if extra_aad else b"")
    cek, nonce, sealed = _seal(plaintext, aad)
    obj = {"protected": protected, "header": {"alg": "RSA-OAEP-256", "kid": "k1"},
           "encrypted_key": b64u(pub.encrypt(cek, oaep())), "iv": b64u(nonce),
           "ciphertext": b64u(sealed[:-16]), "tag": b64u(sealed[-16:])}
    if extra_aad:
        obj["aad"] = b64u(extra_aad)
    return json.dumps(obj).encode()


def json_envelope(pub: rsa.RSAPublicKey, plaintext: bytes, *, sha1: bool = False) -> bytes:
    cek, nonce, sealed = _seal(plaintext, None)
    b64 = base64.b64encode
    return json.dumps({"wrapped_key": b64(pub.encrypt(cek, oaep(sha1))).decode(),
                       "nonce": b64(nonce).decode(),
                       "ciphertext": b64(sealed).decode()}).encode()


def lp16(pub: rsa.RSAPublicKey, plaintext: bytes) -> bytes:
    cek, nonce, sealed = _seal(plaintext, None)
    wrapped = pub.encrypt(cek, oaep())
    return len(wrapped).to_bytes(2, "big") + wrapped + nonce + sealed


def concat(pub: rsa.RSAPublicKey, plaintext: bytes) -> bytes:
    cek, nonce, sealed = _seal(plaintext, None)
    return pub.encrypt(cek, oaep()) + nonce + sealed

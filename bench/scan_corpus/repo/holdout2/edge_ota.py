"""Over-the-air model updates for edge devices: verify, then decrypt."""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

VENDOR_KEY_PEM = b"/etc/ota/vendor.pem"


def verify_update(blob: bytes, signature: bytes, vendor_pem: bytes) -> bool:
    vendor = serialization.load_pem_public_key(vendor_pem)
    try:
        vendor.verify(signature, blob, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


def decrypt_update(key: bytes, iv: bytes, tag: bytes, blob: bytes) -> bytes:
    decryptor = Cipher(algorithms.AES(key), modes.GCM(iv, tag)).decryptor()
    return decryptor.update(blob) + decryptor.finalize()

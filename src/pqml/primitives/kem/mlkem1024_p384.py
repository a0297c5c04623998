"""MLKEM1024-P384 (HPKE KEM 0x0051): ML-KEM-1024 + ECDH P-384 with a SHA3-256 combiner.

The hybrid construction of kem/hybrid.py with draft-irtf-cfrg-concrete-hybrid-kems' and
draft-ietf-hpke-pq's parameters, so keys and ciphertexts interoperate with
``cryptography.hazmat.primitives.hpke.KEM.MLKEM1024_P384`` and Go's crypto/hpke: a 32-byte
seed, Group.Nseed = 48, a 1665-byte public key and ciphertext (an uncompressed P-384 point
after the ML-KEM part).

The same construction with ML-KEM-768 and P-256 (MLKEM768-P256, HPKE KEM 0x0050) costs one
more parameter set, so it lives here too as ``MLKEM768_P256``; it has no registry entry.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import mlkem

from pqml.primitives.kem import ecdh
from pqml.primitives.kem.hybrid import SEED_SIZE, HybridScheme

__all__ = ["MLKEM768_P256", "SCHEME", "SEED_SIZE"]

SCHEME = HybridScheme(
    "MLKEM1024-P384",
    b"MLKEM1024-P384",
    mlkem.MLKEM1024PrivateKey,
    mlkem.MLKEM1024PublicKey,
    1568,
    1568,
    ecdh.ECDH_P384,
    group_seed_size=48,
    pyca_hpke=("MLKEM1024P384PrivateKey", "MLKEM1024P384PublicKey"),
)

MLKEM768_P256 = HybridScheme(
    "MLKEM768-P256",
    b"MLKEM768-P256",
    mlkem.MLKEM768PrivateKey,
    mlkem.MLKEM768PublicKey,
    1184,
    1088,
    ecdh.ECDH_P256,
    group_seed_size=128,
)

"""X-Wing (draft-connolly-cfrg-xwing-kem): ML-KEM-768 + X25519 with a SHA3-256 combiner.

pyca/cryptography has no X-Wing object; X-Wing is the hybrid construction of kem/hybrid.py
with these parameters: the 32-byte seed expands with SHAKE256 into the ML-KEM seed (d ‖ z) and
the X25519 private key (32 bytes, used as they are), and the combiner's label is XWingLabel.
"""

from __future__ import annotations

from cryptography.hazmat.primitives.asymmetric import mlkem

from pqml.primitives.kem import ecdh
from pqml.primitives.kem.hybrid import SEED_SIZE, HybridPrivateKey, HybridPublicKey, HybridScheme

__all__ = [
    "ALGORITHM",
    "CIPHERTEXT_SIZE",
    "LABEL",
    "PUBLIC_KEY_SIZE",
    "SCHEME",
    "SEED_SIZE",
    "XWingPrivateKey",
    "XWingPublicKey",
    "combiner",
]

ALGORITHM = "X-Wing"
LABEL = b"\\.//^\\"  # 5c2e2f2f5e5c, the draft's XWingLabel


class XWingPublicKey(HybridPublicKey):
    """An X-Wing key has its own class: age and pqml_v1 recipients accept X-Wing keys only."""


class XWingPrivateKey(HybridPrivateKey):
    """The private half, its own class for the same reason."""


class XWingScheme(HybridScheme):
    public_key_class = XWingPublicKey
    private_key_class = XWingPrivateKey


SCHEME = XWingScheme(
    ALGORITHM,
    LABEL,
    mlkem.MLKEM768PrivateKey,
    mlkem.MLKEM768PublicKey,
    1184,
    1088,
    ecdh.X25519,
    group_seed_size=32,
    pyca_hpke=("MLKEM768X25519PrivateKey", "MLKEM768X25519PublicKey"),
)
PUBLIC_KEY_SIZE = SCHEME.public_key_size  # 1216
CIPHERTEXT_SIZE = SCHEME.ciphertext_size  # 1120: ML-KEM-768 ciphertext ‖ X25519 share
combiner = SCHEME.combiner

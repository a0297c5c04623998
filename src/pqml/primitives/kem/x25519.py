"""X25519 as a KEM (ephemeral-static ECDH); classical, kept for age v1 and migration.

The registry's X25519 entry. The key classes are the shared ECDH ones of kem/ecdh.py: the
shared secret is the raw X25519 output (protocols above, HPKE's DHKEM and age's stanza, apply
their own KDF) and an all-zero output from a low-order share is refused.
"""

from __future__ import annotations

from pqml.primitives.kem.ecdh import X25519 as SCHEME

ALGORITHM = SCHEME.algorithm

__all__ = ["ALGORITHM", "SCHEME"]

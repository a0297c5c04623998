"""Algorithm facts for findings: the registry first, the scanner's inventory table second.

Detectors only name an algorithm (``RSA`` with parameter ``2048``, ``ECDSA`` on ``P-256``,
``ML-DSA-65``). Whether it is quantum-vulnerable, which CycloneDX primitive it is, its OIDs
and NIST quantum security level are looked up here, in one place, so no detector can
disagree with the registry about an algorithm pqml implements.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from pqml.scan import inventory_only
from pqml.scan.algorithm_names import (
    curve_bits,
    ecc_strength,
    ffc_ifc_strength,
    int_parameter,
)

_FAMILY_PRIMITIVE = {"kem": "kem", "signature": "signature", "aead": "ae", "hash": "hash"}

# Registry entries whose family does not say how code uses them (the registry models X25519
# and RSA-OAEP as KEMs for HPKE; an inventory reports the primitive CycloneDX expects).
_PRIMITIVE_OVERRIDE = {"X25519": "key-agree", "RSA-OAEP": "pke"}

_USAGE_PRIMITIVE = {"sign": "signature", "verify": "signature"}

# Family prefixes whose facts do not depend on the hash named after them (HKDF-SHA-256).
_PREFIX_FAMILIES = ("HKDF", "PBKDF2", "ConcatKDF", "X963KDF", "KBKDF")


# Scanner names that are registry *aliases* of something narrower: "rsa" names RSA-OAEP,
# "aes-gcm" names AES-256-GCM and "chacha20" names ChaCha20-Poly1305 there, but in code they
# mean RSA in general, AES-GCM of unknown key size and the bare stream cipher.
_NOT_REGISTRY_ALIASES = frozenset({"RSA", "AES-GCM", "ChaCha20"})


@dataclass(frozen=True, slots=True)
class Facts:
    name: str
    primitive: str
    quantum_vulnerable: bool
    status: str
    nist_quantum_level: int | None
    oids: tuple[str, ...]
    classical_bits: int | None
    in_registry: bool
    note: str = ""


def _registry_entry(name: str, parameter: str | None):  # -> registry.Algorithm | None
    from pqml.primitives import registry
    from pqml.primitives.errors import UnknownAlgorithmError

    candidates = [name]
    if name == "ECDSA" and parameter in ("P-256", "P-384", "P-521"):
        candidates.insert(0, f"ECDSA-{parameter.replace('-', '')}")
    for candidate in candidates:
        if candidate in _NOT_REGISTRY_ALIASES:
            continue
        try:
            return registry.get(candidate)
        except UnknownAlgorithmError:
            continue
    return None


def classical_bits(name: str, parameter: str | None) -> int | None:
    """Classical security strength (bits) where the algorithm and its size say it."""
    base = name.split("-")[0]
    if base in ("RSA", "DH", "DSA", "ElGamal"):
        size = int_parameter(parameter)
        return ffc_ifc_strength(size) if size else None
    if base in ("ECDSA", "ECDH"):
        bits = curve_bits(parameter)
        return ecc_strength(bits) if bits else None
    return {"Ed25519": 128, "X25519": 128, "Ed448": 224, "X448": 224}.get(name)


@cache
def lookup(name: str, parameter: str | None = None, usage: str | None = None) -> Facts:
    """Facts about ``name`` (a canonical scanner algorithm name)."""
    entry = _registry_entry(name, parameter)
    bits = classical_bits(name, parameter)
    if entry is not None:
        primitive = _PRIMITIVE_OVERRIDE.get(entry.name, _FAMILY_PRIMITIVE[entry.family])
        if usage in _USAGE_PRIMITIVE and entry.family != "hash":
            primitive = _USAGE_PRIMITIVE[usage]
        level = 0 if entry.quantum_vulnerable or entry.status == "broken" else entry.nist_category
        return Facts(entry.name, primitive, entry.quantum_vulnerable, entry.status, level,
                     entry.oids, bits, True, entry.notes)
    fact = inventory_only.FACTS.get(name)
    if fact is None:
        for prefix in _PREFIX_FAMILIES:
            if name.startswith(prefix + "-"):
                fact = inventory_only.FACTS[prefix]
                break
    if fact is None and name.startswith("HMAC-"):
        fact = inventory_only.InventoryFact("mac", False, "supported", None)
    if fact is None:
        fact = inventory_only.InventoryFact("unknown", False, "unknown", None)
    primitive = fact.primitive
    if usage in _USAGE_PRIMITIVE and name in ("RSA", "DSA", "ECDSA"):
        primitive = "signature"
    elif usage in ("key-exchange",) and name in ("RSA",):
        primitive = "pke"
    oids = (fact.oid,) if fact.oid else ()
    return Facts(name, primitive, fact.quantum_vulnerable, fact.status, fact.nist_quantum_level,
                 oids, bits, False, fact.note)

"""Primitives layer — the hazardous layer: the algorithm registry and one module per scheme.

Everything here is raw cryptography: keys, KEMs, signatures, HPKE, AEAD payloads, with no
policy. Misused (a nonce reused, a quantum-vulnerable KEM chosen, a key checked against
nothing) it fails silently, so application code should go through the capability packages
(:mod:`pqml.encryption`, :mod:`pqml.signing`, :mod:`pqml.keys`) and reach for these only to
build a new construction, proven with its spec's vectors.

How it is laid out: ``registry`` maps names, OIDs and HPKE ids to schemes (crypto agility:
one registry line per algorithm); ``base`` defines the key interfaces every layer above
sees; ``kem/`` and ``sig/`` hold one module per scheme (``kem/ecdh.py`` every elliptic-curve
DH, ``kem/hybrid.py`` the X-Wing-style hybrids); ``pyca_keys`` and ``rsa_keys`` the
encodings they share; ``hpke`` RFC 9180 with Export; ``chunked`` the C2SP chunked AES-256-GCM
payload; ``symmetric`` and ``hashes`` the rest; ``errors`` the root of pqml's errors. Only
this layer imports backend libraries (cryptography, pqcrypto, pypqc, blake3, PyNaCl).
"""

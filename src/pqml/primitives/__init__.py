"""Primitives layer: the algorithm registry and one module per scheme.

Only this layer imports backend libraries (cryptography, pqcrypto, pypqc, blake3).
"""

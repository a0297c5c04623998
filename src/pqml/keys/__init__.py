"""Keys: generate, load, save and convert keys of any registered algorithm.

How data flows: the registry (:mod:`pqml.primitives.registry`) names the algorithm and
makes the key object; ``key_files`` chooses the encoding (PEM PKCS#8 / SPKI everywhere,
age Bech32 strings where age defines one) and writes private keys 0600, never over an
existing file. The encodings themselves are in :mod:`pqml.formats` (``keyfile``,
``age_keys``). Key lifecycle (keyring, states, rotation) will live beside it.
"""

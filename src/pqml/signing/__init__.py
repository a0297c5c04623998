"""Signing and verifying models as OpenSSF Model Signing (OMS) bundles, post-quantum or hybrid.

How data flows, in model_signing's three layers: ``model_tree`` lists a model's files
without leaving its root; ``manifest`` hashes them into a manifest (per file or per shard);
``signing`` signs the manifest's in-toto statement in one DSSE envelope with one signature
per key and verifies bundles against a trust ``policy`` (``certificate_bundles`` for X.509
chains); ``integrity`` compares the files on disk with the signed manifest; and
``verified_load`` checks a bundle before a loader deserializes anything (verify before
load). The bundle format is in :mod:`pqml.formats.oms`.
"""

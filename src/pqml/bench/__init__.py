"""Benchmarks users run on their own machine (``pqml bench``).

``primitives`` times every available KEM and signature through pqml and through the bare
backend, interleaved, so the ratio shows pqml's own overhead. The end-to-end benchmarks
against peer tools (age, model_signing, other scanners) are scripts in the repository's
``bench/`` folder, with results in docs/PERFORMANCE.md.
"""

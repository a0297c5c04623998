"""Encryption of models and datasets: pqml/v1 (X-Wing + AES-256-GCM) and age v1.

How data flows: ``encryption_keys`` turns ``-r``/``-R``/``-i``/passphrases into key
objects; ``encrypted_formats`` is the one seam over the two formats (detection, the
recipient policy, header reading); ``encrypt`` streams files and trees through the formats'
payload writers into atomic outputs (``pqml._internal``), serially or with ``parallel``
processes; ``random_access`` (``pqml.open``) decrypts only the chunks a reader touches;
``rekey`` changes recipients without touching the payload; ``inspect`` describes a file
without a key; ``encrypted_io`` serializes joblib and torch objects straight into an
encrypted file. The wire formats themselves are in :mod:`pqml.formats` (pure, no I/O).
"""

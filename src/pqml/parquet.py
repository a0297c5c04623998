"""Post-quantum keys for Parquet modular encryption (PyArrow), extra ``parquet``.

    >>> from pqml import parquet as pqp
    >>> keys = pqp.MasterKeys({"footer": "master.pem", "pii": "pii.pem"})
    >>> pqp.write_table(table, "s3://bucket/t.parquet", keys, footer_key="footer",
    ...                 column_keys={"pii": ["ssn"]})
    >>> pqp.read_table("s3://bucket/t.parquet", keys)

Parquet data keys (256-bit) are wrapped with HPKE over X-Wing, or ML-KEM-1024 with
HKDF-SHA-384 (CNSA 2.0), to master keys held by pqml (key files or keyring references).
Key material lives beside the data file, so ``rotate_master_keys`` re-wraps to new master
keys without rewriting data. Use :func:`crypto_factory` / :func:`kms_client_factory`
directly with ``pyarrow.parquet.encryption`` for anything else.
"""

from __future__ import annotations

from pqml.storage.parquet_kms import (
    DATA_KEY_BITS,
    MasterKeys,
    ParquetKeyError,
    crypto_factory,
    encryption_configuration,
    kms_client_factory,
    kms_connection_config,
    read_table,
    rotate_master_keys,
    unwrap,
    wrap,
    write_table,
)

__all__ = [
    "DATA_KEY_BITS",
    "MasterKeys",
    "ParquetKeyError",
    "crypto_factory",
    "encryption_configuration",
    "kms_client_factory",
    "kms_connection_config",
    "read_table",
    "rotate_master_keys",
    "unwrap",
    "wrap",
    "write_table",
]

"""Ingest labelled records; pseudonymise PII columns before they reach the lake."""

from __future__ import annotations

import hashlib

import pandas as pd
from cryptography.fernet import Fernet

PII_COLUMNS = ("email", "phone")


def dedup_key(row: pd.Series) -> str:
    return hashlib.md5(row.to_json().encode()).hexdigest()


def pseudonymise(df: pd.DataFrame, key: bytes) -> pd.DataFrame:
    f = Fernet(key)
    out = df.copy()
    for col in PII_COLUMNS:
        out[col] = out[col].map(lambda v: f.encrypt(str(v).encode()).decode())
    return out


def new_key() -> bytes:
    return Fernet.generate_key()


def shard_name(df: pd.DataFrame) -> str:
    digest = hashlib.sha256(pd.util.hash_pandas_object(df).values.tobytes()).hexdigest()
    return f"part-{digest[:12]}.parquet"

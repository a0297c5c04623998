"""Parquet modular encryption: is a Parquet file encrypted, and whose keys wrap its keys?

An encrypted-footer Parquet file starts and ends with ``PARE`` instead of ``PAR1``; its
data keys are wrapped by a KMS client, and the wrapped keys sit in key material either
in the file's (plaintext) crypto metadata at the end, or in PyArrow's external
``_KEY_MATERIAL_FOR_<name>.json`` beside it. pqml's post-quantum KMS client
(:mod:`pqml.parquet`) writes wrapped keys as ``pqml-parquet-v1:<HPKE KEM id>:…``, so the
KEM is read without any key. Other KMS clients' wrapping is reported as unknown.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

ENCRYPTED_MAGIC = b"PARE"
_WRAPPED = re.compile(rb"pqml-parquet-v1:([0-9a-f]{4}):")
_TAIL = 256 * 1024
_SIDECAR_MAX = 16 * 1024 * 1024


def _kem_name(kem_id: int) -> str:
    from pqml.primitives import registry

    try:
        return str(registry.by_hpke_kem_id(kem_id).name)
    except Exception:  # an id the registry does not know
        return f"HPKE KEM 0x{kem_id:04x}"


def _read_tail(path: Path) -> bytes:
    with path.open("rb") as f:
        size = os.fstat(f.fileno()).st_size
        f.seek(max(0, size - _TAIL))
        return f.read(_TAIL)


def encryption_info(path: Path, head: bytes) -> dict[str, Any] | None:
    """The ``encryption`` facts of an encrypted Parquet file, or None if it is not one
    (a plaintext-footer file is recognised by pqml-wrapped keys in its footer)."""
    try:
        blobs = [_read_tail(path)]
        sidecar = path.with_name(f"_KEY_MATERIAL_FOR_{path.name}.json")
        external = sidecar.is_file() and sidecar.stat().st_size <= _SIDECAR_MAX
        if external:
            blobs.append(sidecar.read_bytes())
    except OSError:
        return None
    ids = sorted({int(m.group(1), 16) for blob in blobs for m in _WRAPPED.finditer(blob)})
    if not head.startswith(ENCRYPTED_MAGIC) and not ids:
        return None
    kems = [_kem_name(i) for i in ids] or ["unknown KMS key wrapping"]
    return {"format": "parquet modular encryption (AES-GCM)", "armored": False,
            "stanzas": [f"pqml-parquet-v1 (HPKE 0x{i:04x})" for i in ids],
            "kems": kems, "header_complete": True,
            "key_material": "external" if external else "in file",
            "footer": "encrypted" if head.startswith(ENCRYPTED_MAGIC) else "plaintext"}

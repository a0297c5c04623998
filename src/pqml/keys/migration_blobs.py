"""Migrating RSA-OAEP + AES-GCM blobs (layouts: :mod:`pqml.keys.migration_rsa`) to pqml/v1.

The wrapped model key is unwrapped with the RSA private key given (``-i``; RSA-OAEP from
:mod:`pqml.primitives`), the model is decrypted and authenticated with AES-256-GCM in
memory (a GCM tag covers the whole ciphertext, so nothing is trusted before it checks;
hence the :data:`MAX_BLOB_SIZE` bound), and encrypted to the target recipients as pqml/v1
into an unnamed file beside the blob. The plaintext never reaches the disk. That file is
read back (pqml/v1, exactly the target recipients, all post-quantum, a payload whose size
is the plaintext's) and only then renamed over the blob, keeping its name and mode: the
blob's path is what the code loading the model names, and leaving the RSA-wrapped copy
beside the new one would leave the model exposed to harvest-now-decrypt-later, the very
thing the migration removes.
"""

from __future__ import annotations

import fcntl
import io
import os
from pathlib import Path
from typing import Any

from pqml.keys import migration_rsa as layouts
from pqml.keys.errors import MigrationError
from pqml.primitives.errors import DecryptionError, PqmlError

KIND = "rsa-wrapped"
MAX_BLOB_SIZE = 1 << 30
"""Largest blob migrated: it is decrypted in memory (AES-GCM authenticates at the end)."""
_PREFIX = 2 + layouts.MAX_WRAPPED + layouts.NONCE_SIZE


def read_blob(path: Path) -> bytes:
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_BLOB_SIZE:
            raise MigrationError(f"{path}: {size} bytes is larger than the {MAX_BLOB_SIZE >> 20}"
                                 " MiB pqml decrypts in memory to migrate an RSA-wrapped blob")
        return f.read(MAX_BLOB_SIZE + 1)


def parse(path: Path, data: bytes, layout: str | None, rsa_keys: list[Any]
          ) -> layouts.WrappedBlob:
    """The blob in ``data``: a text layout recognised by its content, a binary one only
    when ``layout`` names it (``concat`` takes the modulus size of the RSA keys given)."""
    if layouts.looks_like_text_blob(data[:64]):
        return layouts.parse_text(data)
    if layout is None:
        raise MigrationError("not an age, pqml/v1, OMS bundle, JWE or JSON wrapped-key file "
                             "(a binary RSA-wrapped blob needs --layout lp16 or concat)")
    if layout == "concat":
        sizes = sorted({(k.key_size + 7) // 8 for k in rsa_keys})
        if not sizes:
            raise MigrationError("the concat layout needs the RSA private key (-i) to know "
                                 "where the wrapped key ends")
        last: MigrationError | None = None
        for size in sizes:
            try:
                return layouts.parse_binary(data, layout, size)
            except MigrationError as exc:
                last = exc
        assert last is not None
        raise last
    return layouts.parse_binary(data, layout)


def unwrap(blob: layouts.WrappedBlob, rsa_keys: list[Any]) -> bytes:
    """The AES key, from the first wrapped key an RSA key given opens."""
    for wrapped in blob.wrapped_keys:
        for key in rsa_keys:
            if (key.key_size + 7) // 8 != len(wrapped):
                continue
            try:
                return bytes(key.decapsulate(wrapped))
            except DecryptionError:
                continue
    raise MigrationError("no RSA key given (-i) unwraps the model key: a wrong key, a "
                         "damaged blob, or OAEP with SHA-1 (pqml reads RSA-OAEP-SHA-256 only)")


def open_blob(blob: layouts.WrappedBlob, rsa_keys: list[Any]) -> bytes:
    """The authenticated plaintext (MigrationError on a wrong key or a tampered blob)."""
    from pqml.primitives.symmetric import AES256GCMKey

    key = unwrap(blob, rsa_keys)
    try:
        return AES256GCMKey(key).open(blob.nonce, blob.sealed, blob.aad or None)
    except DecryptionError:
        raise MigrationError("AES-256-GCM authentication failed: the blob was modified or "
                             "damaged") from None


def survey(path: Path, data: bytes, request: Any) -> dict[str, Any]:
    from pqml.encryption import encrypted_formats as fmts

    out: dict[str, Any] = {"kind": KIND, "quantum_vulnerable": True}
    rsa_keys = request.rsa_keys()
    try:
        blob = parse(path, data, request.layout, rsa_keys)
    except MigrationError as exc:
        if request.layout is None and not layouts.looks_like_text_blob(data[:64]):
            out.update(kind="unknown", quantum_vulnerable=None)
        out.update(now="unknown", status="refused", action="none", reason=str(exc))
        return out
    out["layout"] = blob.layout
    out["now"] = (f"RSA-OAEP-SHA-256 (quantum-vulnerable) wrapping an AES-256-GCM key "
                  f"({blob.layout})")
    out["action"] = ("decrypt in memory (GCM-authenticated), encrypt to pqml/v1, replace "
                     "the blob")
    if request.to:
        try:
            _, described = fmts.prepare_recipients("pqml", request.to, allow_classical=False)
        except PqmlError as exc:
            out.update(status="refused", reason=f"--to cannot be a pqml/v1 recipient: {exc}")
            return out
        n = len(described)
        out["becomes"] = (f"pqml/v1 to {', '.join(d.get('kem') or d['type'] for d in described)}"
                          f" ({n} recipient{'s' if n != 1 else ''})")
    else:
        out.update(status="needs", reason="give the post-quantum recipients with --to")
        return out
    if not rsa_keys:
        out.update(status="needs", reason="give the RSA private key that unwraps it with -i")
        return out
    try:
        open_blob(blob, rsa_keys)
    except MigrationError as exc:
        out.update(status="refused", reason=str(exc))
        return out
    out["status"] = "ready"
    return out


def apply(path: Path, expected: str, request: Any) -> dict[str, Any]:
    """Replace the blob at ``path`` (still of fingerprint ``expected``) by pqml/v1."""
    from pqml._internal.output_file import AtomicOutput
    from pqml.encryption.encrypt import encrypt_to
    from pqml.keys.migration_files import inspect_file
    from pqml.keys.migration_journal import fingerprint

    target = Path(os.path.realpath(path))
    with open(target, "rb") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)  # another migrate of it waits
        if fingerprint(target) != expected:
            raise MigrationError(f"{path}: the file changed since it was checked; it was not "
                                 "migrated: run again")
        data = read_blob(target)
        rsa_keys = request.rsa_keys()
        blob = parse(path, data, request.layout, rsa_keys)
        plaintext = open_blob(blob, rsa_keys)
        mode = os.fstat(held.fileno()).st_mode & 0o7777
        out = AtomicOutput(target, mode=mode, overwrite=True)
        try:
            size, described = encrypt_to(io.BytesIO(plaintext), out, request.to,
                                         format="pqml", plaintext_size=len(plaintext))
            os.fdatasync(out.fileno())
            info = inspect_file(Path(out.temp))
            if (info is None or info["format"] != "pqml/v1" or info["quantum_vulnerable"]
                    or len(info["stanzas"]) != len(described)
                    or info.get("plaintext_size") != size or size != len(plaintext)):
                raise MigrationError(f"{path}: the pqml/v1 version did not read back as "
                                     "written; the blob was left unchanged")
        except BaseException:
            out.discard()
            raise
        out.commit()
    return {"layout": blob.layout, "plaintext_size": size, "format": "pqml/v1",
            "recipients": [d.get("kem") or d["type"] for d in described]}

"""Encrypted safetensors: ``save_file`` and a lazy ``safe_open`` that decrypts only the
chunks holding the tensors (or rows) asked for.

    >>> import pqml.safetensors as pst
    >>> pst.save_file({"w": array}, "model.safetensors.pqml", ["age1pq1…"])
    >>> with pst.safe_open("model.safetensors.pqml", ["me.pem"], framework="numpy") as f:
    ...     w = f.get_tensor("w")            # decrypts ~size(w) / 16 KiB chunks
    ...     rows = f.get_slice("w")[10:20]   # only the chunks of rows 10..19

The encrypted file is an ordinary pqml/v1 (or age) file whose plaintext is a standard
safetensors file, so ``pqml decrypt`` gives back a file any safetensors reader loads.
Reading goes through :func:`pqml.open` (header MAC, key commitment and final chunk are
checked at open; every chunk read is authenticated), then parses the safetensors header
strictly (size limit, known dtypes, offsets contiguous and matching each shape) before any
tensor is returned. safetensors has no pickle, so no trusted source is needed.

Verify before load: ``safe_open(path, ids, trusted=[signer.pub])`` (how to verify, e.g.
where the bundle is or ``require_pq``, goes in ``verify=pqml.VerifyOptions(...)``) first
authenticates the OMS bundle of the *plaintext* model (``model.sig`` beside the encrypted
files, or ``x.safetensors.sig``; nothing is decrypted before the signature verified), then
checks every byte it hands out (header included) against the signed digests of
``x.safetensors`` (the ``.pqml`` / ``.age`` suffix dropped). With the ``shards`` method it
decrypts and hashes only the shards covering each read and returns the tensor from the
very bytes it hashed; with the ``files`` method the whole plaintext is hashed once (in
memory when small, else streamed) before the header is parsed.

numpy and torch are imported only when used (extra ``ml``).
"""

from __future__ import annotations

import io
import json
import math
import os
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from pqml.encryption.errors import SafetensorsFormatError
from pqml.primitives.errors import PqmlError

if TYPE_CHECKING:
    from pqml.signing.verify_options import VerifyOptions

MAX_HEADER_SIZE = 100_000_000  # safetensors' own limit

# safetensors dtype -> (item size, numpy dtype name or None, torch dtype name)
DTYPES: dict[str, tuple[int, str | None, str]] = {
    "BOOL": (1, "bool", "bool"),
    "U8": (1, "uint8", "uint8"),
    "I8": (1, "int8", "int8"),
    "F8_E5M2": (1, None, "float8_e5m2"),
    "F8_E4M3": (1, None, "float8_e4m3fn"),
    "I16": (2, "<i2", "int16"),
    "U16": (2, "<u2", "uint16"),
    "F16": (2, "<f2", "float16"),
    "BF16": (2, None, "bfloat16"),
    "I32": (4, "<i4", "int32"),
    "U32": (4, "<u4", "uint32"),
    "F32": (4, "<f4", "float32"),
    "F64": (8, "<f8", "float64"),
    "I64": (8, "<i8", "int64"),
    "U64": (8, "<u8", "uint64"),
}




def _serialize(tensors: Mapping[str, Any], metadata: Mapping[str, str] | None) -> bytes:
    first = next(iter(tensors.values()), None)
    meta = dict(metadata) if metadata is not None else None
    if type(first).__module__.startswith("torch"):
        import safetensors.torch

        return bytes(safetensors.torch.save(dict(tensors), meta))
    import safetensors.numpy

    return bytes(safetensors.numpy.save(dict(tensors), meta))


def save_file(tensors: Mapping[str, Any], path: str | os.PathLike[str],
              recipients: Iterable[Any], metadata: Mapping[str, str] | None = None, *,
              format: str = "pqml", allow_classical: bool = False) -> None:
    """Serialize ``tensors`` (numpy arrays or torch tensors) as safetensors and write them
    encrypted to ``path`` (or a URL: ``s3://bucket/model.safetensors.pqml``), atomically.
    The safetensors bytes are built in memory (as
    ``safetensors.*.save`` does); the plaintext never touches the disk."""
    from pqml.encryption import encrypt as feature
    from pqml.encryption.encrypted_formats import prepare_recipients
    from pqml.storage import atomic_output, is_url

    data = _serialize(tensors, metadata)
    resolved = feature.resolve_recipients(recipients)
    prepare_recipients(format, resolved, allow_classical=allow_classical)  # type: ignore[arg-type]
    # a URL is an object upload (no header area: objects are never rekeyed in place)
    with atomic_output(path, mode=feature.CIPHERTEXT_MODE, force=True) as out:
        feature.encrypt_to(io.BytesIO(data), out, resolved, format=format,  # type: ignore[arg-type]
                           allow_classical=allow_classical,
                           plaintext_size=None if is_url(path) else len(data))


# ---- reading --------------------------------------------------------------------------------


class _Entry:
    __slots__ = ("begin", "dtype", "end", "name", "shape")

    def __init__(self, name: str, dtype: str, shape: tuple[int, ...], begin: int, end: int
                 ) -> None:
        self.name, self.dtype, self.shape, self.begin, self.end = name, dtype, shape, begin, end


def _parse_header(raw: bytes, data_size: int, where: str) -> tuple[dict[str, _Entry],
                                                                    dict[str, str] | None]:
    try:
        doc = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise SafetensorsFormatError(f"{where}: safetensors header is not valid JSON") from None
    if not isinstance(doc, dict):
        raise SafetensorsFormatError(f"{where}: safetensors header is not a JSON object")
    metadata = doc.pop("__metadata__", None)
    if metadata is not None and (not isinstance(metadata, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items())):
        raise SafetensorsFormatError(f"{where}: __metadata__ must map strings to strings")
    entries: dict[str, _Entry] = {}
    for name, info in doc.items():
        bad = f"{where}: tensor {name!r}"
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise SafetensorsFormatError(f"{bad} needs exactly dtype, shape and data_offsets")
        dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if dtype not in DTYPES:
            raise SafetensorsFormatError(f"{bad} has unknown dtype {dtype!r}")
        if not isinstance(shape, list) or not all(
                isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            raise SafetensorsFormatError(f"{bad} has an invalid shape")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(
                isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
            raise SafetensorsFormatError(f"{bad} has invalid data_offsets")
        begin, end = offsets
        if not 0 <= begin <= end <= data_size:
            raise SafetensorsFormatError(f"{bad} lies outside the data")
        if end - begin != math.prod(shape) * DTYPES[dtype][0]:
            raise SafetensorsFormatError(f"{bad}: data_offsets do not match dtype and shape")
        entries[name] = _Entry(name, dtype, tuple(shape), begin, end)
    position = 0
    for entry in sorted(entries.values(), key=lambda e: (e.begin, e.end)):
        if entry.begin != position:
            raise SafetensorsFormatError(f"{where}: tensor data is not contiguous "
                                         f"(tensor {entry.name!r})")
        position = entry.end
    if position != data_size:
        raise SafetensorsFormatError(f"{where}: tensor data does not fill the file")
    return entries, metadata


class EncryptedSafeOpen:
    """The object :func:`safe_open` returns (also a context manager)."""

    def __init__(self, path: str | os.PathLike[str], identities: Any, framework: str = "numpy",
                 verified: tuple[Any, str] | None = None) -> None:
        if framework not in ("numpy", "np", "pt", "torch"):
            raise PqmlError(f"unsupported framework {framework!r} (numpy or pt)")
        self._framework = "pt" if framework in ("pt", "torch") else "numpy"
        from pqml.encryption.random_access import open as open_encrypted

        self._path = str(path)
        self._f = open_encrypted(path, identities)
        self._verifier: Any = None
        try:
            if verified is not None:
                from pqml.signing.verified_load import VerifiedReader

                raw = self._f.raw

                def read_into(offset: int, view: memoryview) -> int:
                    raw.seek(offset)
                    return raw.readinto(view)  # type: ignore[attr-defined, no-any-return]

                model, name = verified
                self._verifier = VerifiedReader(model, name, raw.size,  # type: ignore[attr-defined]
                                                read_into)
            self._read_header()
        except BaseException:
            self._f.close()
            raise

    @property
    def verifier(self) -> Any:
        """The :class:`~pqml.signing.verified_load.VerifiedReader` checking every read
        (``bytes_hashed``, ``pieces_checked``), or None without ``trusted=``."""
        return self._verifier

    def _read_exact(self, offset: int, size: int) -> bytearray:
        if self._verifier is not None:
            if offset + size > self._verifier.size:
                raise SafetensorsFormatError(f"{self._path}: safetensors data is truncated")
            return self._verifier.read(offset, size)  # type: ignore[no-any-return]
        buf = bytearray(size)
        self._f.seek(offset)
        got = self._f.readinto(buf)
        if got != size:
            raise SafetensorsFormatError(f"{self._path}: safetensors data is truncated")
        return buf

    def _read_header(self) -> None:
        total = self._f.raw.size  # type: ignore[attr-defined]
        if total < 8:
            raise SafetensorsFormatError(f"{self._path}: too short for a safetensors file")
        n = int.from_bytes(self._read_exact(0, 8), "little")
        if n > MAX_HEADER_SIZE or 8 + n > total:
            raise SafetensorsFormatError(f"{self._path}: invalid safetensors header size {n}")
        self._data_start = 8 + n
        self._entries, self._metadata = _parse_header(bytes(self._read_exact(8, n)),
                                                      total - 8 - n, self._path)

    # ---- safetensors' safe_open API ----------------------------------------------------

    def keys(self) -> list[str]:
        return sorted(self._entries)

    def metadata(self) -> dict[str, str] | None:
        return None if self._metadata is None else dict(self._metadata)

    def _entry(self, name: str) -> _Entry:
        try:
            return self._entries[name]
        except KeyError:
            raise PqmlError(f"{self._path}: no tensor named {name!r}") from None

    def _to_array(self, dtype: str, shape: tuple[int, ...], buf: bytearray) -> Any:
        _, np_name, torch_name = DTYPES[dtype]
        if self._framework == "pt":
            import torch

            tdtype = getattr(torch, torch_name)
            if not buf:
                return torch.empty(shape, dtype=tdtype)
            return torch.frombuffer(buf, dtype=tdtype).reshape(shape)
        if np_name is None:
            raise PqmlError(f"{self._path}: numpy has no {dtype} dtype; use framework='pt'")
        import numpy as np

        return np.frombuffer(buf, dtype=np.dtype(np_name)).reshape(shape)

    def get_tensor(self, name: str) -> Any:
        """The whole tensor; decrypts only the chunks its bytes span."""
        e = self._entry(name)
        return self._to_array(e.dtype, e.shape, self._read_exact(self._data_start + e.begin,
                                                                 e.end - e.begin))

    def get_slice(self, name: str) -> _Slice:
        return _Slice(self, self._entry(name))

    @property
    def raw(self) -> Any:
        """The underlying :class:`~pqml.encryption.random_access.EncryptedFileRaw`
        (``size``, ``chunk_count``, ``chunks_decrypted``)."""
        return self._f.raw

    def close(self) -> None:
        self._f.close()

    def __enter__(self) -> EncryptedSafeOpen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        from pqml._internal.text import plural

        tensors = plural(len(self._entries), "tensor")
        return f"<pqml encrypted safetensors {self._path!r} ({tensors})>"


class _Slice:
    """Lazy view of one tensor: ``[...]`` reads only the rows (first dimension) needed."""

    def __init__(self, owner: EncryptedSafeOpen, entry: _Entry) -> None:
        self._owner, self._e = owner, entry

    def get_shape(self) -> list[int]:
        return list(self._e.shape)

    def get_dtype(self) -> str:
        return self._e.dtype

    def __getitem__(self, index: Any) -> Any:
        e, owner = self._e, self._owner
        idx = index if isinstance(index, tuple) else (index,)
        if not e.shape or not idx or not isinstance(idx[0], (int, slice)) or \
                isinstance(idx[0], bool):
            return owner.get_tensor(e.name)[index]
        first, rest = idx[0], idx[1:]
        local: int | slice
        rows = e.shape[0]
        row_bytes = (e.end - e.begin) // rows if rows else 0
        if isinstance(first, int):
            i = first + rows if first < 0 else first
            if not 0 <= i < rows:
                raise IndexError(f"index {first} is out of bounds for dimension 0 of size {rows}")
            lo, hi, local = i, i + 1, 0
        else:
            r = range(*first.indices(rows))
            if not r:
                return owner._to_array(e.dtype, (0, *e.shape[1:]), bytearray())[
                    (slice(None), *rest)]
            lo, hi = (r[0], r[-1] + 1) if r.step > 0 else (r[-1], r[0] + 1)
            local = slice(0, hi - lo, r.step) if r.step > 0 else slice(hi - lo - 1, None, r.step)
        buf = owner._read_exact(owner._data_start + e.begin + lo * row_bytes,
                                (hi - lo) * row_bytes)
        part = owner._to_array(e.dtype, (hi - lo, *e.shape[1:]), buf)
        return part[(local, *rest)]


def safe_open(path: str | os.PathLike[str], identities: Any, framework: str = "numpy", *,
              trusted: Any = None, verify: VerifyOptions | None = None) -> EncryptedSafeOpen:
    """Open an encrypted safetensors file lazily (like ``safetensors.safe_open``).

    ``identities``: key files, age identity strings, key objects or a Passphrase.
    ``framework``: "numpy" or "pt" (torch). ``trusted`` (public keys) and/or ``verify``
    (a :class:`~pqml.VerifyOptions`: bundle location, policy, certificate chain,
    ``require_pq``, symlinks): verify before load against the plaintext model's signature
    (found beside the file unless ``verify`` says where); a read whose plaintext differs
    from the signed bytes raises IntegrityError. Without either, nothing is verified.
    """
    verified = None
    if trusted is not None or verify is not None:
        from pqml.signing.verified_load import verify_encrypted

        verified = verify_encrypted(path, trusted, verify=verify)
    return EncryptedSafeOpen(path, identities, framework, verified)

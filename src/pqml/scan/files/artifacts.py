"""ML artifacts: what format a weights / checkpoint / dataset file is, and whether it can
run code when loaded -- decided from magic bytes and structure, never by loading it.

Formats: pickle (.pkl, .pickle, .joblib incl. zlib/gzip/bz2/xz-compressed joblib), torch
(.pt/.pth/.bin/.ckpt as zip with ``data.pkl``, TorchScript, or legacy raw pickle),
safetensors, ONNX, GGUF, Keras/HDF5 (.h5, .keras v3 zip), TF SavedModel, TFLite, NumPy
(.npy / .npz, object arrays are pickles), and dataset shards (Parquet, Arrow/Feather,
TFRecord). Pickle-based formats are code-execution risks by construction; their opcodes
are walked (:mod:`pickle_opcodes`) to list imports such as ``os.system``. The walk fails
closed: a pickle-suffixed file is walked whatever its first byte (loaders do not care), one
that does not parse, or whose walk stops early, is still a code-execution finding, and a
file of any name whose bytes parse as a pickle is one too. Keras ``Lambda`` layers also
carry code. Encrypted files (``pqml/v1``, age) are recognised by header first.

Protection (encrypted / signed / neither) is finished in the runner, which knows every
OMS bundle in the tree.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import pickletools
import struct
import zipfile
import zlib
from pathlib import Path
from typing import IO, Any

from pqml.scan.files import pickle_opcodes
from pqml.scan.files.protection import is_encrypted_header, parse_header
from pqml.scan.model import Finding

MODEL_EXTS = {".pt", ".pth", ".bin", ".ckpt", ".pkl", ".pickle", ".joblib", ".safetensors",
              ".onnx", ".gguf", ".ggml", ".h5", ".hdf5", ".keras", ".tflite", ".pb", ".npy",
              ".npz", ".sav", ".dill", ".pck", ".model", ".mar", ".msgpack"}
DATASET_EXTS = {".parquet", ".arrow", ".feather", ".tfrecord", ".tfrecords", ".ipc"}
ENCRYPTED_EXTS = {".age", ".pqml", ".enc", ".encrypted"}
ARTIFACT_EXTS = MODEL_EXTS | DATASET_EXTS | ENCRYPTED_EXTS
_PICKLE_EXTS = {".pkl", ".pickle", ".joblib", ".sav", ".dill", ".pck", ".pt", ".pth", ".bin",
                ".ckpt", ".model", ".p"}
#: pickle-named: loaded with pickle / torch / joblib and nothing else, so one that does not
#: parse is still a code-execution risk (``.bin`` / ``.model`` also name raw weights, protobuf)
_PICKLE_NAMED = _PICKLE_EXTS - {".bin", ".model"}
_SNIFF_MIN_OPS = 16  # a head cut short inside a pickle this long is taken for one
HEAD_SIZE = 1 << 16
_MAX_PICKLE_BYTES = 256 << 20
_MAX_MEMBER = 512 << 20


def suffix_of(name: str) -> str:
    """The artifact-relevant suffix: ``shard.tfrecord-00001-of-00008`` -> ``.tfrecord``."""
    low = name.lower()
    for ext in (".tfrecord", ".tfrecords"):
        if ext + "-" in low:
            return ext
    dot = low.rfind(".")
    return low[dot:] if dot >= 0 else ""


def strong_magic(head: bytes) -> bool:
    """Binary formats recognisable whatever the file is called."""
    return head.startswith((b"GGUF", b"PAR1", b"PARE", b"ARROW1", b"\x89HDF\r\n\x1a\n",
                            b"\x93NUMPY")) \
        or is_encrypted_header(head) or (len(head) > 8 and head[4:8] == b"TFL3")


def is_candidate(name: str, head: bytes) -> bool:
    return (suffix_of(name) in ARTIFACT_EXTS or suffix_of(name) in _PICKLE_EXTS
            or strong_magic(head) or name == "saved_model.pb" or sniff_pickle(head))


def sniff_pickle(head: bytes) -> bool:
    """Whether ``head`` (the file's first bytes) is a pickle whatever the file's name: its
    walk reaches STOP cleanly and imports something (without a global a pickle runs no
    code, and ``N.`` in a text file is not worth a finding), or, for a binary file, runs to
    the end of ``head`` without an opcode error (a text file padded with opcodes must not
    dodge the text detectors)."""
    if not head or head[:1].decode("latin-1") not in _OPCODE_CHARS:
        return False
    stream = io.BytesIO(head)
    report = pickle_opcodes.scan(stream)
    if report.complete and report.stopped:
        return _resolved_import(report)
    return len(head) >= HEAD_SIZE and b"\x00" in head and report.ops >= _SNIFF_MIN_OPS and (
        stream.tell() >= len(head)) and "opcode" not in (report.error or "")


_OPCODE_CHARS = frozenset(op.code for op in pickletools.opcodes)


def _resolved_import(report: pickle_opcodes.PickleReport) -> bool:
    """A global named by strings: random bytes fall into an unresolved ``STACK_GLOBAL``
    now and then, and nothing can be called without a first named global anyway."""
    return any(not i.startswith(("<unresolved>", "copyreg.extension")) for i in report.imports)


def _category(ext: str, fmt: str) -> str:
    if fmt in ("parquet", "arrow", "tfrecord") or ext in DATASET_EXTS:
        return "dataset"
    if fmt in ("encrypted-file",):
        return "file"
    return "model"


def _open_decompressed(path: Path, head: bytes) -> IO[bytes] | None:
    if head.startswith(b"\x1f\x8b"):
        return gzip.open(path, "rb")
    if head.startswith(b"BZh"):
        return bz2.open(path, "rb")
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.open(path, "rb")
    if head[:1] == b"\x78" and head[1:2] in (b"\x01", b"\x5e", b"\x9c", b"\xda"):
        return _ZlibReader(path)
    return None


class _ZlibReader(io.RawIOBase):
    """A streaming zlib reader (joblib's default compressor writes raw zlib streams)."""

    def __init__(self, path: Path) -> None:
        super().__init__()
        self._f = path.open("rb")
        self._d = zlib.decompressobj()
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            chunk = self._f.read(1 << 16)
            if not chunk:
                self._buf = self._d.flush()
                break
            self._buf = self._d.decompress(chunk, 1 << 20)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n

    def close(self) -> None:
        self._f.close()
        super().close()


def _scan_pickle_stream(stream: IO[bytes], limit: int = _MAX_PICKLE_BYTES
                        ) -> pickle_opcodes.PickleReport:
    limited = _Limited(stream, min(limit, _MAX_PICKLE_BYTES))
    return pickle_opcodes.scan(limited)


class _Limited(io.RawIOBase):
    """At most ``limit`` bytes of ``inner``; ``tell`` works (pickletools asks for it)."""

    def __init__(self, inner: IO[bytes], limit: int) -> None:
        super().__init__()
        self._inner = inner
        self._left = limit
        self._pos = 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def read(self, size: int | None = -1) -> bytes:
        """Read in chunks, so memory follows what the file holds, never a length field
        (a BINBYTES8 claiming 2**62 bytes returns the little that remains)."""
        want = self._left if size is None or size < 0 else min(size, self._left)
        parts: list[bytes] = []
        while want > 0:
            data = self._inner.read(min(want, 1 << 20))
            if not data:
                break
            parts.append(data)
            want -= len(data)
            self._left -= len(data)
            self._pos += len(data)
        return b"".join(parts)

    def readinto(self, b: Any) -> int:
        if self._left <= 0:
            return 0
        data = self._inner.read(min(len(b), self._left))
        self._left -= len(data)
        self._pos += len(data)
        b[: len(data)] = data
        return len(data)


def _zip_info(path: Path, ext: str) -> dict[str, Any]:
    info: dict[str, Any] = {"container": "zip"}
    try:
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            pkls = [n for n in names if n.endswith(".pkl")]
            if ext == ".npz" or (names and all(n.endswith(".npy") for n in names)):
                info["format"] = "numpy-npz"
                object_arrays = []
                for n in names[:256]:
                    with zf.open(n) as member:
                        if _npy_is_object(member.read(512)):
                            object_arrays.append(n)
                info["pickle_based"] = bool(object_arrays)
                if object_arrays:
                    info["object_arrays"] = object_arrays[:20]
                return info
            if ext == ".keras" or ("config.json" in names and any(n.endswith(".h5")
                                                                   for n in names)):
                info["format"] = "keras"
                info["pickle_based"] = False
                if "config.json" in names:
                    with zf.open("config.json") as cfg:
                        text = cfg.read(8 << 20)
                    info["lambda_layers"] = b'"Lambda"' in text
                return info
            if pkls:
                torchscript = any(n.endswith("constants.pkl") for n in names) and any(
                    "/code/" in n for n in names)
                info["format"] = "torchscript" if torchscript else "torch"
                info["pickle_based"] = True
                main = next((n for n in pkls if n.endswith("data.pkl")), pkls[0])
                zi = zf.getinfo(main)
                if zi.file_size <= _MAX_MEMBER:
                    with zf.open(main) as member:
                        report = _scan_pickle_stream(member, zi.file_size)
                    info["pickle"] = report.as_dict()
                    if not (report.complete and report.stopped):
                        info["analysis"] = ("could not be analysed: treat as code execution "
                                            f"({report.error or 'opcode limit reached'})")
                info["pickle_member"] = main
                return info
            info["format"] = "zip"
            info["pickle_based"] = False
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        info["format"] = "zip"
        info["error"] = str(exc)[:200]
        info["pickle_based"] = False
    return info


def _npy_is_object(head: bytes) -> bool:
    return head.startswith(b"\x93NUMPY") and (b"'descr': '|O'" in head or b"'|O'" in head)


def _hdf5_lambda(path: Path) -> bool:
    with path.open("rb") as f:
        data = f.read(8 << 20)
    return b'"class_name": "Lambda"' in data or b'"class_name":"Lambda"' in data


def identify(path: Path, name: str, head: bytes, size: int) -> dict[str, Any] | None:
    """Format facts about a candidate artifact, or None if it is not one after all."""
    ext = suffix_of(name)
    info: dict[str, Any] = {"size_bytes": size}
    if head.startswith(b"PK\x03\x04"):
        info.update(_zip_info(path, ext))
        if info.get("error") and ext in _PICKLE_NAMED:
            info["analysis"] = f"could not be analysed: treat as code execution ({info['error']})"
        if info.get("format") == "zip" and ext not in MODEL_EXTS:
            return None
    elif head.startswith(b"GGUF"):
        info.update(format="gguf", pickle_based=False)
    elif head.startswith((b"PAR1", b"PARE")):  # PARE: modular encryption, encrypted footer
        from pqml.scan.files.parquet_keys import encryption_info

        info.update(format="parquet", pickle_based=False)
        encryption = encryption_info(path, head)
        if encryption is not None:
            info["encryption"] = encryption
    elif head.startswith(b"ARROW1") or (ext in (".arrow", ".ipc") and head[:4] == b"\xff" * 4):
        info.update(format="arrow", pickle_based=False)
    elif head.startswith(b"\x89HDF\r\n\x1a\n"):
        info.update(format="keras-hdf5" if ext in (".h5", ".keras", ".hdf5") else "hdf5",
                    pickle_based=False, lambda_layers=_hdf5_lambda(path))
    elif head.startswith(b"\x93NUMPY"):
        info.update(format="numpy-npy", pickle_based=_npy_is_object(head[:1024]))
    elif len(head) > 8 and head[4:8] == b"TFL3":
        info.update(format="tflite", pickle_based=False)
    elif ext == ".safetensors":
        if len(head) < 9 or head[8:9] != b"{" or struct.unpack("<Q", head[:8])[0] > size:
            info.update(format="safetensors", malformed=True, pickle_based=False)
        else:
            info.update(format="safetensors", pickle_based=False)
    elif ext == ".onnx":
        info.update(format="onnx", pickle_based=False)
    elif ext in (".tfrecord", ".tfrecords"):
        info.update(format="tfrecord", pickle_based=False)
    elif name == "saved_model.pb" or ext == ".pb":
        if name != "saved_model.pb" and ext == ".pb" and size < 64:
            return None
        info.update(format="tensorflow-savedmodel" if name == "saved_model.pb" else "protobuf",
                    pickle_based=False)
    elif ext in _PICKLE_EXTS or sniff_pickle(head):
        compressed = _open_decompressed(path, head)
        if compressed is not None:
            with compressed as stream:
                report = _scan_pickle_stream(stream)
            info["compression"] = True
        else:
            with path.open("rb") as f:
                report = _scan_pickle_stream(f, size)
        parsed = report.complete and report.stopped
        if ext not in _PICKLE_NAMED and not _resolved_import(report) and (
                report.ops < 2 or (report.error and report.ops < 4)):
            return None  # not a pickle after all (a .bin of raw floats, say)
        if not parsed:  # fail closed: whatever the walk missed, loading may run it
            info["analysis"] = ("could not be analysed: treat as code execution ("
                                f"{report.error or 'opcode limit reached'})")
        legacy_torch = head[:2] == b"\x80\x02" and head[2:3] == b"\x8a" and ext in (
            ".pt", ".pth", ".bin", ".ckpt")
        fmt = "torch-legacy" if legacy_torch else ("joblib" if ext == ".joblib" else "pickle")
        info.update(format=fmt, pickle_based=True, pickle=report.as_dict())
    elif ext in MODEL_EXTS:
        info.update(format=ext.lstrip("."), pickle_based=False, inspected=False)
    else:
        return None
    pickle_info = info.get("pickle") or {}
    info["dangerous_imports"] = list(pickle_info.get("dangerous_imports", []))
    info["code_execution_risk"] = bool(info.get("pickle_based") or info.get("lambda_layers")
                                       or info.get("analysis"))
    info["category"] = _category(ext, info["format"])
    return info


def encrypted_info(head: bytes, name: str) -> dict[str, Any] | None:
    enc = parse_header(head)
    if enc is None:
        return None
    inner = name
    for ext in ENCRYPTED_EXTS:
        if inner.lower().endswith(ext):
            inner = inner[: -len(ext)]
            break
    inner_ext = suffix_of(inner)
    category = "dataset" if inner_ext in DATASET_EXTS else (
        "model" if inner_ext in MODEL_EXTS else "file")
    return {"format": f"encrypted ({inner_ext.lstrip('.') or 'unknown'})", "inner_name": inner,
            "category": category, "encryption": enc.as_dict(),
            "pickle_based": inner_ext in _PICKLE_EXTS, "code_execution_risk": False,
            "dangerous_imports": []}


def unanalysed_info(name: str, error: BaseException) -> dict[str, Any]:
    """Facts for a candidate whose analysis failed: fail closed, it may run code."""
    return {"format": "unknown", "category": _category(suffix_of(name), "unknown"),
            "pickle_based": suffix_of(name) in _PICKLE_EXTS, "code_execution_risk": True,
            "dangerous_imports": [],
            "analysis": "could not be analysed: treat as code execution ("
                        f"{type(error).__name__}: {str(error)[:120]})"}


def finding(path: str, info: dict[str, Any]) -> Finding:
    """The artifact's finding before signatures are known (see :func:`apply_protection`)."""
    f = Finding(path=path, line=1, kind="artifact", algorithm="none", primitive="other",
                usage="storage", evidence=f"{info['format']} {info['category']}",
                asset_type="ml-artifact", details={"artifact": info})
    apply_protection(f, [])
    return f


def apply_protection(f: Finding, signatures: list[dict[str, Any]]) -> None:
    """Set status, algorithm and vulnerability from encryption and signing facts.

    The algorithm reported is the weakest link: any quantum-vulnerable recipient stanza
    exposes the file key, and a verifier accepting a classical signature accepts a forgery.
    """
    from pqml.scan.facts import lookup

    art = f.details["artifact"]
    enc = art.get("encryption")
    status = []
    algorithms: list[tuple[str, str | None, str]] = []
    if enc:
        status.append("encrypted")
        algorithms += [(k, None, "encrypt") for k in enc["kems"]]
    if signatures:
        status.append("signed")
        for bundle in signatures:
            algorithms += [(s["algorithm"], s["parameter"], "sign") for s in bundle["signatures"]]
    f.details["protection"] = {"status": "+".join(status) or "none",
                               "encryption": enc, "signatures": signatures}
    if not algorithms:
        f.algorithm, f.primitive, f.usage, f.parameter = "none", "other", "storage", None
        f.quantum_vulnerable = False
        f.status = "unprotected"
        return
    ranked = sorted(algorithms, key=lambda a: (not lookup(a[0], a[1], a[2]).quantum_vulnerable,
                                               a[2] != "encrypt"))
    alg, param, usage = ranked[0]
    facts = lookup(alg, param, usage)
    f.algorithm, f.parameter, f.usage = alg, param, usage
    f.primitive = facts.primitive if facts.primitive != "unknown" else "other"
    f.quantum_vulnerable = any(lookup(a, p, u).quantum_vulnerable for a, p, u in algorithms)
    f.status = facts.status

"""``pqml inspect``: what an encrypted file is, without any key.

Format, armor, every recipient stanza (type, KEM, pqml/v1 key id, post-quantum status),
header and payload sizes, the pqml/v1 header area (layout, not a recipient), chunk size
and count, the plaintext size implied by the payload size, and whether that size is one
a valid file can have (a file cut at a chunk boundary is already visible here). Nothing
is decrypted, so nothing here is authenticated: the MAC, commitment and chunks are
checked only by decryption.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, BinaryIO

from pqml.encryption import encrypted_formats as fmts
from pqml.encryption.encrypt import named
from pqml.formats.age._io import Source
from pqml.formats.pqml_v1.header_area import Located
from pqml.primitives.errors import PqmlError


class _Counter:
    """Counts (and discards) what is read through it: sizes of an armored file."""

    def __init__(self, src: Any) -> None:
        self._src = src
        self.total = 0

    def drain(self) -> int:
        while True:
            data = self._src.read(1024 * 1024)
            if not data:
                return self.total
            self.total += len(data)


def _payload_facts(fmt: str, payload_size: int) -> dict[str, Any]:
    if fmt == "pqml":
        from pqml.primitives import chunked

        facts: dict[str, Any] = {
            "payload_aead": "AES-256-GCM (C2SP chunked encryption, Cobblestone256)",
            "chunk_size": chunked.CHUNK_SIZE,
        }
        try:
            count, _ = chunked.chunk_layout(payload_size)
            facts.update(chunks=count, plaintext_size=chunked.plaintext_size(payload_size),
                         size_valid=True)
        except PqmlError as exc:
            facts.update(chunks=None, plaintext_size=None, size_valid=False,
                         size_problem=str(exc))
        return facts
    from pqml.formats.age import stream

    facts = {"payload_aead": "ChaCha20-Poly1305 (age STREAM)", "chunk_size": stream.CHUNK_SIZE}
    try:
        chunks_size = payload_size - stream.NONCE_SIZE
        if chunks_size < 0:
            raise PqmlError("file is truncated: the payload nonce is missing")
        facts.update(chunks=stream.chunk_count(chunks_size),
                     plaintext_size=stream.plaintext_size(chunks_size), size_valid=True)
    except PqmlError as exc:
        facts.update(chunks=None, plaintext_size=None, size_valid=False, size_problem=str(exc))
    return facts


def _area_facts(located: Located, fd: int | None) -> dict[str, Any] | None:
    """A pqml/v1 header area: slot size, the slot shown and whether both slots hold the
    same bytes (they differ only during, or after a crash in, an in-place rekey; None
    when the file is armored, so its bytes on disk are not the slots)."""
    size = located.area_size
    if size is None:
        return None
    same = None
    if fd is not None:
        data = os.pread(fd, 2 * size, 0)
        same = data[:size] == data[size:]
    return {"slot_size": size, "size": 2 * size, "slot": located.slot,
            "slots_identical": same}


def inspect(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Facts about the encrypted file at ``path`` (raises PqmlError naming the file if it is
    not a pqml/v1 or age file or its header is malformed). ``path`` may be a URL."""
    from pqml.storage.urls import is_url

    if is_url(path):
        from pqml.storage.encrypted_objects import inspect_object

        return inspect_object(str(path))
    path = Path(path)
    try:
        return _inspect(path)
    except PqmlError as exc:
        raise named(exc, path) from None


def inspect_stream(src: BinaryIO, name: str = "<stdin>") -> dict[str, Any]:
    """Facts about an encrypted file read from a stream (``pqml inspect -``), read once
    front to back: its sizes are counted, not asked of the file system, so a pipe works;
    a header area's two slots are not compared (``slots_identical`` is None)."""
    try:
        counted = _Counting(src)
        probe = Source(counted)
        detected = fmts.detect(probe.peek(64))
        source = fmts.unarmored(detected, probe)
        located = fmts.open_header(detected.format, source)
        payload_size = _Counter(source).drain()
        _Counter(counted).drain()  # what follows an armored file's end line
        return _facts(name, detected, located, payload_size, counted.total,
                      _area_facts(located, None))
    except PqmlError as exc:
        raise named(exc, name) from None


class _Counting:
    """Passes reads through and counts the bytes: the size of a streamed file."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self.total = 0

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        self.total += len(data)
        return data


def _inspect(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        probe = Source(f)
        detected = fmts.detect(probe.peek(64))
        source = fmts.unarmored(detected, probe)
        located = fmts.open_header(detected.format, source)
        if detected.armored:
            payload_size = _Counter(source).drain()
        else:
            payload_size = os.fstat(f.fileno()).st_size - located.payload_offset
        area = _area_facts(located, None if detected.armored else f.fileno())
    return _facts(str(path), detected, located, payload_size, path.stat().st_size, area)


def _facts(name: str, detected: Any, located: Located, payload_size: int, file_size: int,
           area: dict[str, Any] | None) -> dict[str, Any]:
    header = located.header
    stanzas = [fmts.describe_stanza(detected.format, s)
               for s in fmts.recipient_stanzas(detected.format, header)]
    known = [s for s in stanzas if s["post_quantum"] is not None]
    info: dict[str, Any] = {
        "file": name,
        "format": detected.name,
        "armored": detected.armored,
        "file_size": file_size,
        "header_size": len(header.marshal()),
        "header_area": area,
        "payload_size": payload_size,
        **_payload_facts(detected.format, payload_size),
        "stanzas": stanzas,
        "post_quantum": bool(known) and all(s["post_quantum"] for s in stanzas),
        "quantum_vulnerable": any(s["quantum_vulnerable"] for s in stanzas),
    }
    return info

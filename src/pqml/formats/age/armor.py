"""age ASCII armor: strict PEM (RFC 7468 §3, Figure 3) with label "AGE ENCRYPTED FILE".

pqml/v1 files use the same armor with their own label, "PQML ENCRYPTED FILE" (``label=``):
one strict encoding, two labels, so an armored file still says what is inside.

An armored file must not be malleable, so decoding accepts exactly one spelling of each
file: 64-column lines of canonical padded base64, no headers, no empty lines, no spaces
inside the block, a final line shorter than 64 columns (or a full one) right before the
END line. The only tolerances are the ones the spec and the CCTV vectors allow: any
whitespace before BEGIN and after END, and LF or CRLF line endings. Encoding writes LF
lines, exactly as age does.

Both directions stream in constant memory. Decoding takes a fast path over whole blocks
of LF-terminated full lines (C-speed checks and one base64 call per block) and falls back
to line-by-line checks for CRLF input and the end of the block.
"""

from __future__ import annotations

import base64
import binascii

from pqml.formats.age._io import Readable, Source
from pqml.formats.age.errors import ArmorError
from pqml.formats.age.stream import Writable

LABEL = b"AGE ENCRYPTED FILE"
PQML_LABEL = b"PQML ENCRYPTED FILE"
BEGIN = b"-----BEGIN " + LABEL + b"-----"
END = b"-----END " + LABEL + b"-----"
COLUMNS = 64
BYTES_PER_LINE = COLUMNS // 4 * 3  # 48
WHITESPACE = b" \t\r\n\v\f"

_B64_CHARS = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_BLOCK_LINES = 1024  # fast-path block: 1024 lines of 65 bytes ≈ 65 KiB


def looks_armored(prefix: bytes) -> bool:
    """Armor sniffing for callers that were not told: after optional whitespace the data
    starts with a PEM-style dash line (binary age starts with "age-encryption.org/")."""
    return prefix.lstrip(WHITESPACE).startswith(b"-----")


def armor_label(prefix: bytes) -> bytes | None:
    """The label of the BEGIN line ``prefix`` starts with (after whitespace), if any."""
    head = prefix.lstrip(WHITESPACE)
    if not head.startswith(b"-----BEGIN "):
        return None
    end = head.find(b"-----", len(b"-----BEGIN "))
    return head[len(b"-----BEGIN "):end] if end > 0 else None


def _decode_line(line: bytes) -> bytes:
    """Strict base64 of one armor line: alphabet, padding only at the end, canonical."""
    if len(line) % 4 or line.rstrip(b"=").translate(None, _B64_CHARS) or line.count(b"=") > 2:
        raise ArmorError("armor line is not valid base64")
    try:
        data = binascii.a2b_base64(line, strict_mode=True)
    except binascii.Error:
        raise ArmorError("armor line is not valid base64") from None
    if base64.b64encode(data) != line:
        raise ArmorError("armor line is not canonical base64")
    return data


class ArmorReader:
    """File-like reader that yields the binary file inside an armored one."""

    def __init__(self, src: Readable, label: bytes = LABEL) -> None:
        self._src = src if isinstance(src, Source) else Source(src)
        self._begin = b"-----BEGIN " + label + b"-----"
        self._end = b"-----END " + label + b"-----"
        self._out = bytearray()
        self._started = False
        self._final_seen = False  # a short data line was read; only END may follow
        self._done = False

    # ---- framing ----------------------------------------------------------------------

    def _line(self, what: str) -> tuple[bytes, bool]:
        """Next line without its LF or CRLF, and whether it had a line ending."""
        raw = self._src.readline(COLUMNS + 3)
        if raw.endswith(b"\n"):
            line = raw[:-1]
            return (line[:-1] if line.endswith(b"\r") else line), True
        if len(raw) > COLUMNS + 1:
            raise ArmorError(f"armor line longer than {COLUMNS} columns")
        if not raw:
            raise ArmorError(f"armor is truncated: missing {what}")
        return raw.removesuffix(b"\r"), False

    def _start(self) -> None:
        while True:  # leading whitespace is allowed
            head = self._src.peek(4096)
            stripped = head.lstrip(WHITESPACE)
            self._src.read(len(head) - len(stripped))
            if stripped or not head:
                break
        line, _ = self._line("BEGIN line")
        if line != self._begin:
            raise ArmorError(f"armor does not start with '{self._begin.decode()}'")
        self._started = True

    def _finish(self) -> None:
        """After END only whitespace may follow, up to the end of input."""
        while True:
            block = self._src.read(64 * 1024)
            if block.translate(None, WHITESPACE):
                raise ArmorError("unexpected data after the armor END line")
            if len(block) < 64 * 1024:
                break
        self._done = True

    # ---- decoding ---------------------------------------------------------------------

    def _fast_block(self) -> bool:
        """Decode a run of full LF-terminated lines at C speed; False if not applicable."""
        if self._final_seen:
            return False
        block = self._src.peek(_BLOCK_LINES * (COLUMNS + 1))
        n = len(block) // (COLUMNS + 1)
        if n < 2:
            return False
        n -= 1  # keep the last line for the careful path (it may be short, END, CRLF…)
        block = block[: n * (COLUMNS + 1)]
        if block[COLUMNS :: COLUMNS + 1] != b"\n" * n:
            return False
        text = block.replace(b"\n", b"")
        if len(text) != n * COLUMNS or text.translate(None, _B64_CHARS):
            return False
        self._src.read(len(block))
        self._out += binascii.a2b_base64(text)
        return True

    def _slow_line(self) -> None:
        line, _ = self._line("END line")
        if line == self._end:
            self._finish()
            return
        if self._final_seen:
            raise ArmorError("armor data continues after a short line (expected END line)")
        if not line:
            raise ArmorError("armor contains an empty line")
        if len(line) > COLUMNS:
            raise ArmorError(f"armor line longer than {COLUMNS} columns")
        data = _decode_line(line)
        if len(line) < COLUMNS or len(data) < BYTES_PER_LINE:
            self._final_seen = True
        self._out += data

    def _more(self) -> None:
        if not self._started:
            self._start()
        if not self._fast_block():
            self._slow_line()

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            while not self._done:
                self._more()
            out = bytes(self._out)
            self._out.clear()
            return out
        while len(self._out) < size and not self._done:
            self._more()
        out = bytes(self._out[:size])
        del self._out[:size]
        return out


class ArmorWriter:
    """File-like writer producing age's armor around what is written; ``close()`` writes the
    last line and the END line (it does not close ``dst``)."""

    def __init__(self, dst: Writable, label: bytes = LABEL) -> None:
        self._dst = dst
        self._buf = bytearray()
        self._end = b"-----END " + label + b"-----"
        self._dst.write(b"-----BEGIN " + label + b"-----\n")
        self._closed = False

    def _emit(self, data: bytes | bytearray | memoryview) -> None:
        encoded = base64.b64encode(data)
        lines = [encoded[i : i + COLUMNS] for i in range(0, len(encoded), COLUMNS)]
        self._dst.write(b"\n".join(lines) + b"\n")

    def write(self, data: bytes | bytearray | memoryview) -> int:
        if self._closed:
            raise ValueError("write to a closed armor writer")
        self._buf += data
        whole = len(self._buf) // BYTES_PER_LINE * BYTES_PER_LINE
        if whole >= 16 * 1024:
            with memoryview(self._buf) as view:
                self._emit(view[:whole])
            del self._buf[:whole]
        return len(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._buf:
            self._emit(self._buf)
        self._dst.write(self._end + b"\n")


def armor(data: bytes, label: bytes = LABEL) -> bytes:
    """Whole-buffer armoring."""
    import io

    out = io.BytesIO()
    writer = ArmorWriter(out, label)
    writer.write(data)
    writer.close()
    return out.getvalue()


def dearmor(data: bytes, label: bytes = LABEL) -> bytes:
    """Whole-buffer strict dearmoring; raises ArmorError."""
    import io

    return ArmorReader(io.BytesIO(data), label).read()

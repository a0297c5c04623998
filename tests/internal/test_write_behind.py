"""WriteBehind: order kept, memory bounded, write errors reach the producer, abort drops."""

from __future__ import annotations

import errno
import io
import os
import threading
import time
from pathlib import Path

import pytest

from pqml._internal.write_behind import WriteBehind
from pqml.encryption.encrypt import decrypt_file, encrypt_file
from pqml.keys.key_files import generate


class Recorder:
    """A sink that records writes; ``gate`` (if set) blocks every write until released."""

    def __init__(self, gate: threading.Event | None = None, fail_at: int | None = None
                 ) -> None:
        self.parts: list[bytes] = []
        self.gate = gate
        self.fail_at = fail_at
        self.threads: set[str] = set()

    def write(self, data: memoryview) -> int:
        self.threads.add(threading.current_thread().name)
        if self.gate is not None:
            self.gate.wait(timeout=30)
        if self.fail_at is not None and len(self.parts) == self.fail_at:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.parts.append(bytes(data))
        return len(data)


def test_submits_and_small_writes_keep_their_order() -> None:
    sink = Recorder()
    with WriteBehind(sink, buffer_size=8) as wb:
        wb.write(b"head")
        buf = wb.buffer(5)
        buf[:5] = b"BLOCK"
        wb.submit(memoryview(buf)[:5])
        wb.write(b"0123456789abc")  # spans buffers
        buf = wb.buffer(3)
        buf[:3] = b"end"
        wb.submit(memoryview(buf)[:3])
        wb.write(b"!")
    assert b"".join(sink.parts) == b"headBLOCK0123456789abcend!"
    assert sink.threads == {"pqml-write-behind"}


def test_memory_is_bounded_by_depth_while_writes_are_slow() -> None:
    gate = threading.Event()
    sink = Recorder(gate)
    wb = WriteBehind(sink, buffer_size=16, depth=2)
    taken: list[int] = []

    def producer() -> None:
        for i in range(5):
            buf = wb.buffer(16)
            taken.append(i)
            wb.submit(memoryview(buf)[:1])

    t = threading.Thread(target=producer)
    t.start()
    deadline = time.monotonic() + 30
    while len(taken) < 2 and time.monotonic() < deadline:
        t.join(timeout=0.01)
    t.join(timeout=0.2)  # slowness can only keep it blocked, never make this pass wrongly
    assert t.is_alive() and taken == [0, 1]  # two buffers out, the third waits
    gate.set()
    t.join(timeout=30)
    wb.close()
    assert taken == [0, 1, 2, 3, 4] and len(sink.parts) == 5
    assert wb._made <= 2  # the bound is the point


def test_a_write_error_reaches_the_producer_and_close() -> None:
    sink = Recorder(fail_at=1)
    wb = WriteBehind(sink, buffer_size=4, depth=2)
    with pytest.raises(OSError) as info:
        for _ in range(1000):  # the producer sees the error within a few buffers
            buf = wb.buffer(4)
            wb.submit(memoryview(buf)[:4])
    assert info.value.errno == errno.ENOSPC
    with pytest.raises(OSError) as again:
        wb.close()
    assert again.value is info.value
    assert len(sink.parts) == 1


def test_abort_drops_queued_data_and_stops() -> None:
    gate = threading.Event()
    sink = Recorder(gate)
    wb = WriteBehind(sink, buffer_size=4, depth=3)
    for _ in range(3):
        buf = wb.buffer(4)
        wb.submit(memoryview(buf)[:4])
    gate.set()
    wb.abort()
    assert len(sink.parts) <= 1  # at most the write already in progress
    assert not wb._thread.is_alive()


def test_exception_in_the_block_aborts() -> None:
    sink = Recorder()
    with pytest.raises(KeyError), WriteBehind(sink, buffer_size=4) as wb:
        wb.write(b"ab")
        raise KeyError("producer failed")
    assert sink.parts == []


def test_encrypt_disk_full_in_the_writer_thread_leaves_nothing(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """The real path: AtomicOutput.write fails on the writer thread (ENOSPC after 2
    writes); encryption and decryption report it and leave no output."""
    from pqml._internal import output_file
    from pqml.errors import OutputPathError

    key = generate("X-Wing")
    src = tmp_path / "model.bin"
    src.write_bytes(os.urandom(9 * 1024 * 1024 + 5))
    real_write = output_file.AtomicOutput.write
    calls = {"n": 0}

    def failing(self: output_file.AtomicOutput, data: object) -> int:
        calls["n"] += 1
        if calls["n"] > 2:
            assert threading.current_thread().name == "pqml-write-behind"
            raise OutputPathError(f"{self.target}: cannot write: No space left on device")
        return real_write(self, data)

    monkeypatch.setattr(output_file.AtomicOutput, "write", failing)
    with pytest.raises(OutputPathError, match="No space left"):
        encrypt_file(src, tmp_path / "model.pqml", [key.public_key()])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin"]
    monkeypatch.setattr(output_file.AtomicOutput, "write", real_write)
    encrypt_file(src, tmp_path / "model.pqml", [key.public_key()])
    calls["n"] = 0
    monkeypatch.setattr(output_file.AtomicOutput, "write", failing)
    with pytest.raises(OutputPathError, match="No space left"):
        decrypt_file(tmp_path / "model.pqml", tmp_path / "out.bin", [key])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.bin", "model.pqml"]


@pytest.mark.parametrize("fmt", ["pqml", "age"])
@pytest.mark.parametrize("size", [0, 1, 65536, 4 * 1024 * 1024 - 1, 4 * 1024 * 1024,
                                  12 * 1024 * 1024 + 17])
def test_round_trip_sizes_through_the_writer_thread(tmp_path: Path, fmt: str,
                                                    size: int) -> None:
    key = generate("X-Wing")
    data = os.urandom(size)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    enc = tmp_path / "in.enc"
    encrypt_file(src, enc, [key.public_key()], format=fmt)  # type: ignore[arg-type]
    decrypt_file(enc, tmp_path / "out.bin", [key])
    assert (tmp_path / "out.bin").read_bytes() == data


def test_stream_sink_without_buffers_still_works() -> None:
    """Formats accept plain file objects too (no buffer/submit): the reused-buffer path."""
    from pqml.formats import pqml_v1

    key = generate("X-Wing")
    data = os.urandom(5 * 1024 * 1024 + 3)
    out = io.BytesIO()
    pqml_v1.encrypt([key.public_key()], io.BytesIO(data), out)
    back = io.BytesIO()
    pqml_v1.decrypt([key], io.BytesIO(out.getvalue()), back)
    assert back.getvalue() == data


@pytest.mark.parametrize("position", [0, 1, 4095, 4096, 262143, 262144, 262145, 10**9])
@pytest.mark.parametrize("size", [0, 1, 262144, 262145, 4 * 1024 * 1024 + 17])
def test_pieces_cover_the_write_and_never_end_on_a_page_boundary(position: int,
                                                                 size: int) -> None:
    from pqml._internal.write_behind import WRITE_PIECE, pieces

    parts = pieces(position, size)
    if not size:
        assert parts == []
        return
    assert [s for s, _ in parts] == [0] + [e for _, e in parts[:-1]]  # contiguous
    assert parts[-1][1] == size
    assert all(0 < e - s <= WRITE_PIECE for s, e in parts)
    assert all((position + e) % 4096 == 1 for _, e in parts[:-1])  # inner ends: 1 past


def test_the_writer_thread_writes_in_those_pieces() -> None:
    from pqml._internal.write_behind import WRITE_PIECE, pieces

    sink = Recorder()
    data = os.urandom(2 * WRITE_PIECE + 100)
    with WriteBehind(sink, buffer_size=len(data)) as wb:
        wb.write(b"h")
        buf = wb.buffer(len(data))
        buf[:len(data)] = data
        wb.submit(memoryview(buf)[:len(data)])
    assert b"".join(sink.parts) == b"h" + data
    sizes = [len(p) for p in sink.parts]
    assert sizes == [1] + [e - s for s, e in pieces(1, len(data))]

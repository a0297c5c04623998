"""A write-behind sink may release each block the moment it is handed over (its writer
thread does, once written); the payload decryptors must not touch a block after that."""

from __future__ import annotations

import io
import os

from pqml.formats.age import stream
from pqml.formats.age._io import Source
from pqml.formats.pqml_v1 import file as pqml_file


class ReleasingSink:
    """Lends buffers like pqml._internal.write_behind and releases each view on submit,
    the worst timing its thread can produce."""

    def __init__(self) -> None:
        self.data = bytearray()

    def buffer(self, size: int) -> bytearray:
        return bytearray(size)

    def submit(self, view: memoryview) -> None:
        self.data += view
        view.release()


def test_pqml_v1_decrypt_counts_before_handing_over() -> None:
    key, plain = os.urandom(32), os.urandom(3 * 65536 + 17)
    sealed = io.BytesIO()
    pqml_file.encrypt_payload(key, io.BytesIO(plain), sealed)
    sink = ReleasingSink()
    assert pqml_file.decrypt_payload(key, io.BytesIO(sealed.getvalue()), sink,
                                     block_size=65536) == len(plain)
    assert bytes(sink.data) == plain


def test_age_decrypt_counts_before_handing_over() -> None:
    key, nonce, plain = os.urandom(16), os.urandom(16), os.urandom(5 * 65536 + 3)
    sealed = io.BytesIO()
    stream.encrypt_payload(key, io.BytesIO(plain), sealed, nonce)
    chunks = sealed.getvalue()[len(nonce):]  # the nonce is written first
    sink = ReleasingSink()
    n = stream.decrypt_payload(key, nonce, Source(io.BytesIO(chunks)), sink)
    assert n == len(plain) and bytes(sink.data) == plain

"""Property: every mutation of an encrypted file is rejected — bit flips anywhere, truncations,
extensions, chunk swaps and duplications, header edits — by the streaming decryptor, the
multi-process decryptor and random access (``pqml.open``), for pqml/v1 and binary age.

(Armored age is left to the age tests: its spec allows trailing whitespace, so some byte
changes there are legitimately accepted.)
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pqml
from pqml.encryption import encrypt as feature
from pqml.errors import PqmlError
from pqml.formats import pqml_v1
from pqml.formats.age.header import Header, parse_header
from pqml.primitives import registry

A = registry.scheme("X-Wing").generate()
B = registry.scheme("ML-KEM-768").generate()
LAYOUT = {  # format: (version line, chunk size, offset of chunk 0 after the header)
    "pqml": (pqml_v1.VERSION, 16384, 56),
    "age": (b"age-encryption.org/v1", 65536, 16),
}
SIZES = {"pqml": 3 * 16384 + 100, "age": 2 * 65536 + 100}


def _make(fmt: str) -> tuple[bytes, bytes]:
    data = os.urandom(SIZES[fmt])
    out = io.BytesIO()
    recipients = [A.public_key(), B.public_key()] if fmt == "pqml" else [A.public_key()]
    feature.encrypt_to(io.BytesIO(data), out, recipients, format=fmt)  # type: ignore[arg-type]
    return out.getvalue(), data


FILES = {fmt: _make(fmt) for fmt in LAYOUT}
WORKDIR = Path(tempfile.mkdtemp(prefix="pqml-mutations-"))


def rejected_everywhere(fmt: str, blob: bytes) -> None:
    original, _ = FILES[fmt]
    assert blob != original
    with pytest.raises(PqmlError):
        feature.decrypt_to(io.BytesIO(blob), io.BytesIO(), [A])
    path = WORKDIR / f"m.{fmt}"
    path.write_bytes(blob)
    out = WORKDIR / "out"
    for jobs in (1, 2):
        with pytest.raises(PqmlError):
            feature.decrypt_file(path, out, [A], jobs=jobs)
        assert not out.exists()
    with pytest.raises(PqmlError), pqml.open(path, [A]) as f:
        f.read()


def split(fmt: str) -> tuple[Header, int, bytes]:
    blob, _ = FILES[fmt]
    header, payload = parse_header(blob, LAYOUT[fmt][0])
    return header, len(blob) - len(payload), blob


SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("fmt", list(LAYOUT))
def test_unmodified_files_decrypt(fmt: str) -> None:
    blob, data = FILES[fmt]
    out = io.BytesIO()
    feature.decrypt_to(io.BytesIO(blob), out, [A])
    assert out.getvalue() == data


@pytest.mark.parametrize("fmt", list(LAYOUT))
@SETTINGS
@given(data=st.data())
def test_bit_flips_anywhere(fmt: str, data: st.DataObject) -> None:
    blob, _ = FILES[fmt]
    # half of the flips land in the header, where the grammar and MAC live
    header_len = split(fmt)[1]
    pos = data.draw(st.one_of(st.integers(0, header_len - 1), st.integers(0, len(blob) - 1)))
    bit = data.draw(st.integers(0, 7))
    mutated = bytearray(blob)
    mutated[pos] ^= 1 << bit
    rejected_everywhere(fmt, bytes(mutated))


@pytest.mark.parametrize("fmt", list(LAYOUT))
@SETTINGS
@given(data=st.data())
def test_truncations_and_extensions(fmt: str, data: st.DataObject) -> None:
    blob, _ = FILES[fmt]
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(blob) - 1))
        rejected_everywhere(fmt, blob[:cut])
    else:
        extra = data.draw(st.binary(min_size=1, max_size=70000))
        rejected_everywhere(fmt, blob + extra)


@pytest.mark.parametrize("fmt", list(LAYOUT))
@SETTINGS
@given(data=st.data())
def test_chunk_swaps_and_duplicates(fmt: str, data: st.DataObject) -> None:
    _, offset, blob = split(fmt)
    _, chunk, prefix = LAYOUT[fmt]
    wire = chunk + 16
    start = offset + prefix
    chunks = [blob[start + i * wire:start + (i + 1) * wire]
              for i in range(-(-(len(blob) - start) // wire))]
    i = data.draw(st.integers(0, len(chunks) - 1))
    j = data.draw(st.integers(0, len(chunks) - 1).filter(lambda j: chunks[j] != chunks[i]))
    new = list(chunks)
    if data.draw(st.booleans()):
        new[i], new[j] = chunks[j], chunks[i]  # swap
    else:
        new[j] = chunks[i]  # duplicate one chunk over another
    rejected_everywhere(fmt, blob[:start] + b"".join(new))


def _header_edits(fmt: str) -> list[bytes]:
    header, offset, blob = split(fmt)
    payload = blob[offset:]
    stanzas = list(header.stanzas)
    edits = []

    def with_stanzas(new: list, mac: bytes = header.mac) -> bytes:  # type: ignore[type-arg]
        return Header(tuple(new), mac, header.version).marshal() + payload

    if len(stanzas) > 1:
        edits.append(with_stanzas(stanzas[:1]))  # drop a stanza
        edits.append(with_stanzas(stanzas[::-1]))  # reorder
    edits.append(with_stanzas([*stanzas, stanzas[0]]))  # duplicate
    edits.append(with_stanzas(stanzas, bytes(32)))  # zero MAC
    other_blob, _ = _make(fmt)  # a stanza from another file, keeping this MAC
    other, _ = parse_header(other_blob, LAYOUT[fmt][0])
    edits.append(with_stanzas([other.stanzas[0], *stanzas[1:]]))
    edits.append(other_blob[: len(other_blob) - len(parse_header(other_blob, LAYOUT[fmt][0])
                                                   [1])] + payload)  # whole other header
    edits.append(blob.replace(header.version, header.version[:-1] + b"2", 1))  # version
    edits.append(blob.replace(b"\n", b"\r\n", 2))  # CRLF
    edits.append(blob.replace(b"-> ", b"->  ", 1))  # empty argument
    return edits


@pytest.mark.parametrize("fmt", list(LAYOUT))
def test_header_edits(fmt: str) -> None:
    for mutated in _header_edits(fmt):
        rejected_everywhere(fmt, mutated)

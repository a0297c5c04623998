"""``pqml.open``: seekable read-only access to pqml/v1 and age files that decrypts only the
chunks a read touches, after checking header, commitment and final chunk at open."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pqml
from pqml.encryption import encrypt as feature
from pqml.encryption.random_access import EncryptedFileRaw
from pqml.errors import PqmlError
from pqml.formats.age.errors import NoIdentityMatchError, PayloadError
from pqml.primitives import registry

KEY = registry.scheme("X-Wing").generate()
OTHER = registry.scheme("X-Wing").generate()
SIZE = 5 * 65536 + 1234  # several age chunks, many pqml chunks
DATA = os.urandom(SIZE)
CHUNK = {"pqml": 16384, "age": 65536}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("ra")
    (d / "plain").write_bytes(DATA)
    out = {}
    for fmt in ("pqml", "age"):
        out[fmt] = d / f"f.{fmt}"
        feature.encrypt_file(d / "plain", out[fmt], [KEY.public_key()], format=fmt, jobs=1)
    return out


@pytest.mark.parametrize("fmt", ["pqml", "age"])
def test_file_object_api(files: dict[str, Path], fmt: str) -> None:
    with pqml.open(files[fmt], [KEY]) as f:
        assert isinstance(f, io.BufferedReader) and f.readable() and f.seekable()
        assert not f.writable() and f.raw.size == SIZE and f.name == str(files[fmt])
        assert f.read(10) == DATA[:10] and f.tell() == 10
        assert f.seek(-5, io.SEEK_END) == SIZE - 5 and f.read() == DATA[-5:]
        assert f.read(3) == b""  # at EOF
        f.seek(100)
        assert f.seek(50, io.SEEK_CUR) == 150 and f.read(7) == DATA[150:157]
        f.seek(SIZE + 100)
        assert f.read(1) == b""
        buf = bytearray(1000)
        f.seek(65530)
        assert f.readinto(buf) == 1000 and bytes(buf) == DATA[65530:66530]
        f.seek(0)
        assert f.read() == DATA
        with pytest.raises(ValueError):
            f.seek(-1)
    with pytest.raises(ValueError):
        f.read(1)


@pytest.mark.parametrize("fmt", ["pqml", "age"])
@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reads=st.lists(st.tuples(st.integers(0, SIZE + 10), st.integers(0, 3 * 65536)),
                      min_size=1, max_size=6))
def test_random_reads_match(files: dict[str, Path], fmt: str,
                            reads: list[tuple[int, int]]) -> None:
    with pqml.open(files[fmt], [KEY]) as f:
        for offset, size in reads:
            f.seek(offset)
            assert f.read(size) == DATA[offset:offset + size]


@pytest.mark.parametrize("fmt", ["pqml", "age"])
def test_only_the_touched_chunks_are_decrypted(files: dict[str, Path], fmt: str) -> None:
    raw = EncryptedFileRaw(files[fmt], [KEY])
    opened: list[int] = []
    inner = raw._layout.open_chunk
    raw._layout.open_chunk = lambda i, d, final: opened.append(i) or inner(i, d, final)  # type: ignore[method-assign]
    cs = CHUNK[fmt]
    raw.seek(2 * cs + 10)
    assert raw.read(cs) == DATA[2 * cs + 10:3 * cs + 10]
    assert opened == [2, 3]
    raw.seek(3 * cs)
    raw.read(5)  # cached: no new decryption
    assert opened == [2, 3]
    raw.seek(SIZE - 3)
    raw.read(3)  # the final chunk was decrypted (and cached) at open
    assert opened == [2, 3]
    raw.close()


@pytest.mark.parametrize("fmt", ["pqml", "age"])
def test_checks_at_open(files: dict[str, Path], fmt: str, tmp_path: Path) -> None:
    with pytest.raises(NoIdentityMatchError, match=f"^{files[fmt]}: no identity matched"):
        pqml.open(files[fmt], [OTHER])
    cut = tmp_path / "cut"
    cut.write_bytes(files[fmt].read_bytes()[:-1])
    with pytest.raises(PayloadError, match=f"^{cut}: "):
        pqml.open(cut, [KEY])  # truncation is caught by the final-chunk check at open


@pytest.mark.parametrize("fmt", ["pqml", "age"])
def test_tampered_chunk_fails_on_the_read_that_touches_it(files: dict[str, Path], fmt: str,
                                                          tmp_path: Path) -> None:
    blob = bytearray(files[fmt].read_bytes())
    wire = CHUNK[fmt] + 16
    # flip a byte in chunk 1 (counting back from the end keeps this format-independent)
    count = -(-SIZE // CHUNK[fmt]) + (1 if fmt == "pqml" and SIZE % CHUNK[fmt] == 0 else 0)
    last = len(blob) - (SIZE - (count - 1) * CHUNK[fmt] + 16)
    chunk1 = last - (count - 2) * wire
    blob[chunk1 + 5] ^= 1
    bad = tmp_path / "bad"
    bad.write_bytes(bytes(blob))
    with pqml.open(bad, [KEY]) as f:
        assert f.read(100) == DATA[:100]  # chunk 0 is fine
        f.seek(CHUNK[fmt] + 3)
        with pytest.raises(PayloadError, match=f"^{bad}: payload chunk 1 failed authentication"):
            f.read(10)


def test_armored_age_is_refused(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(b"abc")
    feature.encrypt_file(tmp_path / "p", tmp_path / "a", [KEY.public_key()], format="age",
                         armor=True)
    with pytest.raises(PqmlError, match="armored files cannot be opened for random access"):
        pqml.open(tmp_path / "a", [KEY])


def test_identity_forms(files: dict[str, Path], tmp_path: Path) -> None:
    from pqml.formats import age_keys
    from pqml.formats.keyfile import private_key_to_pem

    (tmp_path / "k.pem").write_bytes(private_key_to_pem(KEY))
    for ident in (KEY, str(tmp_path / "k.pem"), tmp_path / "k.pem",
                  age_keys.encode_identity(KEY)):
        with pqml.open(files["pqml"], ident) as f:
            assert f.read(4) == DATA[:4]


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e").write_bytes(b"")
    for fmt in ("pqml", "age"):
        feature.encrypt_file(tmp_path / "e", tmp_path / f"e.{fmt}", [KEY.public_key()],
                             format=fmt)
        with pqml.open(tmp_path / f"e.{fmt}", [KEY]) as f:
            assert f.raw.size == 0 and f.read() == b""


@pytest.mark.parametrize("size", [16384, 65536, 2 * 65536])
def test_sizes_on_chunk_boundaries(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    (tmp_path / "p").write_bytes(data)
    for fmt in ("pqml", "age"):
        feature.encrypt_file(tmp_path / "p", tmp_path / f"p.{fmt}", [KEY.public_key()],
                             format=fmt)
        with pqml.open(tmp_path / f"p.{fmt}", [KEY]) as f:
            assert f.raw.size == size
            f.seek(size - 10)
            assert f.read() == data[-10:]
            f.seek(0)
            assert f.read() == data

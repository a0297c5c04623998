"""The pqml/v1 header area (docs/FORMAT.md "Header area"): layout, automatic size, every
reader (streaming, ``pqml.open``, multi-process, ``pqml inspect``), in-place rekey and
its fallbacks, the lock, and the rejections. Crash states: test_header_area_crash.py."""

from __future__ import annotations

import fcntl
import io
import os
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pqml
from pqml.encryption import encrypt as feature
from pqml.encryption import rekey as rekey_module
from pqml.encryption.encryption_keys import Passphrase
from pqml.encryption.inspect import inspect
from pqml.encryption.rekey import rekey
from pqml.errors import PqmlError, RekeyError
from pqml.formats import pqml_v1
from pqml.formats.age._io import Source
from pqml.formats.age.errors import HeaderError, NoIdentityMatchError
from pqml.formats.age.header import Header, Stanza, make_header, parse_header
from pqml.formats.pqml_v1 import header_area
from pqml.primitives import registry

from conftest import DATA as TEST_DATA

A = registry.scheme("X-Wing").generate()
B = registry.scheme("X-Wing").generate()
C = registry.scheme("ML-KEM-768").generate()
S = 16384
DATA = os.urandom(3 * 16384 + 77)


def enc(recipients: list[Any], data: bytes = DATA, area: int | None = S) -> bytes:
    return pqml_v1.encrypt_bytes(recipients, data, header_area=area)


def write(tmp_path: Path, blob: bytes, name: str = "f.pqml") -> Path:
    path = tmp_path / name
    path.write_bytes(blob)
    return path


def decrypts_everywhere(path: Path, identity: Any, data: bytes = DATA) -> None:
    """Streaming (a pipe-like source), pqml.open and the multi-process path agree."""
    out = io.BytesIO()
    feature.decrypt_to(Trickle(path.read_bytes()), out, [identity])
    assert out.getvalue() == data
    with pqml.open(path, [identity]) as f:
        assert f.read() == data
    feature.decrypt_file(path, path.with_suffix(".out"), [identity], jobs=2)
    assert path.with_suffix(".out").read_bytes() == data
    path.with_suffix(".out").unlink()


class Trickle(io.RawIOBase):
    """A stream giving at most 1000 bytes per read, as a pipe may (stdin)."""

    def __init__(self, data: bytes) -> None:
        self._data, self._pos = data, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = min(1000, len(self._data) - self._pos, len(buffer))
        buffer[:n] = self._data[self._pos:self._pos + n]
        self._pos += n
        return n


# ---- layout and encryption --------------------------------------------------------------------


def test_layout_byte_by_byte() -> None:
    blob = enc([A.public_key(), C.public_key()])
    assert blob.startswith(b"pqml/v1\n-> header-area 16384\n\n-> xwing ")
    assert blob[:S] == blob[S:2 * S]  # both slots written identical
    header, filler = parse_header(blob[:S], pqml_v1.VERSION)
    assert header.stanzas[0] == Stanza("header-area", ("16384",), b"")
    assert filler == bytes(len(filler)) and len(filler) == S - len(header.marshal())
    payload = blob[2 * S:]
    from pqml.primitives import chunked

    assert len(payload) == chunked.ciphertext_size(len(DATA))
    # the area stanza is MAC-covered: the header MAC is over it like over any stanza
    file_key = pqml_v1.unwrap_file_key(header, [A])
    assert make_header(file_key, header.stanzas, pqml_v1.VERSION) == header


def test_roundtrip_with_and_without_area(tmp_path: Path) -> None:
    for area in (S, 0, None):
        blob = enc([A.public_key()], area=area)
        assert (b"-> header-area" in blob[:64]) is (area == S)
        assert pqml_v1.decrypt_bytes([A], blob) == DATA
        decrypts_everywhere(write(tmp_path, blob), A)


def test_passphrase_alone_rule_ignores_the_area_stanza(tmp_path: Path) -> None:
    blob = pqml_v1.encrypt_bytes([pqml_v1.Argon2idRecipient(b"pw", pqml_v1.Argon2Params(
        1, 64, 1))], DATA, header_area=S)
    assert pqml_v1.decrypt_bytes([pqml_v1.Argon2idIdentity(b"pw")], blob) == DATA
    f = write(tmp_path, blob)
    assert [s["type"] for s in inspect(f)["stanzas"]] == ["argon2id"]
    result = rekey(f, [Passphrase(b"pw")], add=[A.public_key()], reset=True)
    assert result.in_place and (result.stanzas_before, result.stanzas_after) == (1, 1)
    decrypts_everywhere(f, A)


def test_automatic_size_at_the_64_mib_boundary() -> None:
    assert header_area.reserve(None, None) is None  # a stream of unknown size
    assert header_area.reserve(None, 64 * 1024 * 1024 - 1) is None
    assert header_area.reserve(None, 64 * 1024 * 1024) == 65536
    assert header_area.reserve(0, 10**12) is None  # asked for none
    assert header_area.reserve(S, 0) == S  # asked for one


@pytest.mark.parametrize("size,expect_area", [(64 * 1024 * 1024 - 1, False),
                                              (64 * 1024 * 1024, True)])
def test_encrypt_file_reserves_an_area_from_64_mib(tmp_path: Path, size: int,
                                                   expect_area: bool) -> None:
    src = tmp_path / "big"
    with open(src, "wb") as f:  # sparse: fast to make, the ciphertext is real
        f.truncate(size)
    out = tmp_path / "big.pqml"
    feature.encrypt_file(src, out, [A.public_key()], jobs=1)
    with open(out, "rb") as f:
        head = f.read(65536 * 2)
    assert head.startswith(b"pqml/v1\n-> header-area 65536\n\n") is expect_area
    if expect_area:
        assert head[:65536] == head[65536:]
        info = inspect(out)
        assert info["header_area"] == {"slot_size": 65536, "size": 131072, "slot": 0,
                                       "slots_identical": True}
        assert info["plaintext_size"] == size


def test_parallel_and_stream_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(header_area, "AUTO_MIN_PLAINTEXT", 1000)
    src = write(tmp_path, DATA, "plain")
    feature.encrypt_file(src, tmp_path / "j2.pqml", [A.public_key()], jobs=2)
    feature.encrypt_file(src, tmp_path / "j1.pqml", [A.public_key()], jobs=1)
    for name in ("j1.pqml", "j2.pqml"):
        assert (tmp_path / name).read_bytes().startswith(b"pqml/v1\n-> header-area 65536\n")
        decrypts_everywhere(tmp_path / name, A)
    # a stream of unknown size (stdin) gets no area, whatever its length
    with open(src, "rb") as f:
        feature.encrypt_to_path(Trickle(f.read()), tmp_path / "s.pqml", [A.public_key()])
    assert b"header-area" not in (tmp_path / "s.pqml").read_bytes()[:64]


def test_area_grows_to_fit_the_first_header() -> None:
    many = [registry.scheme("MLKEM1024-P384").generate().public_key() for _ in range(8)]
    blob = enc(many, b"x", area=S)
    header, _ = parse_header(blob, pqml_v1.VERSION)
    n = len(header.marshal())
    assert n > S  # it did not fit 16 KiB
    size = int(header.stanzas[0].args[0])
    assert size % 4096 == 0 and 2 * n <= size < 2 * n + 4096
    assert blob[:size] == blob[size:2 * size]


def test_header_area_argument_and_limits() -> None:
    for bad in (S + 1, 8192, 2 * 1024 * 1024, -4096):
        with pytest.raises(ValueError, match="multiple of 4096 between 16384 and 1048576"):
            enc([A.public_key()], area=bad)
    huge = [Stanza("future", ("x",), bytes(600_000)) for _ in range(2)]
    with pytest.raises(ValueError, match="does not fit the largest header area"):
        header_area.fit(bytes(32), huge, S)
    # automatic: a header too large for any area is written without one
    header = header_area.build(bytes(32), huge, None, 10**10)
    assert header_area.area_size(header) is None
    with pytest.raises(ValueError, match="does not fit the largest"):
        header_area.build(bytes(32), huge, S, None)


# ---- readers ----------------------------------------------------------------------------------


def test_readers_use_slot_1_when_slot_0_does_not_open(tmp_path: Path) -> None:
    blob = bytearray(enc([A.public_key()]))
    # one character of a full 64-column line of slot 0's recipient stanza body, changed to
    # another base64 character: still canonical, so slot 0 parses, but its MAC fails (a
    # bit flip could make the line invalid base64, and slot 0 would not parse at all)
    body = blob.index(b"\n", blob.index(b"\n-> ", blob.index(b"header-area")) + 1) + 1
    assert blob[body + 64:body + 65] == b"\n"  # a full line
    blob[body + 10] = ord("A") if blob[body + 10] != ord("A") else ord("B")
    path = write(tmp_path, bytes(blob))
    decrypts_everywhere(path, A)
    located = pqml_v1.open_header(Source(io.BytesIO(bytes(blob))), [A])
    assert (located.slot, located.payload_offset, located.area_size) == (1, 2 * S, S)
    info = inspect(path)  # slot 0 still parses (a body bit flip): shown, but not identical
    assert info["header_area"]["slot"] == 0 and not info["header_area"]["slots_identical"]
    blob[S - 1] = 7  # now slot 0's filler is not zero: it no longer parses
    path = write(tmp_path, bytes(blob))
    assert inspect(path)["header_area"]["slot"] == 1
    decrypts_everywhere(path, A)


def test_neither_slot_opens_reports_slot_0s_error(tmp_path: Path) -> None:
    blob = bytearray(enc([A.public_key()]))
    blob[S - 1] = 1
    blob[2 * S - 1] = 1
    with pytest.raises(HeaderError, match=r"^header area slot 0: filler after the header is "
                                          r"not all zero bytes$"):
        pqml_v1.decrypt_bytes([A], bytes(blob))
    path = write(tmp_path, bytes(blob))
    with pytest.raises(HeaderError, match="slot 0: filler"):
        pqml.open(path, [A])
    with pytest.raises(HeaderError, match="slot 0: filler"):
        feature.decrypt_file(path, tmp_path / "o", [A], jobs=2)
    with pytest.raises(HeaderError, match="slot 0: filler"):
        inspect(path)
    # a key for neither slot: "no match", after both were tried
    with pytest.raises(NoIdentityMatchError):
        pqml_v1.decrypt_bytes([B], enc([A.public_key()]))


def slot_with(header: Header, size: int = S) -> bytes:
    data = header.marshal()
    return data + bytes(size - len(data))


@pytest.mark.parametrize("edit,message", [
    (lambda b: b.replace(b"header-area 16384\n", b"header-area 16385\n"), "not a multiple"),
    (lambda b: b.replace(b"header-area 16384\n", b"header-area  8192\n"), "malformed"),
    (lambda b: b.replace(b"-> header-area 16384\n\n", b"-> header-area 8192\n\n\n"),
     "8192 is not a multiple of 4096 between"),
    (lambda b: b.replace(b"header-area 16384\n", b"header-area 016384\n"), "malformed"),
    (lambda b: b.replace(b"-> header-area 16384\n\n", b"-> header-area 16384\nAA\n"),
     "malformed"),
    (lambda b: b.replace(b"-> header-area 16384\n\n", b"-> header-area 1048577\n"),
     "malformed|not a multiple"),
    (lambda b: b[:2 * S - 1], "file is truncated: it ends inside its 32768-byte header area"),
    (lambda b: b[:S + 100], "ends inside its 32768-byte header area"),
])
def test_rejections_of_the_declared_area(edit: Any, message: str) -> None:
    blob = enc([A.public_key()])
    with pytest.raises(HeaderError, match=message):
        pqml_v1.decrypt_bytes([A], edit(blob))


def test_slots_must_declare_the_same_size() -> None:
    blob = enc([A.public_key()])
    header, _ = parse_header(blob[:S], pqml_v1.VERSION)
    file_key = pqml_v1.unwrap_file_key(header, [A])
    other = header_area.fit(file_key, header.stanzas[1:], 20480)  # valid, but S = 20480
    torn = b"pqml/v1\n-> header-area 16384\n\n-> xw" + bytes(S - 35)
    with pytest.raises(HeaderError, match=r"^header area slot 0: "):
        pqml_v1.decrypt_bytes([A], torn + slot_with(other) + blob[2 * S:])
    with pytest.raises(HeaderError, match="slot 1: does not declare the file's header area "
                                          r"size \(16384\)"):
        header_area.parse_slot(slot_with(other), S, 1)
    # and a header without an area stanza is no slot either
    plain = make_header(file_key, header.stanzas[1:], pqml_v1.VERSION)
    with pytest.raises(HeaderError, match="does not declare"):
        header_area.parse_slot(slot_with(plain), S, 0)


def test_header_area_stanza_must_be_first_and_is_no_recipient() -> None:
    blob = enc([A.public_key()], area=0)
    header, payload = parse_header(blob, pqml_v1.VERSION)
    file_key = pqml_v1.unwrap_file_key(header, [A])
    second = make_header(file_key, [*header.stanzas, header_area.area_stanza(S)],
                         pqml_v1.VERSION)
    with pytest.raises(HeaderError, match="header-area stanza must be the first stanza"):
        pqml_v1.decrypt_bytes([A], second.marshal() + payload)
    alone = make_header(file_key, [header_area.area_stanza(S)], pqml_v1.VERSION)
    with pytest.raises(HeaderError, match="no recipient stanzas"):
        pqml_v1.decrypt_bytes([A], slot_with(alone) * 2 + payload)
    with pytest.raises(ValueError, match="at least one recipient"):
        pqml_v1.rewrap(header, file_key, [header_area.area_stanza(S)])


def test_header_longer_than_its_area() -> None:
    many = [registry.scheme("MLKEM1024-P384").generate() for _ in range(8)]
    file_key = os.urandom(32)
    stanzas = [s for k in many for s in pqml_v1.recipient_for(k.public_key()).wrap(file_key)]
    big = make_header(file_key, [header_area.area_stanza(S), *stanzas], pqml_v1.VERSION)
    assert len(big.marshal()) > S
    with pytest.raises(ValueError, match="does not belong in a header area of 16384"):
        header_area.slot_bytes(big, S)
    blob = big.marshal() + bytes(2 * S)  # what a broken writer would leave
    with pytest.raises(HeaderError, match=r"^header area slot 0: file is truncated"):
        pqml_v1.decrypt_bytes([many[0]], blob)


def test_old_files_without_area_still_read(tmp_path: Path) -> None:
    data_dir = TEST_DATA / "pqml_v1"
    for name in ("xwing.pqml", "header-area.pqml"):
        blob = (data_dir / name).read_bytes()
        located = pqml_v1.open_header(Source(io.BytesIO(blob)))
        if name == "xwing.pqml":
            assert located.area_size is None and located.payload_offset == len(
                located.header.marshal())
        else:
            assert (located.area_size, located.slot, located.payload_offset) == (S, 0, 2 * S)


# ---- rekey in place ---------------------------------------------------------------------------


def identical_slots(path: Path, size: int = S) -> bool:
    blob = path.read_bytes()
    return blob[:size] == blob[size:2 * size]


def test_rekey_in_place(tmp_path: Path) -> None:
    path = write(tmp_path, enc([A.public_key(), C.public_key()]))
    os.chmod(path, 0o640)
    before = path.read_bytes()
    st = path.stat()
    result = rekey(path, [A], add=[B.public_key()], remove=[C.public_key()])
    after = path.read_bytes()
    assert result.in_place and result.header_area == S
    assert (result.stanzas_before, result.stanzas_after, result.removed) == (2, 2, 1)
    assert result.payload_size == len(before) - 2 * S
    assert after[2 * S:] == before[2 * S:]  # payload bytes identical
    assert after[:2 * S] != before[:2 * S] and identical_slots(path)
    st2 = path.stat()
    assert (st2.st_ino, st2.st_dev, st2.st_size) == (st.st_ino, st.st_dev, st.st_size)
    assert st2.st_mode & 0o777 == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.pqml"]  # no temporary file
    decrypts_everywhere(path, A)
    decrypts_everywhere(path, B)
    with pytest.raises(NoIdentityMatchError):
        pqml.open(path, [C])
    info = inspect(path)
    assert [s["type"] for s in info["stanzas"]] == ["xwing", "xwing"]
    # the kept stanza is byte for byte the same, after the area stanza
    old, _ = parse_header(before[:S], pqml_v1.VERSION)
    new, _ = parse_header(after[:S], pqml_v1.VERSION)
    assert new.stanzas[:2] == old.stanzas[:2]


def test_rekey_of_a_header_that_no_longer_fits_copies_with_a_larger_area(
        tmp_path: Path) -> None:
    path = write(tmp_path, enc([A.public_key()]))
    before = path.read_bytes()
    ino = path.stat().st_ino
    many = [registry.scheme("MLKEM1024-P384").generate() for _ in range(8)]
    result = rekey(path, [A], add=[k.public_key() for k in many])
    assert not result.in_place and result.header_area is not None
    size = result.header_area
    assert size > S and size % 4096 == 0 and size >= 2 * result.header_size_after
    after = path.read_bytes()
    assert after[2 * size:] == before[2 * S:] and identical_slots(path, size)
    assert path.stat().st_ino != ino  # renamed over
    decrypts_everywhere(path, many[-1])
    # the next rekey fits the larger area: in place again
    assert rekey(path, [A], remove=[many[0].public_key()]).in_place


def test_rekey_of_an_old_file_gives_it_an_area(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    small = write(tmp_path, enc([A.public_key()], area=0), "small.pqml")
    result = rekey(small, [A], add=[B.public_key()])  # below 64 MiB: stays as it was
    assert not result.in_place and result.header_area is None
    assert b"header-area" not in small.read_bytes()[:64]
    decrypts_everywhere(small, B)
    monkeypatch.setattr(header_area, "AUTO_MIN_PLAINTEXT", len(DATA))
    path = write(tmp_path, enc([A.public_key()], area=0))
    before = path.read_bytes()
    payload = before[len(parse_header(before, pqml_v1.VERSION)[0].marshal()):]
    result = rekey(path, [A], add=[B.public_key()])
    assert not result.in_place and result.header_area == 65536
    assert path.read_bytes()[2 * 65536:] == payload and identical_slots(path, 65536)
    decrypts_everywhere(path, B)
    assert rekey(path, [B], remove=[A.public_key()]).in_place


def test_rekey_of_a_file_it_may_not_write_copies(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, enc([A.public_key()]))
    real_open = os.open

    def read_only(file: Any, flags: int, *args: Any, **kw: Any) -> int:
        if str(file) == str(path) and flags & os.O_RDWR:
            raise PermissionError(13, "Permission denied")
        return real_open(file, flags, *args, **kw)

    monkeypatch.setattr(os, "open", read_only)
    result = rekey(path, [A], add=[B.public_key()])
    assert not result.in_place and result.header_area == S
    monkeypatch.undo()
    decrypts_everywhere(path, B)


def test_age_files_are_unchanged_by_the_area(tmp_path: Path) -> None:
    (tmp_path / "p").write_bytes(DATA)
    feature.encrypt_file(tmp_path / "p", tmp_path / "f.age", [A.public_key()], format="age")
    result = rekey(tmp_path / "f.age", [A], add=[B.public_key()])
    assert not result.in_place and result.header_area is None
    assert inspect(tmp_path / "f.age")["header_area"] is None


def test_a_second_concurrent_rekey_fails_at_once(tmp_path: Path) -> None:
    path = write(tmp_path, enc([A.public_key()]))
    before = path.read_bytes()
    with open(path, "rb") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RekeyError) as info:
            rekey(path, [A], add=[B.public_key()])
        message = str(info.value)
        assert "\n" not in message
        assert re.fullmatch(re.escape(f"{path}: {rekey_module.LOCKED}"), message)
    assert path.read_bytes() == before
    assert rekey(path, [A], add=[B.public_key()]).in_place  # the lock is gone


def test_cli_lock_error_is_one_line(tmp_path: Path) -> None:
    import subprocess
    import sys

    from pqml.formats.keyfile import private_key_to_pem, public_key_to_pem

    (tmp_path / "a.pem").write_bytes(private_key_to_pem(A))
    (tmp_path / "b.pem").write_bytes(public_key_to_pem(B.public_key()))
    path = write(tmp_path, enc([A.public_key()]))
    with open(path, "rb") as holder:
        fcntl.flock(holder.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        res = subprocess.run([sys.executable, "-m", "pqml.cli.main", "rekey", "-i",
                              str(tmp_path / "a.pem"), "--add", str(tmp_path / "b.pem"),
                              str(path)], capture_output=True, timeout=120)
    assert res.returncode != 0
    lines = [ln for ln in res.stderr.decode().splitlines() if ln.strip()]
    assert lines == [f"pqml: error: {path}: {rekey_module.LOCKED}"]


def test_safetensors_through_a_header_area(tmp_path: Path) -> None:
    np = pytest.importorskip("numpy")
    st = pytest.importorskip("safetensors.numpy")
    from pqml import safetensors as pst

    tensors = {"w": np.arange(40000, dtype=np.float32).reshape(200, 200)}
    path = write(tmp_path, enc([A.public_key()], bytes(st.save(tensors))),
                 "m.safetensors.pqml")
    assert rekey(path, [A], add=[B.public_key()]).in_place
    with pst.safe_open(path, [B]) as f:
        assert (f.get_tensor("w") == tensors["w"]).all()


MUTATED = enc([A.public_key(), C.public_key()])


@settings(max_examples=60, deadline=None)
@given(pos=st.one_of(st.integers(0, 2 * S - 1), st.integers(0, len(MUTATED) - 1)),
       bit=st.integers(0, 7))
def test_a_bit_flip_never_gives_other_plaintext(pos: int, bit: int) -> None:
    """Two slots are redundancy, not malleability: a flip in one slot is tolerated (the
    other slot opens), a flip in the payload or in the bytes that declare S is rejected,
    and no flip ever yields different plaintext."""
    prefix = len(b"pqml/v1\n-> header-area 16384\n\n")
    blob = bytearray(MUTATED)
    blob[pos] ^= 1 << bit
    try:
        got = pqml_v1.decrypt_bytes([A], bytes(blob))
    except PqmlError:
        assert pos < prefix or pos >= 2 * S
        return
    assert got == DATA and prefix <= pos < 2 * S

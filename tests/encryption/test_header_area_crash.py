"""Crash safety of the in-place rekey: every state a crash can leave decrypts with the old
or the new recipients, never neither, through every reader.

The writes are the ones ``rekey`` really makes (recorded), so a wrong order or a missing
repair step fails here. A crash in the middle of a write leaves its first k bytes over
the old ones (a torn slot); k runs over points inside the area stanza, a recipient
stanza line, a stanza body, the MAC line, the filler, and each end. For a state, an
identity must open the file exactly when a slot holding a complete header (old or new,
byte for byte) names it, and when none does the error must be slot 0's.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import pqml
from pqml.encryption import encrypt as feature
from pqml.encryption import rekey as rekey_module
from pqml.encryption.rekey import rekey
from pqml.errors import PqmlError, RekeyError
from pqml.formats import pqml_v1
from pqml.formats.age.errors import HeaderError, NoIdentityMatchError
from pqml.primitives import registry

S = 16384
KEYS = {name: registry.scheme(alg).generate() for name, alg in
        (("A", "X-Wing"), ("B", "X-Wing"), ("C", "ML-KEM-768"), ("D", "ML-KEM-1024"))}
DATA = bytes(i % 251 for i in range(40000))

Writes = list[tuple[int, bytes]]


def pub(name: str) -> Any:
    return KEYS[name].public_key()


def recorded(monkeypatch: pytest.MonkeyPatch, path: Path, identity: str,
             **kw: Any) -> Writes:
    """Run an in-place rekey; return its durable writes (offset, bytes) in order."""
    writes: Writes = []
    real = rekey_module._pwrite_durable

    def record(fd: int, data: bytes, offset: int) -> None:
        # durable on return: each write goes through an O_DSYNC descriptor
        assert fcntl.fcntl(fd, fcntl.F_GETFL) & os.O_DSYNC
        writes.append((offset, bytes(data)))
        real(fd, data, offset)

    with monkeypatch.context() as m:
        m.setattr(rekey_module, "_pwrite_durable", record)
        assert rekey(path, [KEYS[identity]], **kw).in_place
    return writes


def tear_points(new: bytes, old: bytes) -> list[int]:
    """Byte counts of a write of slot ``new`` over slot ``old`` a crash may stop at."""
    points = {0, 1, 15, 29, 45, 300, S // 2, S - 1}
    for slot in (new, old):
        h = len(slot.rstrip(b"\x00"))  # header length: it ends with LF, then zeros
        points |= {h // 2, h - 30, h - 2, h, h + 1}  # h - 30: inside the MAC's base64
    return sorted(k for k in points if 0 <= k < S)


def crash_states(area: bytes, writes: Writes) -> Iterator[tuple[str, bytes]]:
    """Every header area a crash during ``writes`` (applied to ``area``) can leave."""
    current = bytearray(area)
    for i, (offset, data) in enumerate(writes):
        assert len(data) == S and offset in (0, S)
        for k in tear_points(data, bytes(current[offset:offset + S])):
            state = bytearray(current)
            state[offset:offset + k] = data[:k]
            yield f"write {i} (slot {offset // S}) torn after {k} bytes", bytes(state)
        current[offset:offset + S] = data
    yield "all writes done", bytes(current)


def slot_of(path: Path, index: int = 0) -> bytes:
    return path.read_bytes()[index * S:(index + 1) * S]


def expected(state: bytes, versions: dict[bytes, set[str]]) -> set[str]:
    """Identities that must open: those named by a slot holding a complete header."""
    return versions.get(state[:S], set()) | versions.get(state[S:2 * S], set())


def check_state(path: Path, state: bytes, payload: bytes, versions: dict[bytes, set[str]],
                old: set[str], new: set[str], what: str, parallel: bool = True) -> None:
    path.write_bytes(state + payload)
    ok = expected(state, versions)
    assert old <= ok or new <= ok, f"{what}: neither the old nor the new recipients open"
    slot0_complete = state[:S] in versions
    for name, key in KEYS.items():
        readers = ["stream", "open"] + (["parallel"] if parallel else [])
        for reader in readers:
            try:
                got = _decrypt(reader, path, key)
            except PqmlError as exc:
                assert name not in ok, f"{what}: {name} via {reader}: {exc}"
                # neither slot opens: the error is slot 0's (no match if it was complete)
                want = NoIdentityMatchError if slot0_complete else HeaderError
                assert type(exc) is want, f"{what}: {name} via {reader}: {exc!r}"
                continue
            assert name in ok and got == DATA, f"{what}: {name} opened via {reader}"


def _decrypt(reader: str, path: Path, key: Any) -> bytes:
    if reader == "stream":
        import io

        out = io.BytesIO()
        feature.decrypt_to(io.BytesIO(path.read_bytes()), out, [key])
        return out.getvalue()
    if reader == "open":
        with pqml.open(path, [key]) as f:
            return f.read()
    out_path = path.with_name("out")
    feature.decrypt_file(path, out_path, [key], jobs=2)
    data = out_path.read_bytes()
    out_path.unlink()
    return data


@pytest.fixture
def encrypted(tmp_path: Path) -> Path:
    path = tmp_path / "f.pqml"
    path.write_bytes(pqml_v1.encrypt_bytes([pub("A"), pub("C")], DATA, header_area=S))
    return path


def test_every_crash_state_of_a_rekey(encrypted: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    before = encrypted.read_bytes()
    area, payload = before[:2 * S], before[2 * S:]
    writes = recorded(monkeypatch, encrypted, "A", add=[pub("B")], remove=[pub("C")])
    new_slot = slot_of(encrypted)
    assert writes == [(S, new_slot), (0, new_slot)]  # slot 1, then slot 0
    old, new = {"A", "C"}, {"A", "B"}
    versions = {area[:S]: old, new_slot: new}
    states = list(crash_states(area, writes))
    assert len(states) > 20
    for what, state in states:
        check_state(tmp_path / "state.pqml", state, payload, versions, old, new, what)


def torn_slot0_file(encrypted: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[bytes, bytes]:
    """The state a crash while writing slot 0 leaves: slot 0 torn mid-MAC of the new
    header, slot 1 new (recipients A, B). Returns (new slot, payload)."""
    before = encrypted.read_bytes()
    recorded(monkeypatch, encrypted, "A", add=[pub("B")], remove=[pub("C")])
    new_slot = slot_of(encrypted)
    k = len(new_slot.rstrip(b"\x00")) - 30
    torn = new_slot[:k] + before[k:S]
    assert torn != new_slot and torn != before[:S]
    encrypted.write_bytes(torn + new_slot + before[2 * S:])
    return new_slot, before[2 * S:]


@pytest.mark.parametrize("identity", ["A", "B"])
def test_a_rekey_from_a_torn_slot_0_repairs_it_first(encrypted: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     identity: str) -> None:
    h1_slot, payload = torn_slot0_file(encrypted, monkeypatch)
    area = encrypted.read_bytes()[:2 * S]
    writes = recorded(monkeypatch, encrypted, identity, add=[pub("D")])
    h2_slot = slot_of(encrypted)
    assert writes == [(0, h1_slot), (S, h2_slot), (0, h2_slot)]  # repair, then as usual
    assert slot_of(encrypted, 1) == h2_slot
    old, new = {"A", "B"}, {"A", "B", "D"}
    versions = {h1_slot: old, h2_slot: new}
    for i, (what, state) in enumerate(crash_states(area, writes)):
        check_state(tmp_path / "state.pqml", state, payload, versions, old, new, what,
                    parallel=i % 3 == 0)  # a process pool per call is slow: a third


def test_slot_0_old_and_slot_1_new(encrypted: Path, tmp_path: Path,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash between the two writes: B (only in the new header) opens through slot 1,
    C (only in the old) through slot 0, and a rekey by B repairs slot 0 first."""
    before = encrypted.read_bytes()
    recorded(monkeypatch, encrypted, "A", add=[pub("B")], remove=[pub("C")])
    new_slot = slot_of(encrypted)
    encrypted.write_bytes(before[:S] + new_slot + before[2 * S:])
    versions = {before[:S]: {"A", "C"}, new_slot: {"A", "B"}}
    check_state(encrypted, encrypted.read_bytes()[:2 * S], before[2 * S:], versions,
                {"A", "C"}, {"A", "B"}, "old + new")
    writes = recorded(monkeypatch, encrypted, "B", remove=[pub("A")])
    assert writes[0] == (0, new_slot) and len(writes) == 3


def failing_after(n: int, attempted: Writes) -> Any:
    """A ``_pwrite_durable`` whose writes after the first ``n`` fail (EIO)."""
    real = rekey_module._pwrite_durable

    def write(fd: int, data: bytes, offset: int) -> None:
        if len(attempted) >= n:
            raise OSError(errno.EIO, "Input/output error")
        attempted.append((offset, bytes(data)))
        real(fd, data, offset)

    return write


def test_failure_after_each_write(encrypted: Path, tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A write error after n durable writes (n = 0, 1, 2 of the repair path): the rekey
    fails with one line, the file opens as the rule says, and running it again finishes."""
    h1_slot, payload = torn_slot0_file(encrypted, monkeypatch)
    start = encrypted.read_bytes()
    old, new = {"A", "B"}, {"A", "B", "D"}
    for n in range(3):
        encrypted.write_bytes(start)
        attempted: Writes = []
        with monkeypatch.context() as m:
            m.setattr(rekey_module, "_pwrite_durable", failing_after(n, attempted))
            with pytest.raises(RekeyError) as info:
                rekey(encrypted, [KEYS["A"]], add=[pub("D")])
        assert len(attempted) == n and "\n" not in str(info.value)
        assert str(info.value).endswith("cannot write the header in place: Input/output "
                                        "error (the file still opens with its old or its "
                                        "new recipients)")
        state = encrypted.read_bytes()
        assert state[2 * S:] == payload
        versions = {h1_slot: old} | {data: new for _, data in attempted if data != h1_slot}
        check_state(tmp_path / "state.pqml", state[:2 * S], payload, versions, old, new,
                    f"failed after {n} writes")
        done = recorded(monkeypatch, encrypted, "A", add=[pub("D")])
        assert len(done) == (3 if n == 0 else 2)  # repaired already unless the first failed
        assert slot_of(encrypted, 0) == slot_of(encrypted, 1) == done[-1][1]
        versions = {h1_slot: old, done[-1][1]: new}
        check_state(tmp_path / "state.pqml", encrypted.read_bytes()[:2 * S], payload,
                    versions, old, new, f"rerun after failing after {n} writes")

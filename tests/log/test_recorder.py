"""record(): the one call features log through; PQML_LOG=off; failures are LogError."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from log_helpers import entry

from pqml.log import recorder
from pqml.log.errors import LogError
from pqml.log.store import LogStore


@pytest.fixture(autouse=True)
def _fresh_recorder() -> Iterator[None]:
    recorder.forget()
    yield
    recorder.forget()


def test_record_appends_under_pqml_home(monkeypatch: pytest.MonkeyPatch,
                                        tmp_path: Path) -> None:
    monkeypatch.setenv("PQML_HOME", str(tmp_path / "home"))
    assert [recorder.record(entry(i)) for i in range(3)] == [0, 1, 2]
    store = LogStore(tmp_path / "home" / "log")
    assert [e for _, e in store.entries()] == [entry(0), entry(1), entry(2)]


def test_record_takes_an_explicit_home(tmp_path: Path) -> None:
    assert recorder.record(entry(0), home=tmp_path / "elsewhere") == 0
    assert LogStore(tmp_path / "elsewhere" / "log").entry(0) == entry(0)


@pytest.mark.parametrize("value", ["off", "OFF", "0", "false", "no"])
def test_pqml_log_off_records_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                      value: str) -> None:
    monkeypatch.setenv("PQML_LOG", value)
    assert recorder.record(entry(0), home=tmp_path / "h") == -1
    assert not (tmp_path / "h").exists()


def test_pqml_log_on_or_unset_records(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PQML_LOG", "on")
    assert recorder.record(entry(0), home=tmp_path / "h") == 0


def test_a_failure_to_log_raises_log_error(tmp_path: Path) -> None:
    (tmp_path / "home").write_text("a file where the home directory should be")
    with pytest.raises(LogError, match="home/log"):
        recorder.record(entry(0), home=tmp_path / "home")


def test_a_full_disk_is_a_log_error_and_leaves_no_entry(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    import errno
    import os

    recorder.record(entry(0), home=tmp_path)
    real = os.pwrite

    def full(fd: int, data: bytes, offset: int) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "pwrite", full)
    with pytest.raises(LogError, match="No space left"):
        recorder.record(entry(1), home=tmp_path)
    monkeypatch.setattr(os, "pwrite", real)
    assert recorder.record(entry(2), home=tmp_path) == 1
    assert LogStore(tmp_path / "log").entry(1) == entry(2)


def test_only_log_entries_are_recorded(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        recorder.record({"operation": "decrypt"}, home=tmp_path)  # type: ignore[arg-type]


def test_record_many_appends_in_order_under_one_lock(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    assert recorder.record(entry(0), home=tmp_path) == 0
    assert recorder.record_many([entry(1), entry(2)], home=tmp_path) == range(1, 3)
    assert recorder.record_many([], home=tmp_path) == range(0)
    assert [e for _, e in LogStore(tmp_path / "log").entries()] == [entry(0), entry(1),
                                                                     entry(2)]
    monkeypatch.setenv("PQML_LOG", "off")
    assert recorder.record_many([entry(3)], home=tmp_path) == range(0)
    assert LogStore(tmp_path / "log").size == 3
    monkeypatch.setenv("PQML_LOG", "on")
    with pytest.raises(TypeError):
        recorder.record_many([entry(3), "x"], home=tmp_path)  # type: ignore[list-item]
    assert LogStore(tmp_path / "log").size == 3

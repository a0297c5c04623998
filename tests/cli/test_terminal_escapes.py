"""Names from an untrusted model never reach the terminal raw (issue 18, item 4).

A file named ``\\x1b[2K\\r\\x1b[32mVerified`` would, on a TTY, erase the line saying the
model failed and print a fake green "Verified" over it. Every name from a model or a
bundle that the CLI prints goes through :func:`pqml._internal.text.printable`, which shows
C0 and C1 control characters and DEL as ``\\xNN`` escapes.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from pqml._internal.text import printable

from conftest import cli_run as run
from conftest import signing_key_files

FAKE = "\x1b[2K\r\x1b[32mVerified\x1b[0m"
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")  # all but tab and newline


def assert_clean(text: str) -> None:
    assert not CONTROL.search(text), repr(text)


@pytest.fixture(scope="module")
def key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return signing_key_files(tmp_path_factory.mktemp("keys"), "ML-DSA-65")


@pytest.fixture
def model(tmp_path: Path) -> Path:
    root = tmp_path / "model"
    root.mkdir()
    (root / "config.json").write_text('{"hidden": 8}')
    return root


def test_printable_escapes_c0_c1_and_del() -> None:
    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("x\ry\nz\t") == "x\\x0dy\\x0az\\x09"
    assert printable("\x7f\x85\x9b\xa0é") == "\\x7f\\x85\\x9b\xa0é"
    assert printable("weights/model-00001.safetensors") == "weights/model-00001.safetensors"


def test_added_file_name_is_escaped_in_verify_output(model: Path,
                                                     key: tuple[Path, Path]) -> None:
    assert run("sign", model, "-k", key[0]).exit_code == 0
    (model / f"{FAKE}.pkl").write_bytes(b"\x80\x04K\x01.")
    res = run("verify", model, "-k", key[1])
    assert res.exit_code == 1
    assert_clean(res.stdout)
    assert_clean(res.stderr)
    assert "added     \\x1b[2K\\x0d\\x1b[32mVerified\\x1b[0m.pkl" in res.stdout


def test_signed_file_name_is_escaped_when_it_fails(model: Path, key: tuple[Path, Path]) -> None:
    name = f"w{FAKE}\x9b2J.bin"
    (model / name).write_bytes(b"signed")
    res = run("sign", model, "-k", key[0])
    assert res.exit_code == 0, res.output
    assert_clean(res.stdout + res.stderr)
    (model / name).write_bytes(b"change")
    res = run("verify", model, "-k", key[1])
    assert res.exit_code == 1
    assert_clean(res.stdout + res.stderr)
    assert f"modified  {printable(name)}" in res.stdout
    res = run("verify", model, "-k", key[1], "--only", name)
    assert res.exit_code == 1
    assert_clean(res.stdout + res.stderr)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_name_in_error_message_is_escaped(model: Path, key: tuple[Path, Path]) -> None:
    assert run("sign", model, "-k", key[0]).exit_code == 0
    os.mkfifo(model / FAKE)
    res = run("verify", model, "-k", key[1])
    assert res.exit_code == 1
    assert_clean(res.stdout + res.stderr)
    assert "\\x1b[32mVerified" in res.stderr

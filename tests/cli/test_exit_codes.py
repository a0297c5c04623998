"""One error style and one exit-code scheme for every command, as a transcript.

Each case below is what a user types, then the exact standard error, then ``> CODE``, in
the style of age's testdata transcripts. The scheme (README "Exit codes", ``pqml --help``):
0 ok; 1 the operation failed (a missing, unreadable or malformed input file or key, a wrong
key...; for scan: findings matched --fail-on); 2 usage error (bad option, value or
argument; for scan: any failure, so it never collides with the findings code); 130
interrupted; 141 standard output closed early (tests/cli/test_piped_output.py).

Every case runs the real ``pqml`` process: stdin is empty and it has no controlling
terminal (its own session), as in CI.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pqml.cli.main import cli

TRANSCRIPT = """\
$ pqml inspect enc/
pqml: error: enc/: is a directory
> 1

$ pqml pubkey .
pqml: error: .: is a directory
> 1

$ pqml decrypt -i keys/ -o out p.pqml
pqml: error: keys/: is a directory
> 1

$ pqml keygen --passphrase-file missing
pqml: error: missing: no such file or directory
> 1

$ pqml encrypt -r me.txt -o out missing
pqml: error: missing: no such file or directory
> 1

$ pqml decrypt -i me.pem -o out p
pqml: error: p: not an encrypted file (expected pqml/v1 or age, binary or armored)
> 1

$ pqml scan --jobs 0 .
pqml: error: invalid value for --jobs: 0 is not in the range x>=1
> 2

$ pqml encrypt --jobs 0 -r me.txt -o out p
pqml: error: invalid value for --jobs: 0 is not in the range x>=1
> 2

$ pqml decrypt --jobs 0 -i me.pem -o out p.pqml
pqml: error: invalid value for --jobs: 0 is not in the range x>=1
> 2

$ pqml keygen --format der
pqml: error: invalid value for --format: 'der' is not one of 'pem', 'age'
> 2

$ pqml scan --fial-on any .
pqml: error: unknown option --fial-on
pqml: hint: did you mean --fail-on?
> 2

$ pqml scan
pqml: error: missing argument PATHS
pqml: hint: run 'pqml scan --help' for usage
> 2

$ pqml sign model
pqml: error: missing option --key
pqml: hint: run 'pqml sign --help' for usage
> 2

$ pqml keygen extra
pqml: error: got unexpected extra argument (extra)
pqml: hint: run 'pqml keygen --help' for usage
> 2

$ pqml nope
pqml: error: unknown command 'nope'
pqml: hint: run 'pqml --help' for the commands
> 2

$ pqml --bogus
pqml: error: unknown option --bogus
pqml: hint: run 'pqml --help' for usage
> 2

$ pqml keygen --alg rot13
pqml: error: unknown algorithm 'rot13' (see 'pqml algorithms' for the list)
> 2

$ pqml scan missing
pqml: error: missing: no such file or directory
> 2

$ pqml scan . -f json -o nodir/report.json
pqml: error: nodir/report.json: cannot write report (No such file or directory)
> 2

$ pqml encrypt -p -o out p
pqml: error: -p/--passphrase needs a terminal to ask the passphrase on: use --passphrase-file FILE
> 2

$ pqml decrypt -p -o out p.pqml
pqml: error: -p/--passphrase needs a terminal to ask the passphrase on: use --passphrase-file FILE
> 2
"""


def parse(transcript: str) -> list[tuple[list[str], list[str], int]]:
    cases = []
    for block in transcript.strip().split("\n\n"):
        command, *err, code = block.splitlines()
        assert command.startswith("$ pqml") and code.startswith("> "), block
        cases.append((shlex.split(command[2:])[1:], err, int(code[2:])))
    return cases


CASES = parse(TRANSCRIPT)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("exit-codes")
    (d / "enc").mkdir()
    (d / "keys").mkdir()
    (d / "model").mkdir()
    (d / "p").write_bytes(b"plain")
    runner = CliRunner()
    res = runner.invoke(cli, ["keygen", "-o", str(d / "me.pem")])
    assert res.exit_code == 0, res.output
    (d / "me.txt").write_text(res.stdout)
    res = runner.invoke(cli, ["encrypt", "-r", str(d / "me.txt"), "-o", str(d / "p.pqml"),
                              str(d / "p")])
    assert res.exit_code == 0, res.output
    return d


@pytest.mark.parametrize(("argv", "stderr", "code"), CASES,
                         ids=[" ".join(argv) or "pqml" for argv, _, _ in CASES])
def test_transcript(workdir: Path, argv: list[str], stderr: list[str], code: int) -> None:
    res = subprocess.run([sys.executable, "-m", "pqml.cli.main", *argv], cwd=workdir,
                         stdin=subprocess.DEVNULL, capture_output=True, text=True,
                         start_new_session=True)
    assert (res.stderr.splitlines(), res.returncode) == (stderr, code)
    assert not (workdir / "out").exists()


def test_pqml_alone_prints_the_help_and_exits_2() -> None:
    res = CliRunner().invoke(cli, [])
    assert res.exit_code == 2 and res.stderr.startswith("Usage: ")


def test_scan_failures_never_exit_with_the_findings_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected I/O error inside scan exits 2 (its failure code), not 1 (findings)."""
    import importlib

    runner = importlib.import_module("pqml.scan.runner")

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(5, "Input/output error", str(tmp_path / "disk"))

    monkeypatch.setattr(runner, "run", broken)
    res = CliRunner().invoke(cli, ["scan", str(tmp_path)])
    assert (res.stderr, res.exit_code) == (
        f"pqml: error: {tmp_path / 'disk'}: Input/output error\n", 2)


def test_an_unexpected_os_error_elsewhere_exits_1(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib

    key_files = importlib.import_module("pqml.keys.key_files")

    def broken(*args: object, **kwargs: object) -> None:
        raise OSError(5, "Input/output error", "k.pem")

    monkeypatch.setattr(key_files, "load", broken)
    res = CliRunner().invoke(cli, ["pubkey", str(tmp_path / "k.pem")])
    assert (res.stderr, res.exit_code) == ("pqml: error: k.pem: Input/output error\n", 1)


def test_the_scheme_is_in_the_help() -> None:
    out = CliRunner().invoke(cli, ["--help"]).output
    flat = " ".join(out.split())
    assert "Exit codes: 0 ok, 1 the operation failed" in flat
    for code in ("130", "141"):
        assert code in flat

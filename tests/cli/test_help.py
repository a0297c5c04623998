"""``pqml --help``: commands in sections by purpose, whole summary sentences, no imports.

The top-level list is drawn from ``COMMANDS`` without importing a command module; these
tests keep that table's summaries equal to the commands' own first help lines.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from pqml.cli import main as cli_main
from pqml.cli.main import COMMANDS, cli

HEADING = re.compile(r"^(\S.*):$")
ROW = re.compile(r"^  (\S+) {2,}(\S.*)$")


def help_text(*args: str, columns: int | None = None) -> str:
    env = {"COLUMNS": str(columns)} if columns else None
    res = CliRunner().invoke(cli, [*args, "--help"], env=env, catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return res.output


def command_sections(text: str) -> dict[str, list[str]]:
    """{heading: [command names]} for every section after Options, in order."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.split("\nOptions:\n", 1)[1].splitlines():
        if heading := HEADING.match(line):
            current = sections.setdefault(heading.group(1), [])
        elif (row := ROW.match(line)) and current is not None and not row.group(1).startswith("-"):
            current.append(row.group(1))
    return sections


def first_paragraph(cmd: click.Command) -> str:
    return " ".join((cmd.help or "").split("\n\n", 1)[0].split())


def all_commands() -> list[tuple[str, click.Command]]:
    """Every command and subcommand, by its full name ("bench primitives")."""
    found = []

    def walk(group: click.Group, prefix: str) -> None:
        ctx = click.Context(group)
        for name in group.list_commands(ctx):
            cmd = group.get_command(ctx, name)
            assert cmd is not None, name
            found.append((f"{prefix}{name}", cmd))
            if isinstance(cmd, click.Group):
                walk(cmd, f"{prefix}{name} ")

    walk(cli, "")
    return found


def squeeze(text: str) -> str:
    return "".join(text.split())


def test_help_groups_every_command_in_exactly_one_section() -> None:
    sections = command_sections(help_text())
    expected = list(dict.fromkeys(entry.section for entry in COMMANDS.values()))
    assert list(sections) == expected
    assert "Commands" not in sections
    listed = [name for names in sections.values() for name in names]
    assert sorted(listed) == sorted(COMMANDS), "each command listed exactly once"
    for heading, names in sections.items():
        assert all(COMMANDS[name].section == heading for name in names)


def test_help_describes_every_capability() -> None:
    text = squeeze(help_text())
    for words in ("post-quantum keys", "pqml/v1 or age", "OpenSSF model-signing bundles",
                  "CBOM", "SARIF", "migration plan", "Algorithms and benchmarks"):
        assert squeeze(words) in text, words


@pytest.mark.parametrize("columns", [40, 80, 200])
@pytest.mark.parametrize("group", [(), ("bench",)])
def test_command_summaries_are_never_cut(columns: int, group: tuple[str, ...]) -> None:
    text = help_text(*group, columns=columns)
    listing = text.split("\nOptions:\n", 1)[1]
    assert "..." not in listing and "…" not in listing
    parent = cli if not group else cli.get_command(click.Context(cli), group[0])
    ctx = click.Context(parent)
    for name in parent.list_commands(ctx):
        summary = first_paragraph(parent.get_command(ctx, name))
        assert squeeze(summary) in squeeze(listing), (name, listing)


def test_help_piped_to_a_file_lists_each_summary_whole_on_one_line() -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    out = subprocess.run([sys.executable, "-m", "pqml.cli.main", "--help"], env=env,
                         capture_output=True, text=True, check=True).stdout
    rows = dict(m.groups() for line in out.splitlines() if (m := ROW.match(line)))
    for name, entry in COMMANDS.items():
        assert rows[name] == entry.summary


@pytest.mark.parametrize(("name", "cmd"), all_commands(), ids=[n for n, _ in all_commands()])
def test_first_help_line_is_one_whole_sentence(name: str, cmd: click.Command) -> None:
    first = first_paragraph(cmd)
    assert first[:1].isupper() and first.endswith("."), (name, first)
    # click's short help stops at the first full stop: the paragraph is one sentence.
    assert cmd.get_short_help_str(limit=sys.maxsize) == first, name


@pytest.mark.parametrize("name", list(COMMANDS))
def test_table_summary_is_the_commands_own_first_line(name: str) -> None:
    cmd = cli.get_command(click.Context(cli), name)
    assert cmd is not None
    assert COMMANDS[name].summary == first_paragraph(cmd) == cmd.get_short_help_str(
        limit=sys.maxsize)


def test_help_imports_no_command_module() -> None:
    code = (
        "import contextlib, io, sys\n"
        "from pqml.cli.main import cli\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out):\n"
        "    code = cli(['--help'], prog_name='pqml', standalone_mode=False)\n"
        "assert code == 0 and 'keygen' in out.getvalue(), out.getvalue()\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('pqml.cli'))))\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    loaded = set(res.stdout.split())
    assert loaded == {"pqml.cli", "pqml.cli.help", "pqml.cli.main"}
    assert not loaded & {entry.target.partition(":")[0] for entry in COMMANDS.values()}


def test_a_command_whose_module_is_missing_is_not_listed(monkeypatch) -> None:
    missing = cli_main.Command("pqml.cli.not_shipped:gone", cli_main.INVENTORY,
                               "Not in this build.")
    monkeypatch.setitem(COMMANDS, "gone", missing)
    ctx = click.Context(cli)
    assert "gone" not in cli.list_commands(ctx)
    assert cli.get_command(ctx, "gone") is None
    assert "gone" not in help_text()


def test_unknown_command_still_exits_2() -> None:
    res = CliRunner().invoke(cli, ["nope"])
    assert res.exit_code == 2 and res.stderr == (
        "pqml: error: unknown command 'nope'\npqml: hint: run 'pqml --help' for the commands\n")

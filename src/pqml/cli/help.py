"""How ``pqml --help`` and ``pqml bench --help`` list commands.

click 8 lists a group's commands in one flat "Commands" section and cuts each summary to
fit a line, ending it with "...". pqml lists them as ``git --help`` does: under headings
by purpose, each with its whole first help sentence, wrapped to the terminal, never cut.
"""

from __future__ import annotations

import sys

import click

Rows = list[tuple[str, str]]


class Group(click.Group):
    """A click group that lists its commands in sections, each with its whole summary."""

    def command_sections(self, ctx: click.Context) -> list[tuple[str, Rows]]:
        """``(heading, [(name, summary), ...])`` in display order: here one "Commands"."""
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit=sys.maxsize)))
        return [("Commands", rows)]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        sections = [(title, rows) for title, rows in self.command_sections(ctx) if rows]
        if not sections:
            return
        # One name column for every section, so the summaries line up across them.
        width = max(len(name) for _, rows in sections for name, _ in rows)
        for title, rows in sections:
            with formatter.section(title):
                formatter.write_dl([(name.ljust(width), summary) for name, summary in rows])

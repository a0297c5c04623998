"""``--format table`` (the default) and ``--plan``: what a person reads in a terminal.

Findings are sorted by risk, worst first, so the top of the screen is what to fix; the
summary line counts what scrolled away. Rendering uses rich and adapts to the terminal
width (narrow terminals drop the optional columns instead of wrapping every cell). Off a
terminal (a pipe, a file, ``-o``) every column is printed whole, one line per finding, and
a plan's commands are never broken across lines on a terminal either: they are copied.
"""

from __future__ import annotations

from typing import TextIO

from pqml._internal.console import is_terminal
from pqml._internal.text import plural
from pqml.scan.runner import ScanResult

LEVEL_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow",
               "low": "cyan", "info": "dim"}
#: ``Finding.pq_safe``: "unprotected" is a plaintext, unsigned artifact -- not "yes"
PQ_SAFE_STYLE = {"yes": "[green]yes[/green]", "no": "[red]no[/red]",
                 "unprotected": "[yellow]unprotected[/yellow]"}


def _console(out: TextIO | None):  # -> rich.console.Console
    from pqml._internal.console import data_console

    return data_console(out)


def summary_line(result: ScanResult) -> str:
    s = result.summary()
    levels = ", ".join(f"{s['by_level'].get(lv, 0)} {lv}" for lv in
                       ("critical", "high", "medium", "low", "info") if s["by_level"].get(lv))
    base = (f"{plural(s['findings'], 'finding')} ({s['quantum_vulnerable']} quantum-vulnerable"
            f"{'; ' + levels if levels else ''}) in {plural(s['files_scanned'], 'file')}, "
            f"{plural(s['python_lines'], 'line')} of Python, {s['seconds']:.2f} s")
    if s["baselined"]:
        base += f"; {s['baselined']} accepted by the baseline"
    return base


def print_findings(result: ScanResult, out: TextIO | None = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = _console(out)
    findings = sorted(result.active, key=lambda f: (-(f.risk.score if f.risk else 0),
                                                   f.root, f.path, f.line))
    terminal = is_terminal(out)
    wide = console.width >= 150 or not terminal
    table = Table(show_lines=False, pad_edge=False, expand=False)
    table.add_column("risk", no_wrap=True)
    table.add_column("location", overflow="fold", min_width=24)
    table.add_column("algorithm", overflow="fold")
    table.add_column("usage", no_wrap=True)
    table.add_column("pq-safe", no_wrap=True)
    table.add_column("deadline", no_wrap=True, justify="right")
    if wide:
        table.add_column("kind", no_wrap=True)
        if terminal:
            table.add_column("evidence", overflow="ellipsis", max_width=48, no_wrap=True)
        else:  # the whole line of code: a file or a pipe has room for it
            table.add_column("evidence", no_wrap=True)
    for f in findings:
        level = f.risk.level if f.risk else "info"
        loc = result.location(f)
        algorithm = f.algorithm + (f" {f.parameter}" if f.parameter else "")
        row = [
            f"[{LEVEL_STYLE[level]}]{level}[/]",
            escape(loc),
            escape(algorithm),
            f.usage,
            PQ_SAFE_STYLE[f.pq_safe],
            str(f.risk.deadline_year) if f.risk and f.risk.deadline_year else "",
        ]
        if wide:
            row += [f.kind, escape(f.evidence)]
        table.add_row(*row)
    if findings:
        console.print(table)
    console.print(summary_line(result))


def print_plan(result: ScanResult, out: TextIO | None = None) -> None:
    from rich.markup import escape

    from pqml.scan.plan import build_plan

    console = _console(out)
    items = build_plan(result.findings, result.display_path)
    if not items:
        console.print("Nothing to migrate: no quantum-vulnerable or weak cryptography found.")
        console.print(summary_line(result))
        return
    console.print("[bold]Migration plan[/bold] (most urgent first)\n")
    for n, item in enumerate(items, 1):
        deadline = f", deadline {item.deadline_year}" if item.deadline_year else ""
        console.print(f"[bold]{n}. {escape(item.title)}[/bold]  "
                      f"[{LEVEL_STYLE[item.level]}]{item.level}[/]{deadline}, "
                      f"{len(item.findings)} finding{'s' if len(item.findings) != 1 else ''}")
        console.print(f"   replace with: {escape(item.replacement)}")
        if item.command:
            # soft_wrap: the terminal may fold it for the eye, but no newline goes in.
            console.print(f"   run: [cyan]{escape(item.command)}[/cyan]", soft_wrap=True)
        locs = ", ".join(item.locations[:5])
        more = f" (+{len(item.locations) - 5} more)" if len(item.locations) > 5 else ""
        console.print(f"   at: {escape(locs)}{more}\n")
    console.print(summary_line(result))

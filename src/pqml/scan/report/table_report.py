"""``--format table`` (the default) and ``--plan``: what a person reads in a terminal.

Findings are sorted by risk, worst first, so the top of the screen is what to fix; the
summary line counts what scrolled away. Rendering uses rich and adapts to the terminal
width (narrow terminals drop the optional columns instead of wrapping every cell).
"""

from __future__ import annotations

from typing import TextIO

from pqml.scan.runner import ScanResult

LEVEL_STYLE = {"critical": "bold white on red", "high": "bold red", "medium": "yellow",
               "low": "cyan", "info": "dim"}


def _console(out: TextIO | None):  # -> rich.console.Console
    from rich.console import Console

    return Console(file=out, highlight=False, soft_wrap=False)


def summary_line(result: ScanResult) -> str:
    s = result.summary()
    levels = ", ".join(f"{s['by_level'].get(lv, 0)} {lv}" for lv in
                       ("critical", "high", "medium", "low", "info") if s["by_level"].get(lv))
    base = (f"{s['findings']} findings ({s['quantum_vulnerable']} quantum-vulnerable"
            f"{'; ' + levels if levels else ''}) in {s['files_scanned']} files, "
            f"{s['python_lines']} lines of Python, {s['seconds']:.2f} s")
    if s["baselined"]:
        base += f"; {s['baselined']} accepted by the baseline"
    return base


def print_findings(result: ScanResult, out: TextIO | None = None) -> None:
    from rich.markup import escape
    from rich.table import Table

    console = _console(out)
    findings = sorted(result.active, key=lambda f: (-(f.risk.score if f.risk else 0),
                                                   f.root, f.path, f.line))
    wide = console.width >= 150
    table = Table(show_lines=False, pad_edge=False, expand=False)
    table.add_column("risk", no_wrap=True)
    table.add_column("location", overflow="fold", min_width=24)
    table.add_column("algorithm", overflow="fold")
    table.add_column("usage", no_wrap=True)
    table.add_column("pq-safe", no_wrap=True)
    table.add_column("deadline", no_wrap=True, justify="right")
    if wide:
        table.add_column("kind", no_wrap=True)
        table.add_column("evidence", overflow="ellipsis", max_width=48, no_wrap=True)
    multi_root = len(result.roots) > 1
    for f in findings:
        level = f.risk.level if f.risk else "info"
        loc = f"{f.root.rstrip('/')}/{f.location}" if multi_root else f.location
        algorithm = f.algorithm + (f" {f.parameter}" if f.parameter else "")
        row = [
            f"[{LEVEL_STYLE[level]}]{level}[/]",
            escape(loc),
            escape(algorithm),
            f.usage,
            "[red]no[/red]" if f.quantum_vulnerable else "[green]yes[/green]",
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
    items = build_plan(result.findings)
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
            console.print(f"   run: [cyan]{escape(item.command)}[/cyan]")
        shown = item.findings[:5]
        locs = ", ".join(f.location for f in shown)
        more = f" (+{len(item.findings) - len(shown)} more)" if len(item.findings) > 5 else ""
        console.print(f"   at: {escape(locs)}{more}\n")
    console.print(summary_line(result))

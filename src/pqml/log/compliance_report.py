"""A compliance report as a person reads it: a terminal table or one HTML page.

The page is built from the scan report's pieces (:mod:`pqml.scan.report.html_page`), so
the two look alike and stay self-contained. Everything taken from files, keys or the log
is escaped: a file name is data, never markup.
"""

from __future__ import annotations

import datetime as dt
from html import escape
from typing import TextIO

from pqml.log.compliance import ComplianceReport, ControlResult

_STYLE = {"pass": "green", "warn": "yellow", "fail": "bold red", "n/a": "dim"}
_COLOR = {"pass": "#2f9e6e", "warn": "#d9a100", "fail": "#b42318", "n/a": "#98a2b3"}
_SHOWN_ITEMS = 20  # per control in the table and the page; --json has them all


def _pct(passed: int, total: int) -> str:
    return f"{100 * passed // total}%" if total else "-"


def table(report: ComplianceReport, out: TextIO | None = None) -> None:
    """Controls, then what fails them, then milestones and the trend. Off a terminal
    every cell is printed whole (rich with an unbounded width)."""
    from rich.markup import escape as rich_escape
    from rich.table import Table

    from pqml._internal.console import data_console

    console = data_console(out)
    console.print(f"Compliance as of {report.as_of.isoformat()} against "
                  f"{report.profile.label}: [{_STYLE[report.status]}]"
                  f"{report.status.upper()}[/]")
    grid = Table(show_lines=False, pad_edge=False)
    for name in ("status", "control", "result", "deadline"):
        grid.add_column(name, overflow="fold")
    for c in report.controls:
        required = "" if c.required else " (not required)"
        grid.add_row(f"[{_STYLE[c.status]}]{c.status}[/]", rich_escape(c.id + required),
                     rich_escape(c.summary), str(c.deadline or "-"))
    console.print(grid)
    for c in report.controls:
        if c.items and c.status in ("fail", "warn"):
            console.print(f"\n[{_STYLE[c.status]}]{c.status}[/] {rich_escape(c.id)}:")
            for item in c.items[:_SHOWN_ITEMS]:
                console.print(f"  {rich_escape(item)}")
            if len(c.items) > _SHOWN_ITEMS:
                console.print(f"  ... and {len(c.items) - _SHOWN_ITEMS} more (--json lists "
                              "them all)")
    console.print("\nMilestones:")
    for m, left in report.milestones():
        when = f"{left} days left" if left >= 0 else f"passed {-left} days ago"
        console.print(f"  {m.year}  {rich_escape(m.framework)}: {rich_escape(m.what)} "
                      f"({when})")
    if len(report.trend) > 1:
        console.print("\nTrend (this scope and profile):")
        for snap in report.trend[-10:]:
            counts = _counts(snap)
            console.print(f"  {snap['as_of']}  {snap['status']:<4}  " + ", ".join(
                f"{n} {s}" for s, n in counts.items() if n))


def _counts(snap: dict) -> dict[str, int]:
    counts = {"pass": 0, "warn": 0, "fail": 0, "n/a": 0}
    for c in snap["controls"].values():
        if c.get("status") in counts:
            counts[c["status"]] += 1
    return counts


def _control_row(c: ControlResult) -> str:
    badge = (f'<span class="badge" style="background:{_COLOR[c.status]}">'
             f"{escape(c.status)}</span>")
    items = "".join(f"<li>{escape(i)}</li>" for i in c.items[:_SHOWN_ITEMS])
    more = (f'<li class="muted">and {len(c.items) - _SHOWN_ITEMS} more</li>'
            if len(c.items) > _SHOWN_ITEMS else "")
    detail = f"<ul>{items}{more}</ul>" if items else ""
    required = "" if c.required else ' <span class="muted">(not required)</span>'
    return (f"<td>{badge}</td><td><strong>{escape(c.title)}</strong>{required}<br>"
            f'<code>{escape(c.id)}</code></td><td>{escape(c.summary)}{detail}</td>'
            f'<td data-v="{c.deadline or 0}">{c.deadline or "-"}</td>'
            f"<td>{_pct(c.passed, c.total)}</td>")


def _trend_chart(report: ComplianceReport) -> str:
    from pqml.scan.report.charts import bar_chart

    rows = []
    for snap in report.trend[-12:]:
        counts = _counts(snap)
        rows.append((f"{snap['as_of']} pass", counts["pass"], _COLOR["pass"]))
        if counts["fail"]:
            rows.append((f"{snap['as_of']} fail", counts["fail"], _COLOR["fail"]))
    return bar_chart(rows, "Controls passed and failed, report by report", width=560,
                     label_width=170)


def html(report: ComplianceReport) -> str:
    from pqml.scan.report.html_page import CSS, card
    from pqml.scan.report.html_page import table as html_table

    counts = {s: sum(1 for c in report.controls if c.status == s)
              for s in ("pass", "warn", "fail", "n/a")}
    cards = "".join([
        card(report.status.upper(), f"overall ({report.profile.label})",
             {"pass": "ok", "warn": "warn", "fail": "bad"}.get(report.status, "")),
        card(counts["fail"], "controls failed", "bad" if counts["fail"] else "ok"),
        card(counts["warn"], "controls with warnings", "warn" if counts["warn"] else "ok"),
        card(counts["pass"], "controls passed", "ok"),
        card(counts["n/a"], "not evaluated"),
    ])
    controls = html_table(("Status", "Control", "Result and evidence", "Deadline", "Met"),
                          [_control_row(c) for c in report.controls])
    milestones = html_table(
        ("Year", "Framework", "Milestone", "Days left"),
        [f"<td>{m.year}</td><td>{escape(m.framework)}</td><td>{escape(m.what)}</td>"
         f"<td>{left}</td>" for m, left in report.milestones()])
    scope = ", ".join(report.scope) or "keyring and log only"
    made = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>pqml compliance report</title><style>{CSS}</style></head><body>"
        f"<header><h1>Post-quantum compliance: {escape(report.status.upper())}</h1>"
        f"<p>As of {report.as_of.isoformat()} &middot; {escape(report.profile.label)} "
        f"&middot; {escape(scope)}</p></header><main>"
        f'<div class="cards">{cards}</div>'
        f"<h2>Controls</h2>{controls}"
        f"<h2>Milestones</h2>{milestones}"
        f'<h2>Trend</h2><div class="card">{_trend_chart(report)}</div>'
        f'<footer>Made by pqml compliance on {made}.</footer></main></body></html>\n')

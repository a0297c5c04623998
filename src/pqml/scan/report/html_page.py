"""The pieces every pqml HTML report shares: one stylesheet, cards, badges, tables.

The scan report and the compliance report look alike because they are built from these;
every page stays self-contained (inline CSS, no fonts, images or scripts from anywhere).
"""

from __future__ import annotations

from html import escape

from pqml.scan.report.charts import RISK_COLORS

CSS = """
:root { --fg:#1d2939; --muted:#667085; --line:#e4e7ec; --bg:#f8f9fc; --card:#fff;
  --accent:#4f6bed; }
* { box-sizing: border-box; }
body { margin:0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: var(--fg); background: var(--bg); }
header { background: #101828; color: #fff; padding: 28px 40px 24px; }
header h1 { margin: 0 0 4px; font-size: 24px; font-weight: 650; }
header p { margin: 0; color: #d0d5dd; font-size: 14px; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 40px 60px; }
h2 { font-size: 19px; margin: 36px 0 12px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr));
  gap: 14px; margin-top: 8px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 14px 16px; }
.card .n { font-size: 28px; font-weight: 700; }
.card .t { color: var(--muted); font-size: 13px; }
.card.bad .n { color: #b42318; } .card.warn .n { color: #b54708; } .card.ok .n { color: #067647; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); gap: 14px; }
.charts .card { overflow-x: auto; }
.chart-title { font-weight: 650; font-size: 14px; fill: var(--fg); }
.chart-label, .chart-value, .chart-empty { font-size: 12px; fill: #344054; }
table { width: 100%; border-collapse: collapse; background: var(--card);
  border: 1px solid var(--line); border-radius: 10px; overflow: hidden; font-size: 13.5px; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { background: #f2f4f7; font-weight: 600; color: #344054; }
td { overflow-wrap: break-word; }
.table-wrap { overflow-x: auto; max-width: 100%; border: 1px solid var(--line);
  border-radius: 10px; }
.table-wrap table { border: 0; border-radius: 0; }
th.sortable { cursor: pointer; user-select: none; }
th.sortable::after { content: " \\2195"; color: #98a2b3; }
th[aria-sort="ascending"]::after { content: " \\25B2"; color: var(--fg); }
th[aria-sort="descending"]::after { content: " \\25BC"; color: var(--fg); }
.controls { display: flex; flex-wrap: wrap; gap: 8px 16px; align-items: center;
  margin: 0 0 10px; }
.controls[hidden] { display: none; }
.controls input, .controls select { font: inherit; padding: 4px 8px; border: 1px solid
  var(--line); border-radius: 6px; }
.controls input { min-width: 16em; }
tr:last-child td { border-bottom: 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; color: #fff;
  font-size: 12px; font-weight: 600; white-space: nowrap; }
.plan { counter-reset: step; list-style: none; padding: 0; margin: 0; }
.plan li { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 12px 16px 12px 52px; margin-bottom: 10px; position: relative; }
.plan li::before { counter-increment: step; content: counter(step); position: absolute;
  left: 14px; top: 12px; width: 26px; height: 26px; border-radius: 50%; background: var(--accent);
  color: #fff; text-align: center; font-weight: 700; line-height: 26px; }
.plan .cmd { background: #101828; color: #e4e7ec; padding: 6px 10px; border-radius: 6px;
  display: block; margin-top: 6px; white-space: pre-wrap; word-break: break-all; }
.muted { color: var(--muted); }
.evidence { min-width: 9em; max-width: 420px; white-space: pre-wrap; overflow-wrap: anywhere; }
footer { color: var(--muted); font-size: 12.5px; margin-top: 40px; }
@media (max-width: 960px) { header { padding: 20px 16px; } main { padding: 16px 16px 40px; }
  th, td { padding: 6px 7px; } }
@media print { header { background: #fff; color: #000; } .plan .cmd { color: #000;
  background: #eee; } }
"""


def path_html(path: str) -> str:
    """A path that may wrap after each ``/`` (``<wbr>``: no text, so copying it is exact)."""
    return escape(path).replace("/", "/<wbr>")


def badge(level: str) -> str:
    return (f'<span class="badge" style="background:{RISK_COLORS.get(level, "#98a2b3")}">'
            f"{escape(level)}</span>")


def card(n: object, label: str, tone: str = "") -> str:
    return (f'<div class="card {tone}"><div class="n">{escape(str(n))}</div>'
            f'<div class="t">{escape(label)}</div></div>')


def table(headers: tuple[str, ...], rows: list[str], empty: str = "",
           attrs: str = "", row_attrs: list[str] | None = None,
           header_attrs: tuple[str, ...] = ()) -> str:
    """A table with these column headers, in a box that scrolls sideways rather than
    widening the page; each row is its cells' HTML (``<td>``s). With no rows, the
    ``empty`` note instead (if given)."""
    if not rows and empty:
        return f'<p class="muted">{empty}</p>'
    extra = row_attrs or [""] * len(rows)
    head = "".join(f"<th{header_attrs[i] if i < len(header_attrs) else ''}>{h}</th>"
                   for i, h in enumerate(headers))
    body = "".join(f"<tr{a}>{cells}</tr>" for cells, a in zip(rows, extra, strict=True))
    return (f'<div class="table-wrap"><table{attrs}><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")

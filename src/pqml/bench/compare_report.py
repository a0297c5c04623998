"""``pqml bench compare`` as people read it: plain-text tables and a self-contained HTML page.

Tables are plain text with every column at full width, so nothing is cut when piped. The
HTML page is built from the pieces the scan and compliance reports share
(:mod:`pqml.scan.report.html_page`, :mod:`pqml.scan.report.charts`): inline CSS and SVG
bars, no script, no external asset.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from pqml.bench.compare import OPERATIONS, AlgorithmResult, Comparison

ROLE_TITLES = {"kem": "Key encapsulation", "signature": "Signatures"}
OUTPUT_NAMES = {"kem": "ciphertext", "signature": "signature"}
MODEL_OUTPUT_NAMES = {"kem": "added by encryption", "signature": "bundle"}


def fmt_time(us: float | None) -> str:
    if us is None:
        return "-"
    if us >= 1e6:
        return f"{us / 1e6:.2f} s"
    if us >= 1e3:
        return f"{us / 1e3:.2f} ms"
    return f"{us:.1f} µs"


def fmt_pct(pct: float | None) -> str:
    return "-" if pct is None else f"{pct:+.0f} %"


def machine_line(c: Comparison) -> str:
    m = c.machine
    return (f"{m.get('processor', '?')}, {m.get('affinity_cpus', m.get('cpus', '?'))} cpu(s) "
            f"usable, Python {m.get('python', '?')}, cryptography {m.get('cryptography', '?')}, "
            f"{m.get('date', '?')}")


def _columns(role: str, c: Comparison) -> list[str]:
    ops = [op for op in OPERATIONS[role] if any(op in r.median_us for r in c.role(role))]
    return ops


def _rows(role: str, c: Comparison) -> tuple[list[str], list[list[str]]]:
    ops = _columns(role, c)
    headers = ["algorithm", "pq", "cat", "public key", OUTPUT_NAMES[role]]
    if c.model is not None:
        headers.append(MODEL_OUTPUT_NAMES[role])
    headers += [f"{op} (vs {c.baselines[role]})" for op in ops]
    rows = []
    for r in c.role(role):
        row = [r.algorithm, "no" if r.quantum_vulnerable else "yes",
               str(r.nist_category or "-"), f"{r.public_key_bytes} B", f"{r.output_bytes} B"]
        if c.model is not None:
            row.append("-" if r.model_output_bytes is None else f"{r.model_output_bytes} B")
        for op in ops:
            us = r.median_us.get(op)
            row.append("-" if us is None else
                       f"{fmt_time(us)} ({fmt_pct(r.overhead_pct.get(op))})")
        rows.append(row)
    return headers, rows


def _plain_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    return "\n".join([line(headers), *(line(r) for r in rows)])


def text(c: Comparison) -> str:
    """Every role as a table: sizes in bytes, median time and overhead over the baseline."""
    parts = [f"pqml bench compare: {machine_line(c)}"]
    if c.model is not None:
        parts.append(f"model: {c.model} ({c.model_bytes} bytes)")
    for role in OPERATIONS:
        if not c.role(role):
            continue
        headers, rows = _rows(role, c)
        parts += ["", f"{ROLE_TITLES[role]} (median per operation; overhead against "
                      f"{c.baselines[role]})", _plain_table(headers, rows)]
    notes = [f"{r.algorithm}: {n}" for r in c.results for n in r.notes]
    notes += [f"skipped {s}" for s in c.skipped]
    if notes:
        parts += ["", *(f"note: {n}" for n in notes)]
    return "\n".join(parts) + "\n"


def _chart(results: list[AlgorithmResult], title: str, value: str) -> str:
    from pqml.scan.report import charts

    rows = []
    for r in results:
        if value == "output":
            v: float | None = r.output_bytes
        elif value == "model":
            v = r.model_output_bytes
        else:
            v = r.median_us.get(value)
        if v is not None:
            color = charts.RISK_COLORS["high"] if r.quantum_vulnerable else charts.SAFE
            rows.append((r.algorithm, max(1, round(v)), color))
    return charts.bar_chart(rows, title, label_width=190)


def html(c: Comparison) -> str:
    """A self-contained page: machine, then per role a table and bar charts (green:
    post-quantum, orange: quantum-vulnerable)."""
    from pqml.scan.report import html_page as page

    body = [f"<header><h1>pqml bench compare</h1><p>{escape(machine_line(c))}</p></header>",
            "<main>"]
    cards = [page.card(len(c.results), "algorithms measured")]
    if c.model is not None:
        cards.append(page.card(f"{c.model_bytes:,}", f"bytes of model {c.model}"))
    body.append(f'<div class="cards">{"".join(cards)}</div>')
    for role in OPERATIONS:
        results = c.role(role)
        if not results:
            continue
        headers, rows = _rows(role, c)
        body.append(f"<h2>{escape(ROLE_TITLES[role])}</h2>")
        charts = [_chart(results, f"{OUTPUT_NAMES[role]} bytes", "output")]
        for op in _columns(role, c):
            charts.append(_chart(results, f"{op}: median µs", op))
        if c.model is not None:
            charts.append(_chart(results, f"bytes {MODEL_OUTPUT_NAMES[role]}", "model"))
        body.append('<div class="charts">'
                    + "".join(f'<div class="card">{ch}</div>' for ch in charts) + "</div>")
        body.append(page.table(tuple(escape(h) for h in headers),
                               ["".join(f"<td>{escape(cell)}</td>" for cell in row)
                                for row in rows]))
    notes = [f"{r.algorithm}: {n}" for r in c.results for n in r.notes]
    notes += [f"skipped {s}" for s in c.skipped]
    if notes:
        body.append("<h2>Notes</h2><ul>" + "".join(f"<li>{escape(n)}</li>" for n in notes)
                    + "</ul>")
    body.append(f'<footer>Interleaved runs, medians; budget {c.budget_s} s per algorithm and '
                f"operation. Overhead: median over the role's baseline, minus one."
                "</footer></main>")
    return ("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>pqml bench compare</title><style>{page.CSS}</style></head><body>"
            + "".join(body) + "</body></html>\n")

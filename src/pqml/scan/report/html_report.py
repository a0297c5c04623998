"""``--format html``: one self-contained page a security lead can read and forward.

Everything is inline -- CSS, SVG charts, one small script, no fonts or images from
anywhere -- so the file opens offline, survives e-mail and CI artifact viewers, and leaks
nothing when opened. The page leads with the answer (how much is vulnerable, how bad, by
when), then the migration plan, then the details: findings by risk, artifacts and their
protection, certificates and their expiry.

Tables wrap long cells and scroll sideways inside their own box, so the page never gets
wider than the window. The script only adds to a complete page: it sorts the findings by
a clicked column header (risk and deadline numerically) and filters them by text and risk
level; with scripts disabled every finding is still there, worst first, and the controls
stay hidden.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from html import escape

from pqml._internal.text import plural
from pqml.scan.model import Finding
from pqml.scan.report.charts import NEUTRAL, RISK_COLORS, SAFE, bar_chart
from pqml.scan.report.html_page import CSS as _CSS
from pqml.scan.report.html_page import badge as _badge
from pqml.scan.report.html_page import card as _card
from pqml.scan.report.html_page import path_html as _path_html
from pqml.scan.report.html_page import table as _table
from pqml.scan.runner import ScanResult

_LEVELS = ("critical", "high", "medium", "low", "info")
_MAX_ROWS = 3000


VULNERABLE = "#c4320a"
# ML files are charted by what protects them, never by their format's name: a file
# encrypted to X-Wing is post-quantum protected, one encrypted to X25519 alone is not.
_ML_LABELS = {"yes": "ML: PQ-protected", "no": "ML: PQ-vulnerable",
              "unprotected": "ML: unprotected"}  # short: the chart's label column is narrow
_ML_COLORS = {"ML: PQ-protected": SAFE, "ML: PQ-vulnerable": VULNERABLE,
              "ML: unprotected": "#d9a100"}


def _chart_label(f: Finding) -> str:
    return _ML_LABELS[f.pq_safe] if f.kind == "artifact" else f.algorithm


def _deadline_bucket(f: Finding, now: int) -> str:
    y = f.risk.deadline_year if f.risk else None
    if y is None:
        return "no deadline"
    if y <= now:
        return "already due"
    return str(y)


def _charts(findings: list[Finding], now: int) -> str:
    by_alg = Counter(_chart_label(f) for f in findings)
    vulnerable = {_chart_label(f) for f in findings if f.quantum_vulnerable}
    alg_rows = [(a, n, _ML_COLORS.get(a) or (VULNERABLE if a in vulnerable else NEUTRAL))
                for a, n in by_alg.most_common(14)]
    by_level = Counter(f.risk.level if f.risk else "info" for f in findings)
    level_rows = [(lv, by_level.get(lv, 0), RISK_COLORS[lv]) for lv in _LEVELS]
    buckets = Counter(_deadline_bucket(f, now) for f in findings)
    order = sorted((b for b in buckets if b[0].isdigit()), key=int)
    deadline_rows = [(b, buckets[b], "#b42318" if b == "already due" else (
        "#e04f16" if b.isdigit() and int(b) <= 2030 else ("#d9a100" if b.isdigit() else SAFE)))
        for b in ["already due", *order, "no deadline"] if buckets.get(b)]
    return (
        '<div class="charts">'
        '<div class="card">'
        f'{bar_chart(alg_rows, "Findings by algorithm (red: quantum-vulnerable)")}</div>'
        f'<div class="card">{bar_chart(level_rows, "Findings by risk level")}</div>'
        f'<div class="card">{bar_chart(deadline_rows, "Findings by compliance deadline")}</div>'
        "</div>"
    )


def _plan(result: ScanResult) -> str:
    from pqml.scan.plan import build_plan

    items = build_plan(result.findings, result.display_path)
    if not items:
        return '<p class="muted">Nothing to migrate.</p>'
    out = ['<ol class="plan">']
    for item in items:
        locs = ", ".join(escape(loc) for loc in item.locations[:6])
        more = (f' <span class="muted">(+{len(item.locations) - 6} more)</span>'
                if len(item.locations) > 6 else "")
        deadline = f" &middot; deadline {item.deadline_year}" if item.deadline_year else ""
        cmd = f'<code class="cmd">{escape(item.command)}</code>' if item.command else ""
        out.append(
            f"<li><strong>{escape(item.title)}</strong> {_badge(item.level)}"
            f' <span class="muted">{len(item.findings)} finding'
            f'{"s" if len(item.findings) != 1 else ""}{deadline}</span>'
            f"<div>Replace with: {escape(item.replacement)}</div>{cmd}"
            f'<div class="muted mono">{locs}{more}</div></li>'
        )
    out.append("</ol>")
    return "".join(out)


# The findings table's controls: hidden until the script shows them, so a page read
# without scripts shows no control that does nothing.
_CONTROLS = """<div class="controls" id="findings-controls" hidden>
<label>Filter <input id="findings-filter" type="search" autocomplete="off"
 placeholder="path, algorithm, usage, evidence"></label>
<label>Risk <select id="findings-level"><option value="">all levels</option>{options}</select>
</label><span id="findings-count" class="muted" aria-live="polite"></span></div>"""

# Sort on a header click (or Enter): numbers by data-v, text by its content, ascending
# first, ties in their previous order; filter on every keystroke. Plain ES5, no library.
_SCRIPT = """<script>
(function () {
  var table = document.getElementById("findings");
  if (!table) return;
  var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filter = document.getElementById("findings-filter");
  var level = document.getElementById("findings-level");
  var count = document.getElementById("findings-count");
  function value(row, i) {
    var cell = row.cells[i];
    return cell.hasAttribute("data-v") ? cell.getAttribute("data-v") : cell.textContent;
  }
  heads.forEach(function (th, i) {
    var numeric = th.getAttribute("data-type") === "num";
    th.className += " sortable";
    th.tabIndex = 0;
    function sort() {
      var asc = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", asc ? "ascending" : "descending");
      var keyed = rows.map(function (row, n) { return [value(row, i), n, row]; });
      keyed.sort(function (a, b) {
        var d = numeric ? parseFloat(a[0]) - parseFloat(b[0])
                        : a[0].localeCompare(b[0], undefined, {numeric: true});
        return (asc ? d : -d) || a[1] - b[1];
      });
      rows = keyed.map(function (k) { return k[2]; });
      rows.forEach(function (row) { body.appendChild(row); });
    }
    th.addEventListener("click", sort);
    th.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); }
    });
  });
  function apply() {
    var text = filter.value.toLowerCase(), lv = level.value, shown = 0;
    rows.forEach(function (row) {
      var ok = (!lv || row.getAttribute("data-level") === lv) &&
               (!text || row.textContent.toLowerCase().indexOf(text) >= 0);
      row.hidden = !ok;
      if (ok) shown++;
    });
    count.textContent = shown + " of " + rows.length + " findings";
  }
  filter.addEventListener("input", apply);
  level.addEventListener("change", apply);
  document.getElementById("findings-controls").hidden = false;
  apply();
})();
</script>"""


def _findings_table(result: ScanResult, findings: list[Finding]) -> str:
    rows = sorted(findings, key=lambda f: (-(f.risk.score if f.risk else 0),
                                           result.display_path(f), f.line))[:_MAX_ROWS]
    options = "".join(f'<option value="{lv}">{lv}</option>' for lv in _LEVELS)
    out = _CONTROLS.format(options=options) + _table(
        ("risk", "location", "algorithm", "usage", "pq-safe", "deadline", "evidence"),
        [_finding_row(result, f) for f in rows], attrs=' id="findings"',
        row_attrs=[f' data-level="{f.risk.level if f.risk else "info"}"' for f in rows],
        header_attrs=(' data-type="num"', "", "", "", "", ' data-type="num"', ""))
    if len(findings) > _MAX_ROWS:
        out += (f'<p class="muted">{len(findings) - _MAX_ROWS} more findings are in the JSON '
                "report.</p>")
    return out


def _finding_row(result: ScanResult, f: Finding) -> str:
    level = f.risk.level if f.risk else "info"
    score = f.risk.score if f.risk else 0
    deadline = f.risk.deadline_year if f.risk else None
    alg = escape(f.algorithm) + (f' <span class="muted">{escape(f.parameter)}</span>'
                                 if f.parameter else "")
    return (f'<td data-v="{score}">{_badge(level)}</td>'
            f'<td class="mono">{_path_html(result.location(f))}</td><td>{alg}</td>'
            f"<td>{escape(f.usage)}</td><td>{escape(f.pq_safe)}</td>"
            f'<td data-v="{deadline or 9999}">{deadline or ""}</td>'
            f'<td class="mono evidence">{escape(f.evidence)}</td>')


def _artifacts_table(result: ScanResult, findings: list[Finding]) -> str:
    arts = sorted((f for f in findings if f.kind == "artifact"),
                  key=lambda f: -(f.risk.score if f.risk else 0))
    return _table(("file", "format", "protection", "algorithms", "loading runs code"),
                  [_artifact_row(result, f) for f in arts], "No ML artifacts found.")


def _artifact_row(result: ScanResult, f: Finding) -> str:
    art = f.details.get("artifact", {})
    prot = f.details.get("protection", {})
    enc = (prot.get("encryption") or {}).get("kems", [])
    sigs = [s["algorithm"] for b in prot.get("signatures", []) or []
            for s in b.get("signatures", [])]
    algs = ", ".join([*(f"enc {k}" for k in enc), *(f"sig {s}" for s in sigs)]) or "—"
    danger = art.get("dangerous_imports") or []
    code = ("<strong>yes: imports " + escape(", ".join(danger[:4])) + "</strong>") if danger \
        else ("yes" if art.get("code_execution_risk") else "no")
    return (f'<td class="mono">{_path_html(result.display_path(f))}</td>'
            f"<td>{escape(str(art.get('format')))}</td>"
            f"<td>{escape(prot.get('status', 'none'))}</td><td>{escape(algs)}</td>"
            f"<td>{code}</td>")


def _certificates_table(result: ScanResult, findings: list[Finding]) -> str:
    return _table(("file", "subject", "key", "signature", "valid until"),
                  [_certificate_row(result, f) for f in findings if f.kind == "certificate"],
                  "No certificates found.")


def _certificate_row(result: ScanResult, f: Finding) -> str:
    d = f.details
    sig = (d.get("signature_algorithm") or {}).get("name", "")
    key = f"{f.algorithm} {f.parameter or ''}".strip()
    until = str(d.get("not_after", ""))[:10]
    if d.get("expired"):
        until += " (expired)"
    return (f'<td class="mono">{_path_html(result.location(f))}</td>'
            f"<td>{escape(str(d.get('subject', '')))}</td><td>{escape(key)}</td>"
            f"<td>{escape(str(sig))}</td><td>{escape(until)}</td>")


def render(result: ScanResult) -> str:
    from pqml import __version__

    findings = result.active
    s = result.summary()
    now = result.config.risk.current_year
    bad = s["by_level"].get("critical", 0) + s["by_level"].get("high", 0)
    due_2030 = sum(1 for f in findings if f.risk and f.risk.deadline_year
                   and f.risk.deadline_year <= 2030)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    roots = ", ".join(result.roots)
    risk = result.config.risk
    warnings = "".join(f"<li><span class=\"mono\">{escape(w.path)}</span>: {escape(w.message)}"
                       "</li>" for w in result.warnings[:200])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pqml scan: {escape(roots)}</title>
<style>{_CSS}</style></head>
<body>
<header><h1>Post-quantum readiness report</h1>
<p>{escape(roots)} &middot; generated {generated} by pqml {escape(__version__)}
&middot; {plural(s['files_scanned'], 'file')}, {plural(s['python_lines'], 'line')} of Python
</p></header>
<main>
<div class="cards">
{_card(s['findings'], 'cryptographic findings')}
{_card(s['quantum_vulnerable'], 'quantum-vulnerable', 'bad' if s['quantum_vulnerable'] else 'ok')}
{_card(bad, 'critical or high risk', 'bad' if bad else 'ok')}
{_card(due_2030, 'due by 2030 (NIST / CNSA 2.0)', 'warn' if due_2030 else 'ok')}
{_card(f"{s['unprotected_artifacts']} / {s['artifacts']}", 'ML artifacts unprotected',
       'bad' if s['unprotected_artifacts'] else 'ok')}
</div>
<h2>At a glance</h2>
{_charts(findings, now)}
<h2>Migration plan</h2>
{_plan(result)}
<h2>Findings</h2>
{_findings_table(result, findings)}
<h2>ML artifacts</h2>
{_artifacts_table(result, findings)}
<h2>Certificates</h2>
{_certificates_table(result, findings)}
{f"<h2>Scan warnings</h2><ul>{warnings}</ul>" if warnings else ""}
<footer>Risk model: Mosca's inequality with a cryptographically relevant quantum computer
assumed in {risk.crqc_year} ({risk.years_to_crqc:g} year{'' if risk.years_to_crqc == 1 else 's'}
from {risk.current_year}); deadlines from NIST IR 8547 (draft, Nov. 2024), NIST SP 800-131A and
CNSA 2.0. {plural(s['baselined'], 'finding')} accepted by the baseline
{'is' if s['baselined'] == 1 else 'are'} not shown.</footer>
</main>{_SCRIPT}</body></html>
"""

"""``--format html``: one self-contained page a security lead can read and forward.

Everything is inline -- CSS, SVG charts, no scripts, fonts or images from anywhere -- so
the file opens offline, survives e-mail and CI artifact viewers, and leaks nothing when
opened. The page leads with the answer (how much is vulnerable, how bad, by when), then
the migration plan, then the details: findings by risk, artifacts and their protection,
certificates and their expiry.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from html import escape

from pqml.scan.model import Finding
from pqml.scan.report.charts import NEUTRAL, RISK_COLORS, SAFE, bar_chart
from pqml.scan.runner import ScanResult

_LEVELS = ("critical", "high", "medium", "low", "info")
_MAX_ROWS = 3000

_CSS = """
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
th { background: #f2f4f7; font-weight: 600; color: #344054; position: sticky; top: 0; }
tr:last-child td { border-bottom: 0; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 12.5px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; color: #fff;
  font-size: 12px; font-weight: 600; }
.plan { counter-reset: step; list-style: none; padding: 0; margin: 0; }
.plan li { background: var(--card); border: 1px solid var(--line); border-radius: 10px;
  padding: 12px 16px 12px 52px; margin-bottom: 10px; position: relative; }
.plan li::before { counter-increment: step; content: counter(step); position: absolute;
  left: 14px; top: 12px; width: 26px; height: 26px; border-radius: 50%; background: var(--accent);
  color: #fff; text-align: center; font-weight: 700; line-height: 26px; }
.plan .cmd { background: #101828; color: #e4e7ec; padding: 6px 10px; border-radius: 6px;
  display: block; margin-top: 6px; white-space: pre-wrap; word-break: break-all; }
.muted { color: var(--muted); }
.evidence { max-width: 420px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
footer { color: var(--muted); font-size: 12.5px; margin-top: 40px; }
@media print { header { background: #fff; color: #000; } .plan .cmd { color: #000;
  background: #eee; } }
"""


def _badge(level: str) -> str:
    return (f'<span class="badge" style="background:{RISK_COLORS.get(level, "#98a2b3")}">'
            f"{escape(level)}</span>")


def _card(n: object, label: str, tone: str = "") -> str:
    return (f'<div class="card {tone}"><div class="n">{escape(str(n))}</div>'
            f'<div class="t">{escape(label)}</div></div>')


def _deadline_bucket(f: Finding, now: int) -> str:
    y = f.risk.deadline_year if f.risk else None
    if y is None:
        return "no deadline"
    if y <= now:
        return "already due"
    return str(y)


def _charts(findings: list[Finding], now: int) -> str:
    def label(f: Finding) -> str:
        if f.kind != "artifact":
            return f.algorithm
        status = f.details.get("protection", {}).get("status", "none")
        return "ML files: unprotected" if status == "none" else f"ML files: {status}"

    by_alg = Counter(label(f) for f in findings)
    vulnerable = {label(f) for f in findings if f.quantum_vulnerable}
    alg_rows = [(a, n, "#c4320a" if a in vulnerable else (
        "#7a5af8" if a.startswith("ML files") else NEUTRAL)) for a, n in by_alg.most_common(14)]
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

    items = build_plan(result.findings)
    if not items:
        return '<p class="muted">Nothing to migrate.</p>'
    out = ['<ol class="plan">']
    for item in items:
        locs = ", ".join(escape(f.location) for f in item.findings[:6])
        more = (f' <span class="muted">(+{len(item.findings) - 6} more)</span>'
                if len(item.findings) > 6 else "")
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


def _table(headers: tuple[str, ...], rows: list[str], empty: str = "") -> str:
    """A table with these column headers; each row is its cells' HTML (``<td>``s). With no
    rows, the ``empty`` note instead (if given)."""
    if not rows and empty:
        return f'<p class="muted">{empty}</p>'
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join(f"<tr>{cells}</tr>" for cells in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _findings_table(findings: list[Finding], multi_root: bool) -> str:
    rows = sorted(findings, key=lambda f: (-(f.risk.score if f.risk else 0), f.path, f.line))
    out = _table(("risk", "location", "algorithm", "usage", "quantum-safe", "deadline",
                  "evidence"), [_finding_row(f, multi_root) for f in rows[:_MAX_ROWS]])
    if len(rows) > _MAX_ROWS:
        out += (f'<p class="muted">{len(rows) - _MAX_ROWS} more findings are in the JSON '
                "report.</p>")
    return out


def _finding_row(f: Finding, multi_root: bool) -> str:
    level = f.risk.level if f.risk else "info"
    loc = f"{f.root.rstrip('/')}/{f.location}" if multi_root else f.location
    alg = escape(f.algorithm) + (f' <span class="muted">{escape(f.parameter)}</span>'
                                 if f.parameter else "")
    return (f"<td>{_badge(level)}</td><td class=\"mono\">{escape(loc)}</td><td>{alg}</td>"
            f"<td>{escape(f.usage)}</td><td>{'no' if f.quantum_vulnerable else 'yes'}</td>"
            f"<td>{f.risk.deadline_year or '' if f.risk else ''}</td>"
            f'<td class="mono evidence" title="{escape(f.evidence)}">{escape(f.evidence)}</td>')


def _artifacts_table(findings: list[Finding]) -> str:
    arts = sorted((f for f in findings if f.kind == "artifact"),
                  key=lambda f: -(f.risk.score if f.risk else 0))
    return _table(("file", "format", "protection", "algorithms", "loading runs code"),
                  [_artifact_row(f) for f in arts], "No ML artifacts found.")


def _artifact_row(f: Finding) -> str:
    art = f.details.get("artifact", {})
    prot = f.details.get("protection", {})
    enc = (prot.get("encryption") or {}).get("kems", [])
    sigs = [s["algorithm"] for b in prot.get("signatures", []) or []
            for s in b.get("signatures", [])]
    algs = ", ".join([*(f"enc {k}" for k in enc), *(f"sig {s}" for s in sigs)]) or "—"
    danger = art.get("dangerous_imports") or []
    code = ("<strong>yes: imports " + escape(", ".join(danger[:4])) + "</strong>") if danger \
        else ("yes" if art.get("code_execution_risk") else "no")
    return (f'<td class="mono">{escape(f.path)}</td>'
            f"<td>{escape(str(art.get('format')))}</td>"
            f"<td>{escape(prot.get('status', 'none'))}</td><td>{escape(algs)}</td>"
            f"<td>{code}</td>")


def _certificates_table(findings: list[Finding]) -> str:
    return _table(("file", "subject", "key", "signature", "valid until"),
                  [_certificate_row(f) for f in findings if f.kind == "certificate"],
                  "No certificates found.")


def _certificate_row(f: Finding) -> str:
    d = f.details
    sig = (d.get("signature_algorithm") or {}).get("name", "")
    key = f"{f.algorithm} {f.parameter or ''}".strip()
    until = str(d.get("not_after", ""))[:10]
    if d.get("expired"):
        until += " (expired)"
    return (f'<td class="mono">{escape(f.location)}</td>'
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
&middot; {s['files_scanned']} files, {s['python_lines']} lines of Python</p></header>
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
{_findings_table(findings, len(result.roots) > 1)}
<h2>ML artifacts</h2>
{_artifacts_table(findings)}
<h2>Certificates</h2>
{_certificates_table(findings)}
{f"<h2>Scan warnings</h2><ul>{warnings}</ul>" if warnings else ""}
<footer>Risk model: Mosca's inequality with a cryptographically relevant quantum computer
assumed in {risk.crqc_year} ({risk.years_to_crqc:g} years from {risk.current_year}); deadlines
from NIST IR 8547 (draft, Nov. 2024), NIST SP 800-131A and CNSA 2.0. {s['baselined']} findings
accepted by the baseline are not shown.</footer>
</main></body></html>
"""

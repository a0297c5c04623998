"""Inline SVG bar charts for the HTML report: no JavaScript, no external assets.

Horizontal bars read well with long labels (``ECDSA-P-256``) and any number of rows; each
bar carries its value as text and a ``<title>`` tooltip, so the chart stays readable when
printed or viewed without colour.
"""

from __future__ import annotations

from html import escape

RISK_COLORS = {"critical": "#b42318", "high": "#e04f16", "medium": "#d9a100",
               "low": "#2e90c9", "info": "#98a2b3"}
NEUTRAL = "#4f6bed"
SAFE = "#2f9e6e"


def bar_chart(rows: list[tuple[str, int, str]], title: str, width: int = 440,
              bar_height: int = 20, label_width: int = 150) -> str:
    """``rows``: (label, value, colour). Returns one ``<svg>`` element."""
    rows = [r for r in rows if r[1] > 0]
    gap = 6
    top = 28
    height = top + max(1, len(rows)) * (bar_height + gap) + 8
    biggest = max((v for _, v, _ in rows), default=1)
    plot = width - label_width - 48
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" width="{width}" '
        f'height="{height}" aria-label="{escape(title)}">',
        f'<text x="0" y="16" class="chart-title">{escape(title)}</text>',
    ]
    if not rows:
        parts.append(f'<text x="0" y="{top + 14}" class="chart-empty">nothing to show</text>')
    for i, (label, value, color) in enumerate(rows):
        y = top + i * (bar_height + gap)
        w = max(2, round(plot * value / biggest))
        short = label if len(label) <= 22 else label[:21] + "…"
        parts.append(
            f'<g><title>{escape(label)}: {value}</title>'
            f'<text x="{label_width - 8}" y="{y + bar_height - 6}" text-anchor="end" '
            f'class="chart-label">{escape(short)}</text>'
            f'<rect x="{label_width}" y="{y}" width="{w}" height="{bar_height}" rx="3" '
            f'fill="{color}"/>'
            f'<text x="{label_width + w + 6}" y="{y + bar_height - 6}" '
            f'class="chart-value">{value}</text></g>'
        )
    parts.append("</svg>")
    return "".join(parts)

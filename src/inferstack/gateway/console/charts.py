"""Server-rendered SVG bar charts for the usage page: no chart library, no script, escaped labels."""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

_WIDTH = 640
_BAR_H = 22
_LABEL_W = 200


def bar_chart(title: str, rows: list[tuple[str, float]], *, unit: str = "") -> str:
    """A horizontal bar chart of `rows` (label, value), largest first, as a standalone SVG document."""
    rows = sorted(rows, key=lambda r: r[1], reverse=True)[:20]
    top = max((v for _, v in rows), default=0.0) or 1.0
    height = 30 + _BAR_H * max(len(rows), 1)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" role="img" '
        f'aria-label="{escape(title, {chr(34): "&quot;"})}">',
        f"<title>{escape(title)}</title>",
        f'<text x="0" y="16" font-size="14" font-weight="bold" fill="#1b1f24">{escape(title)}</text>',
    ]
    if not rows:
        parts.append('<text x="0" y="44" font-size="13" fill="#444">no requests yet</text>')
    for i, (label, value) in enumerate(rows):
        y = 26 + i * _BAR_H
        width = max(1.0, (_WIDTH - _LABEL_W - 90) * value / top)
        shown = f"${value:.6f}" if unit == "USD" else f"{value:.6g}{unit}"
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12" fill="#1b1f24">{escape(label[:32])}</text>'
            f'<rect x="{_LABEL_W}" y="{y + 3}" width="{width:.1f}" height="{_BAR_H - 6}" fill="#1f6feb"/>'
            f'<text x="{_LABEL_W + width + 6:.1f}" y="{y + 15}" font-size="12" fill="#1b1f24">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def waterfall(spans: list[dict[str, Any]]) -> str:
    """One trace's spans as a waterfall: a row per span, indented by depth, bars placed on the trace's time axis."""
    if not spans:
        return bar_chart("no spans", [])
    start = min(int(s["start_ns"]) for s in spans)
    total = max(max(int(s["end_ns"]) for s in spans) - start, 1)
    depth: dict[str, int] = {}
    for span in spans:  # by start time, so a parent comes before its children
        depth[span["span_id"]] = depth.get(span["parent_id"], -1) + 1
    height = 10 + _BAR_H * len(spans)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_WIDTH} {height}" '
        'role="img" aria-label="span waterfall">',
        "<title>span waterfall</title>",
    ]
    track = _WIDTH - _LABEL_W - 70
    for i, span in enumerate(spans):
        y = 5 + i * _BAR_H
        x = _LABEL_W + track * (int(span["start_ns"]) - start) / total
        width = max(1.0, track * (int(span["end_ns"]) - int(span["start_ns"])) / total)
        color = "#a4161a" if span["status"] == "ERROR" else "#1f6feb"
        label = ("  " * min(depth[span["span_id"]], 6)) + str(span["name"])
        parts.append(
            f'<text x="0" y="{y + 15}" font-size="12" fill="#1b1f24" xml:space="preserve">{escape(label[:34])}</text>'
            f'<rect x="{x:.1f}" y="{y + 3}" width="{width:.1f}" height="{_BAR_H - 6}" fill="{color}"/>'
            f'<text x="{x + width + 4:.1f}" y="{y + 15}" font-size="11" fill="#1b1f24">'
            f"{float(span['duration_ms']):.1f} ms</text>"
        )
    parts.append("</svg>")
    return "".join(parts)

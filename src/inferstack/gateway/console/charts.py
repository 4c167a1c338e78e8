"""Server-rendered SVG bar charts for the usage page: no chart library, no script, escaped labels."""

from __future__ import annotations

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

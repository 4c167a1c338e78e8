"""How numbers read in the terminal summary and the HTML report: milliseconds, rates, ratios, levels."""

from __future__ import annotations

from inferstack.bench.metrics import Distribution

DASH = "–"


def level(value: float) -> str:
    return f"{value:g}"


def ms(value: float | None) -> str:
    if value is None:
        return DASH
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def stat_ms(distribution: Distribution | None, stat: str) -> str:
    return DASH if distribution is None else ms(float(getattr(distribution, stat)))


def rate(value: float | None) -> str:
    if value is None:
        return DASH
    return f"{value:,.0f}" if value >= 100 else f"{value:.2f}"


def ratio(value: float | None) -> str:
    return DASH if value is None else f"{value:.3f}×"


def signed(value: float | None, unit: str) -> str:
    if value is None:
        return DASH
    if unit == "fraction":
        return f"{value:+.1%}"
    return f"{value:+,.2f}" if abs(value) < 100 else f"{value:+,.0f}"


def plain(value: float | None, unit: str) -> str:
    if value is None:
        return DASH
    if unit == "fraction":
        return f"{value:.1%}"
    return ms(value) if unit == "ms" else rate(value)


def percent(value: float | None) -> str:
    return DASH if value is None else f"{value:.1%}"

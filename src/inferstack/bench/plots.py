"""PNG charts of a run: latency percentiles against load, and throughput against load, one line per target.

matplotlib is imported here only, through its object API and the Agg canvas, so drawing never touches
global pyplot state or needs a display.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from inferstack.bench.metrics import Distribution, LevelMetrics
from inferstack.bench.results import BenchmarkResult

LATENCY_PNG = "latency_vs_load.png"
THROUGHPUT_PNG = "throughput_vs_load.png"
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
_STYLES = {"p50": "-", "p90": "--", "p99": ":"}


def _level_axis(axes: Axes, levels: list[float]) -> None:
    """A log2 axis when the levels span a wide range, ticked at the measured levels."""
    if not levels:
        return
    if min(levels) > 0 and max(levels) / min(levels) >= 4:
        axes.set_xscale("log", base=2)
    ticks = sorted(set(levels))
    axes.set_xticks(ticks, [f"{tick:g}" for tick in ticks])
    axes.minorticks_off()
    axes.set_ylim(bottom=0)


def _series(
    axes: Axes, result: BenchmarkResult, pick: Callable[[LevelMetrics], Distribution | None], title: str
) -> None:
    for colour, target in zip(_COLOURS, result.targets, strict=False):
        for stat, style in _STYLES.items():
            points = [
                (lv.level, float(getattr(d, stat))) for lv in target.levels if (d := pick(lv.metrics)) is not None
            ]
            if points:
                xs, ys = zip(*points, strict=True)
                axes.plot(xs, ys, style, color=colour, marker="o", markersize=3, label=f"{target.label} {stat}")
    axes.set_title(title)
    axes.set_xlabel(result.level_name)
    axes.set_ylabel("ms")
    axes.grid(True, alpha=0.3)
    _level_axis(axes, [lv.level for t in result.targets for lv in t.levels])
    if axes.lines:
        axes.legend(fontsize="small")


def _save(figure: Figure, path: Path) -> Path:
    figure.tight_layout()
    FigureCanvasAgg(figure)  # attaches itself as the figure's canvas
    figure.savefig(path, format="png")
    return path


def latency_plot(result: BenchmarkResult, path: Path) -> Path:
    panels: list[tuple[str, Callable[[LevelMetrics], Distribution | None]]] = [
        ("end-to-end latency", lambda m: m.e2e_ms)
    ]
    if result.stream:
        panels += [("time to first token", lambda m: m.ttft_ms), ("time per output token", lambda m: m.tpot_ms)]
    figure = Figure(figsize=(5 * len(panels), 4), dpi=100)
    for index, (title, pick) in enumerate(panels, start=1):
        _series(figure.add_subplot(1, len(panels), index), result, pick, title)
    return _save(figure, path)


def throughput_plot(result: BenchmarkResult, path: Path) -> Path:
    figure = Figure(figsize=(10, 4), dpi=100)
    requests_axes = figure.add_subplot(1, 2, 1)
    tokens_axes = figure.add_subplot(1, 2, 2)
    for colour, target in zip(_COLOURS, result.targets, strict=False):
        xs = [lv.level for lv in target.levels]
        requests_axes.plot(
            xs, [lv.metrics.request_throughput for lv in target.levels], "-o", color=colour, label=target.label
        )
        goodput = [(lv.level, lv.metrics.goodput) for lv in target.levels if lv.metrics.goodput is not None]
        if goodput:
            gx, gy = zip(*goodput, strict=True)
            requests_axes.plot(gx, gy, "--", color=colour, label=f"{target.label} goodput")
        tokens_axes.plot(
            xs, [lv.metrics.output_token_throughput for lv in target.levels], "-o", color=colour, label=target.label
        )
    for axes, title, unit in (
        (requests_axes, "requests per second", "req/s"),
        (tokens_axes, "output tokens per second", "tok/s"),
    ):
        axes.set_title(title)
        axes.set_xlabel(result.level_name)
        axes.set_ylabel(unit)
        axes.grid(True, alpha=0.3)
        _level_axis(axes, [lv.level for t in result.targets for lv in t.levels])
        if axes.lines:
            axes.legend(fontsize="small")
    return _save(figure, path)

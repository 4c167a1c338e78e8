"""The end-of-run summary in the terminal: per target a throughput table and a latency table, errors by type,
the A/B comparison, sweep knees, the client ceiling and any warnings. Every table fits an 80-column terminal
with its figures whole (tests/unit/bench/test_summary.py renders them at width 80).
"""

from __future__ import annotations

from rich import box
from rich.console import Console
from rich.table import Table

from inferstack.bench import formatting as fmt
from inferstack.bench.metrics import Distribution
from inferstack.bench.results import BenchmarkResult, LevelResult, TargetResult

LATENCY_IN_SECONDS_FROM_MS = 10_000


def _table(title: str, caption: str | None = None) -> Table:
    """A compact table: no vertical rules, so nine figures fit an 80-column terminal."""
    return Table(title=title, title_justify="left", caption=caption, caption_justify="left", box=box.SIMPLE_HEAD)


def _figure_column(table: Table, header: str) -> None:
    # Figures never wrap or shrink into an ellipsis; headers go on two lines instead.
    table.add_column(header, justify="right", no_wrap=True)


def latency_cell(distribution: Distribution | None, stat: str) -> str:
    """Milliseconds, or seconds (with the unit) from 10 s up, so a cell stays within six characters."""
    if distribution is None:
        return fmt.DASH
    value = float(getattr(distribution, stat))
    if value < LATENCY_IN_SECONDS_FROM_MS:
        return fmt.ms(value)
    seconds = value / 1000
    return f"{seconds:.1f} s" if seconds < 100 else f"{seconds:,.0f} s"


_METRIC_LABELS = {
    "e2e": "E2E",
    "ttft": "TTFT",
    "tpot": "TPOT",
    "itl": "ITL",
    "request_throughput": "req/s",
    "output_token_throughput": "out tok/s",
    "error_rate": "error rate",
    "goodput": "goodput req/s",
}


def metric_label(metric: str) -> str:
    """A comparison row's name in the terminal: 'E2E p50 ms', 'out tok/s'."""
    if metric in _METRIC_LABELS:
        return _METRIC_LABELS[metric]
    name, _, stat = metric.rpartition("_")
    return f"{_METRIC_LABELS[name]} {stat} ms" if name in _METRIC_LABELS else metric


def _level_cell(level: LevelResult) -> str:
    return fmt.level(level.level) + (" cut" if level.interrupted else "")


def _throughput_table(result: BenchmarkResult, target: TargetResult) -> Table:
    table = _table(f"{target.label}: {target.model} @ {target.url}")
    slo = any(level.metrics.goodput is not None for level in target.levels)
    headers = [result.level_header, "ok/total", "req/s", "out tok/s"] + (["goodput\nreq/s", "SLO met"] if slo else [])
    for header in headers:
        _figure_column(table, header)
    for level in target.levels:
        m = level.metrics
        row = [_level_cell(level), f"{m.successes}/{m.requests}", fmt.rate(m.request_throughput)]
        row.append(fmt.rate(m.output_token_throughput))
        if slo:
            row += [fmt.rate(m.goodput), fmt.percent(m.slo_attainment)]
        table.add_row(*row)
    return table


def _latency_table(result: BenchmarkResult, target: TargetResult) -> Table:
    table = _table(f"{target.label}: latency (ms)")
    headers = [result.level_header]
    if result.stream:
        headers += ["TTFT\np50", "TTFT\np99", "TPOT\np50", "ITL\np50", "ITL\np99"]
    headers += ["E2E\np50", "E2E\np90", "E2E\np99"]
    for header in headers:
        _figure_column(table, header)
    for level in target.levels:
        m = level.metrics
        row = [_level_cell(level)]
        if result.stream:
            row += [
                latency_cell(m.ttft_ms, "p50"),
                latency_cell(m.ttft_ms, "p99"),
                latency_cell(m.tpot_ms, "p50"),
                latency_cell(m.itl_ms, "p50"),
                latency_cell(m.itl_ms, "p99"),
            ]
        row += [latency_cell(m.e2e_ms, s) for s in ("p50", "p90", "p99")]
        table.add_row(*row)
    return table


def _errors_table(result: BenchmarkResult) -> Table | None:
    table = _table("errors by type")
    for name in ("target", result.level_header, "type", "count"):
        table.add_column(name, no_wrap=name != "target")
    table.add_column("example", overflow="fold")
    for target in result.targets:
        for level in target.levels:
            for kind, count in level.metrics.errors.items():
                example = level.metrics.error_examples.get(kind, "")
                table.add_row(target.label, fmt.level(level.level), kind, str(count), example[:100])
    return table if table.row_count else None


def _comparison_table(result: BenchmarkResult) -> Table | None:
    if not result.comparisons:
        return None
    a, b = result.targets[0].label, result.targets[1].label
    table = _table(f"comparison: {b} (B) against {a} (A)")
    _figure_column(table, result.level_header)
    table.add_column("metric", no_wrap=True)
    for name in ("A", "B", "B − A", "B / A"):
        _figure_column(table, name)
    for comparison in result.comparisons:
        for row in comparison.rows:
            table.add_row(
                fmt.level(comparison.level),
                metric_label(row.metric),
                fmt.plain(row.a, row.unit),
                fmt.plain(row.b, row.unit),
                fmt.signed(row.difference, row.unit),
                fmt.ratio(row.ratio),
            )
    return table


def print_summary(result: BenchmarkResult, console: Console) -> None:
    for target in result.targets:
        console.print(_throughput_table(result, target))
        console.print(_latency_table(result, target))
    for table in (_errors_table(result), _comparison_table(result)):
        if table is not None:
            console.print(table)
    for target in result.targets:
        if target.sweep is not None:
            knee = "none within limits" if target.sweep.knee is None else fmt.level(target.sweep.knee)
            console.print(
                f"sweep {target.label}: knee at {result.level_name} {knee}; stopped because {target.sweep.stop_reason}",
                highlight=False,
            )
    if result.ceiling is not None:
        limit = result.ceiling.for_mode(stream=result.stream)
        mode = "streaming" if result.stream else "non-streaming"
        console.print(f"client ceiling ({mode}): {limit:,.0f} req/s", style="dim", highlight=False)
    for warning in result.warnings:
        console.print(f"warning: {warning}", style="yellow", highlight=False)
    if result.partial:
        console.print("partial results: the run was interrupted", style="yellow")

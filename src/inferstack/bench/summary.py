"""The end-of-run summary in the terminal: a metrics table per target, errors by type, the A/B
comparison, sweep knees, the client ceiling and any warnings.
"""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from inferstack.bench import formatting as fmt
from inferstack.bench.results import BenchmarkResult, TargetResult


def _target_table(result: BenchmarkResult, target: TargetResult) -> Table:
    table = Table(title=f"{target.label}: {target.model} @ {target.url}", title_justify="left")
    columns = [result.level_name, "ok/total", "req/s", "out tok/s"]
    if result.stream:
        columns += ["TTFT p50", "TTFT p99", "TPOT p50", "ITL p50", "ITL p99"]
    columns += ["E2E p50", "E2E p90", "E2E p99"]
    slo = any(level.metrics.goodput is not None for level in target.levels)
    if slo:
        columns += ["goodput req/s", "SLO met"]
    for name in columns:
        table.add_column(name, justify="right")
    for level in target.levels:
        m = level.metrics
        row = [
            fmt.level(level.level) + (" (cut)" if level.interrupted else ""),
            f"{m.successes}/{m.requests}",
            fmt.rate(m.request_throughput),
            fmt.rate(m.output_token_throughput),
        ]
        if result.stream:
            row += [
                fmt.stat_ms(m.ttft_ms, "p50"),
                fmt.stat_ms(m.ttft_ms, "p99"),
                fmt.stat_ms(m.tpot_ms, "p50"),
                fmt.stat_ms(m.itl_ms, "p50"),
                fmt.stat_ms(m.itl_ms, "p99"),
            ]
        row += [fmt.stat_ms(m.e2e_ms, s) for s in ("p50", "p90", "p99")]
        if slo:
            row += [fmt.rate(m.goodput), fmt.percent(m.slo_attainment)]
        table.add_row(*row)
    table.caption = "latencies in ms"
    return table


def _errors_table(result: BenchmarkResult) -> Table | None:
    table = Table(title="errors by type", title_justify="left")
    for name in ("target", result.level_name, "type", "count", "example"):
        table.add_column(name)
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
    table = Table(title=f"comparison: {b} against {a}", title_justify="left")
    for name in (result.level_name, "metric", a, b, f"{b} − {a}", f"{b} / {a}"):
        table.add_column(name, justify="right")
    for comparison in result.comparisons:
        for row in comparison.rows:
            table.add_row(
                fmt.level(comparison.level),
                f"{row.metric} ({row.unit})",
                fmt.plain(row.a, row.unit),
                fmt.plain(row.b, row.unit),
                fmt.signed(row.difference, row.unit),
                fmt.ratio(row.ratio),
            )
    return table


def print_summary(result: BenchmarkResult, console: Console) -> None:
    for target in result.targets:
        console.print(_target_table(result, target))
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

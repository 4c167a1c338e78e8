"""Writes a run's files: results.json, results.csv (one row per target and level), requests.csv (one row
per request), the PNG charts, and a self-contained report.html with the charts embedded as base64.
"""

from __future__ import annotations

import base64
import csv
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import jinja2
import orjson

from inferstack.bench import formatting as fmt
from inferstack.bench.metrics import Distribution, LevelMetrics, e2e_s, tpot_s, ttft_s
from inferstack.bench.plots import LATENCY_PNG, THROUGHPUT_PNG, latency_plot, throughput_plot
from inferstack.bench.records import RequestRecord
from inferstack.bench.results import BenchmarkResult

RESULTS_JSON = "results.json"
RESULTS_CSV = "results.csv"
REQUESTS_CSV = "requests.csv"
REPORT_HTML = "report.html"

_DISTRIBUTIONS = ("ttft_ms", "tpot_ms", "itl_ms", "e2e_ms", "output_tokens_per_s_per_request", "schedule_lag_ms")
_STATS = ("mean", "p50", "p90", "p95", "p99")
_LEVEL_COLUMNS = (
    "target",
    "mode",
    "level",
    "interrupted",
    "requests",
    "successes",
    "error_rate",
    "errors",
    "duration_s",
    "request_throughput",
    "output_token_throughput",
    "total_token_throughput",
    "prompt_tokens",
    "completion_tokens",
    "goodput",
    "slo_attainment",
    *(f"{name}_{stat}" for name in _DISTRIBUTIONS for stat in _STATS),
)
_REQUEST_COLUMNS = (
    "target",
    "level",
    "start_s",
    "e2e_ms",
    "ttft_ms",
    "tpot_ms",
    "chunks",
    "prompt_tokens",
    "completion_tokens",
    "tokens_from",
    "error",
)


@dataclass(frozen=True, slots=True)
class WrittenReport:
    results_json: Path
    results_csv: Path
    requests_csv: Path
    plots: list[Path]
    html: Path

    def all(self) -> list[Path]:
        return [self.results_json, self.results_csv, self.requests_csv, *self.plots, self.html]


def write_json(result: BenchmarkResult, path: Path) -> Path:
    path.write_bytes(orjson.dumps(result.to_dict(), option=orjson.OPT_INDENT_2))
    return path


def _level_row(target: str, mode: str, level: float, interrupted: bool, m: LevelMetrics) -> dict[str, object]:
    row: dict[str, object] = {
        "target": target,
        "mode": mode,
        "level": level,
        "interrupted": interrupted,
        "requests": m.requests,
        "successes": m.successes,
        "error_rate": m.error_rate,
        "errors": ";".join(f"{k}={v}" for k, v in m.errors.items()),
        "duration_s": m.duration_s,
        "request_throughput": m.request_throughput,
        "output_token_throughput": m.output_token_throughput,
        "total_token_throughput": m.total_token_throughput,
        "prompt_tokens": m.tokens.prompt,
        "completion_tokens": m.tokens.completion,
        "goodput": m.goodput,
        "slo_attainment": m.slo_attainment,
    }
    for name in _DISTRIBUTIONS:
        distribution: Distribution | None = getattr(m, name)
        for stat in _STATS:
            row[f"{name}_{stat}"] = None if distribution is None else getattr(distribution, stat)
    return row


def write_levels_csv(result: BenchmarkResult, path: Path) -> Path:
    rows = [
        _level_row(t.label, result.mode, lv.level, lv.interrupted, lv.metrics)
        for t in result.targets
        for lv in t.levels
    ]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=_LEVEL_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


def _optional(value: float | None, scale: float = 1.0) -> object:
    return "" if value is None else round(value * scale, 3)


def _request_cells(record: RequestRecord, origin: float) -> list[object]:
    source = "" if record.completion_tokens is None else ("usage" if record.tokens_from_usage else "stream")
    return [
        round(record.start - origin, 6),
        _optional(e2e_s(record), 1000),
        _optional(ttft_s(record), 1000),
        _optional(tpot_s(record), 1000),
        len(record.chunk_times),
        "" if record.prompt_tokens is None else record.prompt_tokens,
        "" if record.completion_tokens is None else record.completion_tokens,
        source,
        record.error or "",
    ]


def write_requests_csv(result: BenchmarkResult, path: Path) -> Path:
    """One row per request; `start_s` counts from the first request of its level."""
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(_REQUEST_COLUMNS)
        for target in result.targets:
            for level in target.levels:
                origin = min((r.start for r in level.records), default=0.0)
                for r in sorted(level.records, key=lambda record: record.start):
                    writer.writerow([target.label, level.level, *_request_cells(r, origin)])
    return path


def _template() -> jinja2.Template:
    text = resources.files("inferstack.bench").joinpath("data/report.html.j2").read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(
        {
            "ms": fmt.ms,
            "rate": fmt.rate,
            "ratio": fmt.ratio,
            "level": fmt.level,
            "percent": fmt.percent,
            "stat_ms": fmt.stat_ms,
            "plain": fmt.plain,
            "signed": fmt.signed,
        }
    )
    return env.from_string(text)


def write_html(result: BenchmarkResult, path: Path, plots: list[Path]) -> Path:
    images = [(p.stem.replace("_", " "), base64.b64encode(p.read_bytes()).decode("ascii")) for p in plots]
    settings_json = orjson.dumps(result.settings, option=orjson.OPT_INDENT_2).decode()
    ceiling = None if result.ceiling is None else result.ceiling.for_mode(stream=result.stream)
    html = _template().render(result=result, images=images, settings_json=settings_json, ceiling=ceiling)
    path.write_text(html, encoding="utf-8")
    return path


def write_report(result: BenchmarkResult, directory: Path) -> WrittenReport:
    """Write every output file of a run into `directory` (created if needed)."""
    directory.mkdir(parents=True, exist_ok=True)
    plots = [
        latency_plot(result, directory / LATENCY_PNG),
        throughput_plot(result, directory / THROUGHPUT_PNG),
    ]
    return WrittenReport(
        results_json=write_json(result, directory / RESULTS_JSON),
        results_csv=write_levels_csv(result, directory / RESULTS_CSV),
        requests_csv=write_requests_csv(result, directory / REQUESTS_CSV),
        plots=plots,
        html=write_html(result, directory / REPORT_HTML, plots),
    )

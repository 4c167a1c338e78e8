"""Report files from a synthetic result: every file written and non-empty, JSON and CSV complete,
PNG charts real, the HTML self-contained and escaped; plus the terminal summary."""

from __future__ import annotations

import csv
from pathlib import Path

import orjson
from rich.console import Console

from inferstack.bench.report import write_report
from inferstack.bench.results import BenchmarkResult
from inferstack.bench.summary import print_summary

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_every_file_is_written_and_non_empty(tmp_path: Path, two_target_result: BenchmarkResult) -> None:
    written = write_report(two_target_result, tmp_path / "out")
    names = sorted(p.name for p in written.all())
    assert names == [
        "latency_vs_load.png",
        "report.html",
        "requests.csv",
        "results.csv",
        "results.json",
        "throughput_vs_load.png",
    ]
    assert all(p.stat().st_size > 0 for p in written.all())
    assert all(p.read_bytes().startswith(PNG_SIGNATURE) for p in written.plots)


def test_results_json_holds_levels_comparisons_and_ceiling(tmp_path: Path, two_target_result: BenchmarkResult) -> None:
    data = orjson.loads(write_report(two_target_result, tmp_path).results_json.read_bytes())
    assert [t["label"] for t in data["targets"]] == ["direct", "gateway <script>"]
    level = data["targets"][0]["levels"][0]
    assert level["requests"] == 11 and level["successes"] == 10
    assert level["errors"] == {"http_401": 1}
    assert level["ttft_ms"]["p50"] > 0 and level["itl_ms"]["count"] == 70
    assert level["goodput"] is not None
    assert data["targets"][0]["sweep"]["knee"] == 2.0
    assert len(data["comparisons"]) == 3
    assert data["client_ceiling"]["stream"]["requests_per_s"] == 5000.0
    assert data["settings"]["target"]["api_key"] == "**********"


def test_csv_files_have_one_row_per_level_and_per_request(tmp_path: Path, two_target_result: BenchmarkResult) -> None:
    written = write_report(two_target_result, tmp_path)
    levels = list(csv.DictReader(written.results_csv.open()))
    assert len(levels) == 6
    assert levels[0]["target"] == "direct" and levels[0]["errors"] == "http_401=1"
    assert float(levels[0]["e2e_ms_p99"]) > 0
    requests = list(csv.DictReader(written.requests_csv.open()))
    assert len(requests) == 66
    assert {r["error"] for r in requests} == {"", "http_401"}
    assert {r["tokens_from"] for r in requests if not r["error"]} == {"usage"}


def test_html_embeds_the_charts_and_escapes_text(tmp_path: Path, two_target_result: BenchmarkResult) -> None:
    html = write_report(two_target_result, tmp_path).html.read_text()
    assert html.count("data:image/png;base64,") == 2
    assert "gateway &lt;script&gt;" in html and "<script>" not in html
    assert "HTTP 401: &lt;b&gt;no&lt;/b&gt;" in html
    assert "Comparison" in html and "something to look at" in html
    assert 'src="http' not in html  # self-contained: nothing fetched


def test_non_streaming_result_draws_only_end_to_end_latency(tmp_path: Path, two_target_result: BenchmarkResult) -> None:
    two_target_result.stream = False
    written = write_report(two_target_result, tmp_path)
    assert all(p.stat().st_size > 0 for p in written.all())


def test_summary_prints_tables_comparison_sweep_and_warnings(two_target_result: BenchmarkResult) -> None:
    console = Console(record=True, width=200)
    print_summary(two_target_result, console)
    text = console.export_text()
    assert "direct: m @ http://127.0.0.1:1" in text
    assert "comparison: gateway <script> (B) against direct (A)" in text
    assert "http_401" in text
    assert "knee at concurrency 2" in text
    assert "warning: B at level 4" in text
    assert "client ceiling (streaming): 5,000 req/s" in text

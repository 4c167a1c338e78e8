"""`inferstack bench` as a user runs it: a subprocess writing real files, compare mode, calibrate,
Ctrl-C with partial results, exit codes and option errors."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import orjson

from tests.support.processes import REPO_ROOT, RunningProcess, free_port

CLI_TIMEOUT_S = 120


def bench(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inferstack", "bench", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def results(directory: Path) -> dict[str, object]:
    data: dict[str, object] = orjson.loads((directory / "results.json").read_bytes())
    return data


def test_compare_run_writes_every_file_and_measures_its_own_ceiling(
    tmp_path: Path, fake_upstream: RunningProcess, null_upstream: RunningProcess
) -> None:
    out, ceiling = tmp_path / "out", tmp_path / "ceiling.json"
    done = bench(
        "--url", fake_upstream.base_url, "--model", "fake-model", "--label", "fake",
        "--compare-url", null_upstream.base_url, "--compare-model", "null", "--compare-label", "null",
        "--concurrency", "1,2", "--requests", "6", "--output-tokens", "8", "--slo-ttft-ms", "5000",
        "--output", out, "--ceiling-file", ceiling,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    files = sorted(p.name for p in out.iterdir())
    assert files == [
        "latency_vs_load.png",
        "report.html",
        "requests.csv",
        "results.csv",
        "results.json",
        "throughput_vs_load.png",
    ]
    assert all((out / name).stat().st_size > 0 for name in files)
    data = results(out)
    targets = data["targets"]
    assert isinstance(targets, list) and [t["label"] for t in targets] == ["fake", "null"]
    assert all(level["successes"] == 6 for t in targets for level in t["levels"])
    assert isinstance(data["comparisons"], list) and len(data["comparisons"]) == 2
    assert ceiling.exists() and data["client_ceiling"] is not None
    assert "comparison: null against fake" in done.stdout


def test_calibrate_measures_and_caches_the_ceiling(tmp_path: Path) -> None:
    path = tmp_path / "ceiling.json"
    done = bench("calibrate", "--duration", "0.5", "--concurrency", "8", "--ceiling-file", path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "non-stream" in done.stdout and "req/s" in done.stdout
    data = orjson.loads(path.read_bytes())
    assert data["non_stream"]["requests_per_s"] > 0 and data["non_stream"]["errors"] == 0
    assert data["stream"]["requests_per_s"] > 0 and data["stream_tokens"] == 16


def test_ctrl_c_writes_partial_results(tmp_path: Path, fake_upstream: RunningProcess) -> None:
    out = tmp_path / "out"
    before = httpx.get(f"{fake_upstream.base_url}/_stats").json()["requests"]
    process = subprocess.Popen(
        [sys.executable, "-m", "inferstack", "bench", "--url", fake_upstream.base_url, "--model", "fake-slow",
         "--concurrency", "2,4", "--requests", "20", "--timeout", "60", "--no-ceiling-check", "--output", str(out)],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        while httpx.get(f"{fake_upstream.base_url}/_stats").json()["requests"] < before + 2:
            assert process.poll() is None, process.communicate()[0]
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=CLI_TIMEOUT_S)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, output
    assert "partial results" in output
    data = results(out)
    assert data["partial"] is True
    assert (out / "report.html").stat().st_size > 0


def test_unreachable_target_exits_1_with_the_errors_recorded(tmp_path: Path) -> None:
    out = tmp_path / "out"
    url = f"http://127.0.0.1:{free_port()}"
    done = bench("--url", url, "--model", "m", "--requests", "20", "--no-ceiling-check", "--output", out)
    assert done.returncode == 1, done.stdout + done.stderr
    level = results(out)["targets"][0]["levels"][0]  # type: ignore[index]
    assert set(level["errors"]) == {"connect_error"} and level["unreachable"] is True


def test_bad_options_exit_2_with_a_message(tmp_path: Path) -> None:
    both = bench("--url", "http://x", "--model", "m", "--concurrency", "1", "--rate", "2")
    assert both.returncode == 2 and "not both" in both.stderr
    conflicting = bench("--url", "http://x", "--model", "m", "--requests", "5", "--duration", "1")
    assert conflicting.returncode == 2 and "not both" in conflicting.stderr
    missing = bench("--concurrency", "1")
    assert missing.returncode == 2 and "--url and --model are required" in missing.stderr
    bad_file = bench("--url", "http://x", "--model", "m", "--prompts", tmp_path / "no.jsonl", "--no-ceiling-check")
    assert bad_file.returncode == 2 and "cannot read prompts file" in bad_file.stderr

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

from tests.support.processes import REPO_ROOT, RunningProcess, child_env, free_port, inferstack_process

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
    assert "comparison: null (B) against fake (A)" in done.stdout
    assert done.stdout.startswith("plan: concurrency 1, 2 · 6 requests per level · 2 targets, alternating")


def test_the_documented_gateway_compare_works(tmp_path: Path, null_upstream: RunningProcess) -> None:
    """docs/bench.md, "Comparing two targets": null server, `bench gateway-config`, a gateway on it, compare."""
    docs = (REPO_ROOT / "docs" / "bench.md").read_text()
    assert "inferstack bench gateway-config --upstream http://127.0.0.1:8009 > null-gateway.yaml" in docs
    config = tmp_path / "null-gateway.yaml"
    written = bench("gateway-config", "--upstream", null_upstream.base_url, "--data-dir", tmp_path / "keys")
    assert written.returncode == 0, written.stderr
    config.write_text(written.stdout)
    env = child_env(INFERSTACK_GATEWAY_MASTER_KEY="sk-bench")
    gateway_args = ["gateway", "--config", str(config)]
    with inferstack_process(gateway_args, log_dir=tmp_path, health_path="/health/readiness", env=env) as gateway:
        out = tmp_path / "out"
        done = bench(
            "--url", null_upstream.base_url, "--label", "direct", "--model", "null",
            "--compare-url", gateway.base_url, "--compare-label", "gateway", "--compare-api-key", "sk-bench",
            "--concurrency", "1,4", "--requests", "20", "--no-stream", "--no-ceiling-check", "--output", out,
        )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    targets = results(out)["targets"]
    assert isinstance(targets, list)
    assert [[level["successes"] for level in t["levels"]] for t in targets] == [[20, 20], [20, 20]]
    assert "comparison: gateway (B) against direct (A)" in done.stdout


def test_the_plan_is_said_first_and_results_record_the_values_in_effect(
    tmp_path: Path, fake_upstream: RunningProcess
) -> None:
    out = tmp_path / "out"
    done = bench("--url", fake_upstream.base_url, "--model", "fake-model", "--no-ceiling-check", "--output", out,
                 "--concurrency", "2", "--duration", "0.5")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("plan: concurrency 2 · 0.5 s per level · 1 target")
    assert "estimated duration: about 0.5 s" in done.stdout  # a duration fixes how long the run takes
    settings = results(out)["settings"]
    assert isinstance(settings, dict)
    assert settings["output_dir"] == str(out)
    assert settings["workload"]["prompts"].startswith("built-in") and settings["workload"]["prompt_count"] == 20
    assert settings["workload"]["max_tokens"]["per_prompt"] is True

    default_out = tmp_path / "default"
    done = bench("--url", fake_upstream.base_url, "--model", "fake-model", "--no-ceiling-check", "--output",
                 default_out, "--concurrency", "4", "--output-tokens", "2")  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "100 requests per level" in done.stdout
    settings = results(default_out)["settings"]
    assert isinstance(settings, dict)
    assert settings["load"]["requests"] == 100 and settings["workload"]["max_tokens"] == 2
    assert settings["ceiling"]["file"] is None  # --no-ceiling-check: none read or written


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

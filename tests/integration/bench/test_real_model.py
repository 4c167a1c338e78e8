"""A short streaming benchmark of the real model server (SmolLM2-135M on llama.cpp) via the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from tests.support.processes import REPO_ROOT, RunningProcess

MODEL = "smollm2-135m-instruct"


@pytest.mark.realmodel
def test_streaming_bench_of_the_real_model_reports_ttft_and_itl(tmp_path: Path, real_server: RunningProcess) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "inferstack", "bench", "--url", real_server.base_url, "--model", MODEL,
         "--concurrency", "1,2", "--requests", "6", "--output-tokens", "16", "--stream", "--seed", "1",
         "--no-ceiling-check", "--output", str(out)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=240, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    data = orjson.loads((out / "results.json").read_bytes())
    levels = data["targets"][0]["levels"]
    assert [level["level"] for level in levels] == [1, 2]
    for level in levels:
        assert (level["successes"], level["errors"]) == (6, {})
        assert level["ttft_ms"]["count"] == 6 and level["ttft_ms"]["min"] > 0
        assert level["itl_ms"]["count"] > 0 and level["itl_ms"]["p50"] > 0 and level["itl_ms"]["mean"] > 0
        assert level["tpot_ms"]["p50"] > 0
        tokens = level["tokens"]
        assert tokens["from_usage"] == 6 and 0 < tokens["completion"] <= 6 * 16 and tokens["prompt"] > 0
        assert level["output_token_throughput"] > 0
    assert all((out / name).stat().st_size > 0 for name in ("report.html", "latency_vs_load.png"))

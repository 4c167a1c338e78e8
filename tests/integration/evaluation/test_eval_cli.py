"""`inferstack eval` against the real agent (SmolLM2-135M + all-MiniLM-L6-v2, Milvus Lite, default answer
settings): the packaged evaluation corpus is ingested through the command, its held-back test split is asked,
and the figures must stay above floors a little under what was measured (docs/agent.md, "Evaluate your own
documents"). A regression guard for retrieval, answerability and grounded answers together.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from inferstack.evaluation.dataset import sample_corpus_dir
from tests.support.processes import REPO_ROOT, RunningProcess, child_env, inferstack_process

pytestmark = [pytest.mark.eval, pytest.mark.realmodel]

# Measured on the test split with these defaults: hit@5 1.0, accuracy 0.857, answered 0.857, honesty 1.0.
FLOORS = {"hit@5": 0.95, "answer_accuracy": 0.75, "answered_rate": 0.75, "unanswerable_honesty": 0.85}


@pytest.fixture(scope="module")
def agent(real_server: RunningProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    tmp = tmp_path_factory.mktemp("eval-agent")
    model_url = real_server.base_url + "/v1"
    config = tmp / "stack.yaml"
    config.write_text(
        yaml.safe_dump(
            {
                "agent": {
                    "model_base_url": model_url,
                    "web_search_url": "",
                    "filesystem_url": "",
                    "ingest_roots": [str(sample_corpus_dir())],
                },
                "knowledge": {"data_dir": str(tmp / "data"), "embedding_base_url": model_url},
            }
        )
    )
    with inferstack_process(["agent", "--config", str(config)], log_dir=tmp, timeout=90) as proc:
        yield proc


def test_eval_on_the_held_back_split_stays_above_its_floors(agent: RunningProcess, tmp_path: Path) -> None:
    output = tmp_path / "eval.json"
    command = [sys.executable, "-m", "inferstack", "eval", "--url", agent.base_url, "--ingest-sample"]
    command += ["--split", "test", "--output", str(output), "--concurrency", "2"]
    done = subprocess.run(command, env=child_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "answer accuracy" in done.stdout and "not found/web (unanswerable)" in done.stdout

    report = json.loads(output.read_text())
    summary = report["summary"]
    assert summary["questions"] == 44 and summary["errors"] == 0
    for metric, floor in FLOORS.items():
        assert summary[metric] >= floor, (metric, summary)
    for question in report["questions"]:
        if question["unanswerable"] or question["route"] != "knowledge":
            continue
        # Every answer from the knowledge base is graded answerable and cites the source it quotes.
        assert question["grade"]["answerable"] is True, question
        assert "[" in question["answer"] and question["answer"].rstrip().endswith("]"), question

"""Answers of the real small model through the real agent carry no prompt scaffolding and no repetition loops.

A second agent with the default answer cap (128 tokens, long enough for SmolLM2-135M to loop or start writing the
next passage) answers labelled questions about three sample documents, through the gateway, JSON and streamed.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from typing import Any

import httpx
import orjson
import pytest

from inferstack.sample_knowledge import documents_dir, eval_questions_path
from tests.integration.agents.conftest import poll_job, write_config
from tests.support.processes import RunningProcess, child_env, inferstack_process

pytestmark = pytest.mark.realmodel

DOCUMENTS = ("llm_serving.csv", "astronomy.csv", "networking.csv")
QUESTIONS_PER_DOCUMENT = 3
SCAFFOLDING = re.compile(r"\[\d+\]\s*\(|(?:^|\n)\s*(?:Question|Context)\s*:")
RUN_WORDS = 10


@pytest.fixture(scope="module")
def answering_agent(gateway: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    tmp = tmp_path_factory.mktemp("answer-quality")
    documents = tmp / "documents"
    documents.mkdir()
    for name in DOCUMENTS:
        shutil.copy(documents_dir() / name, documents / name)
    gateway_url, key = gateway
    config = write_config(
        tmp / "stack.yaml",
        agent={
            "model_base_url": gateway_url,
            "web_search_url": "",
            "filesystem_url": "",
            "ingest_roots": [str(documents)],
            "answer_style": "generative",  # the model's answers are what this module checks
        },
        knowledge={"data_dir": str(tmp / "data"), "embedding_base_url": gateway_url},
    )
    env = child_env(INFERSTACK_AGENT_API_KEY=key, INFERSTACK_KNOWLEDGE_EMBEDDING_API_KEY=key)
    with inferstack_process(["agent", "--config", str(config)], log_dir=tmp, env=env, timeout=90) as agent:
        response = httpx.post(agent.base_url + "/ingest", json={"path": str(documents)}, timeout=30)
        assert response.status_code == 202, response.text
        assert poll_job(agent.base_url, response.json()["job_id"])["status"] == "succeeded"
        yield agent


def questions() -> list[str]:
    picked: dict[str, list[str]] = {name: [] for name in DOCUMENTS}
    for line in eval_questions_path().read_text().splitlines():
        item = json.loads(line)
        chosen = picked.get(item["source"])
        if chosen is not None and len(chosen) < QUESTIONS_PER_DOCUMENT:
            chosen.append(item["question"])
    return [question for chosen in picked.values() for question in chosen]


def sentences(text: str) -> list[tuple[str, ...]]:
    return [tuple(re.findall(r"[\w'’-]+", part.lower())) for part in re.split(r"(?<=[.!?])\s+", text)]


def loops_in(text: str) -> list[str]:
    """Sentences said twice, and runs of RUN_WORDS words said twice within sentences."""
    found: list[str] = []
    said: set[tuple[str, ...]] = set()
    runs: set[tuple[str, ...]] = set()
    for sentence in sentences(text):
        if len(sentence) >= 3 and sentence in said:
            found.append(" ".join(sentence))
        said.add(sentence)
        for start in range(len(sentence) - RUN_WORDS + 1):
            run = sentence[start : start + RUN_WORDS]
            if run in runs:
                found.append(" ".join(run))
            runs.add(run)
    return found


def assert_clean(question: str, answer: str) -> None:
    assert answer.strip(), question
    assert SCAFFOLDING.search(answer) is None, (question, answer)
    assert loops_in(answer) == [], (question, answer)


def streamed_answer(agent: RunningProcess, question: str) -> tuple[str, dict[str, Any]]:
    response = httpx.post(agent.base_url + "/query/stream", json={"question": question}, timeout=120)
    assert response.status_code == 200, response.text
    deltas: list[str] = []
    done: dict[str, Any] = {}
    for block in response.text.split("\n\n"):
        if not block.strip():
            continue
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        data = orjson.loads(fields["data"])
        if fields["event"] == "token":
            deltas.append(data["delta"])
        elif fields["event"] == "done":
            done = data
    return "".join(deltas), done


def test_the_loop_check_itself_finds_loops() -> None:
    assert loops_in("It is a star. It is a star.") == ["it is a star"]
    assert loops_in("a b c d e f g h i j k a b c d e f g h i j k") != []
    assert loops_in("Continuous batching keeps the GPU busy. Static batching waits for the longest request.") == []


def test_json_answers_have_no_scaffolding_and_no_loops(answering_agent: RunningProcess) -> None:
    for question in questions():
        response = httpx.post(answering_agent.base_url + "/query", json={"question": question}, timeout=120)
        assert response.status_code == 200, response.text
        assert_clean(question, response.json()["answer"])


def test_streamed_answers_send_no_scaffolding_and_no_loops(answering_agent: RunningProcess) -> None:
    for question in questions()[::QUESTIONS_PER_DOCUMENT]:
        text, done = streamed_answer(answering_agent, question)
        assert text.strip() == done["answer"]
        assert_clean(question, text)

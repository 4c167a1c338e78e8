"""Two real agent processes sharing one real redis-server for sessions: a follow-up question sent to the second
keeps the conversation begun on the first (the second's prompt to the model carries the first turn).

    agent A --+                                   +-- fake upstream (chat and embeddings, records each request)
    agent B --+-- redis-server (session_store) ---+   each agent: its own in-memory knowledge store
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from inferstack.sample_knowledge import documents_dir
from tests.support.gateway import fake_upstream, upstream_stats
from tests.support.private_services import private_redis
from tests.support.processes import RunningProcess, inferstack_process


def _agent_config(path: Path, upstream: RunningProcess, redis_url: str, data_dir: Path) -> Path:
    base = upstream.base_url + "/v1"
    config: dict[str, Any] = {
        "agent": {
            "model_base_url": base,
            "model": "m",
            "web_search_url": "",
            "filesystem_url": "",
            "output_dir": str(data_dir / "out"),
            "max_tokens": 16,
            # The fake embeddings rank nothing well: every retrieved chunk counts, so each answer asks the model.
            "relevance": {"threshold": 0.0, "hybrid_threshold": 0.0},
            "session_store": {"backend": "redis", "redis_url": redis_url, "namespace": "replicas"},
        },
        "knowledge": {
            "store": "memory",
            "data_dir": str(data_dir),
            "embedding_base_url": base,
            "embedding_dimension": 3,
        },
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _ingest(agent: RunningProcess) -> None:
    response = httpx.post(agent.base_url + "/ingest", json={"path": str(documents_dir())}, timeout=30)
    assert response.status_code == 202, response.text
    deadline = time.monotonic() + 120
    while True:
        job = httpx.get(f"{agent.base_url}/ingest/{response.json()['job_id']}", timeout=10).json()
        if job["status"] != "running" and job["status"] != "queued":
            assert job["status"] == "succeeded", job
            return
        assert time.monotonic() < deadline, job
        time.sleep(0.2)


@pytest.fixture(scope="module")
def agents(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningProcess, RunningProcess, RunningProcess]]:
    tmp = tmp_path_factory.mktemp("agent-replicas")
    with private_redis(tmp) as redis, fake_upstream(tmp, "u") as upstream:
        configs = [_agent_config(tmp / f"{n}.yaml", upstream, redis.url, tmp / n) for n in ("a", "b")]
        with (
            inferstack_process(["agent", "--config", str(configs[0])], log_dir=tmp, timeout=90) as a,
            inferstack_process(["agent", "--config", str(configs[1])], log_dir=tmp, timeout=90) as b,
        ):
            _ingest(a)
            _ingest(b)
            yield a, b, upstream


def _text(content: str | list[dict[str, Any]]) -> str:
    """A message's text, whether the client sent a string or content parts."""
    if isinstance(content, str):
        return content
    return "".join(str(part.get("text", "")) for part in content)


def test_a_follow_up_on_another_replica_keeps_its_session(
    agents: tuple[RunningProcess, RunningProcess, RunningProcess],
) -> None:
    a, b, upstream = agents
    first = httpx.post(a.base_url + "/query", json={"question": "What is inferstack?"}, timeout=60)
    assert first.status_code == 200, first.text
    session_id, first_answer = first.json()["session_id"], first.json()["answer"]
    assert first.json()["route"] == "knowledge" and first_answer

    follow_up = httpx.post(
        b.base_url + "/query", json={"question": "Tell me more about that.", "session_id": session_id}, timeout=60
    )
    assert follow_up.status_code == 200, follow_up.text
    # B's prompt to the model carries A's turn as conversation history.
    messages = [(m["role"], _text(m["content"])) for m in upstream_stats(upstream)["last_body"]["messages"]]
    assert ("user", "What is inferstack?") in messages, messages
    assert ("assistant", first_answer) in messages, messages

    for agent in (a, b):  # both replicas show the whole session, and forgetting it on one forgets it everywhere
        turns = httpx.get(f"{agent.base_url}/sessions/{session_id}", timeout=10).json()["turns"]
        assert [t["question"] for t in turns] == ["What is inferstack?", "Tell me more about that."]
    assert httpx.delete(f"{b.base_url}/sessions/{session_id}", timeout=10).status_code == 204
    assert httpx.get(f"{a.base_url}/sessions/{session_id}", timeout=10).status_code == 404

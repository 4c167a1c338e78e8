"""The real agent stack for integration tests, started once per module as separate processes on free ports (the
gateway once per package):

    real_server (SmolLM2 + MiniLM) <-- gateway (virtual key) <-- agent --> web-search MCP --> FakeTavily (process)
                                                                   |------> filesystem MCP (--root tmp/out)
                                                                   '------> Milvus Lite in tmp (owned by the agent)

The sample knowledge base is ingested through POST /ingest once. Answers are capped at a few tokens: the tests
check routing, sources, sessions and status codes, not the tiny model's prose.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from inferstack.sample_knowledge import documents_dir
from tests.support.fake_tavily import DEFAULT_API_KEY, FakeTavilyProcess, fake_tavily_process
from tests.support.gateway import gateway_process, new_key
from tests.support.processes import RunningProcess, child_env, free_port, inferstack_process, wait_healthy

ANSWER_TOKENS = 24


@dataclass
class AgentStack:
    agent: RunningProcess
    web_search: RunningProcess
    filesystem: RunningProcess
    tavily: FakeTavilyProcess
    data_dir: Path
    output_dir: Path
    ingest_job: dict[str, Any]

    def post(self, path: str, body: Any, timeout: float = 120.0) -> httpx.Response:
        return httpx.post(self.agent.base_url + path, json=body, timeout=timeout)

    def get(self, path: str) -> httpx.Response:
        return httpx.get(self.agent.base_url + path, timeout=30.0)


def write_config(path: Path, agent: dict[str, Any], knowledge: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump({"agent": agent, "knowledge": knowledge}))
    return path


def poll_job(base_url: str, job_id: str, timeout: float = 240.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = httpx.get(f"{base_url}/ingest/{job_id}", timeout=10).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.5)
    raise TimeoutError(f"ingest job {job_id} still running after {timeout} s")


@pytest.fixture(scope="package")
def gateway(real_server: RunningProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The real gateway in front of the model server, and a virtual key for the agents: (base URL, key). One for
    the package: every module's agents use the same key with no limit or budget, so none sees another's state."""
    tmp = tmp_path_factory.mktemp("agent-gateway")
    upstream = real_server.base_url + "/v1"
    config = {
        "model_list": [
            {"model_name": "smollm2-135m-instruct", "model": "smollm2-135m-instruct", "api_base": upstream},
            {"model_name": "all-minilm-l6-v2", "model": "all-minilm-l6-v2", "api_base": upstream},
        ],
        "router": {"health_check_interval_s": 0},
    }
    with gateway_process(tmp, config) as proc:
        yield proc.base_url + "/v1", new_key(proc, key_alias="agent")


@pytest.fixture(scope="module")
def agent_stack(gateway: tuple[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[AgentStack]:
    tmp = tmp_path_factory.mktemp("agent")
    output_dir = tmp / "out"
    output_dir.mkdir()
    gateway_url, agent_key = gateway
    with fake_tavily_process(tmp) as tavily:
        web_env = child_env(INFERSTACK_MCP_WEB_SEARCH__TAVILY_BASE_URL=tavily.base_url, TAVILY_API_KEY=DEFAULT_API_KEY)
        with (
            inferstack_process(["mcp", "web-search"], log_dir=tmp, env=web_env, wait=False) as web_search,
            inferstack_process(["mcp", "filesystem", "--root", str(output_dir)], log_dir=tmp, wait=False) as files,
        ):
            for server in (web_search, files):  # both start at once, then each must answer /health
                wait_healthy(server, timeout=60)
            config = write_config(
                tmp / "stack.yaml",
                agent={
                    "model_base_url": gateway_url,
                    "web_search_url": web_search.base_url + "/mcp",
                    "filesystem_url": files.base_url + "/mcp",
                    "output_dir": str(output_dir),
                    "max_tokens": ANSWER_TOKENS,
                    "max_body_bytes": 16384,
                    "max_context_chars": 300,
                },
                knowledge={"data_dir": str(tmp / "data"), "embedding_base_url": gateway_url},
            )
            agent_env = child_env(INFERSTACK_AGENT_API_KEY=agent_key, INFERSTACK_KNOWLEDGE_EMBEDDING_API_KEY=agent_key)
            with inferstack_process(
                ["agent", "--config", str(config)], log_dir=tmp, env=agent_env, timeout=90
            ) as agent:
                response = httpx.post(agent.base_url + "/ingest", json={"path": str(documents_dir())}, timeout=30)
                assert response.status_code == 202, response.text
                job = poll_job(agent.base_url, response.json()["job_id"])
                assert job["status"] == "succeeded", job
                yield AgentStack(agent, web_search, files, tavily, tmp / "data", output_dir, job)


@pytest.fixture(scope="module")
def broken_agent(
    agent_stack: AgentStack, real_server: RunningProcess, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningProcess]:
    """A second agent on the same Milvus Lite database (held by the first: its store is down) and a dead model URL."""
    tmp = tmp_path_factory.mktemp("broken-agent")
    config = write_config(
        tmp / "stack.yaml",
        agent={
            "model_base_url": f"http://127.0.0.1:{free_port()}/v1",
            "web_search_url": agent_stack.web_search.base_url + "/mcp",
            "filesystem_url": "",
            "model_max_retries": 0,
        },
        knowledge={"data_dir": str(agent_stack.data_dir), "embedding_base_url": real_server.base_url + "/v1"},
    )
    # Not ready by design (/health answers 503), so wait for the index route instead.
    with inferstack_process(["agent", "--config", str(config)], log_dir=tmp, health_path="/", timeout=90) as agent:
        yield agent

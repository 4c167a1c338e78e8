"""Fixtures for the fuzz suite: the model server on its fake engine, the gateway in front of it.

Every test here starts real processes, so each is marked `fuzz` and `integration` (`make test-fast` skips them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.gateway import MASTER_KEY, deployment, gateway_process
from tests.support.processes import RunningProcess, child_env, inferstack_process

SERVED_CHAT = "fuzz-chat"
SERVED_EMBEDDING = "fuzz-embedding"
AGENT_CHAT = "smollm2-135m-instruct"  # the agent's default model names, served here by the fake engine
AGENT_EMBEDDING = "all-minilm-l6-v2"
FAKE_EMBEDDING_DIMENSION = 64


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    fuzz_root = Path(__file__).resolve().parent
    for item in items:
        if fuzz_root in item.path.resolve().parents:
            item.add_marker(pytest.mark.fuzz)
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="package")
def fake_model_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    """`inferstack serve --engine fake`: the real server and validation, no model."""
    with inferstack_process(["serve", "--engine", "fake"], log_dir=tmp_path_factory.mktemp("serve")) as proc:
        yield proc


@pytest.fixture(scope="package")
def gateway(tmp_path_factory: pytest.TempPathFactory, fake_model_server: RunningProcess) -> Iterator[RunningProcess]:
    """The real gateway (master key, SQLite keys, memory cache) routing two models to the fake-engine server."""
    config = {
        "model_list": [
            {**deployment(SERVED_CHAT, fake_model_server), "model": "fake-model"},
            {**deployment(SERVED_EMBEDDING, fake_model_server), "model": "fake-embedding"},
            {**deployment(AGENT_CHAT, fake_model_server), "model": "fake-model"},
            {**deployment(AGENT_EMBEDDING, fake_model_server), "model": "fake-embedding"},
        ],
        "router": {"num_retries": 0, "health_check_interval_s": 0, "timeout_s": 20},
        "cache": {"enabled": True, "backend": "memory"},
        "usage_flush_interval_s": 0.2,
    }
    with gateway_process(tmp_path_factory.mktemp("gateway"), config) as proc:
        yield proc


@pytest.fixture(scope="package")
def agent(tmp_path_factory: pytest.TempPathFactory, gateway: RunningProcess) -> Iterator[RunningProcess]:
    """The real agent (memory vector store, no MCP servers) on the gateway above, with the master key."""
    tmp = tmp_path_factory.mktemp("agent")
    config = tmp / "stack.yaml"
    agent_section = {"model_base_url": gateway.base_url + "/v1", "web_search_url": "", "filesystem_url": ""}
    knowledge = {
        "store": "memory",
        "data_dir": str(tmp / "data"),
        "embedding_base_url": gateway.base_url + "/v1",
        "embedding_dimension": FAKE_EMBEDDING_DIMENSION,
    }
    config.write_text(yaml.safe_dump({"agent": agent_section, "knowledge": knowledge}))
    env = child_env(INFERSTACK_AGENT_API_KEY=MASTER_KEY, INFERSTACK_KNOWLEDGE_EMBEDDING_API_KEY=MASTER_KEY)
    with inferstack_process(["agent", "--config", str(config)], log_dir=tmp, env=env, timeout=90) as proc:
        yield proc

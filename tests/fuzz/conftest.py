"""Fixtures for the fuzz suite: the model server on its fake engine, the gateway in front of it.

Every test here starts real processes, so each is marked `fuzz` and `integration` (`make test-fast` skips them).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway import deployment, gateway_process
from tests.support.processes import RunningProcess, inferstack_process

SERVED_CHAT = "fuzz-chat"
SERVED_EMBEDDING = "fuzz-embedding"


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
        ],
        "router": {"num_retries": 0, "health_check_interval_s": 0, "timeout_s": 20},
        "cache": {"enabled": True, "backend": "memory"},
        "usage_flush_interval_s": 0.2,
    }
    with gateway_process(tmp_path_factory.mktemp("gateway"), config) as proc:
        yield proc

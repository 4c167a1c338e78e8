"""Upstreams for the bench integration tests, each a real process on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.bench_upstreams import null_server
from tests.support.fake_upstream import fake_upstream_process
from tests.support.processes import RunningProcess


@pytest.fixture(scope="session")
def fake_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    """The FakeUpstream process (see tests/support/fake_upstream.py for the models that pick a behaviour)."""
    with fake_upstream_process(tmp_path_factory.mktemp("fake-upstream"), token_delay_ms=2) as proc:
        yield proc


@pytest.fixture(scope="session")
def null_upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    """inferstack's own null server."""
    with null_server(tmp_path_factory.mktemp("null-upstream")) as proc:
        yield proc

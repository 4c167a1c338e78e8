"""Shared fixtures: the real model server runs once per test session and is shared by every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.processes import RunningProcess, model_server


@pytest.fixture(scope="session")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    """`inferstack serve` on a free port with the real SmolLM2-135M and all-MiniLM-L6-v2."""
    with model_server(tmp_path_factory.mktemp("serve"), "--parallel", "4", "--ctx-size", "2048") as proc:
        yield proc

"""Shared fixtures and the test-suite's markers.

The real model server runs once per test session and is shared by every test that asks for `real_server`.
Tests are marked by where they live: everything under tests/integration is `integration` (real processes on
loopback ports), under tests/e2e `e2e`; `make test-fast` deselects those and the heavy markers registered in
pyproject.toml, `make test` runs everything. A run that collects no test fails with a reason, never passes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.processes import RunningProcess, model_server

TESTS_ROOT = Path(__file__).resolve().parent
MARKER_BY_FOLDER = {"integration": "integration", "e2e": "e2e"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        try:
            folder = item.path.resolve().relative_to(TESTS_ROOT).parts[0]
        except ValueError:
            continue
        marker = MARKER_BY_FOLDER.get(folder)
        if marker is not None:
            item.add_marker(marker)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if exitstatus == pytest.ExitCode.NO_TESTS_COLLECTED:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "no test was collected or selected: a wrong path, -k or -m expression; this run is a failure"
        if reporter is not None:
            reporter.write_line(f"ERROR: {message}", red=True, bold=True)


@pytest.fixture(scope="session")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    """`inferstack serve` on a free port with the real SmolLM2-135M and all-MiniLM-L6-v2."""
    with model_server(tmp_path_factory.mktemp("serve"), "--parallel", "4", "--ctx-size", "2048") as proc:
        yield proc

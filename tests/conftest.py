"""Shared fixtures and the test-suite's markers.

The real model server runs once per test session and is shared by every test that asks for `real_server`.
Tests are marked by where they live: everything under tests/integration is `integration` (real processes on
loopback ports), under tests/e2e `e2e`; `make test-fast` deselects those and the heavy markers registered in
pyproject.toml, `make test` runs everything. A run that collects no test fails with a reason, never passes.
"""

from __future__ import annotations

import logging
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


@pytest.fixture(autouse=True)
def _logging_left_as_found() -> Iterator[None]:
    """A test that configures logging in its own process (a command run with typer's CliRunner calls
    `configure_logging`) leaves the root logger as it found it. Its handler would otherwise keep writing to that
    runner's stand-in stdout once it is closed ("Logging error ... I/O operation on closed file"), or into the output
    of a later test's command. pytest's own capture handlers come and go with each phase and are left alone."""
    root = logging.getLogger()
    before, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in before and not type(handler).__module__.startswith("_pytest"):
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def real_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    """`inferstack serve` on a free port with the real SmolLM2-135M and all-MiniLM-L6-v2."""
    with model_server(tmp_path_factory.mktemp("serve"), "--parallel", "4", "--ctx-size", "2048") as proc:
        yield proc

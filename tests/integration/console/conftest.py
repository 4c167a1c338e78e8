"""A real gateway in front of two fake upstreams (models `alpha` and `beta`), shared by the console tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway import RunningProcess, console_gateway_process


@pytest.fixture(scope="package")
def console_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    tmp: Path = tmp_path_factory.mktemp("console")
    with console_gateway_process(tmp, token_delay_ms=5) as running:
        yield running

"""A real gateway in front of two fake upstreams (models `alpha` and `beta`), shared by the console tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.gateway import RunningProcess, deployment, fake_upstream, gateway_process


@pytest.fixture(scope="package")
def console_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    tmp: Path = tmp_path_factory.mktemp("console")
    with fake_upstream(tmp, "a", token_delay_ms=5) as a, fake_upstream(tmp, "b", token_delay_ms=5) as b:
        config = {
            "model_list": [
                deployment("alpha", a, input_cost_per_token=0.000001, output_cost_per_token=0.000002),
                deployment("beta", b),
            ]
        }
        traces = {
            "INFERSTACK_OBSERVABILITY_EXPORTER": "store",
            "INFERSTACK_OBSERVABILITY_STORE__PATH": str(tmp / "traces.db"),
        }
        with gateway_process(tmp, config, extra_env=traces) as gateway:
            yield gateway

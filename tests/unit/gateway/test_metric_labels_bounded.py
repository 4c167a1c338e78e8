"""Model names that clients make up never become metric labels: refused requests for models the gateway does
not serve are counted under one label, so /metrics (and the memory behind it) stays bounded by the config."""

from __future__ import annotations

from pathlib import Path

import pytest

from inferstack.core.errors import ModelNotFoundError
from tests.unit.gateway.proxy_harness import proxy_under_test


async def test_unknown_model_names_share_one_label(tmp_path: Path) -> None:
    async with proxy_under_test(tmp_path) as proxy:
        await proxy.reply()
        for n in range(50):
            with pytest.raises(ModelNotFoundError):
                await proxy.chat(model=f"made-up-{n}")
        labels = {
            sample.labels["model"]
            for family in proxy.metrics.registry.collect()
            for sample in family.samples
            if "model" in sample.labels
        }
        assert labels == {"m", "(unknown)"}
        assert (
            proxy.metric("inferstack_gateway_requests_total", model="(unknown)", deployment="none", status="404") == 50
        )

"""A model server that cannot be reached (down, or restarting under `inferstack up`) is a 503 with Retry-After,
not a 502: the client should come back, not give up. An upstream that answers badly stays a 502."""

from __future__ import annotations

import random

import pytest

from inferstack.core.errors import OverloadedError
from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.routing.router import AllUpstreamsFailedError, Router, UpstreamsUnreachableError
from inferstack.gateway.settings import DeploymentConfig, RouterConfig
from inferstack.gateway.upstreams.base import UpstreamFailure


def _router(*names: str) -> Router:
    deployments = [DeploymentConfig(model_name="m", model=n, api_base=f"http://{n}", id=n) for n in names]
    return Router(deployments, RouterConfig(retry_backoff_s=0, num_retries=2), rng=random.Random(7))


async def test_every_attempt_unreachable_is_a_503_with_retry_after() -> None:
    async def refused(deployment: Deployment) -> str:
        if deployment.id == "b":
            raise UpstreamFailure("status", "HTTP 503", status=503)  # up, but not ready yet
        raise UpstreamFailure("connect", f"cannot connect to {deployment.id}")

    with pytest.raises(UpstreamsUnreachableError) as raised:
        await _router("a", "b").run("m", refused)
    assert isinstance(raised.value, OverloadedError) and raised.value.status_code == 503
    assert raised.value.code == "upstream_unreachable" and raised.value.retry_after == 1.0


async def test_a_bad_answer_among_the_failures_stays_a_502() -> None:
    async def mixed(deployment: Deployment) -> str:
        if deployment.id == "a":
            raise UpstreamFailure("connect", "cannot connect to a")
        raise UpstreamFailure("status", "HTTP 500", status=500)

    with pytest.raises(AllUpstreamsFailedError) as raised:
        await _router("a", "b").run("m", mixed)
    assert raised.value.status_code == 502

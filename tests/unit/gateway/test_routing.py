"""Routing policies, retries, fallbacks and cool-down, with scripted attempts instead of HTTP."""

from __future__ import annotations

import random
import time

import pytest

from inferstack.core.errors import ModelNotFoundError, RateLimitError
from inferstack.gateway.rolling_window import RollingWindow
from inferstack.gateway.routing.clock import FakeClock
from inferstack.gateway.routing.deployment import Deployment
from inferstack.gateway.routing.health_checks import check_once
from inferstack.gateway.routing.policies import RoutingPolicy
from inferstack.gateway.routing.router import AllUpstreamsFailedError, NoHealthyDeploymentError, Router
from inferstack.gateway.settings import DeploymentConfig, RouterConfig
from inferstack.gateway.upstreams.base import UpstreamFailure
from inferstack.gateway.upstreams.fake import FakeAnswer, FakeUpstream


def _dep(name: str, model: str = "m", **kw: object) -> DeploymentConfig:
    return DeploymentConfig(model_name=model, model=name, api_base=f"http://{name}", id=name, **kw)  # type: ignore[arg-type]


def _router(*deployments: DeploymentConfig, **config: object) -> Router:
    settings = RouterConfig(retry_backoff_s=0, **config)  # type: ignore[arg-type]
    return Router(deployments, settings, rng=random.Random(7))


def test_policy_registry_and_choices() -> None:
    assert {"simple-shuffle", "least-busy", "latency-based-routing", "lowest_latency"} <= set(RoutingPolicy.names())
    with pytest.raises(ValueError, match="unknown routing policy"):
        RoutingPolicy.create("round-robin-ish")
    a, b = Deployment(_dep("a"), "a"), Deployment(_dep("b"), "b")
    a.in_flight = 3
    assert RoutingPolicy.create("least-busy").choose([a, b]) is b
    a.latency_s, b.latency_s = 0.01, 0.2
    assert RoutingPolicy.create("latency-based-routing").choose([a, b]) is a
    heavy = Deployment(_dep("h", weight=99), "h")
    picks = [RoutingPolicy.create("simple-shuffle", random.Random(1)).choose([heavy, b]).id for _ in range(200)]
    assert picks.count("h") > 180


async def test_retry_moves_to_another_deployment_then_cooldown() -> None:
    router = _router(_dep("a"), _dep("b"), num_retries=2, allowed_fails=1, cooldown_s=60, policy="simple-shuffle")
    calls: list[str] = []

    async def attempt(d: Deployment) -> str:
        calls.append(d.id)
        if d.id == "a":
            raise UpstreamFailure("connect", "cannot connect")
        return "ok"

    for _ in range(5):
        deployment, result = await router.run("m", attempt)
        assert (deployment.id, result) == ("b", "ok")
    assert calls.count("a") == 1, "after one failure 'a' cools down and is skipped"
    assert router.by_model["m"][0].cooling_down(time.monotonic())
    assert all(d.in_flight == 0 for d in router.all_deployments())


async def test_fallbacks_and_final_errors() -> None:
    router = _router(_dep("a"), _dep("z", model="spare"), num_retries=1, fallbacks={"m": ("spare",)}, allowed_fails=99)

    async def failing_a(d: Deployment) -> str:
        if d.id == "a":
            raise UpstreamFailure("status", "HTTP 503", status=503)
        return d.id

    assert (await router.run("m", failing_a))[1] == "z"

    async def always(d: Deployment) -> str:
        raise UpstreamFailure("status", f"HTTP 500 from {d.id}", status=500)

    with pytest.raises(AllUpstreamsFailedError, match=r"HTTP 500 from a.*HTTP 500 from z"):
        await router.run("m", always)
    with pytest.raises(ModelNotFoundError):
        router.require_model("nope")


async def test_unhealthy_and_rate_limited_deployments() -> None:
    router = _router(_dep("a", rpm=1))

    async def ok(d: Deployment) -> str:
        return "ok"

    await router.run("m", ok)
    with pytest.raises(RateLimitError):
        await router.run("m", ok)
    router.by_model["m"][0].healthy = False
    with pytest.raises(NoHealthyDeploymentError):
        await router.run("m", ok)


async def test_a_limited_deployment_is_chosen_again_once_its_window_passes() -> None:
    clock = FakeClock(start=5000.0)
    router = Router([_dep("a", rpm=1, tpm=10)], RouterConfig(retry_backoff_s=0), rng=random.Random(7), clock=clock)

    async def ok(d: Deployment) -> str:
        return d.id

    await router.run("m", ok)
    with pytest.raises(RateLimitError):
        await router.run("m", ok)
    clock.advance(61)
    assert (await router.run("m", ok))[1] == "a", "the request window passed"
    clock.advance(61)
    router.count_tokens(router.by_model["m"][0], 10)
    with pytest.raises(RateLimitError):
        await router.run("m", ok)
    clock.advance(61)
    assert (await router.run("m", ok))[1] == "a", "the token window passed"


def test_rolling_window() -> None:
    window = RollingWindow(60)
    window.add(5, 1000.2)
    window.add(3, 1030.0)
    assert window.total(1030.5) == 8
    assert window.seconds_until_below(8, 1031.0) == pytest.approx(29.0)
    assert window.total(1060.5) == 3
    assert window.total(1100.0) == 0


def test_rolling_window_matches_a_brute_force_count() -> None:
    import random as _random

    rng = _random.Random(3)
    window = RollingWindow(60)
    events: list[tuple[float, int]] = []
    now = 5000.0
    for _ in range(2000):
        now += rng.choice([0.0, 0.2, 1.0, 3.0, 61.0 if rng.random() < 0.01 else 0.5])
        amount = rng.randint(1, 5)
        window.add(amount, now)
        events.append((now, amount))
        expected = sum(a for t, a in events if int(t) > int(now) - 60)
        assert window.total(now) == expected


async def test_health_checks_mark_deployments_through_the_upstream_probe() -> None:
    router = _router(_dep("a"), _dep("b"))
    upstream = FakeUpstream(lambda request: FakeAnswer(), probe_answers={"a": "HTTP 503"})
    await check_once(router, upstream, timeout_s=1)
    a, b = router.by_model["m"]
    assert (a.healthy, b.healthy) == (False, True) and a.last_error == "health check: HTTP 503"
    assert a.status(0)["last_error_at"] == a.last_error_at and abs(time.time() - (a.last_error_at or 0)) < 60
    assert b.status(0)["last_error_at"] is None
    assert router.ready()
    upstream.probe_answers["a"] = None
    await check_once(router, upstream, timeout_s=1)
    assert a.healthy

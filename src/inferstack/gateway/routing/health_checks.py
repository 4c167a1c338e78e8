"""Active health checks: probe every deployment periodically and mark it healthy or not."""

from __future__ import annotations

import asyncio
import logging

from inferstack.gateway.routing.router import Router
from inferstack.gateway.upstreams.base import Upstream

log = logging.getLogger(__name__)
PROBE_PATH = "/models"


async def check_once(router: Router, upstream: Upstream, timeout_s: float) -> None:
    deployments = router.all_deployments()
    reasons = await asyncio.gather(*(upstream.probe(d, PROBE_PATH, timeout_s) for d in deployments))
    for deployment, reason in zip(deployments, reasons, strict=True):
        if reason is None and not deployment.healthy:
            log.info("deployment %s is healthy again", deployment.id)
        elif reason is not None and deployment.healthy:
            log.warning("deployment %s failed its health check: %s", deployment.id, reason)
        deployment.healthy = reason is None
        if reason is not None:
            deployment.note_error(f"health check: {reason}")


async def run_health_checks(router: Router, upstream: Upstream, interval_s: float, timeout_s: float) -> None:
    while True:
        await check_once(router, upstream, timeout_s)
        await asyncio.sleep(interval_s)

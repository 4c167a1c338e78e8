"""Ingest jobs are bounded: past `max_unfinished` queued or running jobs a submit is refused with a 429 that says
when to retry, the count and the bound are in /metrics, and a finished job makes room again."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from inferstack.agents.ingest_jobs import IngestJobs, ProgressCallback
from inferstack.agents.metrics import AgentMetrics
from inferstack.core.errors import RateLimitError


class FakeSlowIngestion:
    """Ingests nothing until `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()

    async def __call__(self, path: Path, *, force: bool, on_progress: ProgressCallback) -> Mapping[str, Any]:
        await self.release.wait()
        return {"files": 0}


async def test_submits_past_the_bound_are_refused_until_a_job_finishes(tmp_path: Path) -> None:
    ingestion = FakeSlowIngestion()
    metrics = AgentMetrics()
    jobs = IngestJobs(ingestion, metrics, max_jobs=10, max_unfinished=2)
    first = jobs.submit(tmp_path, force=False)
    jobs.submit(tmp_path, force=False)
    with pytest.raises(RateLimitError) as refused:
        jobs.submit(tmp_path, force=False)
    assert refused.value.status_code == 429
    assert refused.value.code == "ingest_queue_full"
    assert refused.value.retry_after is not None
    text = metrics.render().decode()
    assert "inferstack_agent_ingest_jobs_unfinished 2.0" in text
    assert 'inferstack_agent_bounded_limit{name="ingest_jobs_unfinished"} 2.0' in text

    ingestion.release.set()
    for _ in range(100):
        if first.finished and not jobs.running:
            break
        await asyncio.sleep(0.01)
    assert jobs.get(first.id).status == "succeeded"
    jobs.submit(tmp_path, force=False)  # room again
    await jobs.close()

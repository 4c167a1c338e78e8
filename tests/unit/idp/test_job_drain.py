"""`DocumentJobs.stop` (the service's SIGTERM): no new claims, running jobs finish within `drain_s`, the rest are
released to the store. The pipeline is a fake that holds a document until the test lets it go."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from inferstack.idp.jobs import DocumentJobs
from inferstack.idp.metrics import IdpMetrics
from inferstack.idp.pipeline import DocumentPipeline
from inferstack.idp.records import JobResult
from inferstack.idp.settings import IdpSettings
from inferstack.idp.store import JobStore
from tests.support.idp_documents import pdf_text_layer


class FakeHeldPipeline(DocumentPipeline):
    """Processes a document only once `release` is set; `started` is set when it begins."""

    def __init__(self, settings: IdpSettings) -> None:
        super().__init__(settings)
        self.started = asyncio.Event()
        self.release = asyncio.Event()

    async def process(self, data: bytes, schema: str, *, job_id: str | None = None, **_: Any) -> JobResult:
        self.started.set()
        await self.release.wait()
        return JobResult(job_id=job_id or "", schema=schema, status="auto_approved", confidence=0.9)


def _jobs(tmp_path: Path, drain_s: float) -> tuple[DocumentJobs, FakeHeldPipeline, JobStore]:
    settings = IdpSettings(database=tmp_path / "jobs.sqlite3", extractor="rules", workers=1, drain_s=drain_s)
    pipeline = FakeHeldPipeline(settings)
    store = settings.open_store()
    return DocumentJobs(pipeline, store, IdpMetrics()), pipeline, store


DOCUMENT = pdf_text_layer()


async def _two_jobs(jobs: DocumentJobs, pipeline: FakeHeldPipeline) -> tuple[str, str]:
    document = DOCUMENT
    jobs.start()
    first = await jobs.submit(document.data, document.filename, "invoice")
    await pipeline.started.wait()
    second = await jobs.submit(document.data, document.filename, "invoice")
    return first, second


def test_a_running_job_finishes_within_the_drain_and_no_new_job_is_claimed(tmp_path: Path) -> None:
    jobs, pipeline, store = _jobs(tmp_path, drain_s=60)

    async def scenario() -> tuple[str, str]:
        first, second = await _two_jobs(jobs, pipeline)
        stopping = asyncio.create_task(jobs.stop())
        await asyncio.sleep(0)  # stop() has begun: no worker claims from here on
        pipeline.release.set()
        await stopping
        return first, second

    first, second = asyncio.run(scenario())
    assert (store.get(first)["status"], store.get(first)["confidence"]) == ("auto_approved", 0.9)
    assert (store.get(second)["status"], store.get(second)["attempts"]) == ("queued", 0)
    store.close()


def test_a_job_that_cannot_finish_within_the_drain_is_released(tmp_path: Path) -> None:
    jobs, pipeline, store = _jobs(tmp_path, drain_s=0)

    async def scenario() -> tuple[str, str]:
        first, second = await _two_jobs(jobs, pipeline)
        await jobs.stop()
        return first, second

    first, second = asyncio.run(scenario())
    for job_id in (first, second):
        job = store.get(job_id)
        assert (job["status"], job["attempts"], job["result"]) == ("queued", 0, None)
    claimed = store.claim("next-process", lease_s=60, max_attempts=1)
    assert claimed is not None and claimed.job_id == first and claimed.document == DOCUMENT.data
    store.close()

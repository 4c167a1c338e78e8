"""`DocumentJobs.start`: the jobs an earlier, dead run of this process's instance held are queued again and
processed at once, while the running jobs of a live process on the same data dir are left alone."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest

from inferstack.idp.instance import acquire_instance
from inferstack.idp.jobs import DocumentJobs
from inferstack.idp.metrics import IdpMetrics
from inferstack.idp.settings import IdpSettings
from tests.support.idp_documents import pdf_text_layer
from tests.unit.idp.test_job_drain import FakeHeldPipeline

_HOUR = 3600.0


def test_a_dead_runs_jobs_are_processed_without_waiting_for_their_lease(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = IdpSettings(database=tmp_path / "jobs.sqlite3", extractor="rules", workers=1, lease_s=_HOUR)
    store = settings.open_store()
    live = acquire_instance(tmp_path, "jobs.sqlite3")  # another process on this data dir, still running
    dead = acquire_instance(tmp_path, "jobs.sqlite3")
    assert live is not None and dead is not None
    dead.release()  # as the kernel does when its process dies
    document = pdf_text_layer()
    for job_id, holder in (("doc-live", f"{live.name}:100:aaaa0000"), ("doc-dead", f"{dead.name}:200:bbbb0000")):
        store.create(job_id, "invoice", document.filename, document.data)
        claimed = store.claim(holder, lease_s=_HOUR, max_attempts=3)
        assert claimed is not None and claimed.job_id == job_id
    pipeline = FakeHeldPipeline(settings)
    metrics = IdpMetrics()
    jobs = DocumentJobs(pipeline, store, metrics)

    async def scenario() -> None:
        jobs.start()
        try:
            await pipeline.started.wait()
        finally:
            pipeline.release.set()
            await jobs.stop()  # the running job finishes within drain_s

    with caplog.at_level(logging.INFO, logger="inferstack.idp.jobs"):
        asyncio.run(asyncio.wait_for(scenario(), timeout=60))
    assert jobs.worker_id.startswith(f"{dead.name}:"), "the slot the dead run freed, under the same name"
    assert (store.get("doc-dead")["status"], store.get("doc-dead")["attempts"]) == ("auto_approved", 2)
    assert (store.get("doc-live")["status"], store.get("doc-live")["attempts"]) == ("processing", 1)
    assert metrics.recovered._value.get() == 1
    assert f"document job doc-dead was held by {dead.name}:200:bbbb0000" in caplog.text
    assert "doc-live" not in caplog.text
    live.release()
    store.close()

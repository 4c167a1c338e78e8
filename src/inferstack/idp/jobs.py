"""Document jobs for the service: checked up front (4xx, nothing stored), queued (bounded), processed by workers.

A job keeps the trace context of the request that submitted it, so with tracing on its processing (`idp.process`
and the stage spans) is part of the caller's trace, under the `POST /v1/documents` span.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from dataclasses import dataclass

from opentelemetry import context as otel_context
from opentelemetry.context import Context

from inferstack.core.errors import InferstackError, OverloadedError
from inferstack.idp.document_types import load_type
from inferstack.idp.documents import load_document
from inferstack.idp.metrics import IdpMetrics
from inferstack.idp.pipeline import DocumentPipeline, new_job_id
from inferstack.idp.store import JobStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Job:
    job_id: str
    data: bytes
    schema: str
    context: Context


class DocumentJobs:
    def __init__(self, pipeline: DocumentPipeline, store: JobStore, metrics: IdpMetrics) -> None:
        self.pipeline = pipeline
        self.store = store
        self.metrics = metrics
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(maxsize=pipeline.settings.max_queued)
        self._workers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._workers = [asyncio.create_task(self._work()) for _ in range(self.pipeline.settings.workers)]

    async def stop(self) -> None:
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)

    async def submit(self, data: bytes, filename: str, schema: str) -> str:
        """Check the schema name and that the document loads within limits, then store and queue it."""
        load_type(schema)
        await asyncio.to_thread(load_document, data, self.pipeline.limits)
        if self._queue.full():
            raise OverloadedError("too many documents waiting; retry later", retry_after=5)
        job_id = new_job_id()
        await asyncio.to_thread(self.store.create, job_id, schema, filename)
        self._queue.put_nowait(_Job(job_id, data, schema, otel_context.get_current()))
        return job_id

    async def _work(self) -> None:
        while True:
            job = await self._queue.get()
            token = otel_context.attach(job.context)
            try:
                await asyncio.to_thread(self.store.update, job.job_id, "processing")
                result = await self.pipeline.process(job.data, job.schema, job_id=job.job_id)
                await asyncio.to_thread(
                    self.store.update, job.job_id, result.status, result.confidence, result.as_dict()
                )
                self.metrics.observe(result)
            except Exception:
                log.exception("document job %s failed", job.job_id)
                with suppress(InferstackError):  # the store itself may be what failed; the log has the cause
                    await asyncio.to_thread(self.store.update, job.job_id, "failed")
            finally:
                otel_context.detach(token)
                self._queue.task_done()

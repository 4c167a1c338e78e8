"""Document jobs for the service: checked up front (4xx, nothing stored), stored with their document, and processed
by workers that claim them from the store under a lease.

The store is the truth: a job submitted here wakes this process's workers at once, and idle workers also look in
the store every `poll_s`, for jobs submitted to other replicas and for jobs whose process died (lease ran out).
A worker renews its lease while the pipeline runs. On SIGTERM the workers stop claiming, running jobs get
`drain_s` to finish, and the ones that could not are released (queued again) for another process or the next start.
At start the process takes its instance (`idp.instance`) and queues again the jobs an earlier, dead run of that
instance still held, instead of letting them wait out their lease.

A job keeps the trace context of the request that submitted it (stored as W3C headers), so with tracing on its
processing (`idp.process` and the stage spans) is part of the caller's trace, whichever replica processes it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import uuid
from contextlib import suppress

from opentelemetry import context as otel_context
from opentelemetry import propagate

from inferstack.core.errors import InferstackError, OverloadedError
from inferstack.idp.document_types import load_type
from inferstack.idp.documents import load_document
from inferstack.idp.instance import InstanceLock, acquire_instance
from inferstack.idp.metrics import IdpMetrics
from inferstack.idp.pipeline import DocumentPipeline, new_job_id
from inferstack.idp.store import ClaimedJob, JobStore

log = logging.getLogger(__name__)


def new_worker_id(instance: str) -> str:
    """This process's name in `claimed_by`: its instance (or host), pid and a random part (pids repeat across
    containers)."""
    return f"{instance}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class DocumentJobs:
    def __init__(self, pipeline: DocumentPipeline, store: JobStore, metrics: IdpMetrics) -> None:
        self.pipeline = pipeline
        self.settings = pipeline.settings
        self.store = store
        self.metrics = metrics
        self.worker_id = new_worker_id(socket.gethostname())  # its instance's name from start()
        self._instance: InstanceLock | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._running: set[str] = set()
        self._workers: list[asyncio.Task[None]] = []
        self._recovering: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Take this process's instance, then queue again what its dead predecessor held and start the workers."""
        self._stopping = False
        self._instance = self._take_instance()
        if self._instance is not None:
            self.worker_id = new_worker_id(self._instance.name)
        self._recovering = recovering = asyncio.create_task(self._recover())
        self._workers = [asyncio.create_task(self._work(recovering)) for _ in range(self.settings.workers)]

    def _take_instance(self) -> InstanceLock | None:
        database = self.settings.database
        try:
            instance = acquire_instance(database.parent, database.name)
        except OSError as exc:
            log.warning(
                "no instance lock in %s (%s): jobs of a crashed run of this process wait out their lease",
                database.parent,
                type(exc).__name__,
            )
            return None
        if instance is None:
            log.warning("every instance slot in %s is held: no crash recovery at start", database.parent)
        else:
            log.info("idp instance %s (lock %s)", instance.name, instance.path)
        return instance

    async def _recover(self) -> None:
        """Jobs an earlier run of this instance held when it died are queued again (the kernel released its lock,
        so it is not running); they count as a retry when claimed."""
        if self._instance is None:
            return
        try:
            recovered = await asyncio.to_thread(self.store.recover, self._instance.name, self.worker_id)
        except InferstackError as exc:  # their leases run out instead
            log.warning("could not look for jobs of an earlier run of this instance: %s", exc.message)
            return
        for job_id, holder in recovered:
            self.metrics.recovered.inc()
            log.warning(
                "document job %s was held by %s, an earlier run of this instance that stopped without finishing "
                "it; queued again without waiting for its lease",
                job_id,
                holder,
            )

    async def stop(self) -> None:
        """Stop claiming, give running jobs `drain_s` to finish, then release the rest to other processes."""
        self._stopping = True
        self._wake.set()
        if self._workers:
            _, pending = await asyncio.wait(self._workers, timeout=self.settings.drain_s)
            for worker in pending:
                worker.cancel()
            await asyncio.gather(*self._workers, return_exceptions=True)
        if self._recovering is not None:  # one statement: let it end before the store closes
            await asyncio.gather(self._recovering, return_exceptions=True)
        for job_id in sorted(self._running):
            try:
                released = await asyncio.to_thread(self.store.release, job_id, self.worker_id)
            except InferstackError as exc:  # its lease runs out instead, and another process claims it then
                log.warning("could not release document job %s: %s", job_id, exc.message)
                continue
            if released:
                self.metrics.released.inc()
                log.warning("document job %s did not finish within %.0f s; released", job_id, self.settings.drain_s)
        self._running.clear()
        if self._instance is not None:  # last: a job that could not be released is recovered by the next run
            self._instance.release()
            self._instance = None

    async def submit(self, data: bytes, filename: str, schema: str) -> str:
        """Check the schema name and that the document loads within limits, then store it and wake a worker."""
        load_type(schema)
        await asyncio.to_thread(load_document, data, self.pipeline.limits)
        if await asyncio.to_thread(self.store.waiting) >= self.settings.max_queued:
            raise OverloadedError("too many documents waiting; retry later", retry_after=5)
        job_id = new_job_id()
        carrier: dict[str, str] = {}
        propagate.inject(carrier)
        trace_context = json.dumps(carrier) if carrier else None
        await asyncio.to_thread(self.store.create, job_id, schema, filename, data, trace_context)
        self._wake.set()
        return job_id

    async def _work(self, recovering: asyncio.Task[None]) -> None:
        await asyncio.shield(recovering)  # no claim before the dead run's jobs are queued (oldest first still)
        while not self._stopping:
            try:
                job = await self._claim()
            except InferstackError as exc:
                log.warning("could not claim a document job: %s", exc.message)
                job = None
            if job is None:
                if self._stopping:
                    return
                with suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.settings.poll_s)
                self._wake.clear()
                continue
            self.metrics.claims.labels("first" if job.attempts == 1 else "retry").inc()
            await self._process(job)

    async def _claim(self) -> ClaimedJob | None:
        claiming = asyncio.ensure_future(
            asyncio.to_thread(
                self.store.claim,
                self.worker_id,
                lease_s=self.settings.lease_s,
                max_attempts=self.settings.max_attempts,
                keep_document=self.settings.keep_documents,
            )
        )
        try:
            return await asyncio.shield(claiming)
        except asyncio.CancelledError:  # stopping: a claim that lands anyway is released by stop()
            with suppress(InferstackError):
                if (job := await claiming) is not None:
                    self._running.add(job.job_id)
            raise

    async def _process(self, job: ClaimedJob) -> None:
        self._running.add(job.job_id)
        carrier = json.loads(job.trace_context) if job.trace_context else {}
        token = otel_context.attach(propagate.extract(carrier))
        renewing = asyncio.create_task(self._renew(job.job_id))
        try:
            try:
                result = await self.pipeline.process(job.document, job.schema, job_id=job.job_id)
            except Exception as exc:
                log.exception("document job %s failed", job.job_id)
                await self._finish(job.job_id, "failed", error=f"internal error ({type(exc).__name__}); see the log")
            else:
                if await self._finish(job.job_id, result.status, confidence=result.confidence, result=result.as_dict()):
                    self.metrics.observe(result)
            self._running.discard(job.job_id)
        finally:
            renewing.cancel()
            otel_context.detach(token)

    async def _finish(
        self,
        job_id: str,
        status: str,
        *,
        confidence: float | None = None,
        result: dict[str, object] | None = None,
        error: str | None = None,
    ) -> bool:
        try:
            finished = await asyncio.to_thread(
                lambda: self.store.finish(
                    job_id,
                    self.worker_id,
                    status,
                    confidence=confidence,
                    result=result,
                    error=error,
                    keep_document=self.settings.keep_documents,
                )
            )
        except InferstackError as exc:  # the lease runs out and the job is processed again
            log.warning("could not record document job %s: %s", job_id, exc.message)
            return False
        if not finished:
            log.warning("document job %s was taken over by another process (lease ran out); result dropped", job_id)
        return finished

    async def _renew(self, job_id: str) -> None:
        while True:
            await asyncio.sleep(self.settings.lease_s / 3)
            try:
                mine = await asyncio.to_thread(
                    lambda: self.store.renew(job_id, self.worker_id, lease_s=self.settings.lease_s)
                )
            except InferstackError as exc:
                log.warning("could not renew the lease of document job %s: %s", job_id, exc.message)
                continue
            if not mine:
                log.warning("document job %s is no longer held by this process", job_id)
                return

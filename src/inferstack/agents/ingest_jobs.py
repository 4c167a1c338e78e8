"""Ingest jobs run in the background inside the agent process, one at a time, with progress and a final report.

The agent owns the vector store while it runs (Milvus Lite allows one process per file), so ingestion has to run
here. Jobs queue behind each other, at most `max_unfinished` queued or running (more are refused with 429); the
last `max_jobs` finished jobs stay queryable by id, and a queued or
running job can be cancelled (files finished before are kept; the next run does the rest). When the ingest
function also lists and removes sources (`SourceCatalog`), the knowledge endpoints use it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from inferstack.agents.metrics import AgentMetrics
from inferstack.core.errors import InferstackError, NotFoundError, RateLimitError

log = logging.getLogger(__name__)

ProgressCallback = Callable[[Mapping[str, Any]], None]


class IngestFunction(Protocol):
    def __call__(self, path: Path, *, force: bool, on_progress: ProgressCallback) -> Awaitable[Mapping[str, Any]]:
        """Ingest `path` into the knowledge store, reporting progress; returns the ingestion report."""
        ...


@runtime_checkable
class SourceCatalog(Protocol):
    async def list_sources(self) -> list[dict[str, Any]]:
        """Every ingested file: source id, folder, chunks."""
        ...

    async def remove_sources(self, selector: str) -> dict[str, Any]:
        """Remove a source id or a folder's files; `NotFoundError` when nothing matches."""
        ...


@dataclass
class IngestJob:
    id: str
    path: str
    force: bool
    status: str = "queued"  # queued | running | succeeded | failed | cancelled
    progress: dict[str, Any] = field(default_factory=dict)
    report: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")

    def as_dict(self) -> dict[str, Any]:
        return {
            "job_id": self.id,
            "path": self.path,
            "force": self.force,
            "status": self.status,
            "progress": self.progress,
            "report": self.report,
            "error": self.error,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
        }


class IngestJobs:
    def __init__(
        self,
        ingest: IngestFunction,
        metrics: AgentMetrics,
        *,
        max_jobs: int,
        max_unfinished: int = 32,
        on_success: Callable[[], None] | None = None,
    ) -> None:
        self._ingest = ingest
        self._metrics = metrics
        self._max_jobs = max_jobs
        self._on_success = on_success
        self._jobs: OrderedDict[str, IngestJob] = OrderedDict()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._one_at_a_time = asyncio.Lock()
        self._closing = False
        self._max_unfinished = max_unfinished
        metrics.ingest_jobs_unfinished.set_function(lambda: len(self._tasks))
        metrics.bounded_limit.labels("ingest_jobs_unfinished").set(max_unfinished)
        metrics.bounded_limit.labels("ingest_jobs_finished_kept").set(max_jobs)

    def submit(self, path: Path, *, force: bool) -> IngestJob:
        if len(self._tasks) >= self._max_unfinished:
            raise RateLimitError(
                f"{len(self._tasks)} ingest jobs are already queued or running; retry when one has finished",
                code="ingest_queue_full",
                retry_after=5,
            )
        job = IngestJob(id=f"ingest-{uuid.uuid4().hex[:12]}", path=str(path), force=force)
        self._jobs[job.id] = job
        self._tasks[job.id] = asyncio.create_task(self._run(job, path), name=job.id)
        self._forget_old()
        return job

    def get(self, job_id: str) -> IngestJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"no ingest job '{job_id}'", param="job_id", code="job_not_found")
        return job

    async def cancel(self, job_id: str) -> IngestJob:
        """Cancel a queued or running job and wait for it to stop; a finished job is returned as it is."""
        job = self.get(job_id)
        task = self._tasks.get(job_id)
        if task is not None and not job.finished:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        return job

    @property
    def catalog(self) -> SourceCatalog:
        if not isinstance(self._ingest, SourceCatalog):
            raise NotFoundError("this agent's knowledge store does not list its sources", code="not_supported")
        return self._ingest

    @property
    def running(self) -> bool:
        return any(not job.finished for job in self._jobs.values())

    async def close(self) -> None:
        self._closing = True
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, job: IngestJob, path: Path) -> None:
        try:
            async with self._one_at_a_time:
                job.status, job.started_at = "running", time.time()
                self._metrics.ingest_jobs_running.inc()
                try:
                    report = await self._ingest(path, force=job.force, on_progress=job.progress.update)
                finally:
                    self._metrics.ingest_jobs_running.dec()
            job.report, job.status = dict(report), "succeeded"
            if self._on_success is not None:
                self._on_success()
        except asyncio.CancelledError:
            job.status = "cancelled"
            if not self._closing:
                return  # cancelled through the API: the task ends here, the agent goes on
            raise
        except InferstackError as exc:
            job.status = "failed"
            job.error = {"message": exc.message, "type": exc.error_type, "code": exc.code}
            log.warning("ingest job %s failed: %s", job.id, exc.message)
        except Exception as exc:
            job.status = "failed"
            job.error = {"message": f"{type(exc).__name__}: {exc}", "type": "server_error", "code": None}
            log.exception("ingest job %s crashed", job.id)
        finally:
            job.finished_at = time.time()
            self._metrics.ingest_jobs.labels(job.status).inc()
            self._tasks.pop(job.id, None)

    def _forget_old(self) -> None:
        finished = [job_id for job_id, job in self._jobs.items() if job.finished]
        for job_id in finished[: max(0, len(finished) - self._max_jobs)]:
            del self._jobs[job_id]

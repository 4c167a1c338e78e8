"""The reference app's API shapes, served beside ours so its clients and smoke scripts work unchanged.

The reference answered `POST /query` with `{response, session_id, processing_time, status}` and started a
background "embed the knowledge folder" job on `POST /embed {force_refresh}`. Our /query answer carries those
fields too (`response` repeats `answer`); /embed starts an ordinary ingest job of the configured folder. Failures
stay real HTTP errors in OpenAI's shape: the reference's HTTP 200 with `status: "error"` is not reproduced.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from inferstack.agents.ingest_jobs import IngestJob
from inferstack.agents.query import QueryResult
from inferstack.core.errors import NotFoundError

EMBED_STARTED = "Knowledge embedding started in background"


def reference_query_fields(result: QueryResult) -> dict[str, Any]:
    """What the reference's QueryResponse had that ours names differently: the answer, seconds taken, success."""
    return {
        "response": result.answer,
        "processing_time": round(result.timings.get("total_ms", 0.0) / 1000.0, 3),
        "status": "success",
    }


def embed_folder(candidates: Iterable[Path]) -> Path:
    """The folder POST /embed ingests: the first candidate that is a directory (`agent.embed_path` when set)."""
    tried = list(candidates)
    for folder in tried:
        if folder.is_dir():
            return folder.resolve()
    where = ", ".join(str(folder) for folder in tried) or "none configured"
    raise NotFoundError(
        f"POST /embed has no knowledge folder to ingest (tried: {where}); set agent.embed_path",
        code="embed_folder_not_found",
    )


def embed_started(job: IngestJob) -> dict[str, Any]:
    """The reference's answer to POST /embed, plus the job to follow at GET /ingest/{job_id}."""
    return {"message": EMBED_STARTED, "status": "processing", "job_id": job.id, "path": job.path}

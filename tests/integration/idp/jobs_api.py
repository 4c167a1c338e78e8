"""Submitting a document to a running `inferstack idp serve` and waiting for its job, as a client does."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.support.idp_documents import SyntheticDocument


def submit(client: httpx.Client, document: SyntheticDocument) -> str:
    files = {"file": (document.filename, document.data)}
    response = client.post("/v1/documents", files=files, data={"schema": document.schema})
    assert response.status_code == 202, response.text
    job_id: str = response.json()["id"]
    return job_id


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 120) -> dict[str, Any]:
    """The job once it is no longer queued or processing."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        job = client.get(f"/v1/documents/{job_id}").json()
        if job["status"] not in ("queued", "processing"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} still {job.get('status')}")

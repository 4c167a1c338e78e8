"""Ask a running agent to (re)ingest its knowledge folder and wait for the job: the chart's ingest Job.

`POST /embed` starts an incremental ingest of the agent's `embed_path` (the chart mounts the knowledge source
there; unset, the bundled sample); `GET /ingest/{id}` is polled until the job ends. An agent that is not up yet
is retried until `wait_s`, so the Job can start before the agent, the gateway and the embedding model are ready.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from inferstack.core.errors import UpstreamError

_FINISHED = {"succeeded", "failed", "cancelled"}  # the agent's job states: queued | running | ...
_SUCCESS = {"succeeded"}


class AgentIngestError(UpstreamError):
    """The agent did not accept the ingest, or the job ended unsuccessfully."""


@dataclass(frozen=True)
class IngestOutcome:
    job_id: str
    status: str
    report: dict[str, Any]

    @property
    def ok(self) -> bool:
        return self.status in _SUCCESS


def embed_through_agent(
    agent_url: str,
    *,
    api_key: str | None = None,
    force: bool = False,
    wait_s: float = 1800.0,
    poll_s: float = 2.0,
    client: httpx.Client | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> IngestOutcome:
    """Start `POST {agent_url}/embed` (retrying until the agent answers) and follow the job to its end."""
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    http = client or httpx.Client(timeout=30.0, headers=headers)
    deadline = time.monotonic() + wait_s
    base = agent_url.rstrip("/")
    try:
        job = _start(http, base, force=force, deadline=deadline, poll_s=poll_s, log=log)
        job_id = str(job.get("job_id") or job.get("id") or "")
        if not job_id:
            raise AgentIngestError(f"{base}/embed answered without a job id: {job}")
        log(f"ingest job {job_id} started")
        while True:
            state = http.get(f"{base}/ingest/{job_id}").raise_for_status().json()
            status = str(state.get("status", ""))
            if status in _FINISHED:
                return IngestOutcome(job_id=job_id, status=status, report=state)
            if time.monotonic() > deadline:
                raise AgentIngestError(f"ingest job {job_id} still {status!r} after {wait_s:.0f} s")
            time.sleep(poll_s)
    except httpx.HTTPError as exc:
        raise AgentIngestError(f"{base}: {type(exc).__name__}: {exc}") from None
    finally:
        if client is None:
            http.close()


def _start(
    http: httpx.Client, base: str, *, force: bool, deadline: float, poll_s: float, log: Callable[[str], None]
) -> dict[str, Any]:
    while True:
        try:
            response = http.post(f"{base}/embed", json={"force_refresh": force})
            if response.status_code < 500:
                if response.status_code >= 400:
                    raise AgentIngestError(f"{base}/embed refused: {response.status_code} {response.text[:300]}")
                body: dict[str, Any] = response.json()
                return body
            reason = f"HTTP {response.status_code}"
        except httpx.TransportError as exc:
            reason = type(exc).__name__
        if time.monotonic() > deadline:
            raise AgentIngestError(f"{base}/embed: the agent did not accept the ingest in time ({reason})")
        log(f"agent not ready ({reason}); retrying")
        time.sleep(poll_s)

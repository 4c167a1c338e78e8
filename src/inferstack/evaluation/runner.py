"""Sends evaluation questions to an agent's POST /query (a few at a time) and scores each reply.

Only HTTP: the agent can be `inferstack up`'s, a standalone `inferstack agent`, or one on another machine.
`ingest_folder` submits POST /ingest and waits for the job, for evaluating a corpus the agent does not hold yet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from inferstack.core.errors import InferstackError
from inferstack.evaluation.dataset import EvalQuestion
from inferstack.evaluation.scoring import QuestionScore, aggregate, score_reply

OWNER_KEY_HEADER = "X-Inferstack-Owner-Key"  # the agent's header for ingesting folders outside its roots


class AgentUnreachableError(InferstackError):
    status_code = 503
    default_code = "agent_unreachable"


@dataclass(frozen=True)
class EvalTarget:
    url: str  # the agent's base URL, e.g. http://127.0.0.1:8080
    api_key: str | None = None
    owner_key: str | None = None
    timeout_s: float = 180.0
    top_k: int | None = None
    use_web_search: bool | None = None

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}


@dataclass
class EvalRun:
    target: str
    k: int
    scores: list[QuestionScore] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return aggregate(self.scores, self.k)

    def as_dict(self) -> dict[str, Any]:
        return {"target": self.target, "summary": self.summary(), "questions": [s.as_dict() for s in self.scores]}


async def _ask(client: httpx.AsyncClient, target: EvalTarget, question: EvalQuestion) -> QuestionScore:
    body: dict[str, Any] = {"question": question.question}
    if target.top_k is not None:
        body["top_k"] = target.top_k
    if target.use_web_search is not None:
        body["use_web_search"] = target.use_web_search
    started = time.perf_counter()
    try:
        response = await client.post("/query", json=body)
    except httpx.ConnectError:
        raise AgentUnreachableError(f"no agent at {target.url}: start the stack or pass --url") from None
    except httpx.HTTPError as exc:
        return score_reply(question, None, time.perf_counter() - started, f"{type(exc).__name__}: {exc}")
    latency = time.perf_counter() - started
    if response.status_code != 200:
        return score_reply(question, None, latency, f"HTTP {response.status_code}: {response.text[:200]}")
    return score_reply(question, response.json(), latency, None)


async def run_questions(
    target: EvalTarget,
    questions: Sequence[EvalQuestion],
    *,
    k: int = 5,
    concurrency: int = 1,
    on_done: Callable[[QuestionScore], None] | None = None,
) -> EvalRun:
    """Every question asked once, at most `concurrency` at a time; scores in question order."""
    semaphore = asyncio.Semaphore(max(1, concurrency))
    limits = httpx.Limits(max_connections=max(1, concurrency))
    async with httpx.AsyncClient(
        base_url=target.url, headers=target.headers(), timeout=target.timeout_s, limits=limits
    ) as client:

        async def one(question: EvalQuestion) -> QuestionScore:
            async with semaphore:
                score = await _ask(client, target, question)
            if on_done is not None:
                on_done(score)
            return score

        scores = await asyncio.gather(*(one(q) for q in questions))
    return EvalRun(target=target.url, k=k, scores=list(scores))


async def ingest_folder(target: EvalTarget, path: str, *, timeout_s: float = 900.0) -> dict[str, Any]:
    """POST /ingest for `path` (absolute, as the agent's machine sees it) and wait for the job to finish."""
    headers = target.headers()
    if target.owner_key:
        headers[OWNER_KEY_HEADER] = target.owner_key
    async with httpx.AsyncClient(base_url=target.url, headers=headers, timeout=30.0) as client:
        try:
            response = await client.post("/ingest", json={"path": path})
        except httpx.ConnectError:
            raise AgentUnreachableError(f"no agent at {target.url}: start the stack or pass --url") from None
        if response.status_code != 202:
            raise InferstackError(
                f"the agent refused to ingest {path}: HTTP {response.status_code} {response.text[:300]}"
            )
        job_id = response.json()["job_id"]
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            job: dict[str, Any] = (await client.get(f"/ingest/{job_id}")).json()
            if job.get("status") in ("succeeded", "failed", "cancelled"):
                if job["status"] != "succeeded":
                    raise InferstackError(f"ingesting {path} {job['status']}: {job.get('error')}")
                return job
            await asyncio.sleep(0.5)
    raise InferstackError(f"ingesting {path} did not finish within {timeout_s:g} s")

"""FakeAgent: the inferstack agent's HTTP API on loopback with canned answers, for tests of its clients (the console).

It speaks the real agent's wire format (agents/routes.py): `POST /query` answers with the fields of
`QueryResult.as_dict()` plus the reference fields, `POST /query/stream` with the same answer as SSE events;
`GET /knowledge/sources`, `DELETE /knowledge/sources/{source}`, `POST /ingest` (202, a job) and
`GET /ingest/{job_id}` (queued → running → succeeded over successive polls, its documents being the folder's real
files), `GET /status`, `GET /health`. Errors are OpenAI-shaped; a wrong or missing `Authorization: Bearer <server
key>` gets 401, an ingest path outside `--root` gets 403 `path_not_allowed`.

    python -m tests.support.fake_agent --port 8123 --api-key K --root /some/folder

    with fake_agent_process(log_dir, api_key="K", root=folder) as fake:
        fake.base_url; fake.requests()      # every request: method, path, body, auth, traceparent, owner key

Control endpoint: GET /_fake/requests.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from aiohttp import web
from aiohttp.typedefs import Handler

from tests.support.processes import RunningProcess, module_process

DEFAULT_API_KEY = "sk-fake-agent-server-key"
SEED_DOCUMENTS = (("sample/returns-policy.md", 4), ("sample/shipping-times.md", 3))


def _error(status: int, message: str, code: str, kind: str = "invalid_request_error") -> web.Response:
    body = {"error": {"message": message, "type": kind, "param": None, "code": code}}
    return web.json_response(body, status=status)


def _entry(source: str, chunks: int, root: str) -> dict[str, Any]:
    return {
        "source": source,
        "root": root,
        "label": source.split("/")[0],
        "chunks": chunks,
        "size": chunks * 800,
        "ingested_at": "2026-12-01T09:30:00+00:00",
        "root_exists": True,
    }


@dataclass
class _Job:
    id: str
    path: str
    polls: int = 0


@dataclass
class _State:
    api_key: str
    root: Path
    documents: dict[str, dict[str, Any]] = field(default_factory=dict)
    jobs: dict[str, _Job] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))


def _answer(question: str, state: _State, session_id: str | None) -> dict[str, Any]:
    docs = list(state.documents.values())[:2]
    sources = [
        {
            "source": d["source"],
            "snippet": f"Passage {i + 1} of {d['source']} about {question[:40].rstrip('?')}.",
            "score": round(0.82 - 0.1 * i, 4),
            "kind": "knowledge",
            "in_prompt": True,
            "chunk_id": f"{d['source']}#0",
        }
        for i, d in enumerate(docs)
    ]
    route = "knowledge" if sources else "none"
    answer = f"Fake agent answer to: {question}"
    grade = {"answerable": True, "score": 0.71, "coverage": 0.8, "cosine": 0.62, "method": "evidence", "reason": "ok"}
    timings = {"retrieval_ms": 12.5, "grading_ms": 3.1, "web_search_ms": 0.0, "generation_ms": 40.2, "total_ms": 58.0}
    return {
        "answer": answer,
        "route": route,
        "sources": sources,
        "relevance": 0.82 if sources else None,
        "relevance_detail": {
            "score": 0.82,
            "similarity": 0.82,
            "precision": None,
            "method": "similarity",
            "answerable": True,
        }
        if sources
        else None,
        "grade": grade if sources else None,
        "evidence": [
            {
                "source": s["source"],
                "chunk_id": s["chunk_id"],
                "passage_rank": 1,
                "text": s["snippet"],
                "span": [0, len(s["snippet"])],
                "score": 0.71,
                "matched_terms": ["fake"],
                "missing_terms": [],
            }
            for s in sources[:1]
        ],
        "answer_style": "extractive",
        "retrieved": [],
        "session_id": session_id or "fake-session-1",
        "time_sensitive": None,
        "warnings": [],
        "timings": timings,
        "response": answer,
        "processing_time": 0.058,
        "status": "success",
    }


def _resolved(raw: str) -> Path | None:
    path = Path(raw).expanduser().resolve()
    return path if path.exists() else None


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def build_app(state: _State) -> web.Application:
    @web.middleware
    async def record_and_authorize(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in ("/health", "/_fake/requests"):
            return await handler(request)
        body = await request.json() if request.can_read_body else None
        state.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "body": body,
                "authorization": request.headers.get("Authorization"),
                "traceparent": request.headers.get("traceparent"),
                "owner_key": request.headers.get("X-Inferstack-Owner-Key"),
            }
        )
        if request.headers.get("Authorization") != f"Bearer {state.api_key}":
            return _error(401, "missing or invalid API key", "invalid_api_key", "authentication_error")
        return await handler(request)

    async def health(_: web.Request) -> web.Response:
        # The real agent's dependency map (agents/health.py), with the optional web search down.
        dependencies = {
            "gateway": {"ok": True, "status": "ok", "required": True, "detail": "ok"},
            "vector_store": {"ok": True, "status": "ok", "required": True, "detail": "42 chunks"},
            "web_search": {"ok": False, "status": "degraded", "required": False, "error": "unreachable: ConnectError"},
            "filesystem": {"ok": True, "status": "ok", "required": False, "detail": "ok"},
        }
        return web.json_response({"status": "degraded", "dependencies": dependencies})

    async def requests(_: web.Request) -> web.Response:
        return web.json_response(state.requests)

    async def query(request: web.Request) -> web.Response:
        body = await request.json()
        question = str(body.get("question", "")).strip()
        if not question:
            return _error(400, "question must not be blank", "invalid_value")
        return web.json_response(_answer(question, state, body.get("session_id")))

    async def query_stream(request: web.Request) -> web.StreamResponse:
        """SSE as the agent sends it: `route`, a `token` per word, then `done`."""
        body = await request.json()
        question = str(body.get("question", "")).strip()
        if not question:
            return _error(400, "question must not be blank", "invalid_value")
        full = _answer(question, state, body.get("session_id"))
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)

        async def send(event: str, data: dict[str, Any]) -> None:
            await response.write(f"event: {event}\ndata: {json.dumps(data)}\n\n".encode())

        plan = (
            "route",
            "sources",
            "relevance",
            "relevance_detail",
            "grade",
            "evidence",
            "answer_style",
            "retrieved",
            "session_id",
            "time_sensitive",
            "warnings",
        )
        await send("route", {k: full[k] for k in plan})
        for n, word in enumerate(full["answer"].split(" ")):
            await send("token", {"delta": word if n == 0 else " " + word})
        await send("done", {k: full[k] for k in ("answer", "route", "session_id", "timings")})
        await response.write_eof()
        return response

    async def status(_: web.Request) -> web.Response:
        docs = state.documents.values()
        return web.json_response(
            {
                "version": "0.1.0",
                "config": {},
                "knowledge": {
                    "status": "ready",
                    "document_count": len(docs),
                    "chunk_count": sum(d["chunks"] for d in docs),
                    "last_updated": None,
                },
                "sessions": 0,
                "ingest_running": any(job.polls < 2 for job in state.jobs.values()),
            }
        )

    async def sources(_: web.Request) -> web.Response:
        return web.json_response(
            {"object": "list", "data": sorted(state.documents.values(), key=lambda d: d["source"])}
        )

    async def remove(request: web.Request) -> web.Response:
        selector = request.match_info["selector"]
        if selector not in state.documents:
            return _error(404, f"no source or folder '{selector}' in the knowledge base", "source_not_found")
        removed = state.documents.pop(selector)
        return web.json_response({"removed": [selector], "files_removed": 1, "chunks_removed": removed["chunks"]})

    async def ingest(request: web.Request) -> web.Response:
        body = await request.json()
        raw = str(body.get("path", ""))
        path = _resolved(raw)
        if path is None:
            return _error(400, f"ingest path '{raw}' does not exist", "path_not_found")
        if not path.is_relative_to(state.root):
            message = f"ingest path '{raw}' is outside the directories this agent may ingest ({state.root})"
            return _error(403, message, "path_not_allowed", "permission_error")
        job = _Job(id=f"ingest-{next(state.ids):012d}", path=str(path))
        state.jobs[job.id] = job
        return web.json_response({"job_id": job.id, "status": "queued", "path": job.path}, status=202)

    async def ingest_job(request: web.Request) -> web.Response:
        job = state.jobs.get(request.match_info["job_id"])
        if job is None:
            return _error(404, "no such ingest job", "job_not_found")
        files = _files(Path(job.path))
        job.polls += 1
        done = min(job.polls - 1, len(files))
        finished = job.polls >= 2
        if finished:
            for file in files:
                source = f"{Path(job.path).name}/{file.relative_to(job.path)}"
                state.documents[source] = _entry(source, 2, job.path)
        progress = {
            "phase": "done" if finished else "embedding",
            "files_total": len(files),
            "files_done": len(files) if finished else done,
            "files_failed": 0,
            "chunks_total": 2 * len(files),
            "chunks_written": 2 * (len(files) if finished else done),
            "current_file": None,
        }
        now = time.time()
        return web.json_response(
            {
                "job_id": job.id,
                "path": job.path,
                "force": False,
                "status": "succeeded" if finished else "running",
                "progress": progress,
                "report": {"files_indexed": len(files), "chunks_written": 2 * len(files)} if finished else None,
                "error": None,
                "created_at": now,
                "started_at": now,
                "finished_at": now if finished else None,
            }
        )

    app = web.Application(middlewares=[record_and_authorize])
    app.add_routes(
        [
            web.get("/health", health),
            web.get("/_fake/requests", requests),
            web.post("/query", query),
            web.post("/query/stream", query_stream),
            web.get("/status", status),
            web.get("/knowledge/sources", sources),
            web.delete("/knowledge/sources/{selector:.+}", remove),
            web.post("/ingest", ingest),
            web.get("/ingest/{job_id}", ingest_job),
        ]
    )
    return app


class FakeAgentProcess:
    def __init__(self, running: RunningProcess) -> None:
        self.running = running
        self.base_url = running.base_url

    def requests(self) -> list[dict[str, Any]]:
        recorded: list[dict[str, Any]] = httpx.get(self.base_url + "/_fake/requests").json()
        return recorded


@contextmanager
def fake_agent_process(log_dir: Path, *, api_key: str = DEFAULT_API_KEY, root: Path) -> Iterator[FakeAgentProcess]:
    """Run the fake as its own process on a free port; ingest paths must lie under `root`."""
    with module_process("tests.support.fake_agent", log_dir, ["--api-key", api_key, "--root", str(root)]) as running:
        yield FakeAgentProcess(running)


@contextmanager
def gateway_with_fake_agent(tmp: Path, upstream: RunningProcess) -> Iterator[tuple[RunningProcess, FakeAgentProcess]]:
    """A real gateway (model `alpha` on `upstream`) whose console reaches a fake agent that may ingest `tmp/docs`."""
    from tests.support.gateway import deployment, gateway_process

    (tmp / "docs").mkdir(exist_ok=True)
    with fake_agent_process(tmp, root=tmp / "docs") as agent:
        config = {
            "model_list": [deployment("alpha", upstream)],
            "console": {"agent_url": agent.base_url, "agent_api_key": DEFAULT_API_KEY},
        }
        with gateway_process(tmp, config) as gateway:
            yield gateway, agent


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake inferstack agent API with canned answers.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--root", type=Path, required=True, help="the one folder ingest may read")
    options = parser.parse_args(argv)
    state = _State(api_key=options.api_key, root=options.root.resolve())
    for source, chunks in SEED_DOCUMENTS:
        state.documents[source] = _entry(source, chunks, "/srv/knowledge/sample")
    web.run_app(build_app(state), host=options.host, port=options.port, print=None)


if __name__ == "__main__":
    main()

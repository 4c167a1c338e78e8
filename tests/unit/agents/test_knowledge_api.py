"""The agent's knowledge endpoints over the real ingestion pipeline (in-memory store, fake embedder): listing and
removing sources, cancelling a job, and who may ingest which folder (roots for remote callers, the owner key)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from inferstack.agents.app import AgentDependencies, build_app
from inferstack.agents.ingest_paths import OWNER_KEY_HEADER
from inferstack.retrieval.embedders.fake import FakeEmbedder
from inferstack.retrieval.stores.memory import InMemoryVectorStore
from tests.support.fake_upstream import FakeUpstream
from tests.unit.agents.conftest import DIM, agent_settings
from tests.unit.ingestion.conftest import make_pipeline

OWNER_KEY = "sk-owner-test-value"


class GatedEmbedder(FakeEmbedder):
    """Waits for `gate` before every batch, so a job can be caught while it runs."""

    def __init__(self) -> None:
        super().__init__(DIM)
        self.gate = asyncio.Event()

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        await self.gate.wait()
        return await super().embed(texts)


@pytest_asyncio.fixture(loop_scope="function")
async def agent(upstream: FakeUpstream, tmp_path: Path) -> AsyncIterator[tuple[httpx.AsyncClient, GatedEmbedder]]:
    store, embedder = InMemoryVectorStore(DIM), GatedEmbedder()
    pipeline = make_pipeline(store, embedder, tmp_path / "state" / "manifest.json")
    settings = agent_settings(upstream, tmp_path, ingest_roots=[tmp_path / "allowed"], owner_key=OWNER_KEY)
    app = build_app(settings, AgentDependencies(store=store, embedder=embedder, ingest=pipeline))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent") as client:
        yield client, embedder


async def _finished(client: httpx.AsyncClient, job_id: str) -> dict[str, Any]:
    for _ in range(500):
        job: dict[str, Any] = (await client.get(f"/ingest/{job_id}")).json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        await asyncio.sleep(0.01)
    raise AssertionError(f"job {job_id} did not finish")


def _folder(root: Path, name: str, files: dict[str, str]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for file, text in files.items():
        (folder / file).write_text(text)
    return folder


async def test_remote_callers_stay_in_the_roots_and_are_told_which_and_how(
    agent: tuple[httpx.AsyncClient, GatedEmbedder], tmp_path: Path
) -> None:
    client, _ = agent
    outside = _folder(tmp_path, "elsewhere", {"a.md": "Alpha."})
    refused = await client.post("/ingest", json={"path": str(outside)})
    assert refused.status_code == 403
    error = refused.json()["error"]
    assert (error["type"], error["code"], error["param"]) == ("permission_error", "path_not_allowed", "path")
    assert str(tmp_path / "allowed") in error["message"]
    assert "agent.ingest_roots" in error["message"] and "INFERSTACK_AGENT_INGEST_ROOTS" in error["message"]
    wrong = await client.post("/ingest", json={"path": str(outside)}, headers={OWNER_KEY_HEADER: "sk-owner-guess"})
    assert wrong.status_code == 403
    assert OWNER_KEY not in wrong.text


async def test_the_owner_ingests_any_folder_then_lists_and_removes_sources(
    agent: tuple[httpx.AsyncClient, GatedEmbedder], tmp_path: Path
) -> None:
    client, embedder = agent
    embedder.gate.set()
    first = _folder(tmp_path / "one", "docs", {"README.md": "First readme.", "guide.md": "A guide."})
    second = _folder(tmp_path / "two", "docs", {"README.md": "Second readme."})
    for folder in (first, second):
        accepted = await client.post("/ingest", json={"path": str(folder)}, headers={OWNER_KEY_HEADER: OWNER_KEY})
        assert accepted.status_code == 202, accepted.text
        job = await _finished(client, accepted.json()["job_id"])
        assert job["status"] == "succeeded" and job["report"]["failed"] == []

    listed = (await client.get("/knowledge/sources")).json()
    assert listed["object"] == "list"
    assert {entry["source"]: entry["root"] for entry in listed["data"]} == {
        "README.md": str(first.resolve()),
        "guide.md": str(first.resolve()),
        "docs/README.md": str(second.resolve()),
    }
    removed = await client.delete("/knowledge/sources/docs/README.md")
    assert removed.status_code == 200
    assert removed.json() == {"removed": ["docs/README.md"], "files_removed": 1, "chunks_removed": 1}
    missing = await client.delete("/knowledge/sources/docs/README.md")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "source_not_found"
    folder = await client.delete(f"/knowledge/sources/{first.resolve()}")  # a whole folder by its path
    assert folder.json()["files_removed"] == 2
    assert (await client.get("/knowledge/sources")).json()["data"] == []
    assert (await client.get("/status")).json()["knowledge"]["chunk_count"] == 0


async def test_a_running_job_can_be_cancelled_and_the_next_run_finishes_it(
    agent: tuple[httpx.AsyncClient, GatedEmbedder], tmp_path: Path
) -> None:
    client, embedder = agent
    docs = _folder(tmp_path, "allowed", {f"note{i}.md": f"Note number {i}." for i in range(6)})
    job_id = (await client.post("/ingest", json={"path": str(docs)})).json()["job_id"]
    for _ in range(200):
        if (await client.get(f"/ingest/{job_id}")).json()["status"] == "running":
            break
        await asyncio.sleep(0.01)
    cancelled = await client.delete(f"/ingest/{job_id}")
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert (await client.get("/knowledge/sources")).json()["data"] == []
    assert (await client.delete("/ingest/ingest-nope")).json()["error"]["code"] == "job_not_found"

    embedder.gate.set()
    again = (await client.post("/ingest", json={"path": str(docs)})).json()["job_id"]
    job = await _finished(client, again)
    assert (job["status"], job["report"]["files_added"]) == ("succeeded", 6)


@pytest.mark.parametrize("owner_key", [None, ""])
async def test_without_an_owner_key_configured_no_header_opens_the_door(
    upstream: FakeUpstream, tmp_path: Path, owner_key: str | None
) -> None:
    store = InMemoryVectorStore(DIM)
    pipeline = make_pipeline(store, FakeEmbedder(DIM), tmp_path / "m.json")
    settings = agent_settings(upstream, tmp_path, ingest_roots=[tmp_path / "allowed"], owner_key=owner_key)
    app = build_app(settings, AgentDependencies(store=store, embedder=FakeEmbedder(DIM), ingest=pipeline))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://agent") as client:
        outside = _folder(tmp_path, "elsewhere", {"a.md": "Alpha."})
        refused = await client.post("/ingest", json={"path": str(outside)}, headers={OWNER_KEY_HEADER: ""})
        assert refused.status_code == 403

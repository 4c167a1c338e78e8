"""`inferstack ingest` in-process (typer's CliRunner) against a loopback OpenAI-style embeddings server."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from typer.testing import CliRunner

from inferstack.cli.main import app
from inferstack.retrieval.embedders.fake import FakeEmbedder
from tests.support.processes import free_port

RUNNER = CliRunner()


@pytest.fixture(scope="module")
def embeddings_url() -> Iterator[str]:
    """A thread running an aiohttp app that answers POST /v1/embeddings with FakeEmbedder vectors (384-d)."""
    embedder = FakeEmbedder(384)
    port = free_port()
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    async def embeddings(request: web.Request) -> web.Response:
        body = await request.json()
        if request.headers.get("Authorization") not in (None, "Bearer sk-cli-key"):
            return web.json_response({"error": {"message": "bad key", "type": "authentication_error"}}, status=401)
        data = [
            {"object": "embedding", "index": i, "embedding": embedder.vector(t)} for i, t in enumerate(body["input"])
        ]
        return web.json_response({"object": "list", "data": data, "model": body["model"]})

    async def serve() -> web.AppRunner:
        application = web.Application()
        application.router.add_post("/v1/embeddings", embeddings)
        runner = web.AppRunner(application)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        return runner

    def run() -> None:
        asyncio.set_event_loop(loop)
        runner = loop.run_until_complete(serve())
        ready.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    yield f"http://127.0.0.1:{port}/v1"
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


def _ingest(*args: str) -> tuple[int, str, str]:
    result = RUNNER.invoke(app, ["ingest", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_report_and_exit_codes(embeddings_url: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Alpha note.")
    (docs / "b.csv").write_text("question,context\nQ?,A.\n")
    state = ["--data-dir", str(tmp_path / "state"), "--embedding-base-url", embeddings_url, "--json"]
    code, out, _ = _ingest(str(docs), *state, "--api-key", "sk-cli-key")
    assert code == 0
    report = json.loads(out)
    assert (report["files_added"], report["chunks_written"]) == (2, 2)
    assert (tmp_path / "state" / "milvus.db").is_dir()

    (docs / "c.json").write_text("{broken")
    code, out, _ = _ingest(str(docs), *state)
    assert code == 1
    report = json.loads(out)
    assert report["files_unchanged"] == 2
    assert [failure["source"] for failure in report["failed"]] == ["c.json"]


def test_an_unreachable_endpoint_stops_with_a_clear_message(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Alpha note.")
    dead = f"http://127.0.0.1:{free_port()}/v1"
    code, _, err = _ingest(
        str(docs), "--store", "memory", "--data-dir", str(tmp_path / "s"), "--embedding-base-url", dead
    )
    assert code == 1
    assert "cannot reach embeddings endpoint" in err
    assert "run again to continue" in err


def test_a_wrong_key_is_reported_without_echoing_it(embeddings_url: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Alpha note.")
    code, _, err = _ingest(
        str(docs),
        "--store",
        "memory",
        "--data-dir",
        str(tmp_path / "s"),
        "--embedding-base-url",
        embeddings_url,
        "--api-key",
        "sk-wrong-secret",
    )
    assert code == 1
    assert "HTTP 401: bad key" in err
    assert "sk-wrong-secret" not in err


def test_bad_configuration_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "stack.yaml"
    config.write_text("knowledge:\n  chunk_tokens: 100\n  chunk_overlap: 200\n")
    code, _, err = _ingest(str(tmp_path), "--config", str(config))
    assert code == 2
    assert "chunk_overlap" in err
    code, _, err = _ingest(str(tmp_path / "missing"), "--store", "memory", "--data-dir", str(tmp_path / "s"))
    assert code == 1
    assert "does not exist" in err

"""`inferstack ingest` in-process (typer's CliRunner) against a loopback OpenAI-style embeddings server."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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


@pytest.mark.milvus
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
    assert (tmp_path / "state" / "knowledge" / "milvus.db").is_dir()  # where `up --data-dir state` reads

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
    code, _, err = _ingest(str(tmp_path), "--config", str(tmp_path / "absent.yaml"))
    assert code == 2


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        (lambda root: root / "missing", "does not exist"),
        (lambda root: root / "picture.png", "not a supported file type"),
    ],
)
def test_a_path_that_cannot_be_ingested_exits_2(tmp_path: Path, make_path: Any, message: str) -> None:
    (tmp_path / "picture.png").write_bytes(b"\x89PNG")
    code, _, err = _ingest(str(make_path(tmp_path)), "--store", "memory", "--data-dir", str(tmp_path / "s"))
    assert code == 2
    assert message in err


@pytest.mark.milvus
def test_a_changed_embedding_model_exits_2_until_force(embeddings_url: str, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("Alpha note.")
    state = ["--data-dir", str(tmp_path / "state"), "--embedding-base-url", embeddings_url]
    assert _ingest(str(docs), *state)[0] == 0
    config = tmp_path / "other-model.yaml"
    config.write_text("knowledge:\n  embedding_model: another-model\n")
    code, _, err = _ingest(str(docs), *state, "--config", str(config))
    assert code == 2
    assert "--force" in err
    assert _ingest(str(docs), *state, "--config", str(config), "--force")[0] == 0


@pytest.mark.milvus
def test_knowledge_list_and_remove_standalone(embeddings_url: str, tmp_path: Path) -> None:
    first, second = tmp_path / "one" / "docs", tmp_path / "two" / "docs"
    for folder in (first, second):
        folder.mkdir(parents=True)
        (folder / "README.md").write_text(f"Readme of {folder.parent.name}.")
    state = ["--data-dir", str(tmp_path / "state")]
    for folder in (first, second):
        code, out, err = _ingest(str(folder), *state, "--embedding-base-url", embeddings_url, "--json")
        assert code == 0, err
        assert json.loads(out)["failed"] == []
    listed = RUNNER.invoke(app, ["knowledge", "list", *state, "--json"])
    assert listed.exit_code == 0, listed.stderr
    sources = {entry["source"]: entry["root"] for entry in json.loads(listed.stdout)}
    assert sources == {"README.md": str(first.resolve()), "docs/README.md": str(second.resolve())}
    removed = RUNNER.invoke(app, ["knowledge", "remove", "docs/README.md", *state])
    assert removed.exit_code == 0, removed.stderr
    assert "removed 1 file(s), 1 chunks" in removed.stdout
    missing = RUNNER.invoke(app, ["knowledge", "remove", "docs/README.md", *state])
    assert missing.exit_code == 2
    assert "no source or folder" in missing.stderr
    listed = RUNNER.invoke(app, ["knowledge", "list", *state])
    assert "README.md" in listed.stdout and "1 files, 1 chunks" in listed.stdout


def test_config_init_tells_where_documents_may_come_from(tmp_path: Path) -> None:
    result = RUNNER.invoke(app, ["config", "init", str(tmp_path / "inferstack.yaml")])
    assert result.exit_code == 0, result.stderr
    assert "agent.ingest_roots" in result.stdout and "inferstack ingest DIR" in result.stdout
    assert "ingest_roots" in (tmp_path / "inferstack.yaml").read_text()

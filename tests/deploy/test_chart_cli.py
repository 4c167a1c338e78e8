"""The commands behind the chart: `inferstack deploy render` (stdout and --output), `inferstack deploy embed`
(the ingest Job, against a fake agent speaking the agent's /embed and /ingest/{id} over HTTP),
`inferstack gateway migrate` (the hook Job, on a real SQLite store) and the RayService's import path."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import yaml
from typer.testing import CliRunner

from inferstack.cli.main import app
from tests.deploy.chart_rendering import CHART, named, stack_config

pytestmark = pytest.mark.deploy

runner = CliRunner()


def docs_of(stream: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(stream) if d]


def test_render_from_an_inferstack_yaml_to_stdout(tmp_path: Path) -> None:
    config = tmp_path / "inferstack.yaml"
    config.write_text("serve:\n  engine: fake\n  served_model_name: tiny-chat\nagent:\n  top_k: 3\n")
    result = runner.invoke(app, ["deploy", "render", "--config", str(config), "--release", "demo", "--namespace", "ai"])
    assert result.exit_code == 0, result.output
    docs = docs_of(result.stdout)
    wired = stack_config(docs)
    assert wired["serve"] == {"engine": "fake", "served_model_name": "tiny-chat"}
    assert wired["agent"]["top_k"] == 3 and wired["agent"]["model"] == "tiny-chat"
    assert [m["model_name"] for m in wired["gateway"]["model_list"]] == ["tiny-chat", "all-minilm-l6-v2"]
    assert named(docs, "Deployment", "gateway")["metadata"]["namespace"] == "ai"
    assert result.stdout.startswith("---\n# Source: inferstack/templates/")


def test_render_with_values_files_to_a_directory(tmp_path: Path) -> None:
    out = tmp_path / "manifests"
    example = CHART / "examples" / "ray-cpu.yaml"
    result = runner.invoke(app, ["deploy", "render", "-f", str(example), "--output", str(out), "--revision", "7"])
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.yaml"))
    assert "inferstack/templates/ray.yaml" in written and "inferstack/templates/serve.yaml" not in written
    (ray_service,) = [
        d for d in docs_of((out / "inferstack/templates/ray.yaml").read_text()) if d["kind"] == "RayService"
    ]
    assert ray_service["metadata"]["name"] == "inferstack-ray"
    ingest = docs_of((out / "inferstack/templates/knowledge-ingest.yaml").read_text())
    assert [d["metadata"]["name"] for d in ingest] == ["inferstack-ingest-7"], "a new revision, a new ingest Job"


def test_render_refuses_a_bad_config_or_value_with_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "inferstack.yaml"
    config.write_text("severs: {}\n")
    result = runner.invoke(app, ["deploy", "render", "--config", str(config)])
    assert result.exit_code == 2
    assert "unknown sections ['severs']" in result.output
    values = tmp_path / "values.yaml"
    values.write_text("agent: {replicas: 2}\n")
    result = runner.invoke(app, ["deploy", "render", "-f", str(values)])
    assert result.exit_code == 2
    assert "agent: 2 replicas cannot share a Milvus Lite" in result.output


def test_gateway_migrate_applies_once_then_finds_the_schema_current(tmp_path: Path) -> None:
    config = tmp_path / "inferstack.yaml"
    config.write_text(f"gateway:\n  data_dir: {tmp_path / 'gw'}\n")
    first = runner.invoke(app, ["gateway", "migrate", "--config", str(config)])
    assert first.exit_code == 0, first.output
    assert "applied now: 0001_virtual_keys" in first.stdout and "0014_virtual_keys_aliases" in first.stdout
    second = runner.invoke(app, ["gateway", "migrate", "--config", str(config)])
    assert second.exit_code == 0, second.output
    assert "applied now: none (schema already current)" in second.stdout

    import asyncio

    from inferstack.gateway.keys.database import Database
    from inferstack.gateway.keys.store import KeyStore

    async def gateway_start() -> list[str]:
        store = KeyStore(Database.open(None, tmp_path / "gw"))
        try:
            return await store.open()  # what a gateway pod does at start
        finally:
            await store.close()

    assert asyncio.run(gateway_start()) == [], "a gateway starting after the hook finds nothing to do"


def test_gateway_migrate_refuses_an_unusable_database_url(tmp_path: Path) -> None:
    config = tmp_path / "inferstack.yaml"
    config.write_text("gateway:\n  database_url: mysql://db/x\n")
    result = runner.invoke(app, ["gateway", "migrate", "--config", str(config)])
    assert result.exit_code == 1
    assert "database_url must be postgresql://" in result.output


class FakeAgent(BaseHTTPRequestHandler):
    """Fake of the agent API's POST /embed and GET /ingest/{id} (the real wire format), scripted per test."""

    script: ClassVar[dict[str, Any]] = {}

    def log_message(self, *_: Any) -> None:
        return None

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        s = self.script
        s.setdefault("posts", []).append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        s.setdefault("auth", []).append(self.headers.get("Authorization"))
        if s.get("unready", 0) > 0:
            s["unready"] -= 1
            self._send(503, {"error": {"message": "starting"}})
        elif s.get("refuse"):
            self._send(401, {"error": {"message": "invalid key", "type": "authentication_error"}})
        else:
            self._send(200, {"message": "started", "status": "processing", "job_id": "job-1", "path": "/kb"})

    def do_GET(self) -> None:
        states = self.script["states"]
        status = states.pop(0) if len(states) > 1 else states[0]
        self._send(200, {"id": "job-1", "status": status, "path": "/kb"})


@pytest.fixture
def fake_agent() -> Iterator[tuple[str, dict[str, Any]]]:
    script: dict[str, Any] = {}
    handler = type("ScriptedFakeAgent", (FakeAgent,), {"script": script})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", script
    finally:
        server.shutdown()
        server.server_close()


def test_deploy_embed_waits_for_the_agent_and_follows_the_job(fake_agent: tuple[str, dict[str, Any]]) -> None:
    url, script = fake_agent
    script.update(unready=2, states=["queued", "running", "succeeded"])
    result = runner.invoke(
        app,
        ["deploy", "embed", "--agent-url", url, "--force", "--poll-s", "0.05"],
        env={"INFERSTACK_AGENT_SERVER_API_KEY": "sk-agent"},
    )
    assert result.exit_code == 0, result.output
    assert "ingest job job-1: succeeded" in result.stdout
    assert script["posts"] == [{"force_refresh": True}] * 3, "retried while the agent answered 503"
    assert set(script["auth"]) == {"Bearer sk-agent"}


def test_deploy_embed_fails_when_the_job_fails_or_the_agent_refuses(fake_agent: tuple[str, dict[str, Any]]) -> None:
    url, script = fake_agent
    script.update(states=["running", "failed"])
    failed = runner.invoke(app, ["deploy", "embed", "--agent-url", url, "--poll-s", "0.05"])
    assert failed.exit_code == 1 and "ingest job job-1: failed" in failed.stdout
    script.update(refuse=True)
    refused = runner.invoke(app, ["deploy", "embed", "--agent-url", url, "--poll-s", "0.05"])
    assert refused.exit_code == 1 and "refused: 401" in refused.output


def test_ray_app_builds_the_serve_application_from_the_mounted_config(tmp_path: Path) -> None:
    from inferstack.core.errors import InvalidRequestError
    from inferstack.serving.ray_app import build, settings_from_args

    config = tmp_path / "inferstack.yaml"
    config.write_text("serve:\n  engine: fake\n  served_model_name: tiny\n  ray: {min_replicas: 1, max_replicas: 3}\n")
    settings = settings_from_args({"config": str(config)})
    assert settings.engine == "fake" and settings.ray.max_replicas == 3
    with pytest.raises(InvalidRequestError, match="unknown keys"):
        settings_from_args({"config": str(config), "replicas": 2})
    application = build({"config": str(config)})
    assert type(application).__name__ == "Application"

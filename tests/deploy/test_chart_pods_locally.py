"""The chart's pods, run as local processes: each Deployment's own command, environment and rendered
inferstack.yaml, with only the cluster's names swapped for loopback ports. The gateway, agent, model server
(fake engine) and filesystem MCP server come up healthy on their readiness paths, the ingest Job's command fills
the knowledge base through the agent, and a chat completion goes through the gateway with the OpenAI SDK.
What a cluster adds (scheduling, DNS, policies) is not exercised here; tests/cluster does that."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.chart_rendering import named, of_kind, pod_spec, stack_config, with_values
from tests.support.processes import REPO_ROOT, RunningProcess, child_env, free_port, inferstack_process

pytestmark = [pytest.mark.deploy, pytest.mark.integration, pytest.mark.timeout(600)]

COMPONENTS = ("serve", "gateway", "mcp-filesystem", "agent")  # start order: what each needs is up before it
FAKE_MODELS = {
    "config": {
        "serve": {"engine": "fake", "served_model_name": "fake-chat", "embedding_served_model_name": ["fake-embed"]},
        "knowledge": {"embedding_model": "fake-embed", "embedding_dimension": 64, "store": "memory"},
    }
}


def localise(value: Any, ports: dict[str, int], data: Path, config: Path) -> Any:
    """The cluster's names and paths in a rendered value, swapped for this machine's."""
    if isinstance(value, dict):
        return {k: localise(v, ports, data, config) for k, v in value.items()}
    if isinstance(value, list):
        return [localise(v, ports, data, config) for v in value]
    if isinstance(value, str):
        value = re.sub(
            r"http://demo-inferstack-([a-z0-9-]+):\d+", lambda m: f"http://127.0.0.1:{ports[m.group(1)]}", value
        )
        value = value.replace("/etc/inferstack/inferstack.yaml", str(config))
        return value.replace("/var/lib/inferstack", str(data))
    return value


def pod_environment(container: dict[str, Any], secrets: dict[str, str], data: Path) -> dict[str, str]:
    env = {}
    for entry in container.get("env", []):
        if "value" in entry:
            env[entry["name"]] = str(entry["value"]).replace("/var/lib/inferstack", str(data))
        else:
            env[entry["name"]] = secrets[entry["valueFrom"]["secretKeyRef"]["key"]]
    return env


def local_args(args: list[str], ports: dict[str, int], data: Path, config: Path) -> list[str]:
    """The container's args with loopback instead of 0.0.0.0; the port is passed last by the helper."""
    out = localise(list(args), ports, data, config)
    return [("127.0.0.1" if a == "0.0.0.0" else a) for a in out]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    docs = with_values("cpu-laptop", FAKE_MODELS)
    root = tmp_path_factory.mktemp("pods")
    data, config_path = root / "data", root / "inferstack.yaml"
    data.mkdir()
    ports = {name: free_port() for name in COMPONENTS}
    config_path.write_text(yaml.safe_dump(localise(stack_config(docs), ports, data, config_path)))
    (dev_secret,) = of_kind(docs, "Secret")
    secrets = dict(dev_secret["stringData"])
    running: dict[str, RunningProcess] = {}
    with ExitStack() as stack:
        for component in COMPONENTS:
            (container,) = pod_spec(named(docs, "Deployment", component))["containers"]
            health = container["readinessProbe"]["httpGet"]["path"]
            running[component] = stack.enter_context(
                inferstack_process(
                    local_args(container["args"], ports, data, config_path),
                    log_dir=root,
                    port=ports[component],
                    health_path=health,
                    env=child_env(**pod_environment(container, secrets, data)),
                    timeout=240,
                )
            )
        yield {"docs": docs, "running": running, "ports": ports, "data": data, "config": config_path, **secrets}


def test_every_pod_command_comes_up_on_its_readiness_path(stack: dict[str, Any]) -> None:
    for component, proc in stack["running"].items():
        assert proc.process.poll() is None, f"{component} exited:\n{proc.log()[-2000:]}"
    ready = httpx.get(stack["running"]["gateway"].base_url + "/health/readiness", timeout=10).json()
    assert ready["status"] == "ready"


def test_ingest_job_command_fills_the_knowledge_base_through_the_agent(stack: dict[str, Any]) -> None:
    docs = stack["docs"]
    (job,) = [j for j in of_kind(docs, "Job") if j["metadata"]["labels"]["app.kubernetes.io/component"] == "ingest"]
    (container,) = pod_spec(job)["containers"]
    args = local_args(container["args"], stack["ports"], stack["data"], stack["config"])
    done = subprocess.run(
        [sys.executable, "-m", "inferstack", *args, "--poll-s", "0.2", "--wait-s", "240"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO_ROOT,
        env=child_env(**pod_environment(container, {}, stack["data"])),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"ingest job \S+: succeeded", done.stdout)
    status = httpx.get(stack["running"]["agent"].base_url + "/status", timeout=10).json()
    assert status["knowledge"]["document_count"] > 0, status


def test_chat_completion_through_the_gateway_with_the_chart_key(stack: dict[str, Any]) -> None:
    from openai import OpenAI

    client = OpenAI(base_url=stack["running"]["gateway"].base_url + "/v1", api_key=stack["gatewayMasterKey"])
    reply = client.chat.completions.create(
        model="fake-chat", messages=[{"role": "user", "content": "hello from the chart"}], max_tokens=8
    )
    assert reply.model == "fake-chat"
    assert reply.choices[0].message.content
    refused = httpx.post(
        stack["running"]["gateway"].base_url + "/v1/chat/completions",
        json={"model": "fake-chat", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert refused.status_code == 401, "the gateway requires the key the chart passed from the Secret"

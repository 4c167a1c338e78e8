"""The running services whose /metrics the dashboards and alerts are checked against, and a real Prometheus
scraping them, all on loopback:

    real_server (SmolLM2 + MiniLM) <-- gateway (a key with a budget) <-- agent (in-memory store, no MCP)
         ^------------------------------- prometheus (Debian 2.42, own config and storage in tmp) -----^

A few requests go through each service first (chat, a stream, embeddings, an unknown model, an agent query),
so the labelled families have children and the histograms have observations.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import openai
import pytest
import yaml
from openai.types.chat import ChatCompletionMessageParam

from tests.support.gateway import gateway_process, new_key
from tests.support.processes import RunningProcess, child_env, free_port, inferstack_process

CHAT_MODEL = "smollm2-135m-instruct"
EMBEDDING_MODEL = "all-minilm-l6-v2"


@dataclass
class ObservedStack:
    serve: RunningProcess
    gateway: RunningProcess
    agent: RunningProcess

    def targets(self) -> dict[str, str]:
        """Scrape job name -> base URL."""
        return {"serve": self.serve.base_url, "gateway": self.gateway.base_url, "agent": self.agent.base_url}

    def scrape(self) -> dict[str, str]:
        return {job: httpx.get(url + "/metrics", timeout=10).text for job, url in self.targets().items()}


def _traffic(gateway: RunningProcess, key: str) -> None:
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=key, max_retries=0, timeout=120)
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": "Say hello."}]
    for _ in range(2):
        client.chat.completions.create(model=CHAT_MODEL, messages=messages, max_tokens=8)
    with client.chat.completions.create(
        model=CHAT_MODEL,
        messages=messages,
        max_tokens=8,
        stream=True,
    ) as stream:
        chunks = list(stream)  # read to the end: a stream left early is an aborted generation
    assert any(chunk.choices for chunk in chunks)
    client.embeddings.create(model=EMBEDDING_MODEL, input=["metrics"])
    with pytest.raises(openai.NotFoundError):
        client.chat.completions.create(model="made-up-model", messages=messages, max_tokens=8)


@pytest.fixture(scope="package")
def observed_stack(real_server: RunningProcess, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObservedStack]:
    tmp = tmp_path_factory.mktemp("observed")
    upstream = real_server.base_url + "/v1"
    config = {
        "model_list": [
            {"model_name": CHAT_MODEL, "model": CHAT_MODEL, "api_base": upstream, "input_cost_per_token": 1e-6},
            {"model_name": EMBEDDING_MODEL, "model": EMBEDDING_MODEL, "api_base": upstream},
        ],
        "router": {"health_check_interval_s": 0},
    }
    with gateway_process(tmp, config) as gateway:
        key = new_key(gateway, key_alias="observed", max_budget=10.0)
        _traffic(gateway, key)
        stack_config = tmp / "stack.yaml"
        stack_config.write_text(
            yaml.safe_dump(
                {
                    "agent": {
                        "model_base_url": gateway.base_url + "/v1",
                        "web_search_url": "",
                        "filesystem_url": "",
                        "max_tokens": 8,
                    },
                    "knowledge": {
                        "store": "memory",
                        "data_dir": str(tmp / "data"),
                        "embedding_base_url": gateway.base_url + "/v1",
                    },
                }
            )
        )
        env = child_env(INFERSTACK_AGENT_API_KEY=key, INFERSTACK_KNOWLEDGE_EMBEDDING_API_KEY=key)
        with inferstack_process(["agent", "--config", str(stack_config)], log_dir=tmp, env=env, timeout=90) as agent:
            answer = httpx.post(agent.base_url + "/query", json={"question": "What is inferstack?"}, timeout=120)
            assert answer.status_code == 200, answer.text
            yield ObservedStack(real_server, gateway, agent)


@dataclass
class PrometheusServer:
    base_url: str

    def query(self, expr: str) -> dict[str, object]:
        response = httpx.get(self.base_url + "/api/v1/query", params={"query": expr}, timeout=10)
        body: dict[str, object] = response.json()
        return body


@pytest.fixture(scope="module")
def prometheus(observed_stack: ObservedStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    """Prometheus 2.42 scraping the three services every second, on a free loopback port, storage in tmp."""
    binary = shutil.which("prometheus")
    assert binary, "prometheus is missing: run `make test-services` (make test does)"
    tmp = tmp_path_factory.mktemp("prometheus")
    scrape_configs = [
        {"job_name": job, "metrics_path": "/metrics", "static_configs": [{"targets": [url.removeprefix("http://")]}]}
        for job, url in observed_stack.targets().items()
    ]
    config = {"global": {"scrape_interval": "1s", "evaluation_interval": "1s"}, "scrape_configs": scrape_configs}
    (tmp / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log_path = tmp / "prometheus.log"
    with log_path.open("wb") as log_file:
        process = subprocess.Popen(
            [
                binary,
                f"--config.file={tmp / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        server = PrometheusServer(f"http://127.0.0.1:{port}")
        try:
            _wait_for_targets(server, process, set(observed_stack.targets()), log_path)
            yield server
        finally:
            process.terminate()
            process.wait(timeout=30)


def _wait_for_targets(server: PrometheusServer, process: subprocess.Popen[bytes], jobs: set[str], log: Path) -> None:
    """Until every job has been scraped successfully at least twice (so rate() has two points)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {process.returncode}:\n{log.read_text()[-4000:]}")
        try:
            body = server.query("count_over_time(up[1m]) >= 3 and up == 1")
        except httpx.HTTPError:
            body = {}
        data = body.get("data")
        if isinstance(data, dict):
            up = {series["metric"]["job"] for series in data["result"]}
            if up >= jobs:
                return
        time.sleep(0.5)
    raise TimeoutError(f"prometheus did not scrape {sorted(jobs)} within 60 s:\n{log.read_text()[-4000:]}")

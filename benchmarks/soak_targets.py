"""The services a soak can drive, each started on free loopback ports with the request it is sent, the process
whose memory is sampled, and the checks run once the load has stopped.

gateway: the null upstream (`inferstack.bench.null_server`, infinitely fast) behind `inferstack gateway` with
  a virtual key that has RPM/TPM limits and a budget. Prices are 2**-20 USD per token, a power of two, so each
  request's cost and every sum of costs is exact in binary floating point: the spend in the key store must
  *equal* (not approximate) the tokens clients were told they used times the price.
serve: the real `inferstack serve` (packaged SmolLM2 + MiniLM), short chat completions; the tokens clients saw
  must equal the server's token counters.
mcp: `inferstack mcp filesystem`; each request opens an MCP session (`initialize`) and closes it (DELETE), the
  way the agent calls a tool; the open sessions the server reports must come back to zero.
agent: `inferstack serve` + `inferstack agent` (Milvus Lite, web search off) with the sample knowledge
  ingested; POST /query cycling over the labelled sample questions.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from harness import Server, benchmark_env, free_port, inferstack_server, start_server, stopping, wait_ready_blocking
from inferstack.sample_knowledge import documents_dir, eval_questions_path
from soak_load import RequestShape, Totals

PRICE_PER_TOKEN = 2.0**-20
MASTER_KEY = "sk-soak-master-key"
GATEWAY_MODEL = "soak-model"
KEY_ALIAS = "soak"
DRAIN_TIMEOUT_S = 120.0

Check = Callable[[Totals], Awaitable[dict[str, Any]]]


@dataclass
class SoakTarget:
    name: str
    shape: RequestShape
    watched: Server
    metrics_url: str | None
    check: Check
    setup: dict[str, Any]


def counter_totals(metrics_text: str, name: str) -> float:
    """The sum over all labels of a Prometheus counter (`name` without `_total`)."""
    total = 0.0
    for family in text_string_to_metric_families(metrics_text):
        if family.name == name:
            total += sum(s.value for s in family.samples if s.name == name + "_total")
    return total


async def _get(session: aiohttp.ClientSession, url: str, **params: str) -> tuple[int, str]:
    async with session.get(url, params=params, timeout=aiohttp.ClientTimeout(total=30)) as response:
        return response.status, await response.text()


async def _drain_gateway(admin: aiohttp.ClientSession, url: str) -> dict[str, Any]:
    """Wait until the gateway has written every pending usage row and total; the last /health body."""
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    started = time.monotonic()
    while True:
        _, text = await _get(admin, url + "/health")
        health: dict[str, Any] = json.loads(text)
        idle = health.get("usage_rows_pending") == 0 and health.get("usage_totals_pending") == 0
        if idle or time.monotonic() > deadline:
            return {"drained": idle, "drain_s": round(time.monotonic() - started, 1), "health": health}
        await asyncio.sleep(0.5)


def _stored_usage(database: Path) -> dict[str, Any]:
    with sqlite3.connect(database) as db:
        requests, prompt, completion, spend = db.execute(
            "SELECT SUM(requests), SUM(prompt_tokens), SUM(completion_tokens), SUM(spend) FROM usage_totals"
        ).fetchone()
        key_spend = db.execute("SELECT spend FROM virtual_keys WHERE key_alias = ?", (KEY_ALIAS,)).fetchone()[0]
        detail_rows = db.execute("SELECT COUNT(*) FROM spend_logs").fetchone()[0]
    return {
        "usage_totals_requests": requests,
        "usage_totals_prompt_tokens": prompt,
        "usage_totals_completion_tokens": completion,
        "usage_totals_spend_usd": spend,
        "virtual_key_spend_usd": key_spend,
        "spend_logs_rows": detail_rows,
    }


@contextmanager
def gateway_target(
    workdir: Path, *, workers: int, completion_tokens: int, max_pending_rows: int | None
) -> Iterator[SoakTarget]:
    env = benchmark_env(INFERSTACK_GATEWAY_MASTER_KEY=MASTER_KEY)
    upstream_port, gateway_port = free_port(), free_port()
    gateway: dict[str, Any] = {
        "model_list": [
            {
                "model_name": GATEWAY_MODEL,
                "model": "null",
                "api_base": f"http://127.0.0.1:{upstream_port}/v1",
                "input_cost_per_token": PRICE_PER_TOKEN,
                "output_cost_per_token": PRICE_PER_TOKEN,
            }
        ],
        "router": {"health_check_interval_s": 0},
    }
    if max_pending_rows is not None:
        gateway["usage_max_pending_rows"] = max_pending_rows
    config = workdir / "config.yaml"
    config.write_text(yaml.safe_dump({"gateway": gateway}))
    data_dir = workdir / "data"
    servers: dict[str, Server] = {}
    python = sys.executable
    with stopping(servers):
        upstream_argv = [python, "-m", "inferstack.bench.null_server", "--port", str(upstream_port)]
        upstream_argv += ["--completion-tokens", str(completion_tokens)]
        servers["upstream"] = start_server("upstream", upstream_argv, upstream_port, logs=workdir, cpus=None, env=env)
        wait_ready_blocking(servers["upstream"], "/health")
        gateway_argv = [python, "-m", "inferstack", "gateway", "--config", str(config), "--port", str(gateway_port)]
        gateway_argv += ["--data-dir", str(data_dir), "--workers", str(workers)]
        process = servers["gateway"] = start_server(
            "gateway", gateway_argv, gateway_port, logs=workdir, cpus=None, env=env
        )
        wait_ready_blocking(process, "/health")
        admin_headers = {"Authorization": f"Bearer {MASTER_KEY}"}
        key_fields = {
            "key_alias": KEY_ALIAS,
            "models": [GATEWAY_MODEL],
            "max_budget": 10**6,
            "rpm_limit": 10**8,
            "tpm_limit": 10**9,
        }
        created = httpx.post(process.url + "/key/generate", json=key_fields, headers=admin_headers, timeout=30)
        created.raise_for_status()
        key = created.json()["key"]

        async def check(totals: Totals) -> dict[str, Any]:
            async with aiohttp.ClientSession(headers=admin_headers) as admin:
                drain = await _drain_gateway(admin, process.url)
                _, info = await _get(admin, process.url + "/key/info", key=KEY_ALIAS)
                _, metrics = await _get(admin, process.url + "/metrics")
            expected = (totals.prompt_tokens + totals.completion_tokens) * PRICE_PER_TOKEN
            stored = _stored_usage(data_dir / "gateway.db")
            key_info_spend = json.loads(info)["info"]["spend"]
            metrics_spend = counter_totals(metrics, "inferstack_gateway_spend_usd")
            return {
                **drain,
                "client_ok_requests": totals.ok,
                "client_prompt_tokens": totals.prompt_tokens,
                "client_completion_tokens": totals.completion_tokens,
                "expected_spend_usd": expected,
                "key_info_spend_usd": key_info_spend,
                "metrics_spend_usd": metrics_spend,
                **stored,
                "spend_exact": key_info_spend == expected
                and stored["virtual_key_spend_usd"] == expected
                and stored["usage_totals_spend_usd"] == expected,
                "requests_exact": stored["usage_totals_requests"] == totals.ok,
                "tokens_exact": stored["usage_totals_prompt_tokens"] == totals.prompt_tokens
                and stored["usage_totals_completion_tokens"] == totals.completion_tokens,
            }

        shape = RequestShape(
            url=process.url + "/v1/chat/completions",
            body={"model": GATEWAY_MODEL, "messages": [{"role": "user", "content": "hello"}]},
            headers={"Authorization": f"Bearer {key}"},
        )
        setup = {
            "gateway_workers": workers,
            "upstream": "inferstack.bench.null_server",
            "completion_tokens": completion_tokens,
            "price_per_token_usd": PRICE_PER_TOKEN,
            "key_limits": {k: key_fields[k] for k in ("max_budget", "rpm_limit", "tpm_limit")},
            "usage_max_pending_rows": max_pending_rows,
        }
        yield SoakTarget("gateway", shape, process, process.url + "/metrics", check, setup)


def _served_model(url: str) -> str:
    models = httpx.get(url + "/v1/models", timeout=30).json()["data"]
    return str(models[0]["id"])


@contextmanager
def serve_target(workdir: Path, *, max_tokens: int) -> Iterator[SoakTarget]:
    with inferstack_server("serve", ["serve"], logs=workdir) as serve:
        model = _served_model(serve.url)

        async def check(totals: Totals) -> dict[str, Any]:
            async with aiohttp.ClientSession() as session:
                _, metrics = await _get(session, serve.url + "/metrics")
            prompt = counter_totals(metrics, "inferstack_prompt_tokens")
            completion = counter_totals(metrics, "inferstack_completion_tokens")
            return {
                "client_ok_requests": totals.ok,
                "client_prompt_tokens": totals.prompt_tokens,
                "client_completion_tokens": totals.completion_tokens,
                "server_prompt_tokens": prompt,
                "server_completion_tokens": completion,
                "tokens_exact": prompt == totals.prompt_tokens and completion == totals.completion_tokens,
            }

        body = {
            "model": model,
            "messages": [{"role": "user", "content": "Name one colour."}],
            "max_tokens": max_tokens,
            "temperature": 0,
        }
        shape = RequestShape(url=serve.url + "/v1/chat/completions", body=body, timeout_s=300)
        yield SoakTarget(
            "serve", shape, serve, serve.url + "/metrics", check, {"model": model, "max_tokens": max_tokens}
        )


MCP_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "soak", "version": "1"}},
}


@contextmanager
def mcp_target(workdir: Path, *, env: dict[str, str]) -> Iterator[SoakTarget]:
    root = workdir / "sandbox"
    root.mkdir()
    args = ["mcp", "filesystem", "--root", str(root)]
    with inferstack_server("mcp-filesystem", args, logs=workdir, env=env) as server:

        async def check(totals: Totals) -> dict[str, Any]:
            async with aiohttp.ClientSession() as session:
                _, metrics = await _get(session, server.url + "/metrics")
            open_sessions = [
                s.value
                for family in text_string_to_metric_families(metrics)
                for s in family.samples
                if s.name == "inferstack_mcp_sessions"
            ]
            return {
                "client_ok_requests": totals.ok,
                "open_sessions_after": open_sessions[0] if open_sessions else "not reported",
            }

        shape = RequestShape(
            url=server.url + "/mcp",
            body=MCP_INITIALIZE,
            headers={"Accept": "application/json, text/event-stream"},
            close_session=True,
        )
        yield SoakTarget("mcp", shape, server, server.url + "/metrics", check, {"server": "filesystem"})


def _ingest_sample(url: str) -> dict[str, Any]:
    job = httpx.post(url + "/ingest", json={"path": str(documents_dir())}, timeout=30).json()
    state = job
    while state["status"] in ("queued", "running"):
        time.sleep(0.5)
        state = httpx.get(f"{url}/ingest/{job['job_id']}", timeout=10).json()
    if state["status"] != "succeeded":
        raise RuntimeError(f"ingest failed: {state['error']}")
    return dict(state["report"])


@contextmanager
def agent_target(workdir: Path, *, max_tokens: int) -> Iterator[SoakTarget]:
    with inferstack_server("serve", ["serve"], logs=workdir) as serve:
        model_url = serve.url + "/v1"
        agent = {"model_base_url": model_url, "web_search_url": "", "filesystem_url": "", "max_tokens": max_tokens}
        config = {"agent": agent, "knowledge": {"data_dir": str(workdir / "data"), "embedding_base_url": model_url}}
        (workdir / "stack.yaml").write_text(yaml.safe_dump(config))
        with inferstack_server("agent", ["agent", "--config", str(workdir / "stack.yaml")], logs=workdir) as process:
            report = _ingest_sample(process.url)
            questions = [json.loads(line)["question"] for line in eval_questions_path().read_text().splitlines()]

            async def check(totals: Totals) -> dict[str, Any]:
                async with aiohttp.ClientSession() as session:
                    status, _ = await _get(session, process.url + "/health")
                return {"client_ok_requests": totals.ok, "agent_healthy_after": status == 200}

            shape = RequestShape(
                url=process.url + "/query",
                body={"question": questions[0]},
                bodies=tuple({"question": q} for q in questions),
                timeout_s=600,
            )
            setup = {"max_tokens": max_tokens, "chunks_ingested": report.get("chunks_written"), "web_search": False}
            yield SoakTarget("agent", shape, process, process.url + "/metrics", check, setup)

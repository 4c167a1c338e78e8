"""`inferstack up`: prepare the data dir and keys, start every service as soon as what it needs is healthy (the
model server, gateway and MCP servers at once; the agent after the gateway and MCP servers), ingest on first
run, print how to use the stack, then supervise until Ctrl-C / SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp

from inferstack.agents.ingest_paths import OWNER_KEY_HEADER
from inferstack.stack.cli_command import activation_hint, client_command
from inferstack.stack.config_file import StackConfig, write_effective
from inferstack.stack.data_dir import (
    StackFiles,
    already_ingested,
    ensure_master_key,
    ensure_owner_key,
    read_json,
    read_secret,
    record_ingested,
    write_json,
    write_secret,
)
from inferstack.stack.process_supervisor import ProcessSupervisor, ServiceSpec, StackStartError

Echo = Callable[[str, str], None]
_INGEST_POLL_S = 0.5
_EXAMPLE_QUESTION = '"How does continuous batching raise GPU utilisation?"'
_FAILURES_SHOWN = 20
# Services that call the gateway with the agent's virtual key, and the variable that carries it.
VIRTUAL_KEY_ENV = {"weather-chat": "INFERSTACK_WEATHER_API_KEY", "idp": "INFERSTACK_IDP_API_KEY"}


def _python(*args: str) -> list[str]:
    return [sys.executable, "-m", "inferstack", *args]


def service_specs(config: StackConfig, config_path: Path, files: StackFiles, master_key: str) -> list[ServiceSpec]:
    ports = config.stack.ports
    cfg = ["--config", str(config_path)]
    specs = [
        ServiceSpec("serve", _python("serve", *cfg), ports.serve, "/health"),
        ServiceSpec(
            "gateway",
            _python("gateway", *cfg),
            ports.gateway,
            "/health/readiness",
            env={"INFERSTACK_GATEWAY_MASTER_KEY": master_key},
        ),
    ]
    if config.stack.web_search:
        specs.append(ServiceSpec("web-search", _python("mcp", "web-search", *cfg), ports.web_search, "/health"))
    if config.stack.filesystem:
        specs.append(ServiceSpec("filesystem", _python("mcp", "filesystem", *cfg), ports.filesystem, "/health"))
    if config.stack.weather:
        specs.append(ServiceSpec("weather", _python("mcp", "weather", *cfg), ports.weather, "/health"))
    # The agent's health needs the gateway, and its tools the MCP servers; the gateway turns ready once its
    # health check reaches the model server. Services with the agent's virtual key need the gateway to make it.
    mcp = tuple(s.name for s in specs if s.name in {"web-search", "filesystem", "weather"})
    specs.append(ServiceSpec("agent", _python("agent", *cfg), ports.agent, "/health", after=("gateway", *mcp)))
    if config.stack.weather_chat:
        weather = ("weather",) if config.stack.weather else ()
        specs.append(
            ServiceSpec(
                "weather-chat",
                _python("weather", "serve", *cfg),
                ports.weather_chat,
                "/health",
                after=("gateway", *weather),
            )
        )
    if config.stack.idp:  # ready once its OCR models are loaded
        specs.append(ServiceSpec("idp", _python("idp", "serve", *cfg), ports.idp, "/ready", after=("gateway",)))
    return specs


async def ensure_agent_key(config: StackConfig, files: StackFiles, master_key: str) -> str:
    """The agent's virtual key: created through the gateway's admin API on first run, then reused."""
    existing = read_secret(files.agent_key)
    if existing:
        return existing
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
        session.post(
            config.url("gateway", "/key/generate"),
            json={"key_alias": "inferstack-agent", "metadata": {"created_by": "inferstack up"}},
            headers={"Authorization": f"Bearer {master_key}"},
        ) as response,
    ):
        body = await response.json()
        if response.status != 200:
            raise StackStartError(f"gateway refused to create the agent's key: {body.get('error', body)}")
    key = str(body["key"])
    write_secret(files.agent_key, key)
    return key


async def ingest_first_run(config: StackConfig, files: StackFiles, echo: Echo) -> None:
    """Ingest the knowledge folder unless a complete ingest of it is recorded; failures are shown, never fatal.

    Files that failed are not in the manifest, so the next `up` (or `inferstack ingest`) tries them again.
    """
    knowledge = config.knowledge_dir
    if already_ingested(files, knowledge):
        echo("up", f"knowledge base already ingested from {knowledge} (not re-ingesting)")
        return
    previous = read_json(files.state).get("ingested")
    retry = isinstance(previous, dict) and previous.get("path") == str(knowledge)
    echo("up", f"ingesting {knowledge} ({'retrying what failed before' if retry else 'first run'}) …")
    started = time.monotonic()
    try:
        report = await run_ingest(config, knowledge, force=False, echo=echo)
    except StackStartError as exc:
        echo("up", f"error: {exc}")
        await _echo_knowledge_state(config, knowledge, echo, failed=True)
        return
    record_ingested(files, knowledge, report)
    echo("up", f"ingested in {time.monotonic() - started:.1f} s: {summarise_report(report)}")
    failed = report.get("failed") or []
    for failure in failed[:_FAILURES_SHOWN]:
        echo("up", f"  failed {failure.get('source')}: {failure.get('reason')}")
    if len(failed) > _FAILURES_SHOWN:
        echo("up", f"  … and {len(failed) - _FAILURES_SHOWN} more (inferstack ingest {knowledge} lists them all)")
    for warning in report.get("warnings") or []:
        echo("up", f"  warning: {warning}")
    await _echo_knowledge_state(config, knowledge, echo, failed=bool(failed))


async def _echo_knowledge_state(config: StackConfig, knowledge: Path, echo: Echo, *, failed: bool) -> None:
    """Say plainly whether the knowledge base is empty, partial or complete, and how to retry."""
    chunks: int | None = None
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.get(config.url("agent", "/status"), headers=_agent_headers(config)) as response,
        ):
            body = await response.json()
        chunks = int(body["knowledge"]["chunk_count"])
    except (aiohttp.ClientError, TimeoutError, KeyError, TypeError, ValueError):
        pass
    retry = f"fix the files above and run `inferstack ingest {knowledge}` (the next `up` retries too)"
    if chunks == 0:
        echo("up", f"warning: the knowledge base is EMPTY; answers will not use your documents — {retry}")
    elif failed:
        echo("up", f"warning: the knowledge base is PARTIAL ({chunks} chunks) — {retry}")
    elif chunks is not None:
        echo("up", f"knowledge base: {chunks} chunks")


async def run_ingest(config: StackConfig, path: Path, *, force: bool, echo: Echo) -> dict[str, Any]:
    """POST /ingest to the running agent and poll the job to its end; raises StackStartError on failure."""
    headers = _agent_headers(config)
    owner_key = read_secret(StackFiles(config.stack.data_dir).owner_key)
    if owner_key:
        headers[OWNER_KEY_HEADER] = owner_key
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        async with session.post(
            config.url("agent", "/ingest"), json={"path": str(path), "force": force}, headers=headers
        ) as response:
            body = await response.json()
            if response.status not in (200, 202):
                raise StackStartError(f"agent refused the ingest job: {_error_text(body)}")
        job_id = body["job_id"]
        last = ""
        while True:
            await asyncio.sleep(_INGEST_POLL_S)
            async with session.get(config.url("agent", f"/ingest/{job_id}"), headers=headers) as response:
                job = await response.json()
            status = job.get("status")
            line = _progress_text(job.get("progress") or {})
            if line and line != last:
                echo("up", f"ingest: {line}")
                last = line
            if status == "succeeded":
                report: dict[str, Any] = job.get("report") or {}
                return report
            if status in {"failed", "cancelled"}:
                raise StackStartError(f"ingesting {path} {status}: {_error_text(job.get('error') or job)}")


def _agent_headers(config: StackConfig) -> dict[str, str]:
    agent = config.validated["agent"]
    key = getattr(agent, "server_api_key", None)
    return {"Authorization": f"Bearer {key.get_secret_value()}"} if key is not None else {}


def _error_text(body: Any) -> str:
    if isinstance(body, dict) and isinstance(body.get("error"), dict):
        return str(body["error"].get("message"))
    if isinstance(body, dict) and "message" in body:
        return str(body["message"])
    return str(body)


def _progress_text(progress: dict[str, Any]) -> str:
    """`files 3/10 (1 failed), chunks 40/120` — counts only, so the line changes as work is done."""
    if not progress or progress.get("phase") in (None, "scanning", "reconciling"):
        return ""
    failed = progress.get("files_failed") or 0
    files = f"files {progress.get('files_done', 0) + failed}/{progress.get('files_total', 0)}"
    if failed:
        files += f" ({failed} failed)"
    return f"{files}, chunks {progress.get('chunks_written', 0)}/{progress.get('chunks_total', 0)}"


def summarise_report(report: dict[str, Any]) -> str:
    keys = (
        "files_added",
        "files_modified",
        "files_deleted",
        "files_unchanged",
        "files_failed",
        "chunks_written",
        "chunks_removed",
    )
    parts = [f"{k.replace('_', ' ')} {report[k]}" for k in keys if k in report]
    return ", ".join(parts) or str(report)


def print_ready(config: StackConfig, files: StackFiles, master_key: str, *, new_master: bool, echo: Echo) -> None:
    chat_model = config.effective["agent"]["model"]
    lines = [
        "",
        "inferstack is ready.",
        f"  agent API      {config.url('agent')}          (POST /query, /query/stream, /ingest)",
        f"  gateway        {config.url('gateway', '/v1')}    (OpenAI API; keys, limits, cache)",
        f"  web console    {config.url('gateway', '/ui/')}    (sign in with the master key or a virtual key)",
        f"  model server   {config.url('serve', '/v1')}",
    ]
    if config.stack.web_search:
        lines.append(f"  web search MCP {config.url('web_search', '/mcp')}")
    if config.stack.filesystem:
        lines.append(f"  filesystem MCP {config.url('filesystem', '/mcp')}")
    if config.stack.weather:
        lines.append(f"  weather MCP    {config.url('weather', '/mcp')}")
    if config.stack.weather_chat:
        lines.append(f"  weather chat   {config.url('weather_chat', '/chat')}")
    if config.stack.idp:
        lines.append(f"  documents      {config.url('idp', '/v1/documents')}  (inferstack idp process|review)")
    lines += [
        f"  master key     {files.master_key}" + ("  (new; printed once below)" if new_master else ""),
        f"  logs           {files.logs}",
        "",
        "Try (from this directory):",
        f"  {client_command(config, 'ask', Path.cwd(), _EXAMPLE_QUESTION)}",
        f"  {client_command(config, 'status', Path.cwd())}",
        f"  curl -s {config.url('agent', '/query')} -H 'Content-Type: application/json' \\",
        '       -d \'{"question": "What is a Kubernetes DaemonSet?"}\'',
        f"  curl -s {config.url('gateway', '/v1/chat/completions')} \\",
        f'       -H "Authorization: Bearer $(cat {files.master_key})" -H "Content-Type: application/json" \\',
        f"""       -d '{{"model": "{chat_model}", "messages": [{{"role": "user", "content": "Hi"}}]}}'""",
        "",
        "Ctrl-C stops everything.",
    ]
    activate = activation_hint(Path.cwd())
    if activate:
        lines.insert(lines.index("Try (from this directory):") + 1, f"  ({activate} puts `inferstack` on PATH)")
    if new_master:
        lines.insert(-1, f"Master key (shown once; also in {files.master_key}): {master_key}")
    for line in lines:
        echo("up", line)


async def run_stack(config: StackConfig, echo: Echo) -> int:
    files = StackFiles(config.stack.data_dir)
    files.prepare()
    config_path = write_effective(config, files.effective_config)
    master_key, new_master = ensure_master_key(files)
    specs = service_specs(config, config_path, files, master_key)
    restart = config.stack.restart
    supervisor = ProcessSupervisor(
        host=config.stack.host,
        log_dir=files.logs,
        start_timeout_s=config.stack.start_timeout_s,
        max_restarts=restart.max_restarts,
        backoff_s=restart.backoff_s,
        healthy_reset_s=restart.healthy_reset_s,
        echo=echo,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    code = 0
    try:
        supervisor.check_ports(specs)
        started = time.monotonic()
        key_lock = asyncio.Lock()  # the agent, weather chat and idp may ask at once: create the key once

        async def prepare(spec: ServiceSpec) -> None:
            if spec.name not in VIRTUAL_KEY_ENV and spec.name != "agent":
                return
            async with key_lock:
                agent_key = await ensure_agent_key(config, files, master_key)
            if spec.name in VIRTUAL_KEY_ENV:  # the agent's virtual key (as the chart does)
                spec.env[VIRTUAL_KEY_ENV[spec.name]] = agent_key
            if spec.name == "agent":
                spec.env.update(
                    {
                        "INFERSTACK_AGENT_API_KEY": agent_key,
                        "INFERSTACK_KNOWLEDGE_EMBEDDING_API_KEY": agent_key,
                        "INFERSTACK_AGENT_OWNER_KEY": ensure_owner_key(files),
                    }
                )

        await _until_stopped(supervisor.start_all(specs, prepare), stop)
        await _until_stopped(ingest_first_run(config, files, echo), stop)
        write_json(
            files.runtime,
            {
                "pid": os.getpid(),
                "started_at": time.time(),
                "urls": {s.name: config.url(_port_field(s.name)) for s in specs},
            },
        )
        echo("up", f"all services healthy in {time.monotonic() - started:.1f} s")
        print_ready(config, files, master_key, new_master=new_master, echo=echo)
        watcher = asyncio.create_task(supervisor.watch())
        fatal = asyncio.create_task(supervisor.fatal.wait())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({fatal, stopped}, return_when=asyncio.FIRST_COMPLETED)
        for task in (watcher, fatal, stopped):
            task.cancel()
        if supervisor.failure:
            code = 1
    except _Stopped:
        echo("up", "stopping before the stack was ready")
        code = 130
    except StackStartError as exc:
        echo("up", f"error: {exc}")
        code = 1
    finally:
        echo("up", "stopping all services …")
        await supervisor.stop_all()
        with contextlib.suppress(FileNotFoundError):
            files.runtime.unlink()
        echo("up", "stopped")
    return code


def _port_field(service: str) -> str:
    return service.replace("-", "_")


class _Stopped(Exception):  # noqa: N818 - control flow for Ctrl-C during start-up
    pass


async def _until_stopped(work: Any, stop: asyncio.Event) -> Any:
    """Await `work` unless Ctrl-C/SIGTERM arrives first (then cancel it and raise _Stopped)."""
    task = asyncio.ensure_future(work)
    waiter = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        return task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    raise _Stopped

"""`inferstack status`: each service's health and why, the model, the knowledge base and where the keys are."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from inferstack.cli.stack_options import ConfigOption, DataDirOption, stack_config
from inferstack.core.errors import InferstackError
from inferstack.stack.client import StackClient
from inferstack.stack.health_report import DEGRADED, OK, check_stack
from inferstack.stack.running import up_pid

_STYLE = {OK: "[green]ok[/green]", DEGRADED: "[yellow]degraded[/yellow]"}


def status(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Report whether the stack is running and healthy, and why not; exit code 1 when a service is down."""
    loaded = stack_config("status", config, data_dir)
    client = StackClient(loaded, timeout_s=10)
    pid = up_pid(client.files) or client.running_pid()
    services = check_stack(loaded, up_running=pid is not None)
    try:
        agent: dict[str, Any] = client.agent_status()
    except InferstackError as exc:
        agent = {"error": exc.message}
    report: dict[str, Any] = {
        "running_pid": pid,
        "services": {s.name: s.as_dict() for s in services},
        "agent": agent,
        "model": loaded.effective["agent"]["model"],
        "master_key_file": str(client.files.master_key),
        "data_dir": str(loaded.stack.data_dir),
    }
    healthy = all(s.healthy for s in services)
    if json_output:
        typer.echo(orjson.dumps(report).decode())
        raise typer.Exit(code=0 if healthy else 1)
    table = Table("service", "url", "health", "detail")
    for service in services:
        table.add_row(service.name, service.url, _STYLE.get(service.status, "[red]down[/red]"), escape(service.detail))
    console = Console(width=max(Console().width, 120))
    console.print(table)
    console.print(f"model: {report['model']}")
    console.print(f"knowledge: {escape(knowledge_line(agent))}")
    console.print(f"master key: {report['master_key_file']}")
    console.print(f"data dir: {report['data_dir']}")
    if pid:
        console.print(f"up pid: {pid}")
    else:
        console.print(
            f"up: no `inferstack up` is running with data dir {report['data_dir']} — start one with `inferstack up`"
            ", or, if yours runs with another data dir or config, pass the same --data-dir / --config"
        )
    raise typer.Exit(code=0 if healthy else 1)


def knowledge_line(agent: dict[str, Any]) -> str:
    """`237 chunks from 10 documents (ready, updated 2026-…)`, or why it is unknown."""
    knowledge = agent.get("knowledge")
    if not isinstance(knowledge, dict):
        return f"unknown ({agent.get('error', 'the agent did not say')})"
    chunks, documents = knowledge.get("chunk_count"), knowledge.get("document_count")
    text = (
        f"{chunks if chunks is not None else '?'} chunks from {documents if documents is not None else '?'} documents"
    )
    details = [str(knowledge.get("status") or "")]
    if knowledge.get("last_updated"):
        details.append(f"updated {knowledge['last_updated']}")
    if chunks == 0:
        details.append("EMPTY: ingest a folder with `inferstack ingest DIR`")
    if agent.get("ingest_running"):
        details.append("an ingest is running")
    return f"{text} ({', '.join(d for d in details if d)})"


def register(app: typer.Typer) -> None:
    app.command("status")(status)

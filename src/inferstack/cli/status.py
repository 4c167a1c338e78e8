"""`inferstack status`: each service's health, the model, the knowledge base size and where the keys are."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.table import Table

from inferstack.cli.stack_options import ConfigOption, DataDirOption, stack_config
from inferstack.core.errors import InferstackError
from inferstack.stack.client import StackClient

_HEALTH = (
    ("serve", "serve", "/health"),
    ("gateway", "gateway", "/health/readiness"),
    ("web-search", "web_search", "/health"),
    ("filesystem", "filesystem", "/health"),
    ("agent", "agent", "/health"),
)


def status(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Report whether the stack is running and healthy; exit code 1 when it is not."""
    loaded = stack_config("status", config, data_dir)
    client = StackClient(loaded, timeout_s=10)
    report: dict[str, Any] = {"running_pid": client.running_pid(), "services": {}}
    healthy = True
    for name, port_field, path in _HEALTH:
        if name in {"web-search", "filesystem"} and not getattr(loaded.stack, port_field):
            continue
        ok, _ = client.health(port_field, path)
        healthy &= ok
        report["services"][name] = {"url": loaded.url(port_field), "healthy": ok}
    try:
        agent = client.agent_status()
    except InferstackError as exc:
        agent = {"error": exc.message}
    report["agent"] = agent
    report["model"] = loaded.effective["agent"]["model"]
    report["master_key_file"] = str(client.files.master_key)
    report["data_dir"] = str(loaded.stack.data_dir)
    if json_output:
        typer.echo(orjson.dumps(report).decode())
    else:
        table = Table("service", "url", "health")
        for name, service in report["services"].items():
            table.add_row(name, service["url"], "[green]ok[/green]" if service["healthy"] else "[red]down[/red]")
        console = Console()
        console.print(table)
        console.print(f"model: {report['model']}")
        knowledge = agent.get("knowledge") if isinstance(agent, dict) else None
        console.print(f"knowledge: {knowledge if knowledge is not None else agent.get('error', '-')}")
        console.print(f"master key: {report['master_key_file']}")
        console.print(f"up pid: {report['running_pid'] or 'not running'}")
    raise typer.Exit(code=0 if healthy else 1)


def register(app: typer.Typer) -> None:
    app.command("status")(status)

"""`inferstack up`: the whole stack on one machine, supervised, with embedded defaults."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from inferstack.cli.stack_options import ConfigOption, DataDirOption, stack_config
from inferstack.stack.data_dir import StackFiles
from inferstack.stack.running import StackAlreadyRunningError, advertise, hold_up_lock

_SERVICE_COLORS = {
    "up": typer.colors.BRIGHT_WHITE,
    "serve": typer.colors.CYAN,
    "gateway": typer.colors.MAGENTA,
    "web-search": typer.colors.YELLOW,
    "filesystem": typer.colors.BLUE,
    "agent": typer.colors.GREEN,
}


def _echo(service: str, line: str) -> None:
    prefix = typer.style(f"{service:>10} |", fg=_SERVICE_COLORS.get(service, typer.colors.WHITE))
    typer.echo(f"{prefix} {line}")


def up(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    knowledge: Annotated[
        Path | None, typer.Option(help="Directory ingested on first run \\[default: the bundled sample knowledge].")
    ] = None,
) -> None:
    """Start model server, gateway, MCP servers and agent API; ingest the knowledge base on first run."""
    from inferstack.stack.launcher import run_stack

    if knowledge is not None and not knowledge.is_dir():
        _echo("up", f"error: --knowledge {knowledge} is not a directory")
        raise typer.Exit(code=2)
    loaded = stack_config("up", config, data_dir, knowledge=knowledge)
    files = StackFiles(loaded.stack.data_dir)
    try:
        with hold_up_lock(files), advertise(Path.home(), loaded.stack.ports.agent, files, loaded.path):
            code = asyncio.run(run_stack(loaded, _echo))
    except StackAlreadyRunningError as exc:
        _echo("up", f"error: {exc.message}")
        code = 1
    raise typer.Exit(code=code)


def register(app: typer.Typer) -> None:
    app.command("up")(up)

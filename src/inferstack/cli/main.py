"""The `inferstack` command: registers each command group's module."""

from __future__ import annotations

from typing import Annotated

import typer

from inferstack import __version__
from inferstack.cli import (
    agent,
    ask,
    bench,
    config,
    deploy,
    gateway,
    idp,
    ingest,
    k8s,
    keys,
    knowledge,
    mcp,
    serve,
    status,
    trace,
    up,
    weather,
)
from inferstack.cli import eval as eval_cli

app = typer.Typer(
    name="inferstack",
    help="LLM inference and agentic AI, from one laptop to a Kubernetes fleet.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("serve")(serve.serve)
app.add_typer(bench.app, name="bench")
for _module in (
    gateway,
    keys,
    ingest,
    knowledge,
    agent,
    mcp,
    up,
    ask,
    status,
    config,
    eval_cli,
    deploy,
    k8s,
    weather,
    trace,
    idp,
):
    _module.register(app)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"inferstack {__version__}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """inferstack: serve models, route them, build agents on them, measure them."""


def main() -> None:
    app()

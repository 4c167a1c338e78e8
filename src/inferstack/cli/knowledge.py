"""`inferstack knowledge list | remove SOURCE`: what the knowledge base holds, and taking a file or folder out.

Through the running stack's agent (`GET /knowledge/sources`, `DELETE /knowledge/sources/{source}`) when `up`
runs for the same --config/--data-dir, else directly on the store in `<data_dir>/knowledge`.
Exit codes: 0 done, 1 the store or agent failed, 2 bad configuration or no such source.
"""

from __future__ import annotations

import asyncio
import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from inferstack.cli.ingest import exit_code_for, knowledge_settings
from inferstack.cli.settings_loader import fail, require_extra
from inferstack.cli.stack_options import ConfigOption, DataDirOption, stack_config
from inferstack.core.errors import InferstackError

app = typer.Typer(help="List or remove the documents in the knowledge base.", no_args_is_help=True)


@app.command("list")
def list_sources(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every ingested file: its source id (what answers cite), its folder and its chunk count."""
    require_extra("knowledge list", "agent")
    from inferstack.retrieval.ingestion.standalone import list_sources_with_settings
    from inferstack.stack.client import StackClient

    loaded = stack_config("knowledge", config, data_dir)
    client = StackClient(loaded, timeout_s=30)
    try:
        if client.running_pid() is not None:
            entries = client.knowledge_sources()
        else:
            settings = knowledge_settings(loaded)
            entries = [entry.as_dict() for entry in asyncio.run(list_sources_with_settings(settings))]
    except InferstackError as exc:
        raise fail("knowledge", exc.message, exit_code_for(exc)) from None
    if json_output:
        typer.echo(json.dumps(entries, indent=2))
        return
    _print_sources(entries)


@app.command("remove")
def remove(
    source: Annotated[str, typer.Argument(help="A source id from `knowledge list`, or a folder's label or path.")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Remove one file's chunks, or every file of a folder, from the knowledge base."""
    require_extra("knowledge remove", "agent")
    from inferstack.retrieval.ingestion.standalone import remove_sources_with_settings
    from inferstack.stack.client import StackClient

    loaded = stack_config("knowledge", config, data_dir)
    client = StackClient(loaded, timeout_s=120)
    try:
        if client.running_pid() is not None:
            removal = client.remove_knowledge_source(source)
        else:
            removal = asyncio.run(remove_sources_with_settings(knowledge_settings(loaded), source)).as_dict()
    except InferstackError as exc:
        raise fail("knowledge", exc.message, exit_code_for(exc)) from None
    if json_output:
        typer.echo(json.dumps(removal, indent=2))
        return
    typer.echo(f"removed {removal['files_removed']} file(s), {removal['chunks_removed']} chunks:")
    for name in removal["removed"]:
        typer.echo(f"  {name}")


def _print_sources(entries: list[dict[str, Any]]) -> None:
    console = Console()
    if not entries:
        console.print("the knowledge base is empty; add documents with `inferstack ingest PATH`")
        return
    table = Table("source", "chunks", "folder", "ingested")
    for entry in entries:
        folder = entry["root"] + ("" if entry["root_exists"] else "  [yellow](missing)[/yellow]")
        table.add_row(entry["source"], str(entry["chunks"]), folder, entry["ingested_at"])
    console.print(table)
    console.print(f"{len(entries)} files, {sum(e['chunks'] for e in entries)} chunks")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="knowledge")

"""`inferstack ingest PATH`: embed a folder (or one file) into the knowledge store, incrementally.

When a stack started by `inferstack up` is running for the same --config/--data-dir, the job is handed to its
agent API (`POST /ingest`), which owns the store. Otherwise, standalone mode: this process opens the vector
store itself and calls the embeddings endpoint (normally the gateway). The work is done by
`ingestion.standalone.ingest_with_settings`; this module parses flags and prints.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from inferstack.cli.settings_loader import fail, settings_from_cli
from inferstack.core.errors import InferstackError

if TYPE_CHECKING:
    from inferstack.stack.client import StackClient

EXIT_PARTIAL = 1
EXIT_INTERRUPTED = 130


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `inferstack` app."""
    app.command("ingest")(ingest)


def ingest(
    path: Annotated[Path, typer.Argument(help="Folder (recursively) or single file to ingest.")],
    force: Annotated[bool, typer.Option("--force", help="Re-embed every file, changed or not.")] = False,
    config: Annotated[Path | None, typer.Option(help="Stack config YAML (section 'knowledge').")] = None,
    data_dir: Annotated[
        Path | None, typer.Option(help="Local state: Milvus Lite database and manifests [default: ./.inferstack].")
    ] = None,
    store: Annotated[str | None, typer.Option(help="milvus | opensearch | memory [default: milvus].")] = None,
    embedding_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible API with /embeddings [default: http://127.0.0.1:4000/v1].")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(help="Bearer key for the embeddings endpoint (or INFERSTACK_KNOWLEDGE_EMBEDDING_API_KEY)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Embed documents (.md .txt .csv .json .jsonl .pdf .docx) into the vector store; only changes are re-embedded."""
    client = _running_stack(config, data_dir)
    if client is not None:
        _ingest_via_agent(client, path, force=force, json_output=json_output)
        return
    from inferstack.retrieval.ingestion.progress import RichProgressBar
    from inferstack.retrieval.ingestion.standalone import ingest_with_settings
    from inferstack.retrieval.settings import KnowledgeSettings

    overrides: dict[str, Any] = {"data_dir": data_dir, "store": store, "embedding_base_url": embedding_base_url}
    settings = settings_from_cli(
        KnowledgeSettings, command="ingest", section="knowledge", config=config, overrides=overrides
    )
    show_bar = sys.stderr.isatty() and not json_output
    try:
        if show_bar:
            with RichProgressBar() as bar:
                report = asyncio.run(
                    ingest_with_settings(settings, path, force=force, api_key=api_key, on_progress=bar.update)
                )
        else:
            report = asyncio.run(ingest_with_settings(settings, path, force=force, api_key=api_key))
    except KeyboardInterrupt:
        typer.secho(
            "inferstack ingest: interrupted; files finished so far are recorded, run again to continue",
            fg=typer.colors.YELLOW,
            err=True,
        )
        raise typer.Exit(code=EXIT_INTERRUPTED) from None
    except InferstackError as exc:
        raise fail(
            "ingest", f"{exc.message}\nFiles finished before the failure are recorded; run again to continue.", 1
        ) from None
    if json_output:
        typer.echo(json.dumps(report.as_dict(), indent=2))
    else:
        _print_report(report.as_dict(), settings.summary())
    if not report.succeeded:
        raise typer.Exit(code=EXIT_PARTIAL)


def _running_stack(config: Path | None, data_dir: Path | None) -> StackClient | None:
    """The client of a stack `up` is running for these options, if any."""
    from inferstack.stack.client import StackClient
    from inferstack.stack.config_file import default_config_path, load_stack_config

    try:
        loaded = load_stack_config(default_config_path(config), overrides={"data_dir": data_dir})
    except InferstackError:
        return None  # not a stack config: standalone mode reports its own configuration errors
    client = StackClient(loaded)
    return client if client.running_pid() is not None else None


def _ingest_via_agent(client: StackClient, path: Path, *, force: bool, json_output: bool) -> None:
    if not path.exists():
        raise fail("ingest", f"{path} does not exist")
    try:
        job = client.ingest(str(path.resolve()), force=force)
        typer.secho(f"ingest job {job['job_id']} accepted by the running stack's agent", err=True)
        last = ""
        while True:
            time.sleep(0.5)
            job = client.ingest_job(job["job_id"])
            progress = ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in (job.get("progress") or {}).items())
            if progress and progress != last and not json_output:
                typer.secho(f"  {progress}", err=True, dim=True)
                last = progress
            if job["status"] in {"succeeded", "failed", "cancelled"}:
                break
    except InferstackError as exc:
        raise fail("ingest", exc.message, code=1) from None
    if job["status"] != "succeeded":
        raise fail("ingest", f"the job {job['status']}: {job.get('error') or 'no detail'}", code=EXIT_PARTIAL)
    report = job.get("report") or {}
    if json_output:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print_report(report, {"store": "the running stack"})
    if report.get("files_failed"):
        raise typer.Exit(code=EXIT_PARTIAL)


def _print_report(report: dict[str, Any], summary: dict[str, object]) -> None:
    console = Console()
    table = Table(title=f"ingested {report['root']} into {summary['store']}:{report['collection']}", show_header=False)
    rows = [
        ("files added", report["files_added"]),
        ("files modified", report["files_modified"]),
        ("files deleted", report["files_deleted"]),
        ("files unchanged", report["files_unchanged"]),
        ("files failed", report["files_failed"]),
        ("files ignored (unsupported type)", report["files_ignored"]),
        ("chunks written", report["chunks_written"]),
        ("chunks removed", report["chunks_removed"] + report["leftover_chunks_removed"]),
        ("embeddings/s", f"{report['embeddings_per_s']:.1f}"),
        ("duration", f"{report['duration_s']:.2f} s"),
    ]
    for name, value in rows:
        table.add_row(name, str(value))
    console.print(table)
    for failure in report["failed"]:
        console.print(f"[red]failed[/red] {failure['source']}: {failure['reason']}", highlight=False)
    for warning in report["warnings"]:
        console.print(f"[yellow]warning[/yellow] {warning}", highlight=False)

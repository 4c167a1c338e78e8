"""`inferstack ingest PATH`: embed a folder (or one file) into the knowledge store, incrementally.

Standalone mode: this process opens the vector store itself and calls the embeddings endpoint (normally the
gateway). The work is done by `ingestion.standalone.ingest_with_settings`; this module parses flags and prints.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from inferstack.cli.settings_loader import fail, settings_from_cli
from inferstack.core.errors import InferstackError

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
    from inferstack.ingestion.progress import RichProgressBar
    from inferstack.ingestion.standalone import ingest_with_settings
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

"""`inferstack ingest PATH`: embed a folder (or one file) into the knowledge store, incrementally.

When a stack started by `inferstack up` is running for the same --config/--data-dir, the job is handed to its
agent API (`POST /ingest`, as the stack's owner, so any folder on this machine may be named) and followed with
the same progress bars. Otherwise, standalone mode: this process opens the store the stack uses
(`<data_dir>/knowledge`) and calls the embeddings endpoint (normally the gateway) itself.

Exit codes: 0 done; 1 some files failed, or the run stopped (embedding or store failure, job cancelled);
2 nothing was started (bad configuration, missing or refused path, changed embedding model without --force,
another run busy); 130 interrupted.
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

from inferstack.cli.settings_loader import fail, require_extra, settings_from_cli
from inferstack.cli.stack_options import stack_config
from inferstack.cli.trace import traced_command
from inferstack.core.errors import InferstackError

if TYPE_CHECKING:
    from inferstack.retrieval.settings import KnowledgeSettings
    from inferstack.stack.client import StackClient
    from inferstack.stack.config_file import StackConfig

EXIT_PARTIAL = 1
EXIT_NOT_STARTED = 2
EXIT_INTERRUPTED = 130
_POLL_S = 0.5


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `inferstack` app."""
    app.command("ingest")(ingest)


def exit_code_for(exc: InferstackError) -> int:
    """2 when the request itself was refused (4xx: configuration, path, model change), else 1 (the run failed)."""
    return EXIT_NOT_STARTED if 400 <= exc.status_code < 500 else EXIT_PARTIAL


def ingest(
    path: Annotated[Path, typer.Argument(help="Folder (recursively) or single file to ingest.")],
    force: Annotated[bool, typer.Option("--force", help="Re-embed every file, changed or not.")] = False,
    config: Annotated[Path | None, typer.Option(help="Stack config \\[default: ./inferstack.yaml if present].")] = None,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Stack data directory, as for `up`; the store is <data_dir>/knowledge \\[default: ./.inferstack]."
        ),
    ] = None,
    store: Annotated[str | None, typer.Option(help="milvus | opensearch | memory \\[default: milvus].")] = None,
    embedding_base_url: Annotated[
        str | None, typer.Option(help="OpenAI-compatible API with /embeddings \\[default: the stack's gateway].")
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(help="Bearer key for the embeddings endpoint (or INFERSTACK_KNOWLEDGE_EMBEDDING_API_KEY)."),
    ] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON on stdout.")] = False,
) -> None:
    """Embed documents (.md .txt .csv .json .jsonl .pdf .docx) into the vector store; only changes are re-embedded."""
    require_extra("ingest", "agent")
    loaded = stack_config("ingest", config, data_dir)
    from inferstack.stack.client import StackClient

    client = StackClient(loaded)
    if client.running_pid() is not None:
        if store or embedding_base_url or api_key:
            typer.secho(
                "inferstack ingest: --store, --embedding-base-url and --api-key are ignored: the running stack's "
                "agent ingests with its own configuration",
                fg=typer.colors.YELLOW,
                err=True,
            )
        _ingest_via_agent(client, path, force=force, json_output=json_output)
        return
    settings = knowledge_settings(loaded, store=store, embedding_base_url=embedding_base_url)
    with traced_command("ingest", loaded.effective["observability"], {"inferstack.ingest.path": str(path)}):
        _ingest_standalone(settings, path, force=force, api_key=api_key, json_output=json_output)


def knowledge_settings(loaded: StackConfig, **overrides: Any) -> KnowledgeSettings:
    """The `knowledge` section exactly as `up` wires it (store under <data_dir>/knowledge), plus CLI overrides."""
    from inferstack.retrieval.settings import KnowledgeSettings

    return settings_from_cli(
        KnowledgeSettings,
        command="ingest",
        section="knowledge",
        config=None,
        overrides=overrides,
        section_data=dict(loaded.effective["knowledge"]),
    )


def _ingest_standalone(
    settings: KnowledgeSettings, path: Path, *, force: bool, api_key: str | None, json_output: bool
) -> None:
    from inferstack.retrieval.ingestion.progress import RichProgressBar
    from inferstack.retrieval.ingestion.standalone import ingest_with_settings

    try:
        if sys.stderr.isatty() and not json_output:
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
        code = exit_code_for(exc)
        detail = (
            ""
            if code == EXIT_NOT_STARTED
            else "\nFiles finished before the failure are recorded; run again to continue."
        )
        raise fail("ingest", exc.message + detail, code) from None
    _finish(report.as_dict(), settings.summary()["store"], json_output=json_output)


def _ingest_via_agent(client: StackClient, path: Path, *, force: bool, json_output: bool) -> None:
    if not path.exists():
        raise fail("ingest", f"{path} does not exist", EXIT_NOT_STARTED)
    try:
        job = client.ingest(str(path.resolve()), force=force)
    except InferstackError as exc:
        raise fail("ingest", exc.message, exit_code_for(exc)) from None
    try:  # from here on Ctrl-C concerns an accepted job, even one that lands while the line below prints
        typer.secho(f"ingest job {job['job_id']} accepted by the running stack's agent", err=True)
        job = _follow(client, job["job_id"], show=not json_output)
    except KeyboardInterrupt:
        raise typer.Exit(code=_interrupted(client, job["job_id"])) from None
    except InferstackError as exc:
        raise fail("ingest", exc.message, EXIT_PARTIAL) from None
    if job["status"] != "succeeded":
        error = job.get("error") or {}
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise fail("ingest", f"the job {job['status']}: {message or 'no detail'}", EXIT_PARTIAL)
    _finish(job.get("report") or {}, "the running stack", json_output=json_output)


def _follow(client: StackClient, job_id: str, *, show: bool) -> dict[str, Any]:
    """Poll the job to its end, drawing the same progress bars as a standalone run on a terminal."""
    from inferstack.retrieval.ingestion.progress import IngestProgress, RichProgressBar

    def poll(on_progress: Any) -> dict[str, Any]:
        while True:
            job = client.ingest_job(job_id)
            if job.get("progress"):
                on_progress(IngestProgress(**job["progress"]))
            if job["status"] in {"succeeded", "failed", "cancelled"}:
                return job
            time.sleep(_POLL_S)

    if show and sys.stderr.isatty():
        with RichProgressBar() as bar:
            return poll(bar.update)
    last = ""

    def print_line(progress: IngestProgress) -> None:
        nonlocal last
        line = (
            f"  {progress.phase}: files {progress.files_done + progress.files_failed}/{progress.files_total}"
            + (f" ({progress.files_failed} failed)" if progress.files_failed else "")
            + f", chunks {progress.chunks_written}/{progress.chunks_total}"
        )
        if show and line != last:
            typer.secho(line, err=True, dim=True)
            last = line

    return poll(print_line)


def _interrupted(client: StackClient, job_id: str) -> int:
    """Ctrl-C while following a job: on a terminal, ask whether to cancel it; otherwise say it goes on."""
    url = client.config.url("agent", f"/ingest/{job_id}")
    if sys.stdin.isatty() and sys.stderr.isatty():
        try:
            cancel = typer.confirm(f"\nCancel ingest job {job_id} in the agent?", default=False, err=True)
        except (KeyboardInterrupt, typer.Abort):
            cancel = False
        if cancel:
            try:
                client.cancel_ingest(job_id)
            except InferstackError as exc:
                typer.secho(f"inferstack ingest: could not cancel: {exc.message}", fg=typer.colors.RED, err=True)
                return EXIT_INTERRUPTED
            typer.secho(
                f"ingest job {job_id} cancelled; files finished so far are kept, run again to continue",
                fg=typer.colors.YELLOW,
                err=True,
            )
            return EXIT_INTERRUPTED
    typer.secho(
        f"\ninferstack ingest: stopped following; job {job_id} continues in the running agent.\n"
        f"  watch it:  curl -s {url}\n"
        f"  cancel it: curl -s -X DELETE {url}",
        fg=typer.colors.YELLOW,
        err=True,
    )
    return EXIT_INTERRUPTED


def _finish(report: dict[str, Any], store: object, *, json_output: bool) -> None:
    if json_output:
        typer.echo(json.dumps(report, indent=2))
    else:
        _print_report(report, store)
    if report.get("files_failed"):
        raise typer.Exit(code=EXIT_PARTIAL)


def _print_report(report: dict[str, Any], store: object) -> None:
    console = Console()
    title = f"ingested {report['root']} into {store}:{report['collection']}"
    if report.get("label"):
        title += f" as {report['label']}/…"
    table = Table(title=title, show_header=False)
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
    if report["failed"]:
        console.print("Files that failed are not recorded: fix them and run again to retry only those.")

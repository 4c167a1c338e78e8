"""`inferstack idp`: process documents (serve, process FILE) and work the human review queue."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from inferstack.cli.settings_loader import fail, require_extra, settings_from_cli

if TYPE_CHECKING:
    from inferstack.idp.settings import IdpSettings

idp_app = typer.Typer(
    name="idp",
    help="Document processing: scans and PDFs to verified fields, auto-approved or reviewed.",
    no_args_is_help=True,
)
review_app = typer.Typer(
    name="review", help="The human review queue (the service's SQLite database).", no_args_is_help=True
)
idp_app.add_typer(review_app, name="review")

ConfigOption = Annotated[Path | None, typer.Option(help="Stack config YAML (section 'idp').")]
DatabaseOption = Annotated[
    Path | None, typer.Option(help="SQLite database of jobs [default: ~/.local/share/inferstack/idp.sqlite3].")
]


def _settings(command: str, config: Path | None, **overrides: Any) -> IdpSettings:
    require_extra(command, "idp")
    from inferstack.idp.settings import IdpSettings

    chosen = {key: value for key, value in overrides.items() if value is not None}
    return settings_from_cli(IdpSettings, command=command, section="idp", config=config, overrides=chosen)


@idp_app.command("serve")
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address [default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port [default: 8082].")] = None,
    model_base_url: Annotated[str | None, typer.Option(help="The gateway's OpenAI base URL.")] = None,
    database: DatabaseOption = None,
) -> None:
    """Serve POST /v1/documents, GET /v1/documents/{id}, the review queue, /health, /ready and /metrics."""
    settings = _settings("idp serve", config, host=host, port=port, model_base_url=model_base_url, database=database)
    from inferstack.idp.server import run_idp
    from inferstack.observability.logging import configure_logging

    configure_logging(settings.log_level, service="idp")
    raise typer.Exit(code=run_idp(settings))


@idp_app.command("process")
def process(
    file: Annotated[Path, typer.Argument(help="PNG, JPEG, TIFF or PDF.", exists=True, dir_okay=False)],
    schema: Annotated[str, typer.Option(help="Document type (a schema in idp/data/schemas).")] = "birth_certificate",
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole result (fields, checks, audit).")] = False,
    extractor: Annotated[str | None, typer.Option(help="hybrid (default), model or rules.")] = None,
    model_base_url: Annotated[str | None, typer.Option(help="The gateway's OpenAI base URL.")] = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Run one document through the pipeline here and store the result (review queue included)."""
    settings = _settings("idp process", config, extractor=extractor, model_base_url=model_base_url, database=database)
    from inferstack.core.errors import InferstackError
    from inferstack.idp.app import model_client
    from inferstack.idp.pipeline import DocumentPipeline, new_job_id
    from inferstack.idp.store import JobStore

    async def run(job_id: str) -> dict[str, Any]:
        model = model_client(settings)
        try:
            result = await DocumentPipeline(settings, model=model).process(file.read_bytes(), schema, job_id=job_id)
        finally:
            if model is not None:
                await model.aclose()
        return result.as_dict()

    try:
        job_id = new_job_id()
        answer = asyncio.run(run(job_id))
        for record in answer["audit"]:
            if record["stage"] == "load" and record["error"]:
                raise fail("idp process", record["error"])
        store = JobStore(settings.database)
        store.create(job_id, answer["schema"], file.name)
        store.update(job_id, answer["status"], answer["confidence"], answer)
        store.close()
    except InferstackError as exc:
        raise fail("idp process", exc.message) from None
    if as_json:
        typer.echo(json.dumps(answer, indent=2))
        return
    typer.echo(f"{answer['id']}  {answer['status']}  confidence {answer['confidence']:.3f}")
    for name, value in answer["data"].items():
        typer.echo(f"  {name}: {json.dumps(value)}")
    for check in answer["checks"]:
        typer.echo(f"  [{'ok' if check['passed'] else 'FAIL'}] {check['name']}: {check['detail']}")
    if answer["error"]:
        raise fail("idp process", answer["error"], code=1)


@review_app.command("list")
def review_list(
    config: ConfigOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Documents waiting for a reviewer."""
    settings = _settings("idp review list", config, database=database)
    from inferstack.idp.store import JobStore

    store = JobStore(settings.database)
    jobs = store.review_queue(1000)
    store.close()
    if as_json:
        typer.echo(json.dumps(jobs, indent=2))
        return
    for job in jobs:
        failed = [check["name"] for check in job.get("checks") or [] if not check["passed"]]
        typer.echo(
            f"{job['id']}  {job['schema']}  {job['filename']}  confidence {job['confidence']:.3f}  failed: {failed}"
        )


def _decide(
    command: str, job_id: str, approve: bool, note: str | None, config: Path | None, database: Path | None
) -> None:
    settings = _settings(command, config, database=database)
    from inferstack.core.errors import InferstackError
    from inferstack.idp.store import JobStore

    store = JobStore(settings.database)
    try:
        job = store.decide(job_id, approve=approve, note=note)
    except InferstackError as exc:
        raise fail(command, exc.message, code=1) from None
    finally:
        store.close()
    typer.echo(f"{job['id']}  {job['status']}")


@review_app.command("approve")
def review_approve(
    job_id: Annotated[str, typer.Argument(help="Job id (doc-...).")],
    note: Annotated[str | None, typer.Option(help="Reviewer's note.")] = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Approve a document waiting for review."""
    _decide("idp review approve", job_id, True, note, config, database)


@review_app.command("reject")
def review_reject(
    job_id: Annotated[str, typer.Argument(help="Job id (doc-...).")],
    note: Annotated[str | None, typer.Option(help="Reviewer's note.")] = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Reject a document waiting for review."""
    _decide("idp review reject", job_id, False, note, config, database)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `inferstack` app."""
    app.add_typer(idp_app, name="idp")

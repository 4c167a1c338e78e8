"""`inferstack idp`: process documents (serve, process FILE) and work the human review queue."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from inferstack.cli.settings_loader import fail, require_extra, settings_from_cli
from inferstack.cli.trace import start_tracing
from inferstack.core.errors import InferstackError

if TYPE_CHECKING:
    from inferstack.idp.settings import IdpSettings

idp_app = typer.Typer(
    name="idp",
    help="Document processing: scans and PDFs to verified fields, auto-approved or reviewed.",
    no_args_is_help=True,
)
review_app = typer.Typer(
    name="review",
    help="The human review queue: a running service's API with --url, else the service's database.",
    no_args_is_help=True,
)
idp_app.add_typer(review_app, name="review")

ConfigOption = Annotated[Path | None, typer.Option(help="Stack config YAML (section 'idp').")]
DatabaseOption = Annotated[
    Path | None, typer.Option(help="SQLite database of jobs \\[default: ~/.local/share/inferstack/idp.sqlite3].")
]
UrlOption = Annotated[
    str | None,
    typer.Option("--url", help="Work through a running idp service's API, e.g. http://127.0.0.1:8082."),
]
ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="INFERSTACK_IDP_SERVER_API_KEY",
        show_envvar=True,
        help="Bearer key of the service at --url (default: idp.server_api_key of --config).",
    ),
]


def _settings(command: str, config: Path | None, **overrides: Any) -> IdpSettings:
    require_extra(command, "idp")
    from inferstack.idp.settings import IdpSettings

    chosen = {key: value for key, value in overrides.items() if value is not None}
    return settings_from_cli(IdpSettings, command=command, section="idp", config=config, overrides=chosen)


@idp_app.command("serve")
def serve(
    config: ConfigOption = None,
    host: Annotated[str | None, typer.Option(help="Bind address \\[default: 127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port \\[default: 8082].")] = None,
    model_base_url: Annotated[str | None, typer.Option(help="The gateway's OpenAI base URL.")] = None,
    database: DatabaseOption = None,
) -> None:
    """Serve POST /v1/documents, GET /v1/documents/{id}, the review queue, /health, /ready and /metrics."""
    settings = _settings("idp serve", config, host=host, port=port, model_base_url=model_base_url, database=database)
    from inferstack.idp.server import run_idp
    from inferstack.observability.logging import configure_logging

    configure_logging(settings.log_level, service="idp")
    start_tracing("idp serve", "idp", config)
    try:
        code = run_idp(settings)
    except InferstackError as exc:
        raise fail("idp serve", exc.message, code=1) from None
    raise typer.Exit(code=code)


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
    from inferstack.idp.app import model_client
    from inferstack.idp.pipeline import DocumentPipeline, new_job_id
    from inferstack.observability.tracing import shutdown_tracing

    start_tracing("idp process", "idp", config)

    async def run(job_id: str) -> dict[str, Any]:
        model = model_client(settings)
        try:
            result = await DocumentPipeline(settings, model=model).process(file.read_bytes(), schema, job_id=job_id)
        finally:
            if model is not None:
                await model.aclose()
            shutdown_tracing()
        return result.as_dict()

    try:
        job_id = new_job_id()
        answer = asyncio.run(run(job_id))
        for record in answer["audit"]:
            if record["stage"] == "load" and record["error"]:
                raise fail("idp process", record["error"])
        store = settings.open_store()
        store.create(job_id, answer["schema"], file.name)
        store.update(job_id, answer["status"], answer["confidence"], answer)
        store.close()
    except InferstackError as exc:
        raise fail("idp process", exc.message) from None
    if as_json:  # the whole result, a failed job's too; the exit code says whether the job failed, as without --json
        typer.echo(json.dumps(answer, indent=2))
        raise typer.Exit(1 if answer["error"] else 0)
    typer.echo(f"{answer['id']}  {answer['status']}  confidence {answer['confidence']:.3f}")
    for name, value in answer["data"].items():
        typer.echo(f"  {name}: {json.dumps(value)}")
    for check in answer["checks"]:
        typer.echo(f"  [{'ok' if check['passed'] else 'FAIL'}] {check['name']}: {check['detail']}")
    if answer["error"]:
        raise fail("idp process", answer["error"], code=1)


def _api_key(command: str, api_key: str | None, config: Path | None) -> str | None:
    """--api-key (or INFERSTACK_IDP_SERVER_API_KEY), else `idp.server_api_key` of the config file."""
    if api_key or config is None:
        return api_key
    from inferstack.idp.settings import IdpSettings

    settings = settings_from_cli(IdpSettings, command=command, section="idp", config=config, overrides={})
    return settings.server_api_key.get_secret_value() if settings.server_api_key is not None else None


@review_app.command("list")
def review_list(
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Documents waiting for a reviewer."""
    command = "idp review list"
    try:
        if url:
            from inferstack.idp.client import IdpClient

            with IdpClient(url, _api_key(command, api_key, config)) as client:
                jobs = client.review_queue(1000)
        else:
            store = _settings(command, config, database=database).open_store()
            try:
                jobs = store.review_queue(1000)
            finally:
                store.close()
    except InferstackError as exc:
        raise fail(command, exc.message, code=1) from None
    if as_json:
        typer.echo(json.dumps(jobs, indent=2))
        return
    for job in jobs:
        failed = [check["name"] for check in job.get("checks") or [] if not check["passed"]]
        typer.echo(
            f"{job['id']}  {job['schema']}  {job['filename']}  confidence {job['confidence']:.3f}  failed: {failed}"
        )


def _decide(
    command: str,
    job_id: str,
    approve: bool,
    note: str | None,
    *,
    url: str | None,
    api_key: str | None,
    config: Path | None,
    database: Path | None,
) -> None:
    try:
        if url:
            from inferstack.idp.client import IdpClient

            with IdpClient(url, _api_key(command, api_key, config)) as client:
                job = client.decide(job_id, approve=approve, note=note)
        else:
            store = _settings(command, config, database=database).open_store()
            try:
                job = store.decide(job_id, approve=approve, note=note)
            finally:
                store.close()
    except InferstackError as exc:
        raise fail(command, exc.message, code=1) from None
    typer.echo(f"{job['id']}  {job['status']}")


NoteOption = Annotated[str | None, typer.Option(help="Reviewer's note.")]
JobIdArgument = Annotated[str, typer.Argument(help="Job id (doc-...).")]


@review_app.command("approve")
def review_approve(
    job_id: JobIdArgument,
    note: NoteOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Approve a document waiting for review."""
    _decide("idp review approve", job_id, True, note, url=url, api_key=api_key, config=config, database=database)


@review_app.command("reject")
def review_reject(
    job_id: JobIdArgument,
    note: NoteOption = None,
    url: UrlOption = None,
    api_key: ApiKeyOption = None,
    config: ConfigOption = None,
    database: DatabaseOption = None,
) -> None:
    """Reject a document waiting for review."""
    _decide("idp review reject", job_id, False, note, url=url, api_key=api_key, config=config, database=database)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root `inferstack` app."""
    app.add_typer(idp_app, name="idp")

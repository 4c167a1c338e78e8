"""`inferstack deploy`: the same stack on Kubernetes. `render` turns an inferstack.yaml (plus values files) into
manifests with the bundled Helm chart, no `helm` binary needed; `embed` is what the chart's ingest Job runs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inferstack.cli.settings_loader import fail, require_extra
from inferstack.core.errors import InferstackError

app = typer.Typer(help="Deploy the stack to Kubernetes (Helm chart in deploy/helm/inferstack).", no_args_is_help=True)


@app.command("render")
def render(
    config: Annotated[
        Path | None, typer.Option(help="The stack config (inferstack.yaml) to deploy; becomes the chart's `config`.")
    ] = None,
    values: Annotated[
        list[Path] | None,
        typer.Option("--values", "-f", help="Chart values file; repeat to merge several, later ones win."),
    ] = None,
    release: Annotated[str, typer.Option(help="Helm release name.")] = "inferstack",
    namespace: Annotated[str, typer.Option(help="Namespace the objects go to.")] = "inferstack",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write one file per template here instead of stdout.")
    ] = None,
    chart: Annotated[
        Path | None, typer.Option(help="Chart directory \\[default: the bundled inferstack chart].")
    ] = None,
    revision: Annotated[
        int, typer.Option(min=1, help="Release revision; the ingest Job's name carries it (bump it to ingest again).")
    ] = 1,
) -> None:
    """Render the Kubernetes manifests of the stack (for `kubectl apply -f`, review, or GitOps)."""
    require_extra("deploy render", "deploy")
    from inferstack.deploy.render import render as render_chart
    from inferstack.deploy.render import values_for
    from inferstack.stack.config_file import load_stack_config, read_document

    try:
        document = None
        if config is not None:
            load_stack_config(config, overrides={})  # every section valid, as `inferstack up` would check it
            document = read_document(config)
        rendered = render_chart(
            values_for(document, values or []), release=release, namespace=namespace, chart=chart, revision=revision
        )
    except InferstackError as exc:
        raise fail("deploy render", exc.message) from None
    if output is None:
        typer.echo(rendered.stream(), nl=False)
        return
    written = rendered.write(output)
    typer.secho(f"wrote {len(written)} manifests under {output}", err=True)


@app.command("embed")
def embed(
    agent_url: Annotated[str, typer.Option(help="The agent API, e.g. http://inferstack-agent:8080.")],
    force: Annotated[bool, typer.Option("--force", help="Re-embed every file, changed or not.")] = False,
    api_key: Annotated[
        str | None, typer.Option(envvar="INFERSTACK_AGENT_SERVER_API_KEY", help="The agent's client key, if set.")
    ] = None,
    wait_s: Annotated[float, typer.Option(help="Give up after this many seconds.")] = 1800.0,
    poll_s: Annotated[float, typer.Option(help="Seconds between retries and job polls.")] = 2.0,
) -> None:
    """Ask a running agent to ingest its knowledge folder (POST /embed) and wait for the job to finish."""
    from inferstack.deploy.agent_ingest import embed_through_agent

    try:
        outcome = embed_through_agent(
            agent_url,
            api_key=api_key,
            force=force,
            wait_s=wait_s,
            poll_s=poll_s,
            log=lambda line: typer.echo(line, err=True),
        )
    except InferstackError as exc:
        raise fail("deploy embed", exc.message, code=1) from None
    typer.echo(f"ingest job {outcome.job_id}: {outcome.status}")
    if not outcome.ok:
        raise typer.Exit(code=1)


def register(root: typer.Typer) -> None:
    """Add this module's commands to the root `inferstack` app."""
    root.add_typer(app, name="deploy")

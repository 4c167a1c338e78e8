"""`inferstack gateway`: one OpenAI-compatible endpoint over many deployments (reads LiteLLM configs too)."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from inferstack.cli.settings_loader import fail
from inferstack.core.errors import InferstackError
from inferstack.gateway.settings import GatewaySettings
from inferstack.observability.logging import configure_logging

log = logging.getLogger(__name__)

# The options `inferstack gateway` and its subcommands share (typer reads them off the annotations).
ConfigOption = Annotated[Path | None, typer.Option(help="Stack config YAML (section 'gateway') or a LiteLLM config.")]
HostOption = Annotated[str | None, typer.Option(help="Bind address \\[default: 127.0.0.1].")]
PortOption = Annotated[int | None, typer.Option(help="Port \\[default: 4000].")]
WorkersOption = Annotated[int | None, typer.Option(help="Worker processes \\[default: 1].")]
DataDirOption = Annotated[Path | None, typer.Option(help="Where the SQLite key store lives \\[default: .inferstack].")]


def load_cli_gateway_settings(command: str, config: Path | None, overrides: dict[str, Any]) -> GatewaySettings:
    from inferstack.gateway.config_file import load_gateway_settings

    try:
        settings, translated = load_gateway_settings(config, overrides, os.environ)
    except ValidationError as exc:
        problems = "; ".join(f"gateway.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise fail(command, f"invalid configuration: {problems}") from None
    except InferstackError as exc:
        raise fail(command, exc.message) from None
    for note in translated.notes:
        log.warning("%s config: %s", translated.source_format, note)
    if translated.ignored:
        log.warning(
            "%s config: these settings are not used by inferstack and were ignored: %s",
            translated.source_format,
            ", ".join(translated.ignored),
        )
    return settings


def gateway(
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
    workers: WorkersOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Route OpenAI requests to model deployments with keys, budgets, limits, cache and guardrails."""
    overrides: dict[str, Any] = {"host": host, "port": port, "workers": workers, "data_dir": data_dir}
    configure_logging("info", service="gateway")
    settings = load_cli_gateway_settings("gateway", config, overrides)
    configure_logging(settings.log_level, service="gateway")
    if not settings.model_list:
        raise fail("gateway", "no models configured: add a model_list to the 'gateway' section of the config")
    from inferstack.gateway.server import run_gateway

    try:
        code = run_gateway(
            settings, config, {k: v if not isinstance(v, Path) else str(v) for k, v in overrides.items()}
        )
    except (InferstackError, ValueError) as exc:
        raise fail("gateway", str(exc), code=1) from None
    raise typer.Exit(code=code)


def _serve_unless_subcommand(
    ctx: typer.Context,
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
    workers: WorkersOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Route OpenAI requests to model deployments with keys, budgets, limits, cache and guardrails."""
    if ctx.invoked_subcommand is None:
        gateway(config=config, host=host, port=port, workers=workers, data_dir=data_dir)


def migrate(
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Apply the key store's pending schema migrations and exit (a store already current is left unchanged)."""
    import asyncio

    from inferstack.gateway.keys.schema_upgrade import upgrade_schema

    configure_logging("info", service="gateway")
    settings = load_cli_gateway_settings("gateway migrate", config, {"data_dir": data_dir})
    url = settings.database_url.get_secret_value() if settings.database_url is not None else None
    try:
        result = asyncio.run(upgrade_schema(url, settings.data_dir))
    except InferstackError as exc:
        raise fail("gateway migrate", exc.message, code=1) from None
    applied = ", ".join(result.applied) if result.applied else "none (schema already current)"
    typer.echo(f"{result.database}: {result.total} migrations known; applied now: {applied}")


def register(app: typer.Typer) -> None:
    """`inferstack gateway` serves; `inferstack gateway migrate` only upgrades the key store's schema."""
    group = typer.Typer(
        name="gateway",
        help="The OpenAI-compatible gateway; `gateway migrate` upgrades its key store's schema.",
        invoke_without_command=True,
    )
    group.callback(invoke_without_command=True)(_serve_unless_subcommand)
    group.command("migrate")(migrate)
    app.add_typer(group, name="gateway")

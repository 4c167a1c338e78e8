"""`inferstack keys create|list|revoke`: manage the gateway's virtual keys directly in its key store.

The store is the one the stack's gateway reads: found like `ask` and `status` find the running stack (the same
--config / --data-dir options and defaults, so <data_dir>/gateway/gateway.db or the configured database_url).
`--gateway-data-dir` addresses a standalone `inferstack gateway --data-dir DIR` instead. Every command says
which store it used, on stderr.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from rich.console import Console
from rich.table import Table

from inferstack.cli.gateway import load_cli_gateway_settings
from inferstack.cli.settings_loader import fail
from inferstack.cli.stack_options import ConfigOption, DataDirOption, stack_config
from inferstack.core.errors import InferstackError
from inferstack.gateway.keys.budget_check import unreachable_budget_warning
from inferstack.gateway.keys.database import Database
from inferstack.gateway.keys.records import parse_duration
from inferstack.gateway.keys.store import KeyStore
from inferstack.gateway.settings import GatewaySettings

app = typer.Typer(help="Manage the gateway's virtual keys (stored as SHA-256 digests).", no_args_is_help=True)
T = TypeVar("T")

GatewayDataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--gateway-data-dir",
        help="The --data-dir of a standalone `inferstack gateway` (then --config is that gateway's config, "
        "stack or LiteLLM format) \\[default: the stack's store].",
    ),
]


def gateway_settings(
    config: Path | None, data_dir: Path | None, gateway_data_dir: Path | None, *, creating: bool = False
) -> GatewaySettings:
    """The settings of the gateway whose store the command uses, and a line on stderr saying which store.

    A SQLite store that does not exist yet is never created silently: `create` says it is starting a new one,
    `list` and `revoke` refuse (there is nothing to list, and it is likely the wrong place)."""
    if gateway_data_dir is not None:
        settings = load_cli_gateway_settings("keys", config, {"data_dir": gateway_data_dir})
        origin = "standalone gateway"
    else:
        loaded = stack_config("keys", config, data_dir)
        validated = loaded.validated["gateway"]
        assert isinstance(validated, GatewaySettings)
        settings = validated
        origin = f"stack data dir {loaded.stack.data_dir}"
    path = settings.data_dir / "gateway.db"
    store = "database_url (PostgreSQL)" if settings.database_url else str(path)
    typer.secho(f"inferstack keys: key store {store} ({origin})", err=True, dim=True)
    if settings.database_url is None and not path.exists():
        hint = _layout_hint(data_dir)
        if not creating:
            raise fail("keys", f"no key store at {path}: no gateway has used it yet{hint}", code=1)
        typer.secho(
            f"inferstack keys: warning: creating a new key store at {path}; only a gateway started with this "
            f"data dir will accept the key{hint}",
            fg=typer.colors.YELLOW,
            err=True,
        )
    return settings


def _layout_hint(data_dir: Path | None) -> str:
    """Before, --data-dir named the gateway's own directory: say so when that is what the user passed."""
    if data_dir is not None and (data_dir / "gateway.db").exists():
        return f" ({data_dir / 'gateway.db'} exists: for that store pass --gateway-data-dir {data_dir})"
    return " (is the stack's data dir elsewhere? pass --data-dir or --config)"


def _with_store(settings: GatewaySettings, work: Callable[[KeyStore], Awaitable[T]]) -> T:
    async def run() -> T:
        url = settings.database_url.get_secret_value() if settings.database_url else None
        store = KeyStore(Database.open(url, settings.data_dir))
        try:
            await store.open()
            return await work(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except InferstackError as exc:
        raise fail("keys", exc.message, code=1) from None


@app.command("create")
def create(
    alias: Annotated[str | None, typer.Option(help="A name to find the key by.")] = None,
    models: Annotated[str | None, typer.Option(help="Comma-separated models the key may use \\[default: all].")] = None,
    max_budget: Annotated[float | None, typer.Option(help="Budget in USD.")] = None,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute.")] = None,
    duration: Annotated[str | None, typer.Option(help="Expires after e.g. 30d, 12h.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    gateway_data_dir: GatewayDataDirOption = None,
) -> None:
    """Create a key; it is printed once and only its digest is stored."""
    try:
        expires = time.time() + parse_duration(duration) if duration else None
    except ValueError as exc:
        raise fail("keys", str(exc)) from None
    model_list = tuple(m.strip() for m in models.split(",") if m.strip()) if models else ()
    settings = gateway_settings(config, data_dir, gateway_data_dir, creating=True)
    plaintext, record = _with_store(
        settings,
        lambda store: store.create(
            key_alias=alias, models=model_list, max_budget=max_budget, rpm_limit=rpm, tpm_limit=tpm, expires_at=expires
        ),
    )
    warning = unreachable_budget_warning(record.max_budget, record.models, settings.model_list)
    if json_output:
        extra = {} if warning is None else {"warning": warning}
        typer.echo(orjson.dumps({"key": plaintext, **record.public(), **extra}).decode())
    else:
        typer.echo(plaintext)
        typer.secho(f"token {record.token[:12]}… — store the key now; it cannot be shown again.", err=True)
    if warning is not None:
        typer.secho(f"inferstack keys: warning: {warning}", fg=typer.colors.YELLOW, err=True)


@app.command("list")
def list_keys(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    gateway_data_dir: GatewayDataDirOption = None,
) -> None:
    """List active keys (digests and display names, never the keys)."""
    keys = _with_store(gateway_settings(config, data_dir, gateway_data_dir), lambda store: store.list_keys())
    if json_output:
        typer.echo(orjson.dumps([k.public() for k in keys]).decode())
        return
    table = Table("token", "name", "alias", "models", "spend $", "budget $", "rpm", "tpm", "expires")
    for k in keys:
        expires = time.strftime("%Y-%m-%d %H:%M", time.localtime(k.expires_at)) if k.expires_at else "-"
        table.add_row(
            k.token[:12],
            k.key_name,
            k.key_alias or "-",
            ",".join(k.models) or "all",
            f"{k.spend:.6f}",
            "-" if k.max_budget is None else f"{k.max_budget:g}",
            str(k.rpm_limit or "-"),
            str(k.tpm_limit or "-"),
            expires,
        )
    Console().print(table)


@app.command("revoke")
def revoke(
    key: Annotated[str, typer.Argument(help="The key, its token (digest, or a unique prefix of 8+) or its alias.")],
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
    gateway_data_dir: GatewayDataDirOption = None,
) -> None:
    """Revoke a key; running gateways stop accepting it within their key sync interval."""

    async def work(store: KeyStore) -> Any:
        record = await store.find(key)
        if record is None and len(key) >= 8:
            matches = [k for k in await store.list_keys() if k.token.startswith(key)]
            record = matches[0] if len(matches) == 1 else None
        if record is None:
            return None
        await store.revoke([record.token])
        return record

    record = _with_store(gateway_settings(config, data_dir, gateway_data_dir), work)
    if record is None:
        raise fail("keys", "no such active key", code=1)
    typer.echo(f"revoked {record.key_name} ({record.token[:12]}…)")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="keys")

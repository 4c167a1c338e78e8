"""`inferstack keys create|list|revoke`: manage the gateway's virtual keys directly in its key store."""

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
from inferstack.core.errors import InferstackError
from inferstack.gateway.keys.database import Database
from inferstack.gateway.keys.records import parse_duration
from inferstack.gateway.keys.store import KeyStore
from inferstack.gateway.settings import GatewaySettings

app = typer.Typer(help="Manage the gateway's virtual keys (stored as SHA-256 digests).", no_args_is_help=True)
T = TypeVar("T")

ConfigOption = Annotated[Path | None, typer.Option(help="Stack config YAML (section 'gateway') or a LiteLLM config.")]
DataDirOption = Annotated[Path | None, typer.Option(help="Gateway data dir [default: .inferstack].")]


def _with_store(config: Path | None, data_dir: Path | None, work: Callable[[KeyStore], Awaitable[T]]) -> T:
    settings: GatewaySettings = load_cli_gateway_settings("keys", config, {"data_dir": data_dir})

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
    models: Annotated[str | None, typer.Option(help="Comma-separated models the key may use [default: all].")] = None,
    max_budget: Annotated[float | None, typer.Option(help="Budget in USD.")] = None,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.")] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute.")] = None,
    duration: Annotated[str | None, typer.Option(help="Expires after e.g. 30d, 12h.")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create a key; it is printed once and only its digest is stored."""
    try:
        expires = time.time() + parse_duration(duration) if duration else None
    except ValueError as exc:
        raise fail("keys", str(exc)) from None
    model_list = tuple(m.strip() for m in models.split(",") if m.strip()) if models else ()
    plaintext, record = _with_store(
        config,
        data_dir,
        lambda store: store.create(
            key_alias=alias, models=model_list, max_budget=max_budget, rpm_limit=rpm, tpm_limit=tpm, expires_at=expires
        ),
    )
    if json_output:
        typer.echo(orjson.dumps({"key": plaintext, **record.public()}).decode())
    else:
        typer.echo(plaintext)
        typer.secho(f"token {record.token[:12]}… — store the key now; it cannot be shown again.", err=True)


@app.command("list")
def list_keys(
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """List active keys (digests and display names, never the keys)."""
    keys = _with_store(config, data_dir, lambda store: store.list_keys())
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

    record = _with_store(config, data_dir, work)
    if record is None:
        raise fail("keys", "no such active key", code=1)
    typer.echo(f"revoked {record.key_name} ({record.token[:12]}…)")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="keys")

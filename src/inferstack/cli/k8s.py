"""`inferstack k8s`: Kubernetes helpers; `preflight` checks a cluster against chart values, read-only."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
import yaml
from rich.console import Console
from rich.markup import escape

from inferstack.core.errors import InferstackError
from inferstack.k8s.api import KubeApi
from inferstack.k8s.kubeconfig import load_connection
from inferstack.k8s.preflight import run_preflight
from inferstack.k8s.requirements import requirements_from_values

app = typer.Typer(help="Kubernetes helpers (read-only).", no_args_is_help=True)


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's -f semantics: later files win, maps merge key by key, everything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _load_values(files: list[Path]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for path in files:
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise typer.BadParameter(f"cannot read values file {path}: {exc}", param_hint="--values") from exc
        if not isinstance(loaded, dict):
            raise typer.BadParameter(f"{path} is not a mapping of chart values", param_hint="--values")
        values = _merge(values, loaded)
    return values


def _default_kubeconfig() -> Path:
    first = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0]
    return Path(first).expanduser() if first else Path.home() / ".kube" / "config"


@app.command()
def preflight(
    values: Annotated[
        list[Path] | None,
        typer.Option("--values", "-f", help="Chart values file(s), as given to helm (later files win)."),
    ] = None,
    kubeconfig: Annotated[
        Path | None, typer.Option(help="Kubeconfig file (default: first of $KUBECONFIG, else ~/.kube/config).")
    ] = None,
    context: Annotated[str | None, typer.Option(help="Kubeconfig context (default: current-context).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Check that the cluster can run the inferstack chart with these values; exit code 1 on any failure."""
    needs = requirements_from_values(_load_values(values or []))
    try:
        connection = load_connection(kubeconfig or _default_kubeconfig(), context)
        with KubeApi(connection) as api:
            results = run_preflight(api, needs)
    except InferstackError as exc:
        if json_output:
            typer.echo(orjson.dumps({"ok": False, "error": exc.message}).decode())
        else:
            typer.echo(f"FAIL cluster: {exc.message}", err=True)
        raise typer.Exit(code=2) from exc
    ok = all(r.ok for r in results)
    if json_output:
        typer.echo(
            orjson.dumps({"ok": ok, "context": connection.context, "checks": [r.as_dict() for r in results]}).decode()
        )
        raise typer.Exit(code=0 if ok else 1)
    console = Console(width=max(Console().width, 120), highlight=False)
    console.print(f"context {escape(connection.context)} ({escape(connection.server)})")
    for result in results:
        mark = "[green]ok  [/green]" if result.ok else "[red]FAIL[/red]"
        console.print(f"{mark} {escape(result.name)}: {escape(result.detail)}")
        if not result.ok:
            console.print(f"     fix: {escape(result.fix)}")
    failed = sum(not r.ok for r in results)
    console.print(f"{len(results) - failed} passed, {failed} failed")
    raise typer.Exit(code=0 if ok else 1)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="k8s")

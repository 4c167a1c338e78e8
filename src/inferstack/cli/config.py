"""`inferstack config show|init`: the effective stack config (secrets masked) and a commented default."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
import yaml

from inferstack.cli.settings_loader import fail
from inferstack.cli.stack_options import ConfigOption, DataDirOption, stack_config
from inferstack.stack.config_file import DEFAULT_CONFIG_NAME, masked_document

app = typer.Typer(help="Show or create the stack config (inferstack.yaml).", no_args_is_help=True)


@app.command("show")
def show(config: ConfigOption = None, data_dir: DataDirOption = None) -> None:
    """Print the effective config every service will run with; secrets are masked."""
    loaded = stack_config("config", config, data_dir)
    typer.echo(f"# source: {loaded.path or 'built-in defaults'}")
    typer.echo(yaml.safe_dump(masked_document(loaded), sort_keys=False).rstrip())


@app.command("init")
def init(
    path: Annotated[Path, typer.Argument(help="Where to write it.")] = Path(DEFAULT_CONFIG_NAME),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented default inferstack.yaml."""
    if path.exists() and not force:
        raise fail("config", f"{path} exists; use --force to overwrite")
    template = resources.files("inferstack.stack").joinpath("default_config.yaml").read_text()
    path.write_text(template)
    typer.echo(f"wrote {path}")
    typer.echo(
        "your documents: `inferstack ingest DIR` (any folder on this machine); remote POST /ingest callers may read "
        "only agent.ingest_roots"
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="config")

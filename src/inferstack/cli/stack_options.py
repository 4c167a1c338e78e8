"""Options shared by `up` and the clients that find a running stack (`ask`, `chat`, `status`, `config`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from inferstack.cli.settings_loader import fail
from inferstack.core.errors import InferstackError
from inferstack.stack.config_file import StackConfig, default_config_path, load_stack_config, unknown_environment

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Stack config [default: ./inferstack.yaml if present].")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Stack data directory [default: ./.inferstack].")
]

# Commands that start or print the configuration refuse an unknown INFERSTACK_* variable; clients warn.
_STRICT_ENVIRONMENT = {"up", "config"}


def stack_config(command: str, config: Path | None, data_dir: Path | None, **overrides: Any) -> StackConfig:
    unknown = unknown_environment(os.environ)
    if unknown and command in _STRICT_ENVIRONMENT:
        raise fail(command, "; ".join(unknown) + " (unset it, or fix its name)")
    for message in unknown:
        typer.secho(f"inferstack {command}: warning: {message}", fg=typer.colors.YELLOW, err=True)
    try:
        return load_stack_config(default_config_path(config), overrides={"data_dir": data_dir, **overrides})
    except InferstackError as exc:
        raise fail(command, exc.message) from None

"""Options shared by `up` and the clients that find a running stack (`ask`, `chat`, `status`, `config`)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from inferstack.cli.settings_loader import fail
from inferstack.core.errors import InferstackError
from inferstack.stack.config_file import StackConfig, default_config_path, load_stack_config, unknown_environment
from inferstack.stack.data_dir import StackFiles
from inferstack.stack.running import find_running, up_pid

ConfigOption = Annotated[
    Path | None, typer.Option("--config", help="Stack config \\[default: ./inferstack.yaml if present].")
]
DataDirOption = Annotated[
    Path | None, typer.Option("--data-dir", help="Stack data directory \\[default: ./.inferstack].")
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
        loaded = load_stack_config(default_config_path(config), overrides={"data_dir": data_dir, **overrides})
        if data_dir is None and command != "up":
            loaded = _the_running_stack(command, loaded, overrides)
    except InferstackError as exc:
        raise fail(command, exc.message) from None
    return loaded


def _the_running_stack(command: str, loaded: StackConfig, overrides: dict[str, Any]) -> StackConfig:
    """Without --data-dir, a client talks to the `up` serving this config's agent port, wherever its data dir
    is (an `up --data-dir X` started elsewhere); the default data dir when nothing runs there."""
    if up_pid(StackFiles(loaded.stack.data_dir)) is not None:
        return loaded
    running = find_running(Path.home(), loaded.stack.ports.agent)
    if running is None or running.data_dir == loaded.stack.data_dir:
        return loaded
    typer.secho(
        f"inferstack {command}: using the running stack's data dir {running.data_dir} (up pid {running.pid})",
        dim=True,
        err=True,
    )
    return load_stack_config(loaded.path, overrides={**overrides, "data_dir": running.data_dir})

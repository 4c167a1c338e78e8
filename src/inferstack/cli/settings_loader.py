"""Builds a service's settings from `--config` YAML, env and CLI flags; turns problems into exit code 2."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError

from inferstack.core.errors import InferstackError
from inferstack.core.settings import (
    S,
    describe_validation_error,
    read_config_section,
    settings_from_section,
    unknown_environment_variables,
)


def fail(command: str, message: str, code: int = 2) -> typer.Exit:
    """Print `inferstack <command>: message` in red on stderr and return the Exit to raise."""
    typer.secho(f"inferstack {command}: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=code)


def require_extra(command: str, extra: str) -> None:
    """Stop with `inferstack <command>: needs the '<extra>' extra: pip install ...` when it is not installed."""
    from inferstack.core.extras import MissingExtraError, ensure_extra

    try:
        ensure_extra(extra)
    except MissingExtraError as exc:
        raise fail(command, exc.message, code=1) from None


def settings_from_cli(
    cls: type[S],
    *,
    command: str,
    section: str,
    config: Path | None,
    overrides: dict[str, Any],
    section_data: dict[str, Any] | None = None,
) -> S:
    """Load `cls` from the `section` of `config` (or `section_data` when given) + env + non-None `overrides`.

    Validation errors exit with code 2 and name the offending field as `section.field`; an `INFERSTACK_*`
    variable with this section's prefix that no field reads is reported (with a did-you-mean) on stderr.
    """
    warn_unknown_environment(command, cls)
    try:
        data = section_data if section_data is not None else read_config_section(config, section)
        return settings_from_section(cls, data, overrides)
    except ValidationError as exc:
        raise fail(command, describe_validation_error(section, exc, cls)) from None
    except InferstackError as exc:
        raise fail(command, exc.message) from None


def warn_unknown_environment(command: str, cls: type[S]) -> None:
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    if not prefix:
        return
    own = {name: value for name, value in os.environ.items() if name.upper().startswith(prefix)}
    for message in unknown_environment_variables(own, [cls]):
        typer.secho(f"inferstack {command}: warning: {message}", fg=typer.colors.YELLOW, err=True)

"""Settings conventions: one YAML file (a section per service) plus environment, CLI flags on top.

Precedence, highest first: explicit overrides (CLI flags) > environment (`INFERSTACK_<SECTION>_*`)
> the YAML section > declared defaults. Settings are built once at the edge and passed down.
"""

from __future__ import annotations

from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource

from inferstack.core.errors import InvalidRequestError

_yaml_section: ContextVar[dict[str, Any]] = ContextVar("inferstack_yaml_section", default={})  # noqa: B039


class LayeredSettings(BaseSettings):
    """Base for every service's settings; see the module docstring for precedence."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_source = InitSettingsSource(settings_cls, init_kwargs=_yaml_section.get())
        return (init_settings, env_settings, yaml_source, file_secret_settings)


S = TypeVar("S", bound=LayeredSettings)


class ConfigFileError(InvalidRequestError):
    """The stack config file is missing, unreadable or malformed."""


def read_config_document(config_file: Path | None) -> dict[str, Any]:
    """The whole YAML file as a mapping ({} without a file); unreadable or malformed files raise ConfigFileError."""
    if config_file is None:
        return {}
    try:
        data = yaml.safe_load(config_file.read_text()) or {}
    except OSError as exc:
        raise ConfigFileError(f"cannot read config file {config_file}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigFileError(f"config file {config_file} is not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigFileError(f"config file {config_file} must hold a mapping of sections")
    return data


def read_config_section(config_file: Path | None, section: str) -> dict[str, Any]:
    value = read_config_document(config_file).get(section) or {}
    if not isinstance(value, dict):
        raise ConfigFileError(f"section '{section}' of {config_file} must be a mapping")
    return value


def load_settings(cls: type[S], *, config_file: Path | None, section: str, overrides: dict[str, Any]) -> S:
    return settings_from_section(cls, read_config_section(config_file, section), overrides)


def settings_from_section(cls: type[S], section_data: dict[str, Any], overrides: dict[str, Any]) -> S:
    """Build `cls` from an already-read YAML section (lowest precedence), env, then non-None `overrides`."""
    token = _yaml_section.set(section_data)
    try:
        return cls(**{k: v for k, v in overrides.items() if v is not None})
    finally:
        _yaml_section.reset(token)

"""Settings conventions: one YAML file (a section per service) plus environment, CLI flags on top.

Precedence, highest first: explicit overrides (CLI flags) > environment (`INFERSTACK_<SECTION>_*`)
> the YAML section > declared defaults. Settings are built once at the edge and passed down.
"""

from __future__ import annotations

import difflib
import re
import types
import typing
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsError

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
    """Build `cls` from an already-read YAML section (lowest precedence), env, then non-None `overrides`.

    An environment value that cannot be parsed (a list or mapping field must be JSON) raises ConfigFileError
    naming the variable; invalid values raise pydantic's ValidationError (see `describe_validation_error`).
    """
    token = _yaml_section.set(section_data)
    try:
        return cls(**{k: v for k, v in overrides.items() if v is not None})
    except SettingsError as exc:
        raise ConfigFileError(_describe_env_error(cls, exc)) from None
    finally:
        _yaml_section.reset(token)


def _describe_env_error(cls: type[BaseSettings], exc: SettingsError) -> str:
    match = re.search(r'field "([^"]+)"', str(exc))
    field = match.group(1) if match else "?"
    variable = f"{cls.model_config.get('env_prefix', '')}{field}".upper()
    return (
        f"environment variable {variable} (or {variable}__…) cannot be parsed: list and mapping values are "
        """written as JSON, e.g. '["/data/docs"]' or '{"key": "value"}'"""
    )


# --- Error messages a newcomer can act on ------------------------------------------------------------------

_SEQUENCE_ERRORS = {"list_type", "tuple_type", "set_type", "frozen_set_type", "iterable_type", "sequence_type"}


def describe_validation_error(section: str, exc: ValidationError, cls: type[BaseModel] | None = None) -> str:
    """`invalid configuration: section.field: message; …` with a hint for a string given where a list is
    expected and a did-you-mean for an unknown key (when `cls`, the section's model, is given)."""
    problems = []
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        text = f"{section}.{'.'.join(loc)}: {error['msg']}"
        if error["type"] in _SEQUENCE_ERRORS and isinstance(error.get("input"), str):
            text += f" (got the string {error['input']!r}; write a list, e.g. [{error['input']}])"
        elif error["type"] == "extra_forbidden" and cls is not None:
            suggestion = _closest(loc[-1], field_names_at(cls, loc[:-1]))
            if suggestion:
                text += f" — did you mean '{suggestion}'?"
        problems.append(text)
    return "invalid configuration: " + "; ".join(problems)


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    matches = difflib.get_close_matches(word.lower(), [c.lower() for c in candidates], n=1, cutoff=0.6)
    return matches[0] if matches else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """` — did you mean 'x'?` for the closest candidate, or '' when none is close."""
    suggestion = _closest(word, candidates)
    return f" — did you mean '{suggestion}'?" if suggestion else ""


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside `annotation` (`Model`, `Model | None`), else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def field_names_at(cls: type[BaseModel], path: Iterable[str]) -> list[str]:
    """The field names of the model reached by following `path` (field names) from `cls`; [] if none."""
    model: type[BaseModel] | None = cls
    for name in path:
        field = model.model_fields.get(name) if model is not None else None
        model = _model_of(field.annotation) if field is not None else None
        if model is None:
            return []
    return list(model.model_fields) if model is not None else []


def is_sequence_annotation(annotation: Any) -> bool:
    """True for list/tuple/set/Sequence annotations (also inside `X | None`)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        return any(is_sequence_annotation(arg) for arg in typing.get_args(annotation))
    return origin in (list, tuple, set, frozenset) or (
        origin is not None and getattr(origin, "__name__", "") in {"Sequence", "MutableSequence", "Set", "Iterable"}
    )


# --- Environment variables ------------------------------------------------------------------------------------


def environment_names(cls: type[BaseSettings]) -> tuple[set[str], set[str]]:
    """(exact names, prefixes) of the `INFERSTACK_*` variables `cls` reads: one per field, and for nested
    models one per sub-field (`PREFIX_FIELD__SUB`); a mapping field accepts any `PREFIX_FIELD__KEY`."""
    prefix = str(cls.model_config.get("env_prefix", "")).upper()
    nested = cls.model_config.get("env_nested_delimiter")
    exact: set[str] = set()
    open_prefixes: set[str] = set()

    def walk(model: type[BaseModel], stem: str) -> None:
        for name, field in model.model_fields.items():
            if field.validation_alias is not None:
                continue  # read under its alias, not the prefix
            variable = f"{stem}{name.upper()}"
            exact.add(variable)
            if not nested:
                continue
            sub_model = _model_of(field.annotation)
            if sub_model is not None:
                walk(sub_model, f"{variable}{nested}")
            elif typing.get_origin(field.annotation) is dict:
                open_prefixes.add(f"{variable}{nested}")

    walk(cls, prefix)
    return exact, open_prefixes


def unknown_environment_variables(
    environ: Mapping[str, str], classes: Iterable[type[BaseSettings]], *, also_known: Iterable[str] = ()
) -> list[str]:
    """One message per `INFERSTACK_*` variable no settings class reads, with a did-you-mean."""
    exact: set[str] = {name.upper() for name in also_known}
    prefixes: set[str] = set()
    for cls in classes:
        names, open_prefixes = environment_names(cls)
        exact |= names
        prefixes |= open_prefixes
    messages = []
    for variable in sorted(environ):
        upper = variable.upper()
        if not upper.startswith("INFERSTACK_") or upper in exact or any(upper.startswith(p) for p in prefixes):
            continue
        suggestion = difflib.get_close_matches(upper, sorted(exact), n=1, cutoff=0.75)
        hint = f" — did you mean {suggestion[0]}?" if suggestion else ""
        messages.append(f"unknown environment variable {variable}{hint}")
    return messages

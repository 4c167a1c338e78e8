"""Every list-typed setting refuses a string (never splits it into characters), in YAML, in the stack wiring
and in the environment; unknown keys and variables get a did-you-mean."""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import BaseModel, ValidationError

from inferstack.core.settings import (
    ConfigFileError,
    LayeredSettings,
    describe_validation_error,
    field_names_at,
    is_sequence_annotation,
    settings_from_section,
    unknown_environment_variables,
)
from inferstack.stack.config_file import StackConfigError, load_stack_config, section_classes, unknown_environment

SETTINGS_MODULES = (
    "inferstack.stack.settings",
    "inferstack.serving.settings",
    "inferstack.gateway.settings",
    "inferstack.agents.settings",
    "inferstack.retrieval.settings",
    "inferstack.mcp_servers.settings",
    "inferstack.bench.settings",
)
SEQUENCE_ERRORS = {"list_type", "tuple_type", "set_type", "frozen_set_type", "iterable_type", "sequence_type"}
SNEAKY = "/tmp/mydocs"
# Lists where one string deliberately means a one-element list (never characters): a model's served names.
WRAPS_ONE_STRING = {("serve", "embedding_served_model_name")}


def _models() -> list[type[BaseModel]]:
    found: dict[str, type[BaseModel]] = {}
    for module_name in SETTINGS_MODULES:
        module = importlib.import_module(module_name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseModel) and value.__module__ == module_name:
                found[f"{module_name}.{value.__name__}"] = value
    return list(found.values())


def _sequence_fields() -> list[tuple[type[BaseModel], str]]:
    return [(m, name) for m in _models() for name, f in m.model_fields.items() if is_sequence_annotation(f.annotation)]


def test_the_walk_finds_the_list_fields_that_matter() -> None:
    names = {f"{model.__name__}.{field}" for model, field in _sequence_fields()}
    assert {"AgentSettings.ingest_roots", "AgentSettings.stop", "GatewaySettings.model_list"} <= names
    assert {"VllmSettings.extra_args", "LoadPlan.levels", "DeploymentConfig.guardrails"} <= names


@pytest.mark.parametrize(("model", "field"), _sequence_fields(), ids=lambda v: getattr(v, "__name__", v))
def test_every_list_field_refuses_a_string(model: type[BaseModel], field: str) -> None:
    try:
        if issubclass(model, LayeredSettings):
            built: Any = settings_from_section(model, {field: SNEAKY}, {})
        else:
            built = model.model_validate({field: SNEAKY})
    except ValidationError as exc:
        errors = [e for e in exc.errors() if e["loc"] == (field,)]
        assert errors and errors[0]["type"] in SEQUENCE_ERRORS, exc.errors()
        assert "write a list" in describe_validation_error("x", exc)
        return
    value = getattr(built, field)
    assert list(value) == [SNEAKY], f"{model.__name__}.{field} turned a string into {value!r}"


def _stack_paths(cls: type[BaseModel], stem: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, field in cls.model_fields.items():
        if field.validation_alias is not None:
            continue
        if is_sequence_annotation(field.annotation):
            yield (*stem, name)
        elif field_names_at(cls, [name]):
            nested = typing.get_args(field.annotation) or (field.annotation,)
            model = next(a for a in nested if isinstance(a, type) and issubclass(a, BaseModel))
            yield from _stack_paths(model, (*stem, name))


def _stack_cases() -> list[tuple[str, tuple[str, ...]]]:
    return [(section, path) for section, cls in section_classes().items() for path in _stack_paths(cls)]


@pytest.mark.parametrize(("section", "path"), _stack_cases(), ids=lambda v: ".".join(v) if isinstance(v, tuple) else v)
def test_the_stack_config_refuses_a_string_for_every_list(tmp_path: Path, section: str, path: tuple[str, ...]) -> None:
    """Through `up`'s own loader, which also rewrites some lists (agent.ingest_roots) before validation."""
    leaf: Any = SNEAKY
    for key in reversed(path):
        leaf = {key: leaf}
    config = tmp_path / "inferstack.yaml"
    config.write_text(yaml.safe_dump({section: leaf}))
    if (section, ".".join(path)) in WRAPS_ONE_STRING:
        value: Any = load_stack_config(config, overrides={"data_dir": tmp_path / "d"}, environ={}).validated[section]
        for key in path:
            value = getattr(value, key)
        assert list(value) == [SNEAKY]
        return
    with pytest.raises(StackConfigError) as raised:
        load_stack_config(config, overrides={"data_dir": tmp_path / "d"}, environ={})
    assert f"{section}.{'.'.join(path)}: Input should be a valid" in raised.value.message
    assert "write a list" in raised.value.message


def test_ingest_roots_string_is_never_split_into_characters(tmp_path: Path) -> None:
    config = tmp_path / "inferstack.yaml"
    config.write_text("agent: {ingest_roots: /tmp/mydocs}\n")
    with pytest.raises(StackConfigError, match=r"agent\.ingest_roots: Input should be a valid list"):
        load_stack_config(config, overrides={"data_dir": tmp_path / "d"}, environ={})
    config.write_text("agent: {ingest_roots: [/tmp/mydocs]}\n")
    loaded = load_stack_config(config, overrides={"data_dir": tmp_path / "d"}, environ={})
    roots = [str(r) for r in loaded.validated["agent"].ingest_roots]  # type: ignore[attr-defined]
    assert roots[0] == "/tmp/mydocs" and "/" not in roots


def test_gateway_fallbacks_wrap_a_single_model_instead_of_splitting_it(tmp_path: Path) -> None:
    """LiteLLM's `fallbacks` shorthand: a single model name means a one-element list, in both forms."""
    from inferstack.gateway.config_file import gateway_section

    for fallbacks in ({"m": "backup"}, [{"m": "backup"}]):
        document = {"model_list": [{"model_name": "m", "litellm_params": {"model": "x", "api_base": "http://h/v1"}}]}
        document["router_settings"] = {"fallbacks": fallbacks}
        section = gateway_section(document, {}).section
        assert section["router"]["fallbacks"] == {"m": ["backup"]}


@pytest.mark.parametrize("section", sorted(section_classes()))
def test_a_list_in_the_environment_must_be_json(monkeypatch: pytest.MonkeyPatch, section: str) -> None:
    cls = section_classes()[section]
    fields = [name for name, f in cls.model_fields.items() if is_sequence_annotation(f.annotation)]
    for field in fields:
        variable = f"{cls.model_config.get('env_prefix')}{field}".upper()
        monkeypatch.setenv(variable, SNEAKY)
        with pytest.raises(ConfigFileError, match=f"environment variable {variable} .*cannot be parsed"):
            settings_from_section(cls, {}, {})
        monkeypatch.setenv(variable, f'"{SNEAKY}"')  # valid JSON, but a string
        if (section, field) in WRAPS_ONE_STRING:
            assert getattr(settings_from_section(cls, {}, {}), field) == [SNEAKY]
        else:
            with pytest.raises(ValidationError):
                settings_from_section(cls, {}, {})
        monkeypatch.delenv(variable)


def test_unknown_keys_and_variables_get_a_did_you_mean(tmp_path: Path) -> None:
    config = tmp_path / "inferstack.yaml"
    config.write_text("agnet: {}\n")
    with pytest.raises(StackConfigError, match="did you mean 'agent'"):
        load_stack_config(config, overrides={"data_dir": tmp_path / "d"}, environ={})
    config.write_text("agent: {ingest_root: [/tmp]}\nserve: {paralel: 2}\n")
    with pytest.raises(StackConfigError) as raised:
        load_stack_config(config, overrides={"data_dir": tmp_path / "d"}, environ={})
    assert "agent.ingest_root: Extra inputs are not permitted — did you mean 'ingest_roots'?" in raised.value.message
    assert "serve.paralel: Extra inputs are not permitted — did you mean 'parallel'?" in raised.value.message
    environ = {
        "INFERSTACK_SERVE_PARALEL": "8",
        "INFERSTACK_SERVE_PARALLEL": "8",
        "INFERSTACK_STACK_PORTS__GATEWAY": "4100",
        "INFERSTACK_MCP_WEB_SEARCH__TAVILY_API_KEY": "k",
        "INFERSTACK_GATEWAY_ROUTER__FALLBACKS__M": '["n"]',
        "INFERSTACK_API_KEY": "k",
        "PATH": "/bin",
    }
    assert unknown_environment(environ) == [
        "unknown environment variable INFERSTACK_SERVE_PARALEL — did you mean INFERSTACK_SERVE_PARALLEL?"
    ]
    assert unknown_environment_variables({"INFERSTACK_ZZZ": "1"}, []) == ["unknown environment variable INFERSTACK_ZZZ"]


def test_every_variable_inferstack_itself_reads_or_sets_is_known() -> None:
    """The strict check must never refuse a variable the CLI reads (`envvar=`) or `up` gives its children."""
    import typer.main

    from inferstack.cli.main import app

    def commands(command: Any) -> Iterator[Any]:
        yield command
        for sub in getattr(command, "commands", {}).values():
            yield from commands(sub)

    cli_envvars = {
        p.envvar for c in commands(typer.main.get_command(app)) for p in c.params if isinstance(p.envvar, str)
    }
    children = {
        "INFERSTACK_GATEWAY_MASTER_KEY",
        "INFERSTACK_AGENT_API_KEY",
        "INFERSTACK_AGENT_OWNER_KEY",
        "INFERSTACK_KNOWLEDGE_EMBEDDING_API_KEY",
    }
    names = {name for name in cli_envvars | children if name.startswith("INFERSTACK_")}
    assert "INFERSTACK_BENCH_API_KEY" in names
    assert unknown_environment(dict.fromkeys(names, "x")) == []

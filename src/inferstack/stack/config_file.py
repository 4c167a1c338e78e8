"""The stack config file: read inferstack.yaml, wire the services to each other, validate every section.

The effective config is the user's file with the wiring `up` owns filled in (ports, URLs between services,
directories under the data dir, the gateway's default model list). Every child gets that one file.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from inferstack.core.errors import InvalidRequestError
from inferstack.core.settings import (
    LayeredSettings,
    describe_validation_error,
    did_you_mean,
    read_config_document,
    settings_from_section,
    unknown_environment_variables,
)
from inferstack.stack.data_dir import StackFiles
from inferstack.stack.settings import StackSettings

SECTIONS = ("stack", "serve", "gateway", "agent", "knowledge", "mcp", "observability", "weather", "idp")
DEFAULT_CONFIG_NAME = "inferstack.yaml"
DEFAULT_CHAT_MODEL = "smollm2-135m-instruct"
DEFAULT_EMBEDDING_MODEL = "all-minilm-l6-v2"
# Nominal USD per token for the bundled models, so key budgets work out of the box (docs/gateway.md, Budgets):
# chat $0.10 / $0.20 per million input / output tokens, embeddings $0.02 per million.
DEFAULT_CHAT_PRICES = {"input_cost_per_token": 0.10e-6, "output_cost_per_token": 0.20e-6}
DEFAULT_EMBEDDING_PRICES = {"input_cost_per_token": 0.02e-6}


class StackConfigError(InvalidRequestError):
    """The stack config cannot be used; the message names the section and field."""


@dataclass(frozen=True)
class StackConfig:
    path: Path | None
    stack: StackSettings
    effective: dict[str, dict[str, Any]]
    validated: dict[str, BaseModel]

    def url(self, service: str, path: str = "") -> str:
        return f"http://{_client_host(self.stack.host)}:{getattr(self.stack.ports, service)}{path}"

    @property
    def knowledge_dir(self) -> Path:
        if self.stack.knowledge is not None:
            return self.stack.knowledge.resolve()
        from inferstack.sample_knowledge import documents_dir

        return documents_dir()


def _client_host(host: str) -> str:
    return "127.0.0.1" if host in {"0.0.0.0", "::", ""} else host


def default_config_path(config: Path | None) -> Path | None:
    """`--config` when given, else ./inferstack.yaml when it exists."""
    if config is not None:
        return config
    candidate = Path(DEFAULT_CONFIG_NAME)
    return candidate if candidate.exists() else None


def read_document(path: Path | None) -> dict[str, Any]:
    """The stack file, with every section known and a mapping."""
    data = read_config_document(path)
    unknown = sorted(set(data) - set(SECTIONS))
    if unknown:
        hints = "".join(did_you_mean(str(name), SECTIONS) for name in unknown)
        raise StackConfigError(f"{path}: unknown sections {unknown}{hints}; known: {list(SECTIONS)}")
    for section, value in data.items():
        if value is not None and not isinstance(value, dict):
            raise StackConfigError(f"{path}: section '{section}' must be a mapping")
    return data


def load_stack_config(
    path: Path | None, *, overrides: Mapping[str, Any], environ: Mapping[str, str] | None = None
) -> StackConfig:
    """Read, wire and validate; `overrides` are `stack` fields from the CLI (data_dir, knowledge)."""
    environ = os.environ if environ is None else environ
    document = read_document(path)
    stack = _validated("stack", StackSettings, document.get("stack") or {}, dict(overrides))
    assert isinstance(stack, StackSettings)
    stack = stack.model_copy(update={"data_dir": stack.data_dir.resolve()})
    effective = wire(document, stack)
    validated = validate_sections(effective, environ)
    validated["stack"] = stack
    return StackConfig(path=path, stack=stack, effective=effective, validated=validated)


def wire(document: Mapping[str, Any], stack: StackSettings) -> dict[str, dict[str, Any]]:
    """The effective sections: the user's values, with the wiring `up` owns filled in or enforced."""
    sections = {name: copy.deepcopy(document.get(name) or {}) for name in SECTIONS if name != "stack"}
    host, ports, data = stack.host, stack.ports, stack.data_dir
    local = _client_host(host)
    gateway_url = f"http://{local}:{ports.gateway}/v1"

    serve = sections["serve"]
    serve.update(host=host, port=ports.serve)
    chat_model = serve.get("served_model_name") or DEFAULT_CHAT_MODEL
    embedding_model = sections["knowledge"].get("embedding_model") or DEFAULT_EMBEDDING_MODEL

    gateway = sections["gateway"]
    gateway.update(host=host, port=ports.gateway)
    gateway.setdefault("data_dir", str(data / "gateway"))
    if not gateway.get("model_list"):
        upstream = f"http://{local}:{ports.serve}/v1"
        gateway["model_list"] = [
            {"model_name": chat_model, "model": chat_model, "api_base": upstream, **DEFAULT_CHAT_PRICES},
            {
                "model_name": embedding_model,
                "model": embedding_model,
                "api_base": upstream,
                **DEFAULT_EMBEDDING_PRICES,
                "mode": "embedding",
            },
        ]
    # A model server that `up` restarts is probed back to health within 2 s, and a deployment that failed
    # while it was down cools down for 5 s (the gateway's own default, 30 s, suits a fleet, not one process).
    router = _subsection(gateway, "router", "gateway")
    router.setdefault("health_check_interval_s", 2)
    router.setdefault("cooldown_s", 5)

    mcp = sections["mcp"]
    web = _subsection(mcp, "web_search", "mcp")
    web.update(host=host, port=ports.web_search)
    files = _subsection(mcp, "filesystem", "mcp")
    files.update(host=host, port=ports.filesystem)
    files.setdefault("root", str(data / "output"))
    _subsection(mcp, "weather", "mcp").update(host=host, port=ports.weather)
    weather = sections["weather"]
    weather.update(host=host, port=ports.weather_chat)
    weather.setdefault("model_base_url", gateway_url)
    weather.setdefault("model", chat_model)
    idp = sections["idp"]
    idp.update(host=host, port=ports.idp)
    idp.setdefault("model_base_url", gateway_url)
    idp.setdefault("model", chat_model)
    idp.setdefault("database", str(data / "idp" / "idp.sqlite3"))

    knowledge = sections["knowledge"]
    knowledge.setdefault("data_dir", str(data / "knowledge"))
    knowledge.setdefault("embedding_base_url", gateway_url)
    knowledge.setdefault("embedding_model", embedding_model)

    agent = sections["agent"]
    agent.update(host=host, port=ports.agent)
    agent.setdefault("model_base_url", gateway_url)
    agent.setdefault("model", chat_model)
    agent["web_search_url"] = f"http://{local}:{ports.web_search}/mcp" if stack.web_search else ""
    agent["filesystem_url"] = f"http://{local}:{ports.filesystem}/mcp" if stack.filesystem else ""
    agent["weather_url"] = f"http://{local}:{ports.weather}/mcp" if stack.weather else ""
    agent.setdefault("output_dir", files["root"])
    # POST /ingest may always read the knowledge dir; by default also the directory `up` started from.
    from inferstack.sample_knowledge import documents_dir

    knowledge_dir = str(stack.knowledge.resolve() if stack.knowledge is not None else documents_dir())
    roots = [str(r) for r in _list_field(agent, "ingest_roots", "agent") or [Path.cwd().resolve()]]
    agent["ingest_roots"] = [*roots, knowledge_dir] if knowledge_dir not in roots else roots
    agent.setdefault("embed_path", knowledge_dir)  # POST /embed, the reference app's call, re-ingests it
    console = _subsection(gateway, "console", "gateway")  # the web console's Ask and Knowledge pages
    console.setdefault("agent_url", f"http://{local}:{ports.agent}")
    if agent.get("server_api_key"):
        console.setdefault("agent_api_key", agent["server_api_key"])

    # Every service records its spans in one local trace store (`inferstack trace last`) unless another
    # exporter is chosen (docs/observability.md).
    observability = sections["observability"]
    observability.setdefault("exporter", "store")
    _subsection(observability, "store", "observability").setdefault("path", str(data / "traces.db"))
    return sections


def _subsection(section: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    """`section[key]`, created empty when absent; anything but a mapping is an error naming the field."""
    value = section.get(key)
    if value is None:
        value = section[key] = {}
    if not isinstance(value, dict):
        raise StackConfigError(f"invalid configuration: {where}.{key}: must be a mapping, got {value!r}")
    return value


def _list_field(section: Mapping[str, Any], key: str, where: str) -> list[Any]:
    """A list-typed value read before validation: a string is refused (never split into characters)."""
    value = section.get(key)
    if value is None:
        return []
    if not isinstance(value, list | tuple):
        raise StackConfigError(
            f"invalid configuration: {where}.{key}: Input should be a valid list "
            f"(got {value!r}; write a list, e.g. [{value}])"
        )
    return list(value)


def validate_sections(effective: Mapping[str, dict[str, Any]], environ: Mapping[str, str]) -> dict[str, BaseModel]:
    """Build each service's settings from its effective section (+ env), as the child will.

    Every section is checked before failing, so one error message lists every problem."""
    from inferstack.gateway.config_file import gateway_section

    classes = section_classes()
    validated: dict[str, BaseModel] = {}
    problems: list[str] = []
    for section in ("serve", "gateway", "agent", "knowledge", "mcp", "observability", "weather", "idp"):
        try:
            data = effective[section]
            if section == "gateway":
                data = gateway_section({"gateway": data}, environ).section
            validated[section] = _validated(section, classes[section], data, {})
        except InvalidRequestError as exc:
            problems.append(exc.message.removeprefix(_INVALID))
    if problems:
        raise StackConfigError(_INVALID + "; ".join(problems))
    return validated


_INVALID = "invalid configuration: "


def _validated(section: str, cls: Any, data: dict[str, Any], overrides: dict[str, Any]) -> BaseModel:
    try:
        settings: BaseModel = settings_from_section(cls, data, overrides)
    except ValidationError as exc:
        raise StackConfigError(describe_validation_error(section, exc, cls)) from None
    return settings


def section_classes() -> dict[str, type[LayeredSettings]]:
    """The settings class of every section, for checks that walk them all."""
    from inferstack.agents.settings import AgentSettings
    from inferstack.agents.weather_chat.settings import WeatherChatSettings
    from inferstack.gateway.settings import GatewaySettings
    from inferstack.idp.settings import IdpSettings
    from inferstack.mcp_servers.settings import McpSettings
    from inferstack.observability.tracing_settings import TracingSettings
    from inferstack.retrieval.settings import KnowledgeSettings
    from inferstack.serving.settings import ServeSettings

    return {
        "stack": StackSettings,
        "serve": ServeSettings,
        "gateway": GatewaySettings,
        "agent": AgentSettings,
        "knowledge": KnowledgeSettings,
        "mcp": McpSettings,
        "observability": TracingSettings,
        "weather": WeatherChatSettings,
        "idp": IdpSettings,
    }


# Environment variables the CLI itself reads (typer `envvar=`), besides the settings classes' own.
CLI_ENVIRONMENT = ("INFERSTACK_API_KEY", "INFERSTACK_BENCH_API_KEY", "INFERSTACK_BENCH_COMPARE_API_KEY")


def unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """A message (with a did-you-mean) for each `INFERSTACK_*` variable no service reads."""
    return unknown_environment_variables(environ, section_classes().values(), also_known=CLI_ENVIRONMENT)


def effective_document(config: StackConfig) -> dict[str, Any]:
    """What children read: the effective sections plus the stack section, as plain YAML data."""
    stack = config.stack.model_dump(mode="json")
    return {"stack": stack, **config.effective}


def masked_document(config: StackConfig) -> dict[str, Any]:
    """Every section as its service sees it, secrets masked (SecretStr dumps as '**********').

    Under `up` the gateway's master key comes from <data_dir>/master.key (passed in its environment), so
    that is shown, masked, instead of the section's empty value."""
    document = {name: config.validated[name].model_dump(mode="json") for name in SECTIONS}
    gateway = document["gateway"]
    if gateway.get("master_key") is None:
        key_file = StackFiles(config.stack.data_dir).master_key
        gateway["master_key"] = (
            f"********** (from {key_file})"
            if key_file.exists()
            else f"(none yet: `inferstack up` generates it into {key_file})"
        )
    return document


def write_effective(config: StackConfig, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    tmp = destination.with_suffix(".tmp")
    tmp.write_text(
        "# Written by `inferstack up`: the stack config with service wiring filled in. Do not edit; edit "
        f"{config.path or 'inferstack.yaml'} instead.\n" + yaml.safe_dump(effective_document(config), sort_keys=False)
    )
    tmp.chmod(0o600)
    tmp.replace(destination)
    return destination

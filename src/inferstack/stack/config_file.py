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
from inferstack.core.settings import read_config_document, settings_from_section
from inferstack.stack.settings import StackSettings

SECTIONS = ("stack", "serve", "gateway", "agent", "knowledge", "mcp")
DEFAULT_CONFIG_NAME = "inferstack.yaml"
DEFAULT_CHAT_MODEL = "smollm2-135m-instruct"
DEFAULT_EMBEDDING_MODEL = "all-minilm-l6-v2"


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
        raise StackConfigError(f"{path}: unknown sections {unknown}; known: {list(SECTIONS)}")
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
            {"model_name": chat_model, "model": chat_model, "api_base": upstream},
            {"model_name": embedding_model, "model": embedding_model, "api_base": upstream},
        ]
    gateway.setdefault("router", {}).setdefault("health_check_interval_s", 5)

    mcp = sections["mcp"]
    web = mcp.setdefault("web_search", {})
    web.update(host=host, port=ports.web_search)
    files = mcp.setdefault("filesystem", {})
    files.update(host=host, port=ports.filesystem)
    files.setdefault("root", str(data / "output"))

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
    agent.setdefault("output_dir", files["root"])
    # POST /ingest may always read the knowledge dir; by default also the directory `up` started from.
    from inferstack.sample_knowledge import documents_dir

    knowledge_dir = str(stack.knowledge.resolve() if stack.knowledge is not None else documents_dir())
    roots = [str(r) for r in agent.get("ingest_roots") or [Path.cwd().resolve()]]
    agent["ingest_roots"] = [*roots, knowledge_dir] if knowledge_dir not in roots else roots
    return sections


def validate_sections(effective: Mapping[str, dict[str, Any]], environ: Mapping[str, str]) -> dict[str, BaseModel]:
    """Build each service's settings from its effective section (+ env), as the child will."""
    from inferstack.agents.settings import AgentSettings
    from inferstack.gateway.config_file import gateway_section
    from inferstack.gateway.settings import GatewaySettings
    from inferstack.mcp_servers.settings import McpSettings
    from inferstack.retrieval.settings import KnowledgeSettings
    from inferstack.serving.settings import ServeSettings

    validated: dict[str, BaseModel] = {
        "serve": _validated("serve", ServeSettings, effective["serve"], {}),
        "agent": _validated("agent", AgentSettings, effective["agent"], {}),
        "knowledge": _validated("knowledge", KnowledgeSettings, effective["knowledge"], {}),
        "mcp": _validated("mcp", McpSettings, effective["mcp"], {}),
    }
    try:
        translated = gateway_section({"gateway": effective["gateway"]}, environ)
    except InvalidRequestError as exc:
        raise StackConfigError(exc.message) from None
    validated["gateway"] = _validated("gateway", GatewaySettings, translated.section, {})
    return validated


def _validated(section: str, cls: Any, data: dict[str, Any], overrides: dict[str, Any]) -> BaseModel:
    try:
        settings: BaseModel = settings_from_section(cls, data, overrides)
    except ValidationError as exc:
        problems = "; ".join(f"{section}.{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise StackConfigError(f"invalid configuration: {problems}") from None
    return settings


def effective_document(config: StackConfig) -> dict[str, Any]:
    """What children read: the effective sections plus the stack section, as plain YAML data."""
    stack = config.stack.model_dump(mode="json")
    return {"stack": stack, **config.effective}


def masked_document(config: StackConfig) -> dict[str, Any]:
    """Every section as its service sees it, secrets masked (SecretStr dumps as '**********')."""
    return {name: config.validated[name].model_dump(mode="json") for name in SECTIONS}


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

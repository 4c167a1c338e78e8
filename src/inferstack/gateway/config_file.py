"""Read the gateway's section from a stack config or from a LiteLLM proxy config, unchanged.

A file with a `gateway:` section is the stack config. A file with a top-level `model_list` is read as a
LiteLLM proxy config: `model_list[].litellm_params` / `model_info`, `router_settings`, `litellm_settings`,
`general_settings` and `guardrails` are translated; every key we do not act on is reported, never silently
dropped. `os.environ/NAME` values are resolved from the environment passed in (the CLI passes os.environ).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferstack.core.errors import InvalidRequestError
from inferstack.core.settings import read_config_document, settings_from_section
from inferstack.gateway.settings import GatewaySettings

# Providers whose wire protocol is OpenAI's; the prefix is stripped from the upstream model id.
_OPENAI_COMPATIBLE = ("hosted_vllm/", "openai/", "vllm/", "litellm_proxy/", "openai_like/", "llamacpp/")
_DEFAULT_OPENAI_BASE = "https://api.openai.com/v1"
_ENV_PREFIX = "os.environ/"

_PARAMS = {
    "model": "model",
    "api_base": "api_base",
    "api_key": "api_key",
    "rpm": "rpm",
    "tpm": "tpm",
    "timeout": "timeout_s",
    "stream_timeout": "timeout_s",
    "max_parallel_requests": "max_parallel_requests",
    "weight": "weight",
    "input_cost_per_token": "input_cost_per_token",
    "output_cost_per_token": "output_cost_per_token",
}
_MODEL_INFO = {
    "id": "id",
    "input_cost_per_token": "input_cost_per_token",
    "output_cost_per_token": "output_cost_per_token",
}
_ROUTING_STRATEGIES = {
    "simple-shuffle": "simple-shuffle",
    "least-busy": "least-busy",
    "latency-based-routing": "latency-based-routing",
}
_PII_ENTITIES = {
    "EMAIL_ADDRESS": "email",
    "PHONE_NUMBER": "phone",
    "US_SSN": "ssn",
    "CREDIT_CARD": "credit_card",
    "IP_ADDRESS": "ipv4",
}


class GatewayConfigError(InvalidRequestError):
    """The gateway config cannot be used as written."""


@dataclass
class TranslatedConfig:
    section: dict[str, Any]
    ignored: list[str] = field(default_factory=list)
    source_format: str = "inferstack"


def resolve_env_refs(value: Any, environ: Mapping[str, str], path: str = "") -> Any:
    """Replace every `os.environ/NAME` string with the variable's value; a missing variable is an error."""
    if isinstance(value, str) and value.startswith(_ENV_PREFIX):
        name = value[len(_ENV_PREFIX) :]
        if name not in environ:
            raise GatewayConfigError(f"{path or 'config'}: environment variable {name} is not set")
        return environ[name]
    if isinstance(value, dict):
        return {k: resolve_env_refs(v, environ, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_env_refs(v, environ, f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def gateway_section(document: Mapping[str, Any], environ: Mapping[str, str]) -> TranslatedConfig:
    """The `gateway` settings section from a whole config document (stack or LiteLLM format)."""
    if "gateway" in document:
        section = document["gateway"] or {}
        if not isinstance(section, dict):
            raise GatewayConfigError("section 'gateway' must be a mapping")
        section = resolve_env_refs(section, environ, "gateway")
        if _is_litellm_model_list(section.get("model_list")):
            return _translate_litellm(section, "gateway")
        return TranslatedConfig(section=section)
    if "model_list" in document:
        return _translate_litellm(resolve_env_refs(dict(document), environ), "")
    return TranslatedConfig(section={})


def _is_litellm_model_list(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(e, dict) and "litellm_params" in e for e in value)


def _translate_litellm(doc: dict[str, Any], prefix: str) -> TranslatedConfig:
    out = TranslatedConfig(section={}, source_format="litellm")
    where = f"{prefix}." if prefix else ""
    native = {k: v for k, v in doc.items() if k not in _LITELLM_SECTIONS}
    for key, value in native.items():
        if key in {"environment_variables"}:
            out.ignored.append(f"{where}{key}")
        else:
            out.section[key] = value
    out.section["model_list"] = [
        _deployment(entry, f"{where}model_list[{i}]", out.ignored)
        for i, entry in enumerate(doc.get("model_list") or [])
    ]
    router: dict[str, Any] = {}
    _router_settings(doc.get("router_settings") or {}, router, f"{where}router_settings", out.ignored)
    _litellm_settings(doc.get("litellm_settings") or {}, router, out, f"{where}litellm_settings")
    if router:
        out.section["router"] = router
    _general_settings(doc.get("general_settings") or {}, out, f"{where}general_settings")
    if doc.get("guardrails"):
        out.section["guardrails"] = [
            _guardrail(g, f"{where}guardrails[{i}]", out.ignored) for i, g in enumerate(doc["guardrails"])
        ]
    return out


_LITELLM_SECTIONS = {"model_list", "router_settings", "litellm_settings", "general_settings", "guardrails"}


def _deployment(entry: Any, path: str, ignored: list[str]) -> dict[str, Any]:
    if not isinstance(entry, dict) or "model_name" not in entry:
        raise GatewayConfigError(f"{path}: each entry needs model_name and litellm_params")
    if "litellm_params" not in entry:
        return dict(entry)  # already in inferstack's native shape
    params = entry.get("litellm_params") or {}
    info = entry.get("model_info") or {}
    out: dict[str, Any] = {"model_name": entry["model_name"]}
    for key, value in params.items():
        if key in _PARAMS:
            out[_PARAMS[key]] = value
        else:
            ignored.append(f"{path}.litellm_params.{key}")
    for key, value in info.items():
        if key in _MODEL_INFO:
            out[_MODEL_INFO[key]] = value
        elif key == "guardrails":
            out["guardrails"] = value
        else:
            ignored.append(f"{path}.model_info.{key}")
    upstream = str(out.get("model", ""))
    for provider in _OPENAI_COMPATIBLE:
        if upstream.startswith(provider):
            out["model"] = upstream[len(provider) :]
            if provider == "openai/":
                out.setdefault("api_base", _DEFAULT_OPENAI_BASE)
            break
    else:
        if "/" in upstream and "api_base" not in out:
            provider = upstream.split("/", 1)[0]
            raise GatewayConfigError(
                f"{path}.litellm_params.model: provider '{provider}/' is not supported; inferstack routes to "
                f"OpenAI-compatible upstreams ({', '.join(p.rstrip('/') for p in _OPENAI_COMPATIBLE)})"
            )
    if "api_base" not in out:
        raise GatewayConfigError(f"{path}.litellm_params.api_base is required for model '{upstream}'")
    return out


def _router_settings(settings: dict[str, Any], router: dict[str, Any], path: str, ignored: list[str]) -> None:
    for key, value in settings.items():
        if key == "routing_strategy":
            if value not in _ROUTING_STRATEGIES:
                raise GatewayConfigError(
                    f"{path}.routing_strategy: '{value}' is not supported; use one of {sorted(_ROUTING_STRATEGIES)}"
                )
            router["policy"] = _ROUTING_STRATEGIES[value]
        elif key == "num_retries":
            router["num_retries"] = value
        elif key == "timeout":
            router["timeout_s"] = value
        elif key == "allowed_fails":
            router["allowed_fails"] = value
        elif key == "cooldown_time":
            router["cooldown_s"] = value
        elif key == "retry_after":
            router["retry_backoff_s"] = value
        elif key == "fallbacks":
            router["fallbacks"] = _fallbacks(value, f"{path}.fallbacks")
        else:
            ignored.append(f"{path}.{key}")


def _litellm_settings(settings: dict[str, Any], router: dict[str, Any], out: TranslatedConfig, path: str) -> None:
    for key, value in settings.items():
        if key == "num_retries":
            router["num_retries"] = value
        elif key == "request_timeout":
            router["timeout_s"] = value
        elif key == "fallbacks":
            router["fallbacks"] = _fallbacks(value, f"{path}.fallbacks")
        elif key == "cache":
            out.section.setdefault("cache", {})["enabled"] = bool(value)
        elif key == "cache_params":
            _cache_params(value or {}, out, f"{path}.cache_params")
        else:
            out.ignored.append(f"{path}.{key}")


def _cache_params(params: dict[str, Any], out: TranslatedConfig, path: str) -> None:
    cache = out.section.setdefault("cache", {})
    kind = params.get("type", "local")
    if kind in {"local", "in-memory"}:
        cache["backend"] = "memory"
    elif kind == "redis":
        cache["backend"] = "redis"
        if "url" in params or "redis_url" in params:
            cache["redis_url"] = params.get("url") or params["redis_url"]
        else:
            auth = f":{params['password']}@" if params.get("password") else ""
            cache["redis_url"] = f"redis://{auth}{params.get('host', '127.0.0.1')}:{params.get('port', 6379)}/0"
    else:
        raise GatewayConfigError(f"{path}.type: cache type '{kind}' is not supported; use local or redis")
    if "ttl" in params:
        cache["ttl_s"] = params["ttl"]
    if "namespace" in params:
        cache["namespace"] = params["namespace"]
    for key in params:
        if key not in {"type", "url", "redis_url", "host", "port", "password", "ttl", "namespace"}:
            out.ignored.append(f"{path}.{key}")


def _general_settings(settings: dict[str, Any], out: TranslatedConfig, path: str) -> None:
    for key, value in settings.items():
        if key == "master_key":
            out.section["master_key"] = value
        elif key == "database_url":
            out.section["database_url"] = value
        else:
            out.ignored.append(f"{path}.{key}")


def _fallbacks(value: Any, path: str) -> dict[str, list[str]]:
    """LiteLLM writes fallbacks as a list of one-key mappings: [{"model-a": ["model-b"]}]."""
    if isinstance(value, dict):
        return {str(k): list(v) if isinstance(v, list) else [v] for k, v in value.items()}  # never split a str
    if not isinstance(value, list):
        raise GatewayConfigError(f"{path}: expected a list of {{model: [fallback, ...]}}")
    merged: dict[str, list[str]] = {}
    for item in value:
        if not isinstance(item, dict):
            raise GatewayConfigError(f"{path}: expected a list of {{model: [fallback, ...]}}")
        for model, targets in item.items():
            merged.setdefault(str(model), []).extend(targets if isinstance(targets, list) else [targets])
    return merged


def _guardrail(entry: Any, path: str, ignored: list[str]) -> dict[str, Any]:
    if not isinstance(entry, dict) or "guardrail_name" not in entry:
        raise GatewayConfigError(f"{path}: each guardrail needs guardrail_name and litellm_params")
    params = entry.get("litellm_params") or {}
    kind = params.get("guardrail", "pii")
    if kind not in {"presidio", "pii"}:
        raise GatewayConfigError(f"{path}.litellm_params.guardrail: '{kind}' is not supported; use presidio (PII)")
    mode = params.get("mode", "pre_call")
    if mode not in {"pre_call", "post_call"}:
        raise GatewayConfigError(f"{path}.litellm_params.mode: '{mode}' is not supported; use pre_call or post_call")
    entities_config = params.get("pii_entities_config") or {}
    unknown = [e for e in entities_config if e not in _PII_ENTITIES]
    if unknown:
        raise GatewayConfigError(f"{path}: PII entities {unknown} are not detected; known: {sorted(_PII_ENTITIES)}")
    actions = {str(a).upper() for a in entities_config.values()}
    for key in params:
        if key not in {"guardrail", "mode", "pii_entities_config", "default_on"}:
            ignored.append(f"{path}.litellm_params.{key}")
    return {
        "name": entry["guardrail_name"],
        "kind": "pii",
        "mode": mode,
        "action": "block" if "BLOCK" in actions else "mask",
        "entities": [_PII_ENTITIES[e] for e in entities_config],
        "default_on": bool(params.get("default_on", False)),
    }


def load_gateway_settings(
    path: Path | None, overrides: dict[str, Any], environ: Mapping[str, str]
) -> tuple[GatewaySettings, TranslatedConfig]:
    """Settings from a stack or LiteLLM config file + env + CLI overrides (raises pydantic ValidationError)."""
    translated = gateway_section(read_config_document(path), environ)
    return settings_from_section(GatewaySettings, translated.section, overrides), translated

"""Read the gateway's section from a stack config or from a LiteLLM proxy config, unchanged.

A file with a `gateway:` section is the stack config. A file with a top-level `model_list` is read as a
LiteLLM proxy config: `model_list[].litellm_params` / `model_info`, `router_settings`, `litellm_settings`,
`general_settings` and `guardrails` are translated; every key we do not act on is reported, never silently
dropped, and every entry we cannot serve as LiteLLM would is refused by name. `os.environ/NAME` values are
resolved from the environment passed in (the CLI passes os.environ), lazily: only for the keys we use, so a
reference in an ignored key (`os.environ/LANGFUSE_*` under `success_callback` settings) may be unset.
LiteLLM's own deployment variables (`LITELLM_MASTER_KEY`, `DATABASE_URL`, `REDIS_*`) apply to LiteLLM configs
(see `litellm_env.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inferstack.core.errors import InvalidRequestError
from inferstack.core.settings import read_config_document, settings_from_section
from inferstack.gateway.litellm_env import apply_litellm_environment, litellm_environment_unused
from inferstack.gateway.settings import GatewaySettings

# Providers whose wire protocol is OpenAI's; the prefix is stripped from the upstream model id.
_OPENAI_COMPATIBLE = ("hosted_vllm/", "openai/", "vllm/", "litellm_proxy/", "openai_like/", "llamacpp/")
_DEFAULT_OPENAI_BASE = "https://api.openai.com/v1"
_ENV_PREFIX = "os.environ/"
# LiteLLM providers whose wire protocol is not OpenAI's: an `api_base` does not change that (LiteLLM would
# still speak the provider's protocol to it), so such entries are refused by name rather than sent OpenAI JSON.
_OTHER_PROTOCOLS = {
    "azure": "Azure OpenAI (deployment URLs, api-version, api-key header)",
    "azure_ai": "Azure AI inference",
    "azure_text": "Azure OpenAI (deployment URLs, api-version, api-key header)",
    "anthropic": "Anthropic's Messages API",
    "bedrock": "AWS Bedrock",
    "bedrock_converse": "AWS Bedrock",
    "sagemaker": "AWS SageMaker",
    "vertex_ai": "Google Vertex AI",
    "vertex_ai_beta": "Google Vertex AI",
    "gemini": "Google Gemini",
    "palm": "Google PaLM",
    "cohere": "Cohere",
    "cohere_chat": "Cohere",
    "huggingface": "Hugging Face inference",
    "ollama": "Ollama's native API",
    "ollama_chat": "Ollama's native API",
    "replicate": "Replicate",
    "watsonx": "IBM watsonx",
    "cloudflare": "Cloudflare Workers AI",
    "predibase": "Predibase",
    "voyage": "Voyage AI",
}
# Keys of a model_list entry itself; LiteLLM's router reads rpm/tpm here first, then litellm_params, then
# model_info.
_ENTRY_KEYS = {"model_name", "litellm_params", "model_info"}
_ENTRY_LIMITS = ("rpm", "tpm")

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
    "mode": "mode",
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
    notes: list[str] = field(default_factory=list)  # decisions worth a log line (open proxy, cache backend)


class _EnvRefs:
    """Resolves `os.environ/NAME` in the values the translation uses, and only those."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self.environ = environ

    def __call__(self, value: Any, path: str) -> Any:
        return resolve_env_refs(value, self.environ, path)


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
        if _is_litellm_model_list(section.get("model_list")):
            return _translate_litellm(section, "gateway", environ)
        return _native(resolve_env_refs(section, environ, "gateway"), environ)
    if "model_list" in document:
        translated = _translate_litellm(dict(document), "", environ)
        apply_litellm_environment(translated.section, environ, translated.notes)
        return translated
    return _native({}, environ)


def _native(section: dict[str, Any], environ: Mapping[str, str]) -> TranslatedConfig:
    out = TranslatedConfig(section=section)
    unused = litellm_environment_unused(environ)
    if unused:
        out.notes.append(
            f"{', '.join(unused)} set but not read: LiteLLM's variables apply to a LiteLLM config file; "
            "with an inferstack config use INFERSTACK_GATEWAY_MASTER_KEY, INFERSTACK_GATEWAY_DATABASE_URL and "
            "INFERSTACK_GATEWAY_CACHE__REDIS_URL"
        )
    return out


def _is_litellm_model_list(value: Any) -> bool:
    return isinstance(value, list) and any(isinstance(e, dict) and "litellm_params" in e for e in value)


def _translate_litellm(doc: dict[str, Any], prefix: str, environ: Mapping[str, str]) -> TranslatedConfig:
    out = TranslatedConfig(section={}, source_format="litellm")
    env = _EnvRefs(environ)
    where = f"{prefix}." if prefix else ""
    native = {k: v for k, v in doc.items() if k not in _LITELLM_SECTIONS}
    for key, value in native.items():
        if key in {"environment_variables"}:
            out.ignored.append(f"{where}{key}")
        else:
            out.section[key] = env(value, f"{where}{key}")
    out.section["model_list"] = [
        _deployment(entry, f"{where}model_list[{i}]", out.ignored, env)
        for i, entry in enumerate(doc.get("model_list") or [])
    ]
    router: dict[str, Any] = {}
    _router_settings(doc.get("router_settings") or {}, router, f"{where}router_settings", out.ignored, env)
    _litellm_settings(doc.get("litellm_settings") or {}, router, out, f"{where}litellm_settings", env)
    if router:
        out.section["router"] = router
    _general_settings(doc.get("general_settings") or {}, out, f"{where}general_settings", env)
    if doc.get("guardrails"):
        out.section["guardrails"] = [
            _guardrail(g, f"{where}guardrails[{i}]", out.ignored, env) for i, g in enumerate(doc["guardrails"])
        ]
    return out


_LITELLM_SECTIONS = {"model_list", "router_settings", "litellm_settings", "general_settings", "guardrails"}


def _deployment(entry: Any, path: str, ignored: list[str], env: _EnvRefs) -> dict[str, Any]:
    if not isinstance(entry, dict) or "model_name" not in entry:
        raise GatewayConfigError(f"{path}: each entry needs model_name and litellm_params")
    if "litellm_params" not in entry:
        return dict(env(entry, path))  # already in inferstack's native shape
    params = entry.get("litellm_params") or {}
    info = entry.get("model_info") or {}
    out: dict[str, Any] = {"model_name": env(entry["model_name"], f"{path}.model_name")}
    for key, value in entry.items():
        if key in _ENTRY_LIMITS:
            out[key] = env(value, f"{path}.{key}")
        elif key not in _ENTRY_KEYS:
            ignored.append(f"{path}.{key}")
    for key, value in params.items():
        if key in _ENTRY_LIMITS and key in out:
            continue  # the entry's own rpm/tpm win, as in LiteLLM's router
        if key in _PARAMS:
            out[_PARAMS[key]] = env(value, f"{path}.litellm_params.{key}")
        else:
            ignored.append(f"{path}.litellm_params.{key}")
    for key, value in info.items():
        if key in _MODEL_INFO:
            out[_MODEL_INFO[key]] = env(value, f"{path}.model_info.{key}")
        elif key in _ENTRY_LIMITS:
            out.setdefault(key, env(value, f"{path}.model_info.{key}"))
        elif key == "guardrails":
            out["guardrails"] = env(value, f"{path}.model_info.guardrails")
        else:
            ignored.append(f"{path}.model_info.{key}")
    _upstream_model(out, path)
    return out


def _upstream_model(out: dict[str, Any], path: str) -> None:
    """Strip an OpenAI-compatible provider prefix; refuse, by name, providers that speak another protocol."""
    upstream = str(out.get("model", ""))
    provider = upstream.split("/", 1)[0] if "/" in upstream else ""
    if provider in _OTHER_PROTOCOLS:
        target = f"api_base {out['api_base']}" if "api_base" in out else f"{provider}'s servers"
        raise GatewayConfigError(
            f"{path}.litellm_params.model: '{upstream}': provider '{provider}/' is not supported: it speaks "
            f"{_OTHER_PROTOCOLS[provider]}, not OpenAI's API, and inferstack would send OpenAI requests to {target}. "
            "Serve it behind an OpenAI-compatible server and write model: openai/<name> with that api_base"
        )
    for prefix in _OPENAI_COMPATIBLE:
        if upstream.startswith(prefix):
            out["model"] = upstream[len(prefix) :]
            if prefix == "openai/":
                out.setdefault("api_base", _DEFAULT_OPENAI_BASE)
            break
    else:
        if provider and "api_base" not in out:
            raise GatewayConfigError(
                f"{path}.litellm_params.model: provider '{provider}/' is not supported; inferstack routes to "
                f"OpenAI-compatible upstreams ({', '.join(p.rstrip('/') for p in _OPENAI_COMPATIBLE)})"
            )
    if "api_base" not in out:
        raise GatewayConfigError(
            f"{path}.litellm_params.api_base is required for model '{upstream}' "
            "(write openai/<name> to reach api.openai.com)"
        )
    name = str(out.get("model_name", ""))
    if "*" in str(out["model"]) and "*" not in name:
        raise GatewayConfigError(
            f"{path}.litellm_params.model: '{upstream}' has a wildcard but model_name '{name}' has none; "
            "a wildcard model is reached through a model_name pattern such as 'openai/*' or '*'"
        )


def _router_settings(
    settings: dict[str, Any], router: dict[str, Any], path: str, ignored: list[str], env: _EnvRefs
) -> None:
    for key, raw in settings.items():
        if key not in _ROUTER_KEYS:
            ignored.append(f"{path}.{key}")
            continue
        value = env(raw, f"{path}.{key}")
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


_ROUTER_KEYS = {
    "routing_strategy",
    "num_retries",
    "timeout",
    "allowed_fails",
    "cooldown_time",
    "retry_after",
    "fallbacks",
}
_LITELLM_SETTINGS_KEYS = {"num_retries", "request_timeout", "fallbacks", "cache", "cache_params"}


def _litellm_settings(
    settings: dict[str, Any], router: dict[str, Any], out: TranslatedConfig, path: str, env: _EnvRefs
) -> None:
    for key, raw in settings.items():
        if key not in _LITELLM_SETTINGS_KEYS:
            out.ignored.append(f"{path}.{key}")
            continue
        value = env(raw, f"{path}.{key}") if key != "cache_params" else raw
        if key == "num_retries":
            router["num_retries"] = value
        elif key == "request_timeout":
            router["timeout_s"] = value
        elif key == "fallbacks":
            router["fallbacks"] = _fallbacks(value, f"{path}.fallbacks")
        elif key == "cache":
            out.section.setdefault("cache", {})["enabled"] = bool(value)
            if value and "cache_params" not in settings:
                _cache_params({}, out, f"{path}.cache_params", env)
        elif key == "cache_params":
            _cache_params(value or {}, out, f"{path}.cache_params", env)


_CACHE_PARAMS = {"type", "url", "redis_url", "host", "port", "password", "ttl", "namespace"}


def _cache_params(params: dict[str, Any], out: TranslatedConfig, path: str, env: _EnvRefs) -> None:
    """LiteLLM's cache: `type` defaults to redis, and host/port/password default to REDIS_HOST/REDIS_PORT/
    REDIS_PASSWORD (REDIS_URL for a URL); without any of them and without a type, the in-memory cache."""
    cache = out.section.setdefault("cache", {})
    used = {k: env(v, f"{path}.{k}") for k, v in params.items() if k in _CACHE_PARAMS}
    environ = env.environ
    redis_env = bool(environ.get("REDIS_HOST") or environ.get("REDIS_URL"))
    kind = used.get("type") or ("redis" if redis_env else "local")
    if "type" not in used:
        chosen = "Redis from REDIS_HOST/REDIS_URL" if redis_env else "the in-memory cache (REDIS_HOST is not set)"
        out.notes.append(f"{path}.type not set: {chosen}")
    if kind in {"local", "in-memory"}:
        cache["backend"] = "memory"
    elif kind == "redis":
        cache["backend"] = "redis"
        url = used.get("url") or used.get("redis_url")
        if url is None and "host" not in used and environ.get("REDIS_URL"):
            url = environ["REDIS_URL"]
        if url is not None:
            cache["redis_url"] = url
        else:
            host = used.get("host") or environ.get("REDIS_HOST") or "127.0.0.1"
            port = used.get("port") or environ.get("REDIS_PORT") or 6379
            password = used.get("password") or environ.get("REDIS_PASSWORD")
            auth = f":{password}@" if password else ""
            cache["redis_url"] = f"redis://{auth}{host}:{port}/0"
    else:
        raise GatewayConfigError(f"{path}.type: cache type '{kind}' is not supported; use local or redis")
    if "ttl" in used:
        cache["ttl_s"] = used["ttl"]
    if "namespace" in used:
        cache["namespace"] = used["namespace"]
    for key in params:
        if key not in _CACHE_PARAMS:
            out.ignored.append(f"{path}.{key}")


def _general_settings(settings: dict[str, Any], out: TranslatedConfig, path: str, env: _EnvRefs) -> None:
    for key, value in settings.items():
        if key in {"master_key", "database_url"}:
            out.section[key] = env(value, f"{path}.{key}")
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


def _guardrail(entry: Any, path: str, ignored: list[str], env: _EnvRefs) -> dict[str, Any]:
    if not isinstance(entry, dict) or "guardrail_name" not in entry:
        raise GatewayConfigError(f"{path}: each guardrail needs guardrail_name and litellm_params")
    raw = entry.get("litellm_params") or {}
    used = {"guardrail", "mode", "pii_entities_config", "default_on"}
    params = {k: env(v, f"{path}.litellm_params.{k}") if k in used else v for k, v in raw.items()}
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

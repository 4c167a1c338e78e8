"""LiteLLM proxy configs in the shapes LiteLLM's docs show, and LiteLLM's deployment environment: each entry is
served as LiteLLM would serve it, or refused / warned by name. (Shapes written here; no third-party file copied.)"""

from __future__ import annotations

from typing import Any

import pytest

from inferstack.core.settings import settings_from_section
from inferstack.gateway.config_file import GatewayConfigError, TranslatedConfig, gateway_section
from inferstack.gateway.routing.router import Router
from inferstack.gateway.settings import GatewaySettings

VLLM = "http://127.0.0.1:8000/v1"


def settings_of(document: dict[str, Any], environ: dict[str, str] | None = None) -> GatewaySettings:
    return settings_from_section(GatewaySettings, translate(document, environ).section, {})


def translate(document: dict[str, Any], environ: dict[str, str] | None = None) -> TranslatedConfig:
    return gateway_section(document, environ or {})


def entry(model_name: str, model: str, **params: Any) -> dict[str, Any]:
    return {"model_name": model_name, "litellm_params": {"model": model, **params}}


@pytest.mark.parametrize(
    ("model", "provider"),
    [("azure/gpt-4o-deployment", "azure"), ("anthropic/claude-3-5-sonnet-20240620", "anthropic")],
)
def test_azure_and_anthropic_entries_with_an_api_base_are_refused_by_name(model: str, provider: str) -> None:
    document = {
        "model_list": [
            entry("gpt-4o", model, api_base="https://example-endpoint.invalid", api_key="os.environ/K", api_version="x")
        ]
    }
    with pytest.raises(GatewayConfigError) as refused:
        translate(document, {"K": "secret"})
    message = refused.value.message
    assert f"provider '{provider}/' is not supported" in message and "model_list[0].litellm_params.model" in message
    assert "secret" not in message


def test_wildcard_model_names_route_and_forward_the_requested_name() -> None:
    document = {
        "model_list": [
            entry("openai/*", "openai/*", api_base=VLLM),
            entry("*", "hosted_vllm/*", api_base="http://127.0.0.1:8001/v1"),
            entry("exact", "hosted_vllm/served-exact", api_base=VLLM),
        ]
    }
    settings = settings_of(document)
    router = Router(settings.model_list, settings.router)
    assert router.resolve("exact") == "exact"
    assert router.resolve("openai/gpt-4o") == "openai/*"  # the more specific pattern wins over "*"
    assert router.resolve("meta-llama/Llama-3.1-8B") == "*"
    (openai_deployment,) = router.by_model["openai/*"]
    (any_deployment,) = router.by_model["*"]
    assert openai_deployment.upstream_model("openai/gpt-4o") == "gpt-4o"
    assert any_deployment.upstream_model("meta-llama/Llama-3.1-8B") == "meta-llama/Llama-3.1-8B"
    assert router.by_model["exact"][0].upstream_model("exact") == "served-exact"


def test_a_wildcard_model_without_a_pattern_name_is_refused() -> None:
    with pytest.raises(GatewayConfigError, match="has a wildcard but model_name 'gpt' has none"):
        translate({"model_list": [entry("gpt", "openai/*", api_base=VLLM)]})


def test_rpm_tpm_beside_litellm_params_are_honoured_and_other_entry_keys_warned() -> None:
    document = {
        "model_list": [
            {**entry("a", "hosted_vllm/a", api_base=VLLM, rpm=5), "rpm": 900, "tpm": 100000, "extra_key": 1},
            {**entry("b", "hosted_vllm/b", api_base=VLLM), "model_info": {"rpm": 7}},
        ]
    }
    translated = translate(document)
    a, b = settings_of(document).model_list
    assert (a.rpm, a.tpm, b.rpm) == (900, 100000, 7)  # the entry's own value wins, as in LiteLLM's router
    assert translated.ignored == ["model_list[0].extra_key"]


def test_env_refs_in_ignored_keys_may_be_unset() -> None:
    document = {
        "model_list": [entry("m", "hosted_vllm/m", api_base=VLLM, api_key="os.environ/VLLM_KEY")],
        "litellm_settings": {
            "success_callback": ["langfuse"],
            "langfuse_public_key": "os.environ/LANGFUSE_PUBLIC_KEY",
        },
        "environment_variables": {"LANGFUSE_HOST": "os.environ/LANGFUSE_HOST"},
        "general_settings": {"alerting": ["slack"], "slack_webhook_url": "os.environ/SLACK_WEBHOOK_URL"},
    }
    translated = translate(document, {"VLLM_KEY": "vk"})
    assert "litellm_settings.langfuse_public_key" in translated.ignored
    assert "general_settings.slack_webhook_url" in translated.ignored
    with pytest.raises(GatewayConfigError, match="VLLM_KEY is not set"):
        translate(document, {})  # a key we use still needs its variable


def test_litellm_deployment_environment_fills_master_key_database_and_redis() -> None:
    document = {
        "model_list": [entry("m", "hosted_vllm/m", api_base=VLLM)],
        "litellm_settings": {"cache": True},
    }
    environ = {
        "LITELLM_MASTER_KEY": "sk-env-master",
        "DATABASE_URL": "postgresql://u:pw@db:5432/litellm",
        "REDIS_HOST": "redis.internal",
        "REDIS_PORT": "6380",
        "REDIS_PASSWORD": "rpw",
    }
    settings = settings_of(document, environ)
    assert settings.master_key is not None and settings.master_key.get_secret_value() == "sk-env-master"
    assert settings.database_url is not None and settings.database_url.get_secret_value().startswith("postgresql://")
    assert settings.cache.enabled and settings.cache.backend == "redis"
    assert settings.cache.redis_url is not None
    assert settings.cache.redis_url.get_secret_value() == "redis://:rpw@redis.internal:6380/0"
    assert settings.require_keys


def test_the_config_wins_over_the_environment() -> None:
    document = {
        "model_list": [entry("m", "hosted_vllm/m", api_base=VLLM)],
        "general_settings": {"master_key": "sk-config", "database_url": "sqlite:///tmp/x.db"},
    }
    settings = settings_of(document, {"LITELLM_MASTER_KEY": "sk-env", "DATABASE_URL": "postgresql://db/x"})
    assert settings.master_key is not None and settings.master_key.get_secret_value() == "sk-config"
    assert settings.database_url is not None and settings.database_url.get_secret_value() == "sqlite:///tmp/x.db"


def test_no_master_key_is_an_open_proxy_and_cache_without_redis_is_said() -> None:
    document = {"model_list": [entry("m", "hosted_vllm/m", api_base=VLLM)], "litellm_settings": {"cache": True}}
    translated = translate(document)
    settings = settings_of(document)
    assert settings.master_key is None and not settings.require_keys
    assert settings.cache.backend == "memory"
    assert any("in-memory cache" in note for note in translated.notes)


def test_litellm_variables_beside_an_inferstack_config_are_reported() -> None:
    document = {"gateway": {"model_list": [{"model_name": "m", "model": "m", "api_base": VLLM}]}}
    translated = translate(document, {"LITELLM_MASTER_KEY": "sk-x", "REDIS_HOST": "r"})
    assert translated.section.get("master_key") is None
    (note,) = translated.notes
    assert "LITELLM_MASTER_KEY, REDIS_HOST set but not read" in note and "sk-x" not in note

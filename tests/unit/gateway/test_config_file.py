"""LiteLLM config translation and env references."""

from __future__ import annotations

import pytest

from inferstack.core.settings import settings_from_section
from inferstack.gateway.config_file import GatewayConfigError, gateway_section, resolve_env_refs
from inferstack.gateway.settings import GatewaySettings

LITELLM = {
    "model_list": [
        {
            "model_name": "qwen",
            "litellm_params": {
                "model": "hosted_vllm/Qwen/Qwen3-14B",
                "api_base": "http://vllm:8000/v1",
                "api_key": "os.environ/VLLM_KEY",
                "rpm": 60,
                "timeout": 30,
                "drop_params": True,
            },
            "model_info": {"id": "qwen-a", "input_cost_per_token": 1e-6, "mode": "embedding"},
        },
        {"model_name": "gpt", "litellm_params": {"model": "openai/gpt-4o-mini", "api_key": "os.environ/OPENAI_KEY"}},
    ],
    "router_settings": {
        "routing_strategy": "least-busy",
        "num_retries": 4,
        "cooldown_time": 5,
        "fallbacks": [{"qwen": ["gpt"]}],
        "redis_host": "x",
    },
    "litellm_settings": {
        "cache": True,
        "cache_params": {"type": "redis", "host": "redis", "port": 6380, "ttl": 30},
        "success_callback": ["langfuse"],
    },
    "general_settings": {
        "master_key": "os.environ/MASTER",
        "database_url": "postgresql://u@db/x",
        "alerting": ["slack"],
    },
    "guardrails": [
        {
            "guardrail_name": "pii",
            "litellm_params": {
                "guardrail": "presidio",
                "mode": "pre_call",
                "pii_entities_config": {"EMAIL_ADDRESS": "MASK", "US_SSN": "BLOCK"},
            },
        }
    ],
}
ENV = {"VLLM_KEY": "vk", "OPENAI_KEY": "ok", "MASTER": "sk-m"}


def test_litellm_config_translates_to_settings() -> None:
    translated = gateway_section(LITELLM, ENV)
    settings = settings_from_section(GatewaySettings, translated.section, {})
    qwen, gpt = settings.model_list
    assert (qwen.model, qwen.api_base, qwen.rpm, qwen.timeout_s, qwen.id) == (
        "Qwen/Qwen3-14B",
        "http://vllm:8000/v1",
        60,
        30,
        "qwen-a",
    )
    assert qwen.api_key is not None and qwen.api_key.get_secret_value() == "vk"
    assert qwen.mode == "embedding" and gpt.mode == "chat"  # model_info.mode; chat when not given
    assert gpt.model == "gpt-4o-mini" and gpt.api_base == "https://api.openai.com/v1"
    assert settings.router.policy == "least-busy" and settings.router.num_retries == 4
    assert settings.router.fallbacks == {"qwen": ("gpt",)} and settings.router.cooldown_s == 5
    assert settings.cache.enabled and settings.cache.backend == "redis" and settings.cache.ttl_s == 30
    assert (
        settings.cache.redis_url is not None and settings.cache.redis_url.get_secret_value() == "redis://redis:6380/0"
    )
    assert settings.master_key is not None and settings.master_key.get_secret_value() == "sk-m"
    (guardrail,) = settings.guardrails
    assert guardrail.action == "block" and set(guardrail.entities) == {"email", "ssn"}
    assert set(translated.ignored) == {
        "model_list[0].litellm_params.drop_params",
        "router_settings.redis_host",
        "litellm_settings.success_callback",
        "general_settings.alerting",
    }
    assert "sk-m" not in str(settings.summary())


def test_missing_env_var_and_unsupported_provider_are_clear() -> None:
    with pytest.raises(GatewayConfigError, match="VLLM_KEY is not set"):
        gateway_section(LITELLM, {})
    bedrock = {"model_list": [{"model_name": "c", "litellm_params": {"model": "bedrock/claude"}}]}
    with pytest.raises(GatewayConfigError, match="provider 'bedrock/' is not supported"):
        gateway_section(bedrock, {})
    bad_strategy = {"model_list": [], "router_settings": {"routing_strategy": "usage-based-routing-v2"}}
    with pytest.raises(GatewayConfigError, match="not supported"):
        gateway_section(bad_strategy, {})


def test_stack_config_section_and_nested_refs() -> None:
    doc = {
        "gateway": {
            "model_list": [{"model_name": "m", "model": "x", "api_base": "http://h/v1/", "api_key": "os.environ/K"}]
        },
        "serve": {"port": 1},
    }
    translated = gateway_section(doc, {"K": "secret"})
    assert translated.source_format == "inferstack"
    settings = settings_from_section(GatewaySettings, translated.section, {})
    assert settings.model_list[0].api_base == "http://h/v1"
    assert resolve_env_refs({"a": ["os.environ/K", 1]}, {"K": "v"}) == {"a": ["v", 1]}
    assert gateway_section({"serve": {}}, {}).section == {}

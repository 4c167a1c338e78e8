"""The gateway in front of the real model server (SmolLM2 + MiniLM), loaded from a LiteLLM-format config."""

from __future__ import annotations

import json
from collections.abc import Iterator

import jsonschema
import openai
import pytest
import yaml

from tests.support.gateway import gateway_process
from tests.support.processes import RunningProcess

pytestmark = pytest.mark.realmodel

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, real_server: RunningProcess) -> Iterator[RunningProcess]:
    tmp = tmp_path_factory.mktemp("gateway-real")
    # An unchanged LiteLLM proxy config: provider prefixes, os.environ refs, settings we do not use.
    litellm_config = {
        "model_list": [
            {
                "model_name": "smol",
                "litellm_params": {
                    "model": "hosted_vllm/smollm2-135m-instruct",
                    "api_base": real_server.base_url + "/v1",
                    "api_key": "os.environ/SMOL_UPSTREAM_KEY",
                },
                "model_info": {"input_cost_per_token": 1e-7, "output_cost_per_token": 2e-7, "mode": "chat"},
            },
            {
                "model_name": "minilm",
                "litellm_params": {"model": "openai/all-minilm-l6-v2", "api_base": real_server.base_url + "/v1"},
                "model_info": {"mode": "embedding"},
            },
        ],
        "litellm_settings": {"drop_params": True, "success_callback": ["langfuse"]},
        "router_settings": {"routing_strategy": "simple-shuffle"},
        "general_settings": {"master_key": "os.environ/LITELLM_MASTER_KEY"},
    }
    path = tmp / "litellm.yaml"
    path.write_text(yaml.safe_dump(litellm_config))
    env = {"SMOL_UPSTREAM_KEY": "unused-by-this-upstream", "LITELLM_MASTER_KEY": "sk-litellm-master"}
    with gateway_process(tmp, path, master_key=None, extra_env=env) as proc:
        yield proc


def test_litellm_config_loads_and_reports_ignored_keys(gateway: RunningProcess) -> None:
    log = gateway.log()
    assert "litellm_settings.drop_params" in log and "litellm_settings.success_callback" in log
    assert "model_info.mode" not in log  # honoured: a deployment's mode (the console's playground lists chat models)


def _client(gateway: RunningProcess) -> openai.OpenAI:
    import httpx

    response = httpx.post(
        gateway.base_url + "/key/generate",
        json={"models": ["smol", "minilm"]},
        headers={"Authorization": "Bearer sk-litellm-master"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=response.json()["key"], max_retries=0)


def test_chat_stream_tools_and_embeddings_with_the_openai_sdk(gateway: RunningProcess) -> None:
    client = _client(gateway)
    reply = client.chat.completions.create(
        model="smol", messages=[{"role": "user", "content": "Say hello."}], max_tokens=16, temperature=0
    )
    assert reply.choices[0].message.content and reply.usage and reply.usage.completion_tokens > 0
    streamed = client.chat.completions.create(
        model="smol", messages=[{"role": "user", "content": "Say hello."}], max_tokens=16, temperature=0, stream=True
    )
    text = "".join(c.choices[0].delta.content or "" for c in streamed if c.choices)
    assert text == reply.choices[0].message.content
    called = client.chat.completions.create(
        model="smol",
        messages=[{"role": "user", "content": "What is the weather in Paris?"}],
        tools=[WEATHER_TOOL],
        tool_choice="required",
        max_tokens=64,
    )
    call = called.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert call.function.name == "get_weather"
    jsonschema.validate(json.loads(call.function.arguments), WEATHER_TOOL["function"]["parameters"])  # type: ignore[index]
    vectors = client.embeddings.create(model="minilm", input=["a cat", "a kitten"])
    assert len(vectors.data) == 2 and len(vectors.data[0].embedding) == 384
    # The model server's own validation errors come back unchanged.
    with pytest.raises(openai.BadRequestError):
        client.chat.completions.create(model="smol", messages=[{"role": "user", "content": "x"}], max_tokens=-1)

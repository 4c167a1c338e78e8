"""A LiteLLM deployment moved onto the gateway unchanged: its config and environment (LITELLM_MASTER_KEY,
DATABASE_URL), and its clients — `openai.OpenAI`, `openai.AzureOpenAI` (deployment routes, `api-key` header),
LiteLLM's `x-litellm-api-key` header, `/v1/responses`, `/v1/models/{id}`, `/model/info` and the key API's
LiteLLM fields — against a real gateway process in front of the fake upstream."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
import yaml

from tests.support.gateway import fake_upstream, gateway_process, upstream_stats
from tests.support.processes import RunningProcess, child_env, free_port, inferstack_process

pytestmark = pytest.mark.integration

MASTER_KEY = "sk-litellm-env-master"
API_KEY_SECRET = "sk-upstream-secret-value"


def litellm_config(api_base: str, **general: Any) -> dict[str, Any]:
    return {
        "model_list": [
            {
                "model_name": "chat",
                "litellm_params": {"model": "hosted_vllm/fake", "api_base": api_base, "api_key": API_KEY_SECRET},
                "rpm": 1000,
            },
            {"model_name": "embed", "litellm_params": {"model": "openai/fake", "api_base": api_base}},
            {"model_name": "openai/*", "litellm_params": {"model": "openai/*", "api_base": api_base}},
        ],
        "litellm_settings": {"success_callback": ["langfuse"]},
        "environment_variables": {"LANGFUSE_PUBLIC_KEY": "os.environ/LANGFUSE_PUBLIC_KEY"},
        "general_settings": general,
    }


def write(tmp: Path, name: str, config: dict[str, Any]) -> Path:
    path = tmp / name
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProcess]:
    with fake_upstream(tmp_path_factory.mktemp("azure-upstream")) as proc:
        yield proc


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory, upstream: RunningProcess) -> Iterator[RunningProcess]:
    """Master key and database from LiteLLM's variables; the config names os.environ/LANGFUSE_* left unset."""
    tmp = tmp_path_factory.mktemp("azure-gateway")
    config = write(tmp, "litellm.yaml", litellm_config(upstream.base_url + "/v1"))
    env = {"LITELLM_MASTER_KEY": MASTER_KEY, "DATABASE_URL": f"sqlite:///{tmp / 'litellm-keys.db'}"}
    with gateway_process(tmp, config, master_key=None, extra_env=env) as proc:
        assert (tmp / "litellm-keys.db").exists()  # DATABASE_URL was used, not <data_dir>/gateway.db
        assert not (tmp / "data" / "gateway.db").exists()
        yield proc


def test_azure_openai_client_reaches_deployments_with_its_api_key_header(
    gateway: RunningProcess, upstream: RunningProcess
) -> None:
    client = openai.AzureOpenAI(
        azure_endpoint=gateway.base_url, api_key=MASTER_KEY, api_version="2024-06-01", max_retries=0
    )
    reply = client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hello azure"}])
    assert reply.choices[0].message.content and "hello azure" in reply.choices[0].message.content
    assert upstream_stats(upstream)["last_body"]["model"] == "fake"
    embedded = client.embeddings.create(model="embed", input=["one", "two"])
    assert len(embedded.data) == 2


def test_openai_client_with_litellm_master_key_models_and_wildcards(gateway: RunningProcess) -> None:
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=MASTER_KEY, max_retries=0)
    assert client.models.retrieve("chat").id == "chat"
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("no-such-model")
    assert missing.value.body is not None and missing.value.code == "model_not_found"
    reply = client.chat.completions.create(model="openai/gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])
    assert reply.choices[0].message.content


def test_responses_api_json_and_stream_are_proxied_and_charged(
    gateway: RunningProcess, upstream: RunningProcess
) -> None:
    key = new_key(gateway, max_budget=100, user_id="u-1", team_id="t-1")
    client = openai.OpenAI(base_url=gateway.base_url + "/v1", api_key=key, max_retries=0)
    response = client.responses.create(model="chat", input="tell me")
    assert "tell me" in response.output_text and response.usage is not None
    events = list(client.responses.create(model="chat", input="stream me", stream=True))
    assert events[-1].type == "response.completed"
    assert "stream_options" not in upstream_stats(upstream)["last_body"]
    logs = httpx.get(gateway.base_url + "/spend/logs", headers={"Authorization": f"Bearer {key}"}, timeout=10).json()
    assert sorted((row["prompt_tokens"], row["completion_tokens"]) for row in logs) == [
        (2, 3),
        (2, 3),
    ]  # "[fake] tell me": 2 words in, 3 out


def test_litellm_headers_model_info_and_key_fields(gateway: RunningProcess) -> None:
    key = new_key(gateway, models=["chat"], budget_duration="30d", max_parallel_requests=4, aliases={"gpt": "chat"})
    body = {"model": "gpt", "messages": [{"role": "user", "content": "hi"}]}
    for headers in ({"x-litellm-api-key": key}, {"x-litellm-api-key": f"Bearer {key}"}, {"api-key": key}):
        reply = httpx.post(gateway.base_url + "/v1/chat/completions", json=body, headers=headers, timeout=30)
        assert reply.status_code == 200, reply.text
    info = httpx.get(gateway.base_url + "/key/info", headers={"x-litellm-api-key": key}, timeout=10).json()["info"]
    assert info["budget_duration"] == "30d" and info["budget_reset_at"] > 0 and info["aliases"] == {"gpt": "chat"}
    model_info = httpx.get(gateway.base_url + "/model/info", headers={"api-key": key}, timeout=10)
    assert [entry["model_name"] for entry in model_info.json()["data"]] == ["chat"]
    assert API_KEY_SECRET not in model_info.text
    hidden = httpx.get(gateway.base_url + "/v1/models/embed", headers={"api-key": key}, timeout=10)
    assert hidden.status_code == 404 and hidden.json()["error"]["code"] == "model_not_found"
    refused = admin(gateway, "POST", "/key/generate", json={"soft_budget": 1})
    assert refused.status_code == 400 and "soft_budget" in refused.json()["error"]["message"]


def test_no_master_key_is_an_open_proxy_said_at_start(tmp_path: Path, upstream: RunningProcess) -> None:
    config = write(tmp_path, "open.yaml", litellm_config(upstream.base_url + "/v1"))
    with gateway_process(tmp_path, config, master_key=None) as proc:
        client = openai.OpenAI(base_url=proc.base_url + "/v1", api_key="sk-anything", max_retries=0)
        assert client.chat.completions.create(model="chat", messages=[{"role": "user", "content": "hi"}]).choices
        assert "OPEN PROXY" in proc.log()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "{port}"}, "the Redis cache at redis://127.0.0.1:{port}"),
        ({"DATABASE_URL": "postgresql://u:pw@127.0.0.1:{port}/x"}, "the key database (postgresql) cannot be reached"),
    ],
)
def test_an_unreachable_configured_redis_or_database_stops_the_start(
    tmp_path: Path, upstream: RunningProcess, env: dict[str, str], expected: str
) -> None:
    port = str(free_port())  # nothing listens there
    document = litellm_config(upstream.base_url + "/v1", master_key="sk-m")
    document["litellm_settings"]["cache"] = True
    config = write(tmp_path, "down.yaml", document)
    filled = {name: value.replace("{port}", port) for name, value in env.items()}
    args = ["gateway", "--config", str(config), "--data-dir", str(tmp_path / "data")]
    with inferstack_process(args, log_dir=tmp_path, env=child_env(**filled), wait=False) as proc:
        code = proc.process.wait(timeout=60)
        log = proc.log()
    assert code != 0 and expected.replace("{port}", port) in log
    assert "pw" not in log.replace("password", "")


def admin(gateway: RunningProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    headers = {"Authorization": f"Bearer {MASTER_KEY}"}
    return httpx.request(method, gateway.base_url + path, headers=headers, timeout=30, **kwargs)


def new_key(gateway: RunningProcess, **fields: Any) -> str:
    response = admin(gateway, "POST", "/key/generate", json=fields)
    assert response.status_code == 200, response.text
    assert response.json()["user_id"] == fields.get("user_id")
    key: str = response.json()["key"]
    return key

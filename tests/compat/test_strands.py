"""Strands Agents through the gateway, as the reference app builds its agents: `OpenAIModel(client_args={api_key,
base_url}, model_id, params)` and an `Agent` with a `@tool`, including the reference's `max_tokens=4096`.

Strands raises `MaxTokensReachedException` when an answer is cut by max_tokens, so each agent here ends its
answer at a newline (`stop`), which the small model reaches long before its token cap.
"""

from __future__ import annotations

from typing import Any

import pytest
from strands import Agent, tool
from strands.models.openai import OpenAIModel

from tests.compat.conftest import MASTER_KEY, MODEL
from tests.support.processes import RunningProcess

pytestmark = [pytest.mark.integration, pytest.mark.realmodel]

SHORT = {"max_tokens": 48, "temperature": 0, "stop": ["\n"]}
# The reference app's max_tokens (src/utils/model_providers.py), more than the default slot context has left.
REFERENCE = {"max_tokens": 4096, "temperature": 0, "stop": ["\n"]}


def strands_model(gateway: RunningProcess, params: dict[str, Any]) -> OpenAIModel:
    client_args = {"api_key": MASTER_KEY, "base_url": gateway.base_url + "/v1", "max_retries": 0}
    return OpenAIModel(client_args=client_args, model_id=MODEL, params=params)


def blocks(agent: Agent, kind: str) -> list[dict[str, Any]]:
    return [block[kind] for message in agent.messages for block in message["content"] if kind in block]  # type: ignore[literal-required]


def test_agent_answers(gateway: RunningProcess) -> None:
    agent = Agent(model=strands_model(gateway, SHORT), callback_handler=None)
    result = agent("Name a colour.")
    assert result.stop_reason == "end_turn" and str(result).strip()
    assert result.metrics.accumulated_usage["outputTokens"] >= 1


def test_agent_calls_a_tool_and_answers_from_its_result(gateway: RunningProcess) -> None:
    # The small model is made to call the tool (tool_choice "required", an OpenAI parameter Strands passes on);
    # once the tool has run, tools are turned off ("none") so that the agent answers instead of calling it again.
    model = strands_model(gateway, {**SHORT, "tool_choice": "required"})

    @tool
    def get_weather(city: str) -> str:
        """Current weather for a city.

        Args:
            city: the city's name
        """
        model.update_config(params={**SHORT, "tool_choice": "none"})
        return f"sunny and 21 C in {city}"

    agent = Agent(model=model, tools=[get_weather], callback_handler=None)
    result = agent("What is the weather in Paris?")
    [use] = blocks(agent, "toolUse")
    [outcome] = blocks(agent, "toolResult")
    assert use["name"] == "get_weather" and isinstance(use["input"]["city"], str)
    assert outcome["status"] == "success" and result.stop_reason == "end_turn"


def test_agent_with_the_reference_max_tokens(gateway: RunningProcess) -> None:
    agent = Agent(model=strands_model(gateway, REFERENCE), callback_handler=None)
    assert str(agent("Name a colour.")).strip()
